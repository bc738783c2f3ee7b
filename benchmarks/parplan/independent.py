r"""An independent cross-check of ``parplan-exact``: brute force over the documented plan space.

This file re-implements the parplan cost model and plan space from their written
specification only. It never imports nor reads the family's own pricing, splitting,
templates, master, exact, baselines, bounds or evaluate modules; it uses
:func:`optsched.problems.parplan.instance.from_dict` to read instance files, and runs
``optsched solve`` as a subprocess for the answer to check.

For one instance it

1. enumerates every replica the plan space allows: every TP size ``t``, every pipeline
   pool sequence (one pool of at most ``max_stages`` stages, or, with ``mixed_pipelines``,
   two pools as two contiguous runs of at most ``min(max_mixed_stages, max_stages)``
   stages; ``--uncapped-mixed``: of at most ``max_mixed_stages``), expert parallelism on
   or off, every micro-batch, and EVERY composition of the ``L`` layers into the ``p``
   stages (``itertools.combinations`` of the ``L - 1`` inner boundaries); it prices each
   with :func:`price` and keeps, per GPU-usage vector, the best feasible throughput;
2. finds the best integer mix of those columns within the pool capacities by exhaustive
   (memoised) recursion over the count of each column -- no LP solver;
3. compares that optimum with ``optsched solve INSTANCE -s parplan-exact --json``
   (objective = minus tokens/s), and re-prices the plan the solver returned with
   :func:`price`.

It is exponential in the number of layers and stages: meant for small instances
(``L <= ~12``, a few pools, up to 16 GPUs), as :func:`random_instance` draws them::

    python benchmarks/parplan/independent.py --make /tmp/pp --count 200 --seed 1
    python benchmarks/parplan/independent.py /tmp/pp/*.json [--timeout S]

Exit status: 0 when every instance matches, 1 when any mismatches, 2 on bad input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from optsched.problems.parplan.instance import ParplanInstance, Pool, from_dict

BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}
"""Bytes per element of each precision."""
ACT_BYTES = 2
"""Bytes per activation element in the messages (collectives and pipeline hops)."""
GIB = float(1 << 30)
REL_TOL = 1e-6
GPU_NAMES = ("H100", "A100", "L40S", "H200", "MI300X")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Layer:
    """Parameters of one layer: always read, all stored, one expert's, and its kind."""

    always: int
    weights: int
    expert: int
    moe: bool


def attention_params(inst: ParplanInstance) -> int:
    """Attention parameters of one layer (GQA or MLA; norms and biases ignored)."""
    m = inst.model
    h, nh = m.hidden_size, m.num_attention_heads
    if m.kv_lora_rank > 0:
        nope, rope, v = m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim
        if m.q_lora_rank > 0:
            q = h * m.q_lora_rank + m.q_lora_rank * nh * (nope + rope)
        else:
            q = h * nh * (nope + rope)
        kv = h * (m.kv_lora_rank + rope) + m.kv_lora_rank * nh * (nope + v)
        o = nh * v * h
        return q + kv + o
    return 2 * h * nh * m.head_dim + 2 * h * m.num_key_value_heads * m.head_dim


def layer(inst: ParplanInstance, index: int) -> Layer:
    """Layer ``index`` (0-based): dense, or MoE after the first ``first_dense``."""
    m = inst.model
    h = m.hidden_size
    att = attention_params(inst)
    if m.experts > 0 and index >= m.first_dense:
        expert = 3 * h * m.moe_intermediate_size
        always = att + h * m.experts + m.shared_experts * expert
        return Layer(always, always + m.experts * expert, expert, True)
    dense = att + 3 * h * m.intermediate_size
    return Layer(dense, dense, 0, False)


def kv_per_token(inst: ParplanInstance, t: int) -> float:
    """KV-cache bytes per token per layer on each GPU of a TP group of ``t``."""
    m = inst.model
    b_kv = BYTES[inst.kv]
    if m.kv_lora_rank > 0:
        return float((m.kv_lora_rank + m.qk_rope_head_dim) * b_kv)
    return 2.0 * m.head_dim * b_kv * max(m.num_key_value_heads / t, 1.0)


def tflops(inst: ParplanInstance, pool: Pool) -> float:
    """Peak dense TFLOP/s for the weights' precision."""
    if inst.weights == "fp8" and pool.gpu.fp8_tflops > 0:
        return float(pool.gpu.fp8_tflops)
    return float(pool.gpu.bf16_tflops)


def collective(inst: ParplanInstance, pool: Pool, op: str, n: int, size: float) -> float:
    """Seconds of collective ``op`` over ``n`` GPUs of ``pool`` on a ``size``-byte buffer."""
    if n <= 1 and op != "send_recv":
        return 0.0
    fits = pool.gpu.fits.get(op)
    if fits:
        measured = min(fits, key=lambda m: (abs(math.log2(m) - math.log2(n)), m))
        alpha_us, busbw = fits[measured]
    else:
        alpha_us, busbw = inst.cost.alpha_us, pool.intra_GBps
    if op == "all_reduce":
        factor = 2.0 * (n - 1) / n
    elif op == "send_recv":
        factor = 1.0
    else:
        factor = (n - 1) / n
    return alpha_us * 1e-6 + factor * size / (busbw * 1e9)


def layer_time(inst: ParplanInstance, pool: Pool, t: int, ep: bool, lay: Layer, n: float,
               c: float) -> float:
    """Seconds of one layer for ``n`` tokens and ``c`` attention pairs on a TP group of ``t``."""
    m = inst.model
    b_w = BYTES[inst.weights]
    if lay.moe:
        e, k = m.experts, m.top_k
        touched = e * (1.0 - math.pow(1.0 - k / e, n))
        params = lay.always + touched * lay.expert
        active = lay.always + k * lay.expert
    else:
        params = active = lay.always
    data = params * b_w + c * kv_per_token(inst, t) * t
    width = (2 * m.kv_lora_rank + m.qk_rope_head_dim) if m.kv_lora_rank > 0 else 2 * m.head_dim
    flops = 2.0 * n * active + 2.0 * m.num_attention_heads * width * c
    seconds = max(data / t / (pool.gpu.hbm_TBps * 1e12 * inst.cost.eff_hbm),
                  flops / t / (tflops(inst, pool) * 1e12 * inst.cost.eff_compute))
    if t > 1:
        size = n * m.hidden_size * ACT_BYTES
        ar = collective(inst, pool, "all_reduce", t, size)
        if lay.moe and ep:
            seconds += ar + 2.0 * collective(inst, pool, "all_to_all", t, size * m.top_k)
        else:
            seconds += 2.0 * ar
    return seconds


def head_time(inst: ParplanInstance, pool: Pool, t: int, rows: float) -> float:
    """Seconds of the LM head for ``rows`` rows on a TP group of ``t``."""
    m = inst.model
    vh = m.vocab_size * m.hidden_size
    return max(vh * BYTES[inst.weights] / t / (pool.gpu.hbm_TBps * 1e12 * inst.cost.eff_hbm),
               2.0 * rows * vh / t / (tflops(inst, pool) * 1e12 * inst.cost.eff_compute))


# ----------------------------------------------------------------------- the plan space


@dataclass(frozen=True)
class Replica:
    """One replica: TP size, micro-batch, expert parallelism and its stages.

    ``stages[i] = (pool index, first layer, end layer)``.
    """

    tp: int
    batch: int
    ep: bool
    stages: tuple[tuple[int, int, int], ...]

    def to_dict(self, inst: ParplanInstance, count: int = 1) -> dict[str, Any]:
        """The JSON object of the solution format."""
        out: dict[str, Any] = {
            "count": count, "batch": self.batch,
            "stages": [{"gpu": inst.pools[g].gpu.name, "tp": self.tp, "layers": [a, e]}
                       for g, a, e in self.stages]}
        if self.ep:
            out["ep"] = True
        return out


@dataclass(frozen=True)
class Price:
    """A replica's price: feasible or why not, throughput, TPOT, TTFT, GPUs per pool."""

    feasible: bool
    why: str
    tokens_per_s: float
    tpot_s: float
    ttft_s: float
    usage: tuple[int, ...]


def tp_allowed(inst: ParplanInstance, pool: Pool, t: int) -> bool:
    """Whether TP size ``t`` is allowed on ``pool``."""
    m = inst.model
    if t < 1 or t & (t - 1) or pool.gpus_per_node % t:
        return False
    if inst.search.tp is not None and t not in inst.search.tp:
        return False
    if m.num_attention_heads % t:
        return False
    kvh = m.num_key_value_heads
    return m.kv_lora_rank > 0 or kvh % t == 0 or t % kvh == 0


def ep_allowed(inst: ParplanInstance, t: int) -> bool:
    """Whether expert parallelism is allowed with TP size ``t``."""
    m = inst.model
    return m.experts > 0 and t > 1 and m.experts % t == 0 and inst.search.expert_parallel


def pool_runs(pools: Sequence[int]) -> list[int]:
    """The pools of the maximal runs of equal consecutive entries."""
    runs: list[int] = []
    for g in pools:
        if not runs or runs[-1] != g:
            runs.append(g)
    return runs


def mixed_limit(inst: ParplanInstance, cap_mixed: bool) -> int:
    """Most stages of a two-pool pipeline.

    ``max_mixed_stages``, and with ``cap_mixed`` also at most ``max_stages`` (the rule of
    ``docs/formats.md`` since commit 2184e6b, "max_stages caps two-type pipelines"; the
    specification this file was written from bounds them by ``max_mixed_stages`` only).
    """
    if cap_mixed:
        return min(inst.search.max_mixed_stages, inst.search.max_stages)
    return inst.search.max_mixed_stages


def arrangement_problem(inst: ParplanInstance, pools: Sequence[int],
                        cap_mixed: bool = True) -> str:
    """Why the stage pools ``pools`` are not an allowed pipeline ("" when they are)."""
    p, runs = len(pools), pool_runs(pools)
    if len(runs) == 1:
        return "" if p <= inst.search.max_stages else f"{p} stages > max_stages"
    if len(runs) == 2:
        if not inst.search.mixed_pipelines:
            return "mixed pipeline but mixed_pipelines is false"
        limit = mixed_limit(inst, cap_mixed)
        return "" if p <= limit else f"{p} stages > {limit} for a two-pool pipeline"
    return f"pools {runs}: more than two runs"


def pipelines(inst: ParplanInstance, cap_mixed: bool = True) -> list[tuple[int, ...]]:
    """Every allowed sequence of stage pools (one pool, or two as two contiguous runs)."""
    n_layers = inst.model.num_hidden_layers
    out: list[tuple[int, ...]] = []
    for g in range(len(inst.pools)):
        for p in range(1, min(inst.search.max_stages, n_layers) + 1):
            out.append((g,) * p)
    if inst.search.mixed_pipelines:
        for a, b in itertools.permutations(range(len(inst.pools)), 2):
            for p in range(2, min(mixed_limit(inst, cap_mixed), n_layers) + 1):
                for first in range(1, p):
                    out.append((a,) * first + (b,) * (p - first))
    return out


class Pricer:
    """Prices replicas of one instance (layer times memoised: they repeat across splits)."""

    def __init__(self, inst: ParplanInstance, cap_mixed: bool = True) -> None:
        self.inst = inst
        self.cap_mixed = cap_mixed
        self.layers = [layer(inst, i) for i in range(inst.model.num_hidden_layers)]
        self._layer: dict[tuple[int, int, bool, bool, float, float], float] = {}

    def layer_time(self, g: int, t: int, ep: bool, index: int, n: float, c: float) -> float:
        """:func:`layer_time` of layer ``index`` on pool ``g``, memoised."""
        lay = self.layers[index]
        key = (g, t, ep, lay.moe, n, c)
        got = self._layer.get(key)
        if got is None:
            got = self._layer[key] = layer_time(self.inst, self.inst.pools[g], t, ep, lay, n, c)
        return got

    def hop(self, pools: Sequence[int], t: int, i: int, tokens: float) -> float:
        """Seconds to send ``tokens`` activations from stage ``i`` to stage ``i + 1``."""
        inst = self.inst
        p = len(pools)
        first = inst.pools[pools[0]]
        width = p * t
        inside = (len(set(pools)) == 1 and width & (width - 1) == 0
                  and first.gpus_per_node % width == 0)
        size = tokens * inst.model.hidden_size * ACT_BYTES
        if inside:
            return collective(inst, first, "send_recv", 2, size)
        a, b = inst.pools[pools[i]], inst.pools[pools[i + 1]]
        return (max(a.inter_latency_us, b.inter_latency_us) * 1e-6
                + size / (min(a.inter_GBps, b.inter_GBps) * 1e9))

    def weights(self, first: int, end: int, is_first: bool, is_last: bool, single: bool) -> int:
        """Parameters a stage of layers ``[first, end)`` stores (embedding and head too)."""
        m = self.inst.model
        total = sum(self.layers[i].weights for i in range(first, end))
        vh = m.vocab_size * m.hidden_size
        if is_first:
            total += vh
        if is_last and not (single and m.tie_word_embeddings):
            total += vh
        return total

    def structure_problem(self, rep: Replica) -> str:
        """Why ``rep`` is outside the plan space ("" when it is inside)."""
        inst = self.inst
        n_layers = inst.model.num_hidden_layers
        if not rep.stages:
            return "no stage"
        at = 0
        for g, a, e in rep.stages:
            if not 0 <= g < len(inst.pools):
                return f"unknown pool {g}"
            if a != at or e <= a:
                return f"layers [{a}, {e}) do not continue at {at} or are empty"
            at = e
            if not tp_allowed(inst, inst.pools[g], rep.tp):
                return f"tp {rep.tp} not allowed on {inst.pools[g].gpu.name}"
        if at != n_layers:
            return f"the stages end at layer {at}, not {n_layers}"
        if rep.batch not in inst.batch_sizes:
            return f"batch {rep.batch} not in batch_sizes"
        if rep.ep and not ep_allowed(inst, rep.tp):
            return f"ep not allowed with tp {rep.tp}"
        return arrangement_problem(inst, [g for g, _, _ in rep.stages], self.cap_mixed)

    def price(self, rep: Replica) -> Price:
        """Throughput, TPOT, TTFT of ``rep``; infeasible (with why) on memory or an SLO."""
        inst = self.inst
        cost = inst.cost
        pools = [g for g, _, _ in rep.stages]
        usage = [0] * len(inst.pools)
        for g in pools:
            usage[g] += rep.tp
        problem = self.structure_problem(rep)
        if problem:
            return Price(False, problem, 0.0, math.inf, math.inf, tuple(usage))
        t, b, p = rep.tp, rep.batch, len(rep.stages)
        big_p, big_o = inst.prompt_tokens, inst.output_tokens
        kvpt = kv_per_token(inst, t)
        # memory
        per_seq = math.ceil((big_p + big_o) / cost.kv_block_tokens)
        for i, (g, a, e) in enumerate(rep.stages):
            pool = inst.pools[g]
            w = self.weights(a, e, i == 0, i == p - 1, p == 1) * BYTES[inst.weights] / t
            usable = cost.gpu_mem_util * pool.gpu.memory_gib * GIB - cost.reserve_gib * GIB
            free = math.floor((usable - w) / (kvpt * (e - a) * cost.kv_block_tokens))
            if free < p * b * per_seq:
                return Price(False, f"memory of stage {i}: {free} blocks < {p * b * per_seq}",
                             0.0, math.inf, math.inf, tuple(usage))
        # decode
        q = b * big_p / big_o
        n = b + q
        c = b * (big_p + big_o / 2) + q * big_p / 2
        stage_s = []
        for i, (g, a, e) in enumerate(rep.stages):
            s = sum(self.layer_time(g, t, rep.ep, j, n, c) for j in range(a, e))
            if i == p - 1:
                s += head_time(inst, inst.pools[g], t, b)
            stage_s.append(s)
        hops = sum(self.hop(pools, t, i, n) for i in range(p - 1))
        o = cost.overhead_ms * 1e-3
        cycle = max(o + sum(stage_s) + hops, p * max(o, max(stage_s)))
        tps = p * b / cycle
        # prefill
        pn, pc = float(big_p), big_p * big_p / 2
        ttft = (cost.ttft_overhead_ms + cost.overhead_ms) * 1e-3
        for i, (g, a, e) in enumerate(rep.stages):
            ttft += sum(self.layer_time(g, t, rep.ep, j, pn, pc) for j in range(a, e))
            if i == p - 1:
                ttft += head_time(inst, inst.pools[g], t, 1)
        ttft += sum(self.hop(pools, t, i, pn) for i in range(p - 1))
        if inst.tpot_ms is not None and cycle > inst.tpot_ms * 1e-3:
            return Price(False, f"TPOT {cycle * 1e3:.4f} ms > {inst.tpot_ms} ms", tps, cycle,
                         ttft, tuple(usage))
        if inst.ttft_ms is not None and ttft > inst.ttft_ms * 1e-3:
            return Price(False, f"TTFT {ttft * 1e3:.4f} ms > {inst.ttft_ms} ms", tps, cycle,
                         ttft, tuple(usage))
        return Price(True, "", tps, cycle, ttft, tuple(usage))


def price(inst: ParplanInstance, rep: Replica, cap_mixed: bool = True) -> Price:
    """Price one replica of ``inst`` (see :class:`Pricer`)."""
    return Pricer(inst, cap_mixed).price(rep)


# --------------------------------------------------------------------------- brute force


@dataclass(frozen=True)
class Column:
    """The best replica of one GPU-usage vector."""

    usage: tuple[int, ...]
    tokens_per_s: float
    replica: Replica


def columns(inst: ParplanInstance, cap_mixed: bool = True) -> tuple[list[Column], int]:
    """Per GPU-usage vector, the best feasible replica; and the number of replicas priced."""
    pricer = Pricer(inst, cap_mixed)
    n_layers = inst.model.num_hidden_layers
    caps = [pool.count for pool in inst.pools]
    best: dict[tuple[int, ...], Column] = {}
    priced = 0
    for seq in pipelines(inst, cap_mixed):
        p = len(seq)
        for t in (1, 2, 4, 8, 16, 32, 64):
            if not all(tp_allowed(inst, inst.pools[g], t) for g in set(seq)):
                continue
            usage = [0] * len(inst.pools)
            for g in seq:
                usage[g] += t
            if any(u > cap for u, cap in zip(usage, caps, strict=True)):
                continue
            key = tuple(usage)
            for ep in (False, True) if ep_allowed(inst, t) else (False,):
                for b in inst.batch_sizes:
                    for cuts in itertools.combinations(range(1, n_layers), p - 1):
                        ends = (0, *cuts, n_layers)
                        rep = Replica(t, b, ep, tuple(
                            (seq[i], ends[i], ends[i + 1]) for i in range(p)))
                        got = pricer.price(rep)
                        priced += 1
                        if got.feasible and (key not in best
                                             or got.tokens_per_s > best[key].tokens_per_s):
                            best[key] = Column(key, got.tokens_per_s, rep)
    return sorted(best.values(), key=lambda col: col.usage), priced


def best_mix(caps: Sequence[int],
             cols: Sequence[Column]) -> tuple[float, list[tuple[Column, int]]]:
    """The most tokens/s of an integer mix of ``cols`` within ``caps`` (exhaustive recursion)."""

    @cache
    def best(i: int, left: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        if i == len(cols):
            return 0.0, ()
        value, counts = best(i + 1, left)
        top, tail = value, (0, *counts)
        col = cols[i]
        k = 1
        while all(u * k <= cap for u, cap in zip(col.usage, left, strict=True)):
            rest = tuple(cap - u * k for u, cap in zip(col.usage, left, strict=True))
            value, counts = best(i + 1, rest)
            if k * col.tokens_per_s + value > top:
                top, tail = k * col.tokens_per_s + value, (k, *counts)
            k += 1
        return top, tail

    total, counts = best(0, tuple(caps))
    return total, [(col, k) for col, k in zip(cols, counts, strict=True) if k]


@dataclass(frozen=True)
class BruteForce:
    """The brute-force optimum (None: infeasible), its plan, and the work done."""

    tokens_per_s: float | None
    plan: list[tuple[Column, int]]
    columns: int
    priced: int
    seconds: float


def brute_force(inst: ParplanInstance, cap_mixed: bool = True) -> BruteForce:
    """The best plan of ``inst`` by exhaustive enumeration; None when no replica is feasible."""
    start = time.perf_counter()
    cols, priced = columns(inst, cap_mixed)
    if not cols:
        return BruteForce(None, [], 0, priced, time.perf_counter() - start)
    total, plan = best_mix([pool.count for pool in inst.pools], cols)
    return BruteForce(total, plan, len(cols), priced, time.perf_counter() - start)


# -------------------------------------------------------------- re-pricing a solver's plan


def pool_index(inst: ParplanInstance, name: str) -> int | None:
    """The pool of GPU ``name`` (the table name, or an alias the file may have used)."""
    found = inst.pool(name)
    if found is not None:
        return found
    for i, pool in enumerate(inst.pools):
        if pool.gpu_ref is not None and pool.gpu_ref.casefold() == name.casefold():
            return i
    return None


def reprice(inst: ParplanInstance, solution: Mapping[str, Any],
            cap_mixed: bool = True) -> tuple[float, list[str]]:
    """The tokens/s of a solution object by :func:`price`, and every problem found."""
    pricer = Pricer(inst, cap_mixed)
    problems: list[str] = []
    total = 0.0
    used = [0] * len(inst.pools)
    replicas = solution.get("replicas", [])
    if not replicas:
        problems.append("no replica")
    for r, obj in enumerate(replicas):
        stages: list[tuple[int, int, int]] = []
        tps = {s["tp"] for s in obj["stages"]}
        if len(tps) != 1:
            problems.append(f"replica {r}: several TP sizes {sorted(tps)}")
        for s in obj["stages"]:
            g = pool_index(inst, s["gpu"])
            if g is None:
                problems.append(f"replica {r}: unknown GPU {s['gpu']}")
                g = -1
            stages.append((g, int(s["layers"][0]), int(s["layers"][1])))
        rep = Replica(int(obj["stages"][0]["tp"]), int(obj["batch"]), bool(obj.get("ep", False)),
                      tuple(stages))
        got = pricer.price(rep)
        count = int(obj["count"])
        if not got.feasible:
            problems.append(f"replica {r}: {got.why}")
        total += count * got.tokens_per_s
        for g, u in enumerate(got.usage):
            used[g] += count * u
    for g, pool in enumerate(inst.pools):
        if used[g] > pool.count:
            problems.append(f"{pool.gpu.name}: {used[g]} GPUs used > {pool.count}")
    return total, problems


# ---------------------------------------------------------------------------- the solver


def optsched_command() -> list[str]:
    """The ``optsched`` command of this Python's environment."""
    script = Path(sys.executable).with_name("optsched")
    if script.exists():
        return [str(script)]
    found = shutil.which("optsched")
    return [found] if found else [sys.executable, "-m", "optsched"]


def run_solver(path: Path, timeout: float | None) -> dict[str, Any]:
    """The JSON result line of ``optsched solve PATH -s parplan-exact --json``."""
    cmd = [*optsched_command(), "solve", str(path), "-s", "parplan-exact", "--json"]
    if timeout is not None:
        cmd += ["-t", str(timeout)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=None if timeout is None else 2 * timeout + 60)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "objective": None}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            out: dict[str, Any] = json.loads(line)
            return out
    return {"status": "error", "objective": None,
            "stderr": done.stderr.strip()[-500:], "returncode": done.returncode}


# ------------------------------------------------------------------------- the generator


def random_instance(rng: random.Random, name: str, max_layers: int = 10,
                    max_gpus: int = 16) -> dict[str, Any]:
    """A random small parplan instance (JSON object) where memory and the SLOs bind."""
    h = rng.choice((512, 768, 1024, 1536, 2048))
    heads = rng.choice((8, 16))
    n_layers = rng.randint(4, max_layers)
    model: dict[str, Any] = {
        "name": f"rand-{name}", "hidden_size": h,
        "intermediate_size": h * rng.choice((2, 3, 4)), "num_hidden_layers": n_layers,
        "num_attention_heads": heads, "num_key_value_heads": rng.choice((1, 2, 4, 8)),
        "head_dim": h // heads, "vocab_size": 32000,
    }
    if rng.random() < 0.25:
        model["tie_word_embeddings"] = True
    if rng.random() < 0.4:
        model.update(experts=rng.randint(4, 8), top_k=2,
                     moe_intermediate_size=h * rng.choice((1, 2)) // 2)
        if rng.random() < 0.3:
            model["shared_experts"] = 1
        if rng.random() < 0.4:
            model["first_dense"] = 1
    if rng.random() < 0.3:
        v = rng.choice((64, 128))
        model.update(kv_lora_rank=rng.choice((64, 128, 256)),
                     q_lora_rank=rng.choice((0, 256, 512)),
                     qk_rope_head_dim=rng.choice((32, 64)),
                     qk_nope_head_dim=rng.choice((64, 128)), v_head_dim=v, head_dim=v)
    nodes: list[dict[str, Any]] = []
    total = 0
    for gpu in rng.sample(GPU_NAMES, rng.randint(1, 3)):
        per_node = rng.choice((2, 4, 8))
        count = per_node * rng.randint(1, 8 // per_node)
        if total + count > max_gpus:
            break
        total += count
        nodes.append({"gpu": gpu, "count": count, "gpus_per_node": per_node})
    batches = sorted(rng.sample((1, 2, 4, 8, 16, 32, 64), rng.randint(1, 4)))
    # Half the instances keep the default framework overheads (5.2 ms per step: the
    # layers of so small a model barely count); the other half make them small, so that
    # layer times, hops and collectives decide TPOT and TTFT and TP and PP pay.
    cost: dict[str, Any] = {
        "gpu_mem_util": round(math.exp(rng.uniform(math.log(0.01), math.log(0.2))), 4),
        "reserve_gib": 0.1}
    overhead, ttft_overhead = 5.2, 19.0
    if rng.random() < 0.5:
        overhead = cost["overhead_ms"] = round(rng.uniform(0.0, 0.5), 3)
        ttft_overhead = cost["ttft_overhead_ms"] = round(rng.uniform(0.0, 2.0), 3)
    if rng.random() < 0.2:
        cost["kv_block_tokens"] = rng.choice((8, 32))
    slo: dict[str, float] = {}
    if rng.random() < 0.75:
        slo["tpot_ms"] = round(overhead + rng.uniform(0.05, 8.0), 3)
    if rng.random() < 0.6:
        slo["ttft_ms"] = round(overhead + ttft_overhead + rng.uniform(0.5, 60.0), 3)
    search: dict[str, Any] = {"max_stages": rng.randint(1, 4),
                              "max_mixed_stages": rng.randint(2, 4)}
    if rng.random() < 0.15:
        search["mixed_pipelines"] = False
    if "experts" in model and rng.random() < 0.2:
        search["expert_parallel"] = False
    if rng.random() < 0.3:  # TP sizes above 1 only, most often: TP=1 wins otherwise
        kvh = model["num_key_value_heads"]
        valid = [t for t in (1, 2, 4, 8) if heads % t == 0 and (
            "kv_lora_rank" in model or kvh % t == 0 or t % kvh == 0)]
        if rng.random() < 0.8:
            valid = valid[1:]
        search["tp"] = sorted(rng.sample(valid, rng.randint(1, len(valid))))
    return {
        "family": "parplan", "format": 1, "name": name, "model": model,
        "precision": {"weights": "fp8" if rng.random() < 0.2 else "bf16",
                      "kv": "fp8" if rng.random() < 0.2 else "bf16"},
        "cluster": {"nodes": nodes},
        "workload": {"prompt_tokens": int(math.exp(rng.uniform(math.log(16), math.log(4096)))),
                     "output_tokens": int(math.exp(rng.uniform(math.log(8), math.log(1024)))),
                     "batch_sizes": batches},
        "slo": slo, "search": search, "cost": cost,
    }


def make(folder: Path, count: int, seed: int, max_layers: int) -> list[Path]:
    """Write ``count`` random instances to ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        name = f"pp-s{seed}-{i:04d}"
        path = folder / f"{name}.json"
        path.write_text(json.dumps(random_instance(rng, name, max_layers), indent=1) + "\n")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------- the check


def load(path: Path) -> ParplanInstance:
    """The instance of a JSON file."""
    obj = json.loads(path.read_text())
    return from_dict(obj)


def relative(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|, 1)``."""
    return abs(a - b) / max(abs(a), abs(b), 1.0)


def check(path: Path, timeout: float | None, cap_mixed: bool = True) -> dict[str, Any]:
    """Brute force and the solver on one instance, compared."""
    inst = load(path)
    bf = brute_force(inst, cap_mixed)
    started = time.perf_counter()
    res = run_solver(path, timeout)
    solver_s = time.perf_counter() - started
    objective = res.get("objective")
    solver = None if objective is None else -float(objective)
    out: dict[str, Any] = {
        "instance": inst.name, "path": str(path), "brute_tokens_per_s": bf.tokens_per_s,
        "solver_tokens_per_s": solver, "solver_status": res.get("status"),
        "fallback": (res.get("stats") or {}).get("fallback"), "brute_s": round(bf.seconds, 3),
        "solver_s": round(solver_s, 3), "priced": bf.priced, "columns": bf.columns,
        "brute_plan": {"replicas": [col.replica.to_dict(inst, k) for col, k in bf.plan]},
        "solver_plan": res.get("solution"),
    }
    if bf.tokens_per_s is None and solver is None:
        out["verdict"] = "BOTH-INFEASIBLE" if res.get("status") == "infeasible" else "MISMATCH"
        out["rel_diff"] = None
    elif bf.tokens_per_s is None or solver is None:
        out["verdict"], out["rel_diff"] = "MISMATCH", None
    else:
        out["rel_diff"] = relative(bf.tokens_per_s, solver)
        out["verdict"] = "MATCH" if out["rel_diff"] <= REL_TOL else "MISMATCH"
    if res.get("solution") is not None:
        mine, problems = reprice(inst, res["solution"], cap_mixed)
        out["reprice_tokens_per_s"] = mine
        out["reprice_problems"] = problems
        ok = not problems and solver is not None and relative(mine, solver) <= REL_TOL
        out["reprice"] = "OK" if ok else "DIFFERS"
    else:
        out["reprice"] = "-"
    return out


def _fmt(value: float | None) -> str:
    return "infeasible" if value is None else f"{value:.6f}"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("instances", nargs="*", type=Path, help="instance JSON files")
    parser.add_argument("--timeout", type=float, default=None,
                        help="the solver's time limit in seconds (-t); default none")
    parser.add_argument("--make", type=Path, metavar="DIR", help="write random instances here")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-layers", type=int, default=10)
    parser.add_argument("--mismatch-dir", type=Path, default=Path("/tmp/parplan_mismatch"),
                        help="where each mismatching instance and its report are saved")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every record")
    parser.add_argument("--uncapped-mixed", action="store_true",
                        help="bound two-pool pipelines by max_mixed_stages only, not also by "
                             "max_stages (the rule before commit 2184e6b)")
    args = parser.parse_args(argv)
    if args.make is not None:
        paths = make(args.make, args.count, args.seed, args.max_layers)
        print(f"wrote {len(paths)} instances to {args.make}")
        if not args.instances:
            return 0
    counts = {"MATCH": 0, "MISMATCH": 0, "BOTH-INFEASIBLE": 0}
    reprice_bad = 0
    records = []
    for path in args.instances:
        rec = check(path, args.timeout, not args.uncapped_mixed)
        records.append(rec)
        counts[rec["verdict"]] += 1
        reprice_bad += rec["reprice"] == "DIFFERS"
        diff = "-" if rec["rel_diff"] is None else f"{rec['rel_diff']:.2e}"
        print(f"{rec['instance']}: brute {_fmt(rec['brute_tokens_per_s'])} tok/s, "
              f"solver {_fmt(rec['solver_tokens_per_s'])} tok/s ({rec['solver_status']}"
              f"{', fallback ' + str(rec['fallback']) if rec['fallback'] else ''}), "
              f"rel {diff} {rec['verdict']}; reprice {rec['reprice']}"
              + (f" {rec['reprice_tokens_per_s']:.6f}" if "reprice_tokens_per_s" in rec else "")
              + (f" {rec['reprice_problems']}" if rec.get("reprice_problems") else "")
              + f" [brute {rec['brute_s']} s, {rec['priced']} priced; solver {rec['solver_s']} s]",
              flush=True)
        if rec["verdict"] == "MISMATCH" or rec["reprice"] == "DIFFERS":
            args.mismatch_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, args.mismatch_dir / path.name)
            report = args.mismatch_dir / f"{path.stem}.report.json"
            report.write_text(json.dumps(rec, indent=1) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(records, indent=1) + "\n")
    print(f"{len(records)} instances: {counts['MATCH']} MATCH, {counts['MISMATCH']} MISMATCH, "
          f"{counts['BOTH-INFEASIBLE']} both infeasible; re-priced plans differing: "
          f"{reprice_bad}; on {os.cpu_count()} cores")
    return 1 if counts["MISMATCH"] or reprice_bad else 0


if __name__ == "__main__":
    sys.exit(main())
