"""The moe generator: reproducible, consistent counts, the knobs do what they say, presets."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from optsched.errors import InputError
from optsched.problems.moe import generate as gen
from optsched.problems.moe import presets
from optsched.problems.moe import routes as rt
from optsched.problems.moe.instance import MoeInstance, from_dict


def matrix(rows: np.ndarray, layer: int, experts: int) -> np.ndarray:
    """Layer ``layer``'s sparse ``(l, e, f, n)`` rows as a dense ``[experts, experts]``."""
    out = np.zeros((experts, experts), np.int64)
    mine = rows[rows[:, 0] == layer]
    out[mine[:, 1], mine[:, 2]] = mine[:, 3]
    return out


def test_reproducible_and_independent_of_count() -> None:
    """Instance k depends only on (seed, k): the first of 3 equals the only one of 1."""
    three = gen.generate(layers=3, experts=8, tokens=500, count=3, seed=5)
    assert gen.generate(layers=3, experts=8, tokens=500, seed=5)[0].to_dict() == \
        three[0].to_dict()
    again = gen.generate(layers=3, experts=8, tokens=500, count=3, seed=5)
    assert [i.to_dict() for i in again] == [i.to_dict() for i in three]
    assert three[0].to_dict()["load"] != three[1].to_dict()["load"]
    assert gen.generate(layers=3, experts=8, tokens=500, seed=6)[0].to_dict()["load"] != \
        three[0].to_dict()["load"]
    spec = gen.resolve({"layers": 3, "experts": 8, "tokens": 500, "count": 3, "seed": 5})
    assert gen.instance(spec, 2).to_dict() == three[2].to_dict()
    assert [i.name for i in three] == [f"moe-zipf-l3-e8-top2-t500-s5-{k}" for k in range(3)]


@pytest.mark.parametrize(("experts", "top_k", "affinity", "coupling", "zipf"), [
    (16, 2, 0.6, 0.3, (0.5, 1.2)),
    (8, 1, 0.6, 0.3, (0.5, 1.2)),
    (12, 4, 1.0, 1.0, (0.0, 0.0)),
    (6, 3, 0.0, 0.0, (4.0, 4.0)),  # so skewed that repeats fall back to the next free expert
    (4, 4, 0.5, 0.5, (1.0, 1.0)),  # every token takes every expert
])
def test_counts_add_up(experts: int, top_k: int, affinity: float, coupling: float,
                       zipf: tuple[float, float]) -> None:
    """load rows sum to tokens * k, transitions per boundary to tokens * k^2, co-activation
    per layer to tokens * C(k, 2); the instance reads back from its JSON object."""
    tokens, layers = 700, 4
    for instance in gen.generate(layers=layers, experts=experts, top_k=top_k, tokens=tokens,
                                 affinity=affinity, coupling=coupling, zipf_min=zipf[0],
                                 zipf_max=zipf[1], count=2, seed=3):
        assert instance.load.shape == (layers, experts)
        assert (instance.load.sum(axis=1) == tokens * top_k).all()
        assert instance.load.max() <= tokens  # distinct experts: at most once per token
        t, c = instance.transitions, instance.coactivation
        assert [t[t[:, 0] == layer, 3].sum() for layer in range(layers - 1)] == \
            [tokens * top_k * top_k] * (layers - 1)
        assert [c[c[:, 0] == layer, 3].sum() for layer in range(layers)] == \
            [tokens * math.comb(top_k, 2)] * layers
        assert (t[:, 3] > 0).all() and (c[:, 3] > 0).all() and (c[:, 1] < c[:, 2]).all()
        # each layer's marginals: an expert's transitions out are k times its load
        for layer in range(layers - 1):
            m = matrix(t, layer, experts)
            assert (m.sum(axis=1) == top_k * instance.load[layer]).all()
            assert (m.sum(axis=0) == top_k * instance.load[layer + 1]).all()
        back = from_dict(instance.to_dict())
        assert back.to_dict() == instance.to_dict()


def test_routes_are_distinct_per_token() -> None:
    """Every token's experts differ, even with cliques, affinity and heavy skew."""
    rng = np.random.default_rng(0)
    routing = rt.draw_routing(rng, 5, 10, 5, 3.0, 3.0)
    for chosen in rt.routes(rng, routing, 2000, 0.7, 0.7):
        assert chosen.shape == (2000, 5)
        ordered = np.sort(chosen, axis=1)
        assert (ordered[:, 1:] != ordered[:, :-1]).all()
        assert chosen.min() >= 0 and chosen.max() < 10


def groups_per_token(chosen: np.ndarray, size: int) -> np.ndarray:
    """How many groups of ``size`` consecutive experts each token's experts span."""
    ordered = np.sort(chosen // size, axis=1)
    return np.asarray(1 + (ordered[:, 1:] != ordered[:, :-1]).sum(axis=1))


@pytest.mark.parametrize(("experts", "top_k", "groups", "limit", "affinity", "coupling", "zipf"),
                         [
    (64, 8, 8, 4, 0.6, 0.3, 1.2),  # DeepSeek-V3's 8 groups, 4 per token, on 64 experts
    (64, 8, 8, 4, 1.0, 1.0, 0.5),
    (8, 4, 4, 2, 0.5, 0.5, 4.0),  # 4 open experts per token: takes all, via the fallback
    (12, 3, 3, 1, 0.7, 0.7, 3.0),  # one group of 4 for 3 experts, heavily skewed
    (32, 2, 8, 7, 0.6, 0.3, 1.0),
])
def test_group_limit_keeps_tokens_in_their_groups(
        experts: int, top_k: int, groups: int, limit: int, affinity: float, coupling: float,
        zipf: float) -> None:
    """Each token's distinct experts lie in at most ``group_limit`` groups of E / groups
    consecutive experts, with affinity, cliques and skew; some token uses them all."""
    rng = np.random.default_rng(1)
    routing = rt.draw_routing(rng, 4, experts, top_k, zipf, zipf, groups, limit)
    spans = []
    for chosen in rt.routes(rng, routing, 3000, affinity, coupling):
        assert chosen.shape == (3000, top_k)
        assert (np.diff(np.sort(chosen, axis=1), axis=1) != 0).all()
        assert chosen.min() >= 0 and chosen.max() < experts
        spans.append(groups_per_token(chosen, experts // groups))
    assert max(s.max() for s in spans) == min(limit, top_k)
    if limit < top_k:  # without the limit the tokens spread over more groups
        rng = np.random.default_rng(1)
        free = rt.draw_routing(rng, 4, experts, top_k, zipf, zipf, groups, 0)
        assert max(groups_per_token(c, experts // groups).max()
                   for c in rt.routes(rng, free, 3000, affinity, coupling)) > limit


def test_group_limit_draws_groups_and_experts_by_popularity() -> None:
    """No affinity or coupling, top-1: a token's 2 of 4 groups are drawn by their popularity
    mass without replacement, its expert by popularity within them; the frequencies match
    the exact probabilities."""
    rng = np.random.default_rng(1)
    routing = rt.draw_routing(rng, 1, 16, 1, 1.0, 1.0, 4, 2)
    (chosen,) = rt.routes(rng, routing, 200_000, 0.0, 0.0)
    p = routing.popularity[0]
    mass = p.reshape(4, 4).sum(axis=1)
    exact = np.zeros(16)
    for a, b in itertools.permutations(range(4), 2):  # a first, then b among the rest
        both = mass[a] * mass[b] / (1 - mass[a])
        for g in (a, b):
            exact[4 * g:4 * g + 4] += both * p[4 * g:4 * g + 4] / (mass[a] + mass[b])
    observed = np.bincount(chosen[:, 0], minlength=16) / len(chosen)
    assert np.abs(observed - exact).max() < 0.005


def test_group_limit_keeps_affinity_and_cliques_inside_the_groups() -> None:
    """Under a limit a successor outside the token's groups is not taken, and clique draws
    keep to the groups: full affinity and full coupling still mostly act (an expert's
    successor followed, a token's two experts in one clique), less than without the limit."""
    def rates(limit: int) -> tuple[float, float]:
        rng = np.random.default_rng(3)
        routing = rt.draw_routing(rng, 4, 32, 1, 0.5, 1.2, 4, limit)
        made = list(rt.routes(rng, routing, 20_000, 1.0, 0.0))
        follow = np.mean([np.mean(made[layer + 1][:, 0] ==
                                  routing.successor[layer][made[layer][:, 0]])
                          for layer in range(3)])
        rng = np.random.default_rng(3)
        routing = rt.draw_routing(rng, 2, 32, 2, 0.5, 1.2, 4, limit)
        clique = routing.clique
        together = np.mean([np.mean(clique[layer][c[:, 0]] == clique[layer][c[:, 1]])
                            for layer, c in enumerate(rt.routes(rng, routing, 20_000, 0.0,
                                                                 1.0))])
        return float(follow), float(together)

    assert rates(0) == (1.0, 1.0)
    follow, together = rates(2)
    assert 0.4 < follow < 0.8 and 0.8 < together < 1.0


def test_group_limit_instances_add_up() -> None:
    """Generated under a limit: the counts add up as without; with one group per token every
    co-activation pair lies in one group."""
    tokens, layers, top_k = 600, 3, 4
    (made,) = gen.generate(layers=layers, experts=32, top_k=top_k, groups=8, group_limit=2,
                           tokens=tokens, seed=4)
    t, c = made.transitions, made.coactivation
    assert (made.load.sum(axis=1) == tokens * top_k).all() and made.load.max() <= tokens
    assert [t[t[:, 0] == layer, 3].sum() for layer in range(layers - 1)] == \
        [tokens * top_k ** 2] * (layers - 1)
    assert [c[c[:, 0] == layer, 3].sum() for layer in range(layers)] == \
        [tokens * math.comb(top_k, 2)] * layers
    for layer in range(layers - 1):
        m = matrix(t, layer, 32)
        assert (m.sum(axis=1) == top_k * made.load[layer]).all()
        assert (m.sum(axis=0) == top_k * made.load[layer + 1]).all()
    assert from_dict(made.to_dict()).to_dict() == made.to_dict()
    (one,) = gen.generate(layers=layers, experts=32, top_k=3, groups=4, group_limit=1,
                          tokens=tokens, seed=4)
    c = one.coactivation
    assert (c[:, 1] // 8 == c[:, 2] // 8).all()
    assert c[:, 3].sum() == layers * tokens * 3


def test_group_limit_off_changes_nothing() -> None:
    """No limit (0 without a preset, or as many as the groups) draws the same random numbers
    as before the option existed: these loads are those of the generator without it."""
    values: dict[str, Any] = {"layers": 2, "experts": 8, "top_k": 2, "groups": 4,
                              "tokens": 40, "seed": 11}
    before = [[11, 14, 16, 6, 4, 12, 9, 8], [3, 6, 24, 24, 5, 11, 1, 6]]
    for limit in (0, 4):
        assert gen.generate(**values, group_limit=limit)[0].load.tolist() == before
    ds: dict[str, Any] = {"preset": "deepseek-v3", "layers": 2, "experts": 16, "tokens": 30,
                          "seed": 2}
    assert gen.generate(**ds, group_limit=8)[0].load.tolist() == [
        [14, 11, 13, 15, 16, 5, 26, 24, 26, 10, 26, 13, 7, 11, 12, 11],
        [9, 5, 20, 26, 9, 9, 10, 14, 16, 9, 27, 9, 17, 30, 18, 12]]
    # the preset's 4 of 8 groups of 2: each token takes both experts of its 4 groups
    load = gen.generate(**ds)[0].load
    assert (load[:, 0::2] == load[:, 1::2]).all()
    assert gen.generate(**ds, group_limit=4)[0].to_dict() == gen.generate(**ds)[0].to_dict()


def test_group_limit_resolves() -> None:
    """0 takes the preset's (4 for DeepSeek-V3, none for the others); a limit not below the
    groups is none; the limit is not part of the model."""
    def limit(**values: Any) -> int:
        return gen.resolve(values).group_limit

    assert limit(preset="deepseek-v3") == 4
    assert limit(preset="deepseek-v3", group_limit=2) == 2
    assert limit(preset="deepseek-v3", group_limit=8) == 0
    assert limit(preset="deepseek-v3", groups=4) == 0  # the preset's 4 of 4 groups: all
    assert limit(preset="deepseek-v3", groups=1) == 0
    assert limit(preset="qwen3-30b-a3b") == 0
    assert limit(experts=16, groups=4, group_limit=3) == 3
    assert limit(experts=16, groups=1, group_limit=1) == 0
    assert limit() == 0
    assert "group_limit" not in gen.resolve({"preset": "deepseek-v3"}).model.to_dict()


def test_full_affinity_concentrates_transitions() -> None:
    """affinity 1: a token's i-th expert at l + 1 is the successor of its i-th at l, so with
    top-1 each expert's transitions all go to one expert, and with top-2 the first choices
    do (the instance then holds half of each expert's pairs on its successor)."""
    (one,) = gen.generate(layers=4, experts=16, top_k=1, tokens=3000, affinity=1.0, seed=1)
    for layer in range(3):
        m = matrix(one.transitions, layer, 16)
        used = m.sum(axis=1) > 0
        assert (m.max(axis=1)[used] == m.sum(axis=1)[used]).all()
    rng = np.random.default_rng(2)
    routing = rt.draw_routing(rng, 4, 16, 2, 0.5, 1.2)
    layers = list(rt.routes(rng, routing, 3000, 1.0, 0.3))
    for layer in range(3):
        m = np.zeros((16, 16))
        np.add.at(m, (layers[layer][:, 0], layers[layer + 1][:, 0]), 1)
        busy = m.sum(axis=1) >= 30
        assert (m.max(axis=1)[busy] / m.sum(axis=1)[busy] >= 0.9).all()
        assert (m.argmax(axis=1)[busy] == routing.successor[layer][busy]).all()
    (two,) = gen.generate(layers=4, experts=16, top_k=2, tokens=3000, affinity=1.0, seed=1)
    m = matrix(two.transitions, 0, 16)
    busy = m.sum(axis=1) >= 60
    assert (m.max(axis=1)[busy] / m.sum(axis=1)[busy] >= 0.45).all()


def total_variation(instance: MoeInstance, layer: int, least: int) -> float:
    """The largest distance between P(f | e) and P(f) over experts e with ``least`` tokens."""
    m = matrix(instance.transitions, layer, instance.experts).astype(float)
    marginal = m.sum(axis=0) / m.sum()
    busy = m.sum(axis=1) >= least
    conditional = m[busy] / m[busy].sum(axis=1, keepdims=True)
    return float(0.5 * np.abs(conditional - marginal).sum(axis=1).max())


def test_no_affinity_makes_layers_independent() -> None:
    """affinity 0 (top-1): the next layer's expert does not depend on this one's
    (conditional within sampling noise of the marginal); affinity 0.6 makes it depend."""
    (free,) = gen.generate(layers=3, experts=8, top_k=1, tokens=20_000, affinity=0.0, seed=4)
    (tied,) = gen.generate(layers=3, experts=8, top_k=1, tokens=20_000, affinity=0.6, seed=4)
    for layer in range(2):
        assert total_variation(free, layer, 800) < 0.1
        assert total_variation(tied, layer, 800) > 0.3


def test_higher_zipf_exponent_is_more_skewed() -> None:
    """The heaviest expert's share grows with the exponent; exponent 0 is near uniform."""
    def top_share(exponent: float) -> float:
        made = gen.generate(layers=6, experts=16, top_k=2, tokens=2000, zipf_min=exponent,
                            zipf_max=exponent, affinity=0.0, count=3, seed=7)
        return float(np.mean([i.load.max(axis=1) / i.load.sum(axis=1) for i in made]))

    flat, mild, steep = top_share(0.0), top_share(0.5), top_share(1.2)
    assert flat < 1.3 / 16 < mild < steep
    exponents = rt.draw_routing(np.random.default_rng(0), 200, 16, 2, 0.5, 1.2).exponents
    assert 0.5 <= exponents.min() < 0.6 < 1.1 < exponents.max() <= 1.2


def test_coupling_keeps_co_activation_inside_cliques() -> None:
    """coupling 1 (no affinity): a token's other experts come from its first one's clique
    of 2k experts, so co-activation concentrates on pairs within a clique."""
    def inside(coupling: float) -> float:
        (made,) = gen.generate(layers=2, experts=24, top_k=2, tokens=3000, affinity=0.0,
                               coupling=coupling, seed=8)
        routing = rt.draw_routing(np.random.default_rng([8, 0]), 2, 24, 2, 0.5, 1.2)
        co = made.coactivation
        same = routing.clique[co[:, 0], co[:, 1]] == routing.clique[co[:, 0], co[:, 2]]
        return float(co[same, 3].sum() / co[:, 3].sum())

    assert inside(1.0) == 1.0
    assert inside(0.0) < 0.5


def test_slots() -> None:
    """slots_per_gpu 0 is the fewest (ceil(experts / GPUs)); redundant adds per GPU."""
    def slots(**values: Any) -> int:
        return gen.resolve(values).cluster.slots_per_gpu

    assert slots(experts=16) == 4  # 2 x 2 GPUs
    assert slots(experts=17) == 5
    assert slots(experts=16, redundant=2) == 6
    assert slots(experts=16, slots_per_gpu=5, redundant=1) == 6
    assert slots(experts=16, nodes=1, gpus_per_node=3) == 6


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_presets_give_the_model(name: str) -> None:
    """A preset sets every model field; a field given (not 0) overrides it."""
    preset = presets.get(name)
    spec = gen.resolve({"preset": name})
    assert spec.model.to_dict() | {"groups": spec.model.groups} == {
        "layers": preset.layers, "experts": preset.experts, "top_k": preset.top_k,
        "expert_bytes": preset.expert_bytes, "token_bytes": preset.token_bytes,
        "groups": preset.groups}
    assert spec.cluster.gpus * spec.cluster.slots_per_gpu == max(preset.experts, 4)
    (made,) = gen.generate(preset=name, layers=2, tokens=64, seed=1)
    assert made.model == gen.resolve({"preset": name, "layers": 2}).model
    assert made.load.shape == (2, preset.experts)
    assert (made.load.sum(axis=1) == 64 * preset.top_k).all()
    assert made.name == f"moe-{name}-l2-e{preset.experts}-top{preset.top_k}-t64-s1-0"
    assert preset.source


def test_preset_table() -> None:
    """The four presets with the values of their configs, and the unknown-name error."""
    assert presets.preset_names() == ("mixtral-8x7b", "qwen3-30b-a3b", "qwen3-235b-a22b",
                                      "deepseek-v3")
    ds = presets.get("deepseek-v3")
    assert (ds.layers, ds.experts, ds.top_k, ds.groups) == (58, 256, 8, 8)
    assert ds.expert_bytes == 3 * 7168 * 2048 and ds.token_bytes == 7168
    mixtral = presets.get("mixtral-8x7b")
    assert mixtral.expert_bytes == 3 * 4096 * 14336 * 2
    with pytest.raises(InputError, match="unknown preset 'gpt-5'.*deepseek-v3") as info:
        presets.get("gpt-5")
    assert info.value.field == "preset"


def test_full_preset_shape() -> None:
    """DeepSeek-V3 at full depth: 58 layers of 256 experts on 4 GPUs of 64 slots."""
    (made,) = gen.generate(preset="deepseek-v3", tokens=32)
    assert made.load.shape == (58, 256) and made.model.groups == 8
    assert made.cluster.slots_per_gpu == 64
    assert set(made.transitions[:, 0].tolist()) == set(range(57))


def test_size_and_cap() -> None:
    """size() counts routes with the preset applied; the cap refuses before any work."""
    assert gen.size({}) == 4096 * 8 * 2
    assert gen.size({"preset": "deepseek-v3", "tokens": 32768, "count": 2}) == \
        2 * 32768 * 58 * 8
    with pytest.raises(InputError) as info:
        gen.GENERATOR.check({"preset": "deepseek-v3", "tokens": 32768, "count": 5})
    assert info.value.field == "count"


@pytest.mark.parametrize(("values", "field"), [
    ({"preset": "gpt-5"}, "preset"),
    ({"experts": 4, "top_k": 5}, "top_k"),
    ({"experts": 12, "groups": 5}, "groups"),
    ({"preset": "deepseek-v3", "experts": 12}, "groups"),  # its 8 groups do not divide 12
    ({"experts": 16, "groups": 4, "group_limit": 5}, "group_limit"),  # more than the groups
    ({"group_limit": 2}, "group_limit"),  # 1 group
    ({"experts": 16, "groups": 8, "top_k": 4, "group_limit": 1}, "group_limit"),  # 2 < top-4
    ({"preset": "deepseek-v3", "experts": 8}, "group_limit"),  # 4 groups of 1 for top-8
    ({"experts": 4096, "groups": 4096, "group_limit": 1, "top_k": 1, "layers": 1,
      "tokens": 1 << 20}, "group_limit"),  # tokens x groups too many
    ({"group_limit": -1}, "group_limit"),
    ({"group_limit": 5000}, "group_limit"),
    ({"zipf_min": 1.0, "zipf_max": 0.5}, "zipf_max"),
    ({"experts": 16, "slots_per_gpu": 3}, "slots_per_gpu"),
    ({"experts": 16, "redundant": 20_000}, "redundant"),
    ({"experts": 16, "slots_per_gpu": 20_000}, "slots_per_gpu"),
    ({"nodes": 40_000}, "nodes"),
    ({"layers": 1024, "experts": 4096, "tokens": 1 << 20, "top_k": 4}, "tokens"),
    ({"affinity": 1.5}, "affinity"),
    ({"tokens": 0}, "tokens"),
    ({"tokens": 1.5}, "tokens"),
    ({"top_k": 17}, "top_k"),
    ({"preset": 3}, "preset"),
])
def test_bad_parameters_name_the_parameter(values: dict[str, Any], field: str) -> None:
    """generate() checks its parameters as the CLI does, naming the bad one."""
    with pytest.raises(InputError) as info:
        gen.generate(**values)
    assert info.value.field == field
    with pytest.raises(InputError) as info:
        gen.GENERATOR.check(values)
    assert info.value.field == field


def test_unknown_parameter() -> None:
    with pytest.raises(InputError, match="not a parameter") as info:
        gen.GENERATOR.check({"bogus": 1})
    assert info.value.field == "bogus"


def test_sparse_counting_matches_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting in small chunks, and with np.unique instead of bincount, changes nothing."""
    values: dict[str, Any] = {"layers": 3, "experts": 8, "top_k": 3, "tokens": 900,
                              "seed": 2}
    dense = gen.generate(**values)[0].to_dict()
    monkeypatch.setattr(rt, "_CHUNK", 50)
    monkeypatch.setattr(rt, "_DENSE", 1)
    assert gen.generate(**values)[0].to_dict() == dense


def test_samples() -> None:
    """Tiny instances: one without redundant slots, others with; all with transitions and
    co-activation, on 2 nodes (of 2 GPUs, or 1 for ``small-load``); the last two with the
    ``load`` objective (for the exact models)."""
    made = gen.samples()
    assert [i.name for i in made] == ["tight-load", "tight", "redundant", "groups",
                                      "small-load"]
    spare = [i.cluster.slots - i.experts for i in made]
    assert spare[0] == spare[1] == 0 and all(s > 0 for s in spare[2:])
    assert [i.objective for i in made] == ["load"] + ["time"] * 3 + ["load"]
    for instance in made:
        assert instance.cluster.gpus == (2 if instance.name == "small-load" else 4)
        assert instance.cluster.nodes == 2
        assert instance.layers <= 3 and instance.experts <= 8
        assert instance.load.sum() <= 3 * 300 * 2
        assert len(instance.transitions) and len(instance.coactivation)
        assert from_dict(instance.to_dict()).to_dict() == instance.to_dict()
    assert made[3].model.groups == 2
    assert [i.to_dict() for i in gen.samples()] == [i.to_dict() for i in made]


@pytest.mark.parametrize("exponent", [0.0, 1.0, 4.0])
def test_sampler_is_inversion(exponent: float) -> None:
    """The guide-table sampler returns what a binary search of the CDF returns."""
    p = np.arange(1, 3001.0) ** -exponent
    p /= p.sum()
    drawn = rt._Sampler(p)(np.random.default_rng(1), 50_000)
    cdf = np.cumsum(p)
    u = np.random.default_rng(1).random(50_000) * cdf[-1]
    assert (drawn == np.minimum(np.searchsorted(cdf, u, side="right"), len(p) - 1)).all()
