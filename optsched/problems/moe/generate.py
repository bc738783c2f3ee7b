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
from collections.abc import Mapping
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
from optsched.problems.moe.routes import (
    count_rows,
    draw_routing,
    pair_keys,
    routes,
    transition_keys,
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
DEFAULTS = {"layers": 8, "experts": 16, "top_k": 2, "expert_bytes": 44_040_192,
            "token_bytes": 7_168, "groups": 1}
"""The model without a preset (bytes: DeepSeek-V3's fp8 expert and token)."""
GROUP_LIMITS = {"deepseek-v3": 4}
"""Groups a token's experts may come from, by preset (DeepSeek-V3's ``topk_group``, in
``inference/configs/config_671B.json`` as ``n_limited_groups``); other presets: no limit."""

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
            transitions.append(count_rows(layer - 1, transition_keys(previous, chosen, experts),
                                     experts))
        coactivation.append(count_rows(layer, pair_keys(chosen, experts), experts))
        previous = chosen
    empty = np.zeros((0, 4), np.int64)
    return MoeInstance(model=model, cluster=spec.cluster, load=load, cost=spec.cost,
                       transitions=np.concatenate([empty, *transitions]),
                       coactivation=np.concatenate([empty, *coactivation]),
                       name=f"{spec.name}-{k}")


GENERATOR: Generator[MoeInstance] = Generator(
    generate, PARAMS, "Zipf popularity, layer-to-layer affinity and co-activation from "
    "simulated tokens",
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
