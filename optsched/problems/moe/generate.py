"""Seeded moe instances: simulated top-k routing with skew, layer affinity and co-activation.

``generate`` routes ``tokens`` tokens through every MoE layer, each token
choosing ``top_k`` distinct experts per layer, and counts what a recorder
would (``load``, ``transitions`` over all pairs of a token's experts at
``l`` and ``l + 1``, ``coactivation`` over the pairs within a layer).
Everything is vectorised over the tokens: the ``deepseek-v3`` preset (58
layers of 256 experts, top-8, 4 of 8 groups per token) with 16,384 tokens
takes 4 to 5 s on a busy 2-CPU machine (about 1.5 s of it the instance's own
checks), making 3.3 million transition and 1.6 million co-activation
entries; 32,768 tokens take about 7 s (3.6 and 1.7 million). Without the
group limit (``group_limit=8``) they take about 3 and 5 s.

Calibration (sources in ``/work/notes/moe_peers.md`` section 4):

- **Popularity.** Layer ``l``'s experts, in a random order, have Zipf
  popularity ``r ** -a`` (rank ``r`` from 1), the exponent ``a`` uniform in
  ``[zipf_min, zipf_max]`` per layer, by default the issue's ``[0.5, 1.2]``.
  No paper publishes a Zipf exponent fitted to Mixtral, DeepSeek or Qwen
  routing; they report top shares and Gini coefficients. Measured on this
  generator (no affinity, no coupling, 20,000 tokens, mean over layers):

  ========  ==========================  =========================  ==========
  exponent  Mixtral shape: top-2 share  Gini, 64 experts top-6     Gini, 256
            of the routes (8 experts)   (DeepSeek-V2-Lite shape)   top-8
  ========  ==========================  =========================  ==========
  0.3       32 %                        0.15                       0.17
  0.5       37 %                        0.26                       0.30
  0.8       45 %                        0.43                       0.51
  1.2       56 %                        0.60                       0.73
  1.6       64 %                        -                          -
  ========  ==========================  =========================  ==========

  MoETuner (arXiv 2502.06643) reports that the two hottest of Mixtral-8x7B's
  8 experts take 64 % and 69 % of the routes in its most skewed layers (14
  and 23): about exponent 1.6 to 1.9 here, beyond the default range. DODOCO
  (arXiv 2605.20982) measures a routing Gini of 0.105 to 0.15 for
  DeepSeek-MoE-16B and Nemotron-30B on real text, 0.24 and above for
  DeepSeek-V2-Lite and Qwen3.5-35B (0.29 to 0.38 on random tokens): the
  default range's lower end matches those, its upper end is a stress case
  (at 1.2 with 256 experts the hottest expert serves about 0.9 of the
  tokens, max/mean 30 where 32 is the most possible with top-8).
- **Layer-to-layer affinity** (ExFlow, Yao et al., IPDPS 2024, arXiv
  2401.08383: ``P(expert at l + 1 | expert at l)`` is strongly peaked in
  GPT-MoE and Mixtral, and stable across data sets). Expert ``e`` of layer
  ``l`` has a preferred successor ``succ[l][e]`` in layer ``l + 1``, drawn
  from layer ``l + 1``'s popularity (so the successors' load follows that
  layer's Zipf on average). With probability ``affinity`` a token's
  ``i``-th expert at ``l + 1`` is the successor of its ``i``-th expert at
  ``l``. No conditional-probability table was published; ``affinity = 1``
  with ``top_k = 1`` makes every expert's transitions go to one successor.
- **Co-activation** (Occult, Luo et al., arXiv 2505.13345: experts are
  chosen together in stable groups; a co-activation-aware placement saves
  about 20 % of the per-token GPU copies). Each layer's experts are split at
  random into cliques of ``2 * top_k`` to ``4 * top_k - 1`` experts; with
  probability ``coupling`` a token's 2nd to k-th experts (those not taken by
  affinity) are drawn from the clique of its first, by popularity among
  those it has not chosen yet. Without it co-activation is only
  what popularity and affinity make.
- Otherwise an expert is drawn from the layer's popularity; a token's
  repeated expert is drawn again (up to 4 times), then replaced by the next
  expert (in index order, cyclically) that the token has not chosen.
- **Group-limited routing** (DeepSeek-V3: ``n_group`` 8, ``topk_group`` 4).
  With ``groups > 1`` and ``0 < group_limit < groups`` the experts form
  ``groups`` groups of ``experts / groups`` consecutive experts (the model's
  ``groups`` field) and, per layer, each token first chooses ``group_limit``
  distinct groups, drawn with probabilities proportional to their popularity
  mass (the sum of their experts' shares; successive draws without
  replacement), then its ``top_k`` experts within them only: a draw from the
  layer's popularity renormalised over the allowed experts; a clique draw
  (coupling) only from the clique's members in the token's groups; a
  successor (affinity) only if it lies in them; otherwise the token keeps its
  popularity draw within its groups, and a repeated expert falls back to the
  next free expert of its groups. So every token's experts lie in at most
  ``group_limit`` groups. DeepSeek-V3's router takes the ``topk_group``
  groups of the highest sum of their two best (biased) expert scores, a
  per-token choice that depends on the token; only that structural effect is
  simulated, not how the groups are scored, and a token's groups do not
  depend on its previous layer's, so affinity acts only when the successor
  falls in them: with a limit of 2 of 4 groups, full affinity makes 57 % of
  the top-1 tokens follow their successor instead of all, full coupling puts
  91 % of top-2 pairs in one clique instead of all; on the ``deepseek-v3``
  preset affinity 0.6 makes 28 % of the routes follow instead of 55 %.
  ``group_limit`` 0 takes the preset's (4 for ``deepseek-v3``, else none; a
  preset's limit not below ``groups``, e.g. with ``groups=1``, means none); a
  given limit equal to ``groups`` is no limit, above it an error. Without a
  limit the random numbers drawn, hence the instances, are those of a
  generator without the option.

The instance does not record ``group_limit``: ``groups`` is copied into the
model (for EPLB's hierarchical policy), the limit only shapes the counts.

Model fields: ``preset`` (one of :data:`.presets.PRESETS`) gives ``layers``,
``experts``, ``top_k``, ``expert_bytes``, ``token_bytes`` and ``groups``;
each of them left at 0 takes the preset's value, or without a preset 8
layers, 16 experts, top-2, DeepSeek-V3's fp8 expert and token (44,040,192 B,
7,168 B) and 1 group; a value other than 0 overrides the preset (e.g.
``preset=deepseek-v3, layers=4``: four of its layers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from optsched.errors import InputError
from optsched.family import Generator, GeneratorParam
from optsched.problems.moe import presets
from optsched.problems.moe.instance import (
    MAX_CELLS,
    MAX_EXPERTS,
    MAX_LAYERS,
    MAX_SLOTS,
    Cluster,
    Cost,
    MoeInstance,
    MoeModel,
)

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

MAX_TOP_K = 16
"""Most experts a token chooses per layer (the presets choose 2 or 8)."""
MAX_TOKENS = 1 << 20
"""Most tokens of one instance."""
MAX_ITEMS = 1 << 26
"""Most routes (``count * tokens * layers * top_k``, see :func:`size`) of all instances one
call generates (DeepSeek-V3's shape with 32,768 tokens is 15.2 million)."""
RETRIES = 4
"""Draws of a token's repeated expert before it takes the next free one."""
DEFAULTS = {"layers": 8, "experts": 16, "top_k": 2, "expert_bytes": 44_040_192,
            "token_bytes": 7_168, "groups": 1}
"""The model without a preset (bytes: DeepSeek-V3's fp8 expert and token)."""
GROUP_LIMITS = {"deepseek-v3": 4}
"""Groups a token's experts may come from, by preset (DeepSeek-V3's ``topk_group``, in
``inference/configs/config_671B.json`` as ``n_limited_groups``); other presets: no limit."""
_CHUNK = 1 << 22
"""Pairs counted at once (bounds the memory of the counting)."""
_DENSE = 1 << 22
"""Largest key space counted with a dense bincount (else np.unique)."""

PARAMS = (
    GeneratorParam("preset", str, "", "model preset: " + ", ".join(presets.PRESETS) + " (sets "
                                      "the model fields left at 0); empty: a synthetic model"),
    GeneratorParam("layers", int, 0, "MoE layers (0: the preset's, else 8)", low=0,
                   high=MAX_LAYERS),
    GeneratorParam("experts", int, 0, "routed experts per layer (0: the preset's, else 16)",
                   low=0, high=MAX_EXPERTS),
    GeneratorParam("top_k", int, 0, "distinct experts per token and layer (0: the preset's, "
                                    "else 2)", low=0, high=MAX_TOP_K),
    GeneratorParam("expert_bytes", int, 0, "bytes of one expert (0: the preset's, else "
                                           "44040192)", low=0, high=1 << 40),
    GeneratorParam("token_bytes", int, 0, "bytes of one dispatched token (0: the preset's, "
                                          "else 7168)", low=0, high=1 << 40),
    GeneratorParam("groups", int, 0, "expert groups, dividing experts (0: the preset's, "
                                     "else 1)", low=0, high=MAX_EXPERTS),
    GeneratorParam("group_limit", int, 0, "groups a token's experts may come from per layer, "
                                          "chosen by popularity (0: the preset's, 4 for "
                                          "deepseek-v3, else no limit; groups: no limit)",
                   low=0, high=MAX_EXPERTS),
    GeneratorParam("nodes", int, 2, "nodes", low=1, high=MAX_SLOTS),
    GeneratorParam("gpus_per_node", int, 2, "GPUs per node", low=1, high=MAX_SLOTS),
    GeneratorParam("slots_per_gpu", int, 0, "expert slots per GPU and layer (0: ceil(experts "
                                            "/ GPUs), the fewest)", low=0, high=MAX_SLOTS),
    GeneratorParam("redundant", int, 0, "extra slots per GPU on top of slots_per_gpu (room "
                                        "for replicas)", low=0, high=MAX_SLOTS),
    GeneratorParam("tokens", int, 4096, "tokens routed through every layer", low=1,
                   high=MAX_TOKENS),
    GeneratorParam("zipf_min", float, 0.5, "smallest Zipf exponent of a layer's popularity",
                   low=0, high=4),
    GeneratorParam("zipf_max", float, 1.2, "largest Zipf exponent (each layer's is uniform "
                                           "in [zipf_min, zipf_max])", low=0, high=4),
    GeneratorParam("affinity", float, 0.6, "chance that a token's i-th expert follows its "
                                           "previous layer's i-th expert's successor",
                   low=0, high=1),
    GeneratorParam("coupling", float, 0.3, "chance that a token's 2nd..k-th experts come "
                                           "from the clique of its first", low=0, high=1),
    GeneratorParam("intra_node_GBps", float, 155.0, "GB/s between GPUs of a node", low=1e-3,
                   high=1e6),
    GeneratorParam("inter_node_GBps", float, 45.0, "GB/s between nodes", low=1e-3,
                   high=1e6),
    GeneratorParam("us_per_token", float, 0.2, "microseconds per routed token", low=0,
                   high=1e6),
    GeneratorParam("us_per_expert", float, 13.0, "microseconds per distinct expert a GPU "
                                                 "runs in a layer", low=0, high=1e6),
    GeneratorParam("count", int, 1, "number of instances", low=1, high=100_000),
    GeneratorParam("seed", int, 0, "random seed; instance k uses the seed sequence (seed, k)",
                   low=0, high=2**63 - 1),
)


@dataclass(frozen=True)
class Spec:
    """The generator's parameters with the preset applied and the slots worked out."""

    name: str
    model: MoeModel
    cluster: Cluster
    cost: Cost
    tokens: int
    zipf_min: float
    zipf_max: float
    affinity: float
    coupling: float
    count: int
    seed: int
    group_limit: int = 0
    """Groups a token's experts may come from (0: no limit; else below ``model.groups``)."""


def resolve(values: Mapping[str, Any]) -> Spec:
    """The parameters (defaults filled in for those missing) checked against each other.

    Raises :class:`InputError` naming the parameter before any work.
    """
    v = {p.name: p.default for p in PARAMS} | dict(values)
    preset = presets.get(v["preset"]) if v["preset"] else None
    model = {key: int(v[key]) or (getattr(preset, key) if preset else DEFAULTS[key])
             for key in DEFAULTS}
    layers, experts, top_k = model["layers"], model["experts"], model["top_k"]
    if top_k > experts:
        raise InputError("top_k", f"must be at most the {experts} experts, got {top_k}")
    if experts % model["groups"]:
        raise InputError("groups", f"{model['groups']} groups must divide the {experts} "
                                   "experts")
    limit = _group_limit(v, model["groups"], experts, top_k)
    if v["zipf_min"] > v["zipf_max"]:
        raise InputError("zipf_max", f"must be at least zipf_min ({v['zipf_min']}), got "
                                     f"{v['zipf_max']}")
    gpus = v["nodes"] * v["gpus_per_node"]
    slots = v["slots_per_gpu"] or -(-experts // gpus)
    if gpus * slots < experts:
        raise InputError("slots_per_gpu", f"{gpus} GPUs x {slots} slots = {gpus * slots} "
                                          f"slots, fewer than the {experts} experts")
    slots += v["redundant"]
    if gpus * slots > MAX_SLOTS or gpus * slots * layers > MAX_CELLS:
        culprit = "redundant" if v["redundant"] else "slots_per_gpu" if v[
            "slots_per_gpu"] else "nodes"
        raise InputError(culprit,
                         f"{gpus} GPUs x {slots} slots = {gpus * slots} slots per layer: at "
                         f"most {MAX_SLOTS}, and at most {MAX_CELLS} over the {layers} layers")
    tokens = v["tokens"]
    if limit and tokens * model["groups"] > MAX_CELLS:
        raise InputError("group_limit", f"{tokens} tokens x {model['groups']} groups: at most "
                                        f"{MAX_CELLS} with a group limit; fewer tokens or "
                                        "groups, or no limit")
    entries = max((layers - 1) * min(experts * experts, tokens * top_k * top_k),
                  layers * min(experts * (experts - 1) // 2, tokens * math.comb(top_k, 2)))
    if entries > MAX_CELLS:
        raise InputError("tokens", f"{tokens} tokens over {layers} layers of {experts} "
                                   f"experts may make {entries} transition or co-activation "
                                   f"entries, more than {MAX_CELLS}: fewer tokens, layers or "
                                   "experts")
    name = (f"moe-{v['preset'] or 'zipf'}-l{layers}-e{experts}-top{top_k}-t{tokens}"
            f"-s{v['seed']}")
    return Spec(name, MoeModel(**model),
                Cluster(v["nodes"], v["gpus_per_node"], slots, float(v["intra_node_GBps"]),
                        float(v["inter_node_GBps"])),
                Cost(float(v["us_per_token"]), float(v["us_per_expert"])), tokens,
                float(v["zipf_min"]), float(v["zipf_max"]), float(v["affinity"]),
                float(v["coupling"]), v["count"], v["seed"], limit)


def _group_limit(v: Mapping[str, Any], groups: int, experts: int, top_k: int) -> int:
    """The group limit in force: 0 for none, else ``1 <= limit < groups``."""
    given = int(v["group_limit"])
    if given > groups:
        raise InputError("group_limit", f"must be at most the {groups} groups, got {given}")
    limit = given or GROUP_LIMITS.get(v["preset"], 0)
    if not limit or limit >= groups:
        return 0
    if limit * (experts // groups) < top_k:
        raise InputError("group_limit", f"{limit} groups of {experts // groups} experts hold "
                                        f"fewer than the top_k = {top_k} experts a token "
                                        "chooses")
    return limit


def size(values: Mapping[str, Any]) -> int:
    """Routes the parameters ask for: ``count * tokens * layers * top_k``."""
    spec = resolve(values)
    return spec.count * spec.tokens * spec.model.layers * spec.model.top_k


def generate(preset: str = "", layers: int = 0, experts: int = 0, top_k: int = 0,
             expert_bytes: int = 0, token_bytes: int = 0, groups: int = 0,
             group_limit: int = 0, nodes: int = 2, gpus_per_node: int = 2,
             slots_per_gpu: int = 0, redundant: int = 0,
             tokens: int = 4096, zipf_min: float = 0.5, zipf_max: float = 1.2,
             affinity: float = 0.6, coupling: float = 0.3,
             intra_node_GBps: float = 155.0,  # noqa: N803 - the format's field name
             inter_node_GBps: float = 45.0,  # noqa: N803 - the format's field name
             us_per_token: float = 0.2, us_per_expert: float = 13.0, count: int = 1,
             seed: int = 0) -> list[MoeInstance]:
    """Instances of simulated routing; instance ``k`` depends only on ``(seed, k)``.

    The parameters are checked first (:data:`GENERATOR`), a bad one raising
    :class:`InputError` that names it.
    """
    values = dict(locals())
    GENERATOR.check(values)
    spec = resolve(values)
    return [instance(spec, k) for k in range(spec.count)]


def instance(spec: Spec, k: int) -> MoeInstance:
    """Instance ``k`` of ``spec`` (its random numbers from the seed sequence ``(seed, k)``)."""
    rng = np.random.default_rng([spec.seed, k])
    model = spec.model
    layers, experts, top_k = model.layers, model.experts, model.top_k
    routing = draw_routing(rng, layers, experts, top_k, spec.zipf_min, spec.zipf_max,
                           model.groups, spec.group_limit)
    load = np.zeros((layers, experts), np.int64)
    transitions: list[Ints] = []
    coactivation: list[Ints] = []
    previous: Ints | None = None
    for layer, chosen in enumerate(routes(rng, routing, spec.tokens, spec.affinity,
                                          spec.coupling)):
        load[layer] = np.bincount(chosen.ravel(), minlength=experts)
        if previous is not None:
            transitions.append(_rows(layer - 1, _transition_keys(previous, chosen, experts),
                                     experts))
        coactivation.append(_rows(layer, _pair_keys(chosen, experts), experts))
        previous = chosen
    empty = np.zeros((0, 4), np.int64)
    return MoeInstance(model=model, cluster=spec.cluster, load=load, cost=spec.cost,
                       transitions=np.concatenate([empty, *transitions]),
                       coactivation=np.concatenate([empty, *coactivation]),
                       name=f"{spec.name}-{k}")


@dataclass(frozen=True)
class Routing:
    """The random model behind the routes of one instance."""

    popularity: Floats
    """``[layers, experts]``: each layer's Zipf shares (each row sums to 1)."""
    exponents: Floats
    """``[layers]``: each layer's Zipf exponent."""
    successor: Ints
    """``[layers - 1, experts]``: expert ``e`` of layer ``l``'s preferred expert at ``l + 1``."""
    members: Ints
    """``[layers, cliques, size]``: each layer's cliques of experts, -1 past a clique's end."""
    clique: Ints
    """``[layers, experts]``: the clique of each expert."""
    position: Ints
    """``[layers, experts]``: each expert's place in its clique's row of ``members``."""
    top_k: int
    groups: int = 1
    """Groups of ``experts / groups`` consecutive experts."""
    group_limit: int = 0
    """Groups a token's experts may come from per layer (0: no limit)."""


def draw_routing(rng: np.random.Generator, layers: int, experts: int, top_k: int,
                 zipf_min: float, zipf_max: float, groups: int = 1,
                 group_limit: int = 0) -> Routing:
    """Popularity, successors and cliques of every layer, drawn from ``rng``.

    ``groups`` and ``group_limit`` are only recorded (they draw nothing here);
    a limit not below ``groups`` is no limit.
    """
    exponents = rng.uniform(zipf_min, zipf_max, layers)
    popularity = np.empty((layers, experts))
    ranks = np.arange(1, experts + 1, dtype=np.float64)
    for layer in range(layers):
        shares = ranks ** -exponents[layer]
        popularity[layer, rng.permutation(experts)] = shares / shares.sum()
    successor = np.array([_draw(rng, popularity[layer + 1], experts)
                          for layer in range(layers - 1)], np.int64).reshape(-1, experts)
    size_ = min(experts, max(2, 2 * top_k))
    cliques = max(1, experts // size_)  # of size_ to 2 * size_ - 1 experts
    members = np.full((layers, cliques, -(-experts // cliques)), -1, np.int64)
    clique = np.empty((layers, experts), np.int64)
    position = np.empty((layers, experts), np.int64)
    spot = np.arange(experts)
    for layer in range(layers):
        order = rng.permutation(experts)
        clique[layer, order] = spot % cliques
        position[layer, order] = spot // cliques
        members[layer, spot % cliques, spot // cliques] = order
    limit = group_limit if 0 < group_limit < groups else 0
    return Routing(popularity, exponents, successor, members, clique, position, top_k, groups,
                   limit)


def routes(rng: np.random.Generator, routing: Routing, tokens: int, affinity: float,
           coupling: float) -> Iterator[Ints]:
    """Per layer, ``[tokens, top_k]``: each token's distinct experts (its i-th in column i).

    With a group limit each token's experts lie in at most ``group_limit`` of
    the ``groups`` groups (chosen per layer, see the module's docstring).
    """
    layers, k = len(routing.popularity), routing.top_k
    everyone = np.arange(tokens)
    previous: Ints | None = None
    for layer in range(layers):
        p = routing.popularity[layer]
        grouped = (_Grouped(rng, p, routing.groups, routing.group_limit, tokens)
                   if routing.group_limit else None)
        draw: _Plain | _Grouped = grouped or _Plain(p)
        members = routing.members[layer]
        weights = np.where(members >= 0, p[np.maximum(members, 0)], 0.0)
        chosen = np.empty((tokens, k), np.int64)
        for i in range(k):
            column = draw(rng, everyone)
            if i and coupling > 0:
                picked = np.flatnonzero(rng.random(tokens) < coupling)
                mates, found = _from_clique(rng, routing, layer, weights, chosen[picked, :i],
                                            grouped, picked)
                column[picked[found]] = mates[found]
            if previous is not None and affinity > 0:
                picked = np.flatnonzero(rng.random(tokens) < affinity)
                successors = routing.successor[layer - 1, previous[picked, i]]
                if grouped is not None:
                    inside = grouped.allows(picked, successors)
                    picked, successors = picked[inside], successors[inside]
                column[picked] = successors
            chosen[:, i] = column
            if i:
                _distinct(rng, chosen, i, draw)
        yield chosen
        previous = chosen


class _Plain:
    """Draws from a layer's whole popularity (no group limit)."""

    def __init__(self, p: Floats) -> None:
        self.sampler = _Sampler(p)
        self.experts = len(p)

    def __call__(self, rng: np.random.Generator, rows: Ints) -> Ints:
        """An expert for each token of ``rows``."""
        return self.sampler(rng, len(rows))

    def next_free(self, rows: Ints, start: Ints, step: int) -> Ints:
        """The expert ``step`` places after ``start`` (cyclically, in index order)."""
        out: Ints = (start + step) % self.experts
        return out


class _Grouped:
    """Each token's ``limit`` groups of one layer, and draws restricted to them.

    The groups are drawn by their popularity mass without replacement, all
    tokens at once (an exponential race: the ``limit`` groups of the smallest
    ``Exp(1) / mass`` are a successive draw without replacement). The per-token
    arrays are ``[limit, tokens]``, a token's groups ascending.
    """

    def __init__(self, rng: np.random.Generator, p: Floats, groups: int, limit: int,
                 tokens: int) -> None:
        self.groups, self.size, self.tokens = groups, len(p) // groups, tokens
        self.sampler = _Sampler(p)
        mass = p.reshape(groups, self.size).sum(axis=1)
        mine = np.empty((tokens, limit), np.int64)
        step = max(1, _CHUNK // groups)
        for start in range(0, tokens, step):
            race = rng.standard_exponential((min(step, tokens - start), groups)) / mass
            mine[start:start + step] = np.sort(
                np.argpartition(race, limit - 1, axis=1)[:, :limit], axis=1)
        allowed = np.zeros((tokens, groups), bool)
        allowed[np.arange(tokens)[:, None], mine] = True
        self.allowed = allowed.ravel()  # token t, group g at t * groups + g
        self.open: Ints = np.ascontiguousarray(mine.T)
        ends = self.sampler.cdf[self.size - 1::self.size]  # each group's end on the CDF
        cum = mass[mine].cumsum(axis=1)  # a token's groups' masses, summed
        self.cum: Floats = np.ascontiguousarray(cum.T)
        self.shift: Floats = np.ascontiguousarray((ends[mine] - cum).T)  # onto the CDF

    def __call__(self, rng: np.random.Generator, rows: Ints) -> Ints:
        """An expert for each token of ``rows``, by popularity among its groups' experts.

        A point ``u`` of ``[0, mass of the token's groups)`` falls in one of its
        groups; shifted onto the layer's CDF it falls on an expert of that group
        (clipped to it against rounding).
        """
        cum = self.cum if len(rows) == self.tokens else self.cum[:, rows]  # all: in order
        u = rng.random(len(rows)) * cum[-1]
        at = np.zeros(len(rows), np.int64)
        for bound in cum[:-1]:
            at += bound <= u
        first = self.open[at, rows] * self.size
        out: Ints = np.clip(self.sampler.locate(u + self.shift[at, rows]), first,
                            first + self.size - 1)
        return out

    def allows(self, rows: Ints, experts: Ints) -> npt.NDArray[np.bool_]:
        """Whether each expert lies in a group of its token (``rows`` broadcasts)."""
        out: npt.NDArray[np.bool_] = self.allowed[rows * self.groups + experts // self.size]
        return out

    def next_free(self, rows: Ints, start: Ints, step: int) -> Ints:
        """The expert ``step`` places after ``start`` among its token's groups' experts.

        Cyclically, in index order (the token's groups' experts in a row).
        """
        mine = self.open[:, rows]
        rank = (mine < start // self.size).sum(axis=0)
        spot = (rank * self.size + start % self.size + step) % (len(mine) * self.size)
        out: Ints = mine[spot // self.size, np.arange(len(rows))] * self.size + \
            spot % self.size
        return out


def _from_clique(rng: np.random.Generator, routing: Routing, layer: int, weights: Floats,
                 taken: Ints, grouped: _Grouped | None = None, tokens: Ints | None = None
                 ) -> tuple[Ints, npt.NDArray[np.bool_]]:
    """Per row of ``taken``, an expert of its first expert's clique not in the row; and found.

    ``found`` says whether the row had one. Drawn by popularity (``weights``:
    each clique's members' shares, 0 past its end); a clique has more than
    ``top_k`` experts, so one is free. With ``grouped`` (and ``tokens``, the
    token of each row) only the members in the token's groups count, and a row
    may find none.
    """
    clique = routing.clique[layer]
    mine = clique[taken[:, 0]]
    w = weights[mine]
    rows = np.arange(len(taken))
    for j in range(taken.shape[1]):
        there = clique[taken[:, j]] == mine
        w[rows[there], routing.position[layer, taken[there, j]]] = 0.0
    if grouped is not None and tokens is not None:
        w *= grouped.allows(tokens[:, None], np.maximum(routing.members[layer, mine], 0))
    cdf = w.cumsum(axis=1)
    at = np.minimum((cdf <= rng.random(len(taken))[:, None] * cdf[:, -1:]).sum(axis=1),
                    w.shape[1] - 1)
    off = w[rows, at] == 0  # only when rounding put the draw past the last free member
    at[off] = w[off].argmax(axis=1)
    out: Ints = routing.members[layer, mine, at]
    return out, cdf[:, -1] > 0


class _Sampler:
    """Draws experts from shares ``p`` by inversion, a guide table finding the bucket."""

    def __init__(self, p: Floats) -> None:
        self.cdf = np.cumsum(p)
        self.total = float(self.cdf[-1])
        self.buckets = 4 * len(p)
        self.guide = np.searchsorted(self.cdf, np.arange(self.buckets + 1) / self.buckets
                                     * self.total, side="right")
        self.padded = np.append(self.cdf, np.inf)
        self.last = len(p) - 1

    def __call__(self, rng: np.random.Generator, n: int) -> Ints:
        """``n`` experts."""
        return self.locate(rng.random(n) * self.total)

    def locate(self, u: Floats) -> Ints:
        """The expert of each point ``u`` of ``[0, total)``: the first whose CDF exceeds it."""
        at = self.guide[np.minimum((u * (self.buckets / self.total)).astype(np.int64),
                                   self.buckets)]
        for _ in range(3):  # most buckets hold an expert boundary or two
            ahead = self.padded[at] <= u
            if not ahead.any():
                break
            at += ahead
        else:
            slow = np.flatnonzero(self.padded[at] <= u)
            at[slow] = np.searchsorted(self.cdf, u[slow], side="right")
        return np.minimum(at, self.last).astype(np.int64)


def _draw(rng: np.random.Generator, p: Floats, n: int) -> Ints:
    """``n`` experts drawn from the shares ``p``."""
    return _Sampler(p)(rng, n)


def _distinct(rng: np.random.Generator, chosen: Ints, i: int, draw: _Plain | _Grouped
              ) -> None:
    """Make column ``i`` differ from columns ``0..i-1`` of every row (in place)."""
    dup = np.flatnonzero((chosen[:, :i] == chosen[:, i:i + 1]).any(axis=1))
    for _ in range(RETRIES):
        if not len(dup):
            return
        chosen[dup, i] = draw(rng, dup)
        dup = dup[(chosen[dup, :i] == chosen[dup, i:i + 1]).any(axis=1)]
    if not len(dup):
        return
    start, taken = chosen[dup, i], chosen[dup, :i]
    todo = np.ones(len(dup), bool)
    out = start.copy()
    for step in range(1, i + 1):  # i experts taken, start among them: one of the next i is free
        nxt = draw.next_free(dup, start, step)
        free = todo & ~(taken == nxt[:, None]).any(axis=1)
        out[free] = nxt[free]
        todo &= ~free
    chosen[dup, i] = out


def _transition_keys(before: Ints, after: Ints, experts: int) -> Iterator[Ints]:
    """``e * experts + f`` for every pair of a token's experts at ``l`` and ``l + 1``."""
    step = max(1, _CHUNK // before.shape[1] ** 2)
    for start in range(0, len(before), step):
        a, b = before[start:start + step], after[start:start + step]
        yield (a[:, :, None] * experts + b[:, None, :]).ravel()


def _pair_keys(chosen: Ints, experts: int) -> Iterator[Ints]:
    """``e * experts + f`` (``e < f``) for every pair of a token's experts in one layer."""
    first, second = np.triu_indices(chosen.shape[1], 1)
    if not len(first):
        return
    ordered = np.sort(chosen, axis=1)  # distinct: column i < column j holds the smaller
    step = max(1, _CHUNK // len(first))
    for start in range(0, len(ordered), step):
        part = ordered[start:start + step]
        yield (part[:, first] * experts + part[:, second]).ravel()


def _rows(layer: int, chunks: Iterable[Ints], experts: int) -> Ints:
    """Rows ``(layer, e, f, count)`` of the keys' counts, in key order."""
    space = experts * experts
    if space <= _DENSE:
        total = np.zeros(space, np.int64)
        for keys in chunks:
            total += np.bincount(keys, minlength=space)
        keys = np.flatnonzero(total)
        counts = total[keys]
    else:
        parts = [np.unique(keys, return_counts=True) for keys in chunks]
        if not parts:
            return np.zeros((0, 4), np.int64)
        keys, where = np.unique(np.concatenate([u for u, _ in parts]), return_inverse=True)
        counts = np.zeros(len(keys), np.int64)
        np.add.at(counts, where, np.concatenate([c for _, c in parts]))
    return np.column_stack([np.full(len(keys), layer, np.int64), keys // experts,
                            keys % experts, counts]).astype(np.int64)


GENERATOR: Generator[MoeInstance] = Generator(
    generate, PARAMS, "simulated top-k routing: Zipf popularity, layer affinity, cliques",
    MAX_ITEMS, size)
"""The generator as the family declares it (``generate`` checks its parameters with it)."""


def samples() -> list[MoeInstance]:
    """Tiny instances every solver of the family solves well under a second.

    All on 2 nodes x 2 GPUs, with transitions and co-activation:

    - ``tight``: 3 layers of 8 experts, top-2, 2 slots per GPU: no redundant
      slot, so a placement is a permutation of the experts per layer.
    - ``redundant``: 2 layers of 4 experts, top-2, 2 slots per GPU: 4
      redundant slots, for replicas of the hot experts.
    - ``groups``: 2 layers of 8 experts in 2 groups, top-2, 3 slots per GPU
      (4 redundant), skewed (Zipf 1.2) for EPLB's hierarchical policy.
    - ``tight-load``: ``tight`` with the ``load`` objective, and ``small-load``:
      2 layers of 4 experts on 2 GPUs of 3 slots (2 redundant), ``load``: small
      enough for the exact models to prove their optima.
    """
    (tight,) = generate(layers=3, experts=8, top_k=2, tokens=300, seed=1)
    (spare,) = generate(layers=2, experts=4, top_k=2, tokens=200, redundant=1, seed=2)
    (grouped,) = generate(layers=2, experts=8, top_k=2, groups=2, tokens=256, redundant=1,
                          zipf_min=1.2, zipf_max=1.2, seed=3)
    (small,) = generate(layers=2, experts=4, top_k=2, tokens=120, nodes=2, gpus_per_node=1,
                        redundant=1, seed=4)
    return [replace(tight, name="tight-load", objective="load"), replace(tight, name="tight"),
            replace(spare, name="redundant"), replace(grouped, name="groups"),
            replace(small, name="small-load", objective="load")]
