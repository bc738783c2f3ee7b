r"""Parity of optsched's EPLB port with DeepSeek's EPLB running on real torch.

optsched's :func:`optsched.problems.moe.eplb.rebalance` re-implements, in numpy,
``rebalance_experts`` of ``eplb.py`` from github.com/deepseek-ai/EPLB. This script
feeds both the same seeded random cases and counts, case by case, whether the three
arrays upstream returns -- ``phy2log``, ``log2phy`` and ``logcnt`` -- are equal
element for element, under optsched's two tie rules: ``ties="torch"`` (should match
every case) and ``ties="stable"`` (index order on ties; should differ only where a
sort of more than 16 items meets ties). It also times both at DeepSeek-V3 scale
(58 layers, 256 experts, 288 replicas, 8 groups, 4 nodes, 32 GPUs).

The reference is torch's CPU build on Linux: torch's CPU sort is libstdc++'s
``std::sort`` (introsort), which scrambles ties beyond 16 items, and its float32 sum
runs in a kernel-specific order; optsched's ``ties="torch"`` copies both. On a GPU,
or with another C++ standard library, upstream can break ties differently.

Upstream code is not part of optsched: pass your own copy of ``eplb.py``. Three
commands, so that the torch side never imports optsched and the optsched side never
imports torch (any Python with torch and numpy can be the oracle)::

    python benchmarks/moe/eplb_parity.py cases --seed 1 --out cases1.npz
    ORACLE_PYTHON benchmarks/moe/eplb_parity.py upstream --eplb PATH/eplb.py \
        --cases cases1.npz --out upstream1.npz
    python benchmarks/moe/eplb_parity.py compare cases1.npz upstream1.npz \
        [cases2.npz upstream2.npz ...]

``cases`` draws the inputs (numpy only); ``upstream`` loads ``eplb.py`` by path,
runs ``rebalance_experts`` on every case, times it on the DeepSeek-V3-scale inputs
and saves the arrays; ``compare`` runs optsched on the same cases, times it on the
same inputs and prints Markdown tables (several pairs are summed into one table).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

CONFIGS: tuple[tuple[int, int, int, int, int], ...] = (
    # (experts, replicas, groups, nodes, gpus); the global policy runs when
    # groups % nodes != 0, as upstream decides
    (256, 288, 8, 4, 32),  # DeepSeek-V3
    (256, 288, 3, 4, 32),  # DeepSeek-V3 sizes, global policy
    (256, 320, 8, 5, 40),
    (256, 256, 8, 4, 32),  # no redundant replica
    (256, 288, 8, 1, 8),
    (160, 192, 4, 2, 16),
    (128, 160, 16, 4, 16),
    (128, 192, 8, 2, 16),
    (96, 128, 32, 4, 32),  # 8 groups per node
    (72, 96, 9, 3, 12),
    (64, 80, 8, 2, 16),
    (64, 64, 8, 4, 64),  # one replica per GPU
    (64, 128, 64, 8, 64),  # one expert per group
    (60, 64, 6, 4, 8),  # global
    (48, 96, 6, 3, 24),
    (40, 80, 2, 2, 40),
    (32, 40, 4, 1, 8),
    (32, 64, 1, 2, 16),  # global
    (12, 16, 4, 2, 8),
)
LOADS = ("ints0-10", "f32-4values", "pareto", "lognormal", "lognormal-f32", "zero",
         "above-2^24", "sparse")
"""Load distributions; the first two and the last are mostly ties."""
TIMING: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("hierarchical", "lognormal", (288, 8, 4, 32)),
    ("hierarchical", "ints0-10", (288, 8, 4, 32)),
    ("global", "lognormal", (288, 1, 4, 32)),
    ("global", "ints0-10", (288, 1, 4, 32)),
)
"""DeepSeek-V3-scale timing inputs: policy, loads, (replicas, groups, nodes, gpus)."""
V3_LAYERS, V3_EXPERTS = 58, 256


def _loads(rng: np.random.Generator, dist: str, shape: tuple[int, int]) -> Array:
    if dist == "ints0-10":
        return rng.integers(0, 11, shape)
    if dist == "f32-4values":
        return rng.choice([0.75, 1.5, 3.0, 6.0], shape).astype(np.float32)
    if dist == "pareto":
        return np.floor(1e3 * (1 + rng.pareto(1.2, shape))).astype(np.int64)
    if dist == "lognormal":
        return np.round(rng.lognormal(10, 1.5, shape)).astype(np.int64)
    if dist == "lognormal-f32":
        return rng.lognormal(5, 2, shape).astype(np.float32)
    if dist == "zero":
        return np.zeros(shape, np.int64)
    if dist == "above-2^24":
        return rng.integers(2**24, 2**27, shape)
    if dist == "sparse":
        return (rng.random(shape) < 0.05) * rng.integers(1, 4, shape)
    raise ValueError(dist)


def cases(seed: int, out: Path) -> None:
    """Every config with every load distribution, 1 to 8 layers, plus the timing inputs."""
    rng = np.random.default_rng(seed)
    data: dict[str, Array] = {"seed": np.array(seed)}
    names: list[str] = []
    for experts, reps, groups, nodes, gpus in CONFIGS:
        for dist in LOADS:
            key = f"c{len(names)}"
            layers = int(rng.integers(1, 9))
            data[f"{key}_w"] = _loads(rng, dist, (layers, experts))
            data[f"{key}_cfg"] = np.array([reps, groups, nodes, gpus])
            names.append(f"{experts}/{reps}/{groups}/{nodes}/{gpus} {dist}")
    data["names"] = np.array(names)
    for j, (_, dist, cfg) in enumerate(TIMING):
        data[f"t{j}_w"] = _loads(rng, dist, (V3_LAYERS, V3_EXPERTS))
        data[f"t{j}_cfg"] = np.array(cfg)
    np.savez_compressed(out, allow_pickle=False, **data)
    print(f"{len(names)} cases and {len(TIMING)} timing inputs (seed {seed}) -> {out}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _timed(run: Callable[[], object], repeat: int) -> Array:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def upstream(eplb: Path, case_file: Path, out: Path, repeat: int, threads: int) -> None:
    """Run upstream's ``rebalance_experts`` (from ``eplb``, by path) on every case."""
    torch = importlib.import_module("torch")  # the oracle's; optsched's venv has none
    spec = importlib.util.spec_from_file_location("eplb_upstream", eplb)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot load {eplb}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebalance_experts = module.rebalance_experts
    torch.set_num_threads(threads)
    d = np.load(case_file)
    result: dict[str, Array] = {
        "cases_sha256": np.array(_digest(case_file)), "eplb_sha256": np.array(_digest(eplb)),
        "torch": np.array(torch.__version__),
        "capability": np.array(torch.backends.cpu.get_cpu_capability()),
        "platform": np.array(f"{platform.platform(terse=True)}, Python "
                             f"{platform.python_version()}, {threads} torch thread(s)")}
    for i in range(len(d["names"])):
        key = f"c{i}"
        w = torch.from_numpy(d[f"{key}_w"])
        phy2log, log2phy, logcnt = rebalance_experts(w, *d[f"{key}_cfg"].tolist())
        result[f"{key}_p"], result[f"{key}_l"] = phy2log.numpy(), log2phy.numpy()
        result[f"{key}_c"] = logcnt.numpy()
    for j in range(len(TIMING)):
        w, cfg = torch.from_numpy(d[f"t{j}_w"]), d[f"t{j}_cfg"].tolist()
        result[f"t{j}_s"] = _timed(partial(rebalance_experts, w, *cfg), repeat)
    np.savez_compressed(out, allow_pickle=False, **result)
    print(f"{len(d['names'])} cases through {eplb} on torch {torch.__version__} "
          f"({result['capability']}) -> {out}")


def _ms(seconds: Array) -> str:
    return f"{1e3 * float(np.min(seconds)):.0f} / {1e3 * statistics.median(seconds):.0f}"


def compare(pairs: list[tuple[Path, Path]], repeat: int) -> None:
    """Run optsched's ``rebalance`` on the cases of each pair, against upstream's arrays."""
    from optsched.problems.moe.eplb import rebalance

    rules: tuple[Literal["torch", "stable"], ...] = ("torch", "stable")
    fields = (("phy2log", "p"), ("log2phy", "l"), ("logcnt", "c"))
    equal = {(rule, f): 0 for rule in rules for f in [*(f for f, _ in fields), "all"]}
    by_load = {(rule, dist): [0, 0] for rule in rules for dist in LOADS}
    mismatches: list[str] = []
    timing: list[str] = []
    total = 0
    policies: dict[str, int] = {}
    for case_file, upstream_file in pairs:
        d, o = np.load(case_file), np.load(upstream_file)
        if str(o["cases_sha256"]) != _digest(case_file):
            sys.exit(f"{upstream_file} was not made from {case_file}")
        seed = int(d["seed"])
        print(f"seed {seed}: upstream eplb.py sha256 {o['eplb_sha256']}, torch {o['torch']} "
              f"(CPU capability {o['capability']}), {o['platform']}")
        names = d["names"].tolist()
        total += len(names)
        for i, name in enumerate(names):
            key = f"c{i}"
            dist = name.split()[1]
            for rule in rules:
                got = rebalance(d[f"{key}_w"], *d[f"{key}_cfg"].tolist(), ties=rule)
                same = [np.array_equal(getattr(got, f), o[f"{key}_{s}"]) for f, s in fields]
                for (f, _), ok in zip(fields, same, strict=True):
                    equal[rule, f] += ok
                equal[rule, "all"] += all(same)
                by_load[rule, dist][0] += all(same)
                by_load[rule, dist][1] += 1
                if rule != "torch":
                    continue
                policies[got.policy] = policies.get(got.policy, 0) + 1
                if not all(same):
                    mismatches.append(f"seed {seed} case {i} ({name}, {got.policy})")
        for j, (policy, dist, cfg) in enumerate(TIMING):
            w = d[f"t{j}_w"]
            own = [_ms(_timed(partial(rebalance, w, *cfg, ties=rule), repeat))
                   for rule in rules]
            reps, groups, nodes, gpus = cfg
            timing.append(f"| {seed} | {policy} | {dist} | {V3_EXPERTS}/{reps}/{groups}/{nodes}/"
                          f"{gpus} | {_ms(o[f't{j}_s'])} | {own[0]} | {own[1]} |")

    print("\n| tie rule | cases | phy2log equal | log2phy equal | logcnt equal | all three |"
          "\n|---|---:|---:|---:|---:|---:|")
    for rule in rules:
        print(f"| {rule} | {total} | " + " | ".join(
            str(equal[rule, f]) for f in ("phy2log", "log2phy", "logcnt", "all")) + " |")
    print("\npolicies: " + ", ".join(f"{n} {k}" for k, n in sorted(policies.items())))
    print("\n| loads | cases | all three equal, ties=torch | all three equal, ties=stable |"
          "\n|---|---:|---:|---:|")
    for dist in LOADS:
        print(f"| {dist} | {by_load['torch', dist][1]} | {by_load['torch', dist][0]} | "
              f"{by_load['stable', dist][0]} |")
    print(f"\nDeepSeek-V3 scale, {V3_LAYERS} layers, ms best / median of {repeat} "
          f"(optsched) and of upstream's runs:\n\n| seed | policy | loads | experts/replicas/"
          f"groups/nodes/gpus | upstream (torch) | optsched ties=torch | optsched ties=stable |"
          f"\n|---|---|---|---|---:|---:|---:|")
    print("\n".join(timing))
    print("\nmismatches under ties=torch: " + ("none" if not mismatches else
                                                  "\n  " + "\n  ".join(mismatches)))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run one of the three commands."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cases", help="draw the seeded cases (numpy only)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("upstream", help="run upstream's eplb.py on torch (no optsched)")
    p.add_argument("--eplb", type=Path, required=True, help="your copy of upstream's eplb.py")
    p.add_argument("--cases", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--repeat", type=int, default=5, help="timed runs per timing input")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p = sub.add_parser("compare", help="run optsched (no torch) and print the tables")
    p.add_argument("files", type=Path, nargs="+", metavar="CASES UPSTREAM")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per timing input")
    args = parser.parse_args(argv)
    if args.command == "cases":
        cases(args.seed, args.out)
    elif args.command == "upstream":
        upstream(args.eplb, args.cases, args.out, args.repeat, args.threads)
    else:
        if len(args.files) % 2:
            parser.error("compare takes pairs: CASES UPSTREAM [CASES UPSTREAM ...]")
        files = args.files
        compare(list(zip(files[::2], files[1::2], strict=True)), args.repeat)


if __name__ == "__main__":
    main()
