"""moe instances from JSON: every bad field named with its index, round trips, ``-m`` settings."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from optsched import SolveParams
from optsched.errors import InputError, InstanceError
from optsched.problems.moe.instance import (
    Cluster,
    Cost,
    MoeInstance,
    MoeModel,
    from_dict,
    with_settings,
)
from optsched.solve import prepare

EXAMPLE: dict[str, Any] = {
    "family": "moe", "format": 1, "name": "example",
    "model": {"layers": 2, "experts": 4, "top_k": 2, "expert_bytes": 44040192,
              "token_bytes": 7168},
    "cluster": {"nodes": 2, "gpus_per_node": 2, "slots_per_gpu": 3, "intra_node_GBps": 155,
                "inter_node_GBps": 45},
    "load": [[120, 30, 55, 10], [80, 70, 20, 45]],
    "transitions": [[0, 0, 1, 40], [0, 2, 3, 25]],
    "coactivation": [[0, 0, 2, 18]],
    "previous": None,
    "cost": {"us_per_token": 0.2, "us_per_expert": 13.0}}
"""The example of formats.md: 2 layers of 4 experts on 2 x 2 GPUs of 3 slots (12 slots)."""

IDENTITY = [0, 1, 2, 3] * 3
"""A valid previous row of EXAMPLE: every expert three times (slot s holds s mod 4)."""


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    change(data)
    return data


def _error(data: dict[str, Any]) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        from_dict(data)
    return info.value


def test_example_reads() -> None:
    """The formats.md example: 2 x 2 GPUs x 3 slots = 12 slots per layer, 8 of them spare."""
    instance = from_dict(EXAMPLE)
    assert (instance.name, instance.layers, instance.experts) == ("example", 2, 4)
    assert (instance.cluster.gpus, instance.cluster.slots) == (4, 12)
    assert instance.load.tolist() == EXAMPLE["load"]
    assert instance.transitions.tolist() == EXAMPLE["transitions"]
    assert (instance.objective, instance.imbalance, instance.max_moved, instance.previous) == (
        "time", None, None, None)
    assert instance.model.groups == 1 and instance.cost.migration_weight == 0.0
    assert not instance.load.flags.writeable and not instance.transitions.flags.writeable


BAD: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    # load
    ("load row too short", lambda d: d["load"].__setitem__(1, [80, 70, 20]), "load[1]",
     "must have 4 entries, got 3"),
    ("load row too long", lambda d: d["load"][0].append(1), "load[0]",
     "must have 4 entries, got 5"),
    ("load rows", lambda d: d.__setitem__("load", [[1, 2, 3, 4]]), "load",
     "must have 2 rows (one per layer), got 1"),
    ("load row not a list", lambda d: d["load"].__setitem__(1, "abcd"), "load[1]",
     "must be a list"),
    ("negative count", lambda d: d["load"][0].__setitem__(2, -1), "load[0][2]", "got -1"),
    ("fractional count", lambda d: d["load"][1].__setitem__(3, 4.5), "load[1][3]", "got 4.5"),
    ("boolean count", lambda d: d["load"][0].__setitem__(0, True), "load[0][0]", "got True"),
    ("count above 2^40", lambda d: d["load"][0].__setitem__(1, 2**41), "load[0][1]",
     "must be an integer in [0, 1099511627776]"),
    # cluster and model
    ("fewer slots than experts",
     lambda d: d["cluster"].update(nodes=1, gpus_per_node=1), "cluster.slots_per_gpu",
     "1 GPUs x 3 slots = 3 slots, fewer than the 4 experts"),
    ("no slots", lambda d: d["cluster"].__setitem__("slots_per_gpu", 0),
     "cluster.slots_per_gpu", "must be an integer in [1, 2^40]"),
    ("zero bandwidth", lambda d: d["cluster"].__setitem__("inter_node_GBps", 0),
     "cluster.inter_node_GBps", "must be a finite number > 0"),
    ("top_k above experts", lambda d: d["model"].__setitem__("top_k", 5), "model.top_k",
     "must be at most the 4 experts, got 5"),
    ("groups not dividing", lambda d: d["model"].__setitem__("groups", 3), "model.groups",
     "3 groups must divide the 4 experts"),
    ("missing load", lambda d: d.pop("load"), "load", "is missing"),
    # transitions: the last layer (1) has no next layer
    ("transition from the last layer", lambda d: d["transitions"].append([1, 0, 1, 5]),
     "transitions[2]", "layer must be a layer in [0, 0], got [1, 0, 1, 5]"),
    ("transition from layer -1", lambda d: d["transitions"].append([-1, 0, 1, 5]),
     "transitions[2]", "layer must be a layer in [0, 0]"),
    ("transition from a missing expert",
     lambda d: d["transitions"].extend([[0, 1, 1, 1], [0, 4, 1, 5]]), "transitions[3]",
     "e must be an expert in [0, 3], got [0, 4, 1, 5]"),
    ("transition to a missing expert", lambda d: d["transitions"].append([0, 1, 7, 5]),
     "transitions[2]", "f must be an expert in [0, 3]"),
    ("negative transition count", lambda d: d["transitions"].append([0, 1, 2, -5]),
     "transitions[2]", "count must be a count in [0, 2^40]"),
    ("repeated transition", lambda d: d["transitions"].append([0, 0, 1, 5]),
     "transitions[2]", "repeats the layer and experts of entry 0"),
    ("transition of three numbers", lambda d: d["transitions"].append([0, 0, 1]),
     "transitions[2]", "must be [layer, e, f, count] of integers"),
    ("transitions not a list", lambda d: d.__setitem__("transitions", "0 0 1 40"),
     "transitions", "must be a list of [layer, e, f, count]"),
    # coactivation
    ("coactivation of one expert twice", lambda d: d["coactivation"].append([1, 3, 3, 5]),
     "coactivation[1]", "names expert 3 twice"),
    ("coactivation (f, e) after (e, f)", lambda d: d["coactivation"].append([0, 2, 0, 5]),
     "coactivation[1]", "repeats the layer and experts of entry 0"),
    ("coactivation (e, f) after (f, e)",
     lambda d: d["coactivation"].extend([[1, 3, 1, 4], [1, 1, 3, 5]]), "coactivation[2]",
     "repeats the layer and experts of entry 1"),
    ("coactivation in a missing layer", lambda d: d["coactivation"].append([2, 1, 2, 5]),
     "coactivation[1]", "layer must be a layer in [0, 1]"),
    ("coactivation of a missing expert", lambda d: d["coactivation"].append([0, 1, 4, 5]),
     "coactivation[1]", "f must be an expert in [0, 3]"),
    # previous: 2 rows of 12 slots, experts 0..3, each expert in every row
    ("previous row too short", lambda d: d.__setitem__("previous", [IDENTITY, [0, 1, 2]]),
     "previous[1]", "must have 12 entries, got 3"),
    ("previous rows", lambda d: d.__setitem__("previous", [IDENTITY]), "previous",
     "must have 2 rows (one per layer), got 1"),
    ("previous expert out of range",
     lambda d: d.__setitem__("previous", [[0, 1, 2, 3, 0, 5, 0, 0, 0, 0, 0, 0], IDENTITY]),
     "previous[0][5]", "must be an integer in [0, 3], got 5"),
    ("previous negative expert",
     lambda d: d.__setitem__("previous", [IDENTITY, [0, 1, 2, -1] * 3]), "previous[1][3]",
     "got -1"),
    ("previous expert without a slot",
     lambda d: d.__setitem__("previous", [IDENTITY, [0, 1, 2, 0] * 3]), "previous[1]",
     "expert 3 has no slot"),
    # unknown keys
    ("unknown key", lambda d: d.__setitem__("colour", 3), "colour", "is not a known key"),
    ("unknown model key", lambda d: d["model"].__setitem__("colour", 3), "model.colour",
     "is not a known key"),
    ("unknown cluster key", lambda d: d["cluster"].__setitem__("gpus", 4), "cluster.gpus",
     "is not a known key"),
    ("unknown cost key", lambda d: d["cost"].__setitem__("us", 4), "cost.us",
     "is not a known key"),
    # goal
    ("unknown objective", lambda d: d.__setitem__("objective", "speed"), "objective",
     "must be one of time, load, got 'speed'"),
    ("imbalance below 1", lambda d: d.__setitem__("imbalance", 0.99), "imbalance",
     "must be a number >= 1"),
    ("negative imbalance", lambda d: d.__setitem__("imbalance", -2), "imbalance",
     "must be a finite number >= 0"),
    ("max_moved without previous", lambda d: d.__setitem__("max_moved", 0.1), "max_moved",
     "needs a previous placement"),
    ("max_moved above 1",
     lambda d: d.update(previous=[IDENTITY, IDENTITY], max_moved=1.5), "max_moved",
     "must be a share in [0, 1], got 1.5"),
]


@pytest.mark.parametrize(("change", "field", "words"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_index(change: Callable[[dict[str, Any]], object],
                                             field: str, words: str) -> None:
    """Each bad field raises InstanceError whose field is exactly the culprit (with its
    index), and whose one-line message says what is wrong."""
    error = _error(_with(change))
    assert error.field == field, str(error)
    assert words in error.problem, str(error)
    assert "\n" not in str(error) and str(error).startswith(f"{field}: ")


def test_one_layer_has_no_transitions() -> None:
    """With one layer there is no layer 1 to go to: any transition is refused."""
    data = _with(lambda d: d["model"].__setitem__("layers", 1))
    data["load"] = data["load"][:1]
    error = _error(data)
    assert error.field == "transitions[0]"
    assert "no next layer" in error.problem


def test_coactivation_is_stored_with_e_below_f() -> None:
    """Co-activation is symmetric: the row (0, 2, 0, 18) is the pair (0, 0, 2, 18)."""
    instance = from_dict(_with(lambda d: d.__setitem__("coactivation", [[0, 2, 0, 18],
                                                                        [1, 3, 1, 4]])))
    assert instance.coactivation.tolist() == [[0, 0, 2, 18], [1, 1, 3, 4]]
    assert instance == from_dict(_with(lambda d: d.__setitem__(
        "coactivation", [[0, 0, 2, 18], [1, 1, 3, 4]])))


FULL: dict[str, Any] = _with(lambda d: d.update(
    name="full", objective="load", imbalance=1.05, max_moved=0.25,
    previous=[IDENTITY, [3, 2, 1, 0] * 3], cost={"us_per_token": 0.2, "us_per_expert": 13.0,
                                                 "migration_weight": 0.5}))
FULL["model"]["groups"] = 2


@pytest.mark.parametrize("data", [EXAMPLE, FULL], ids=["example", "every-field"])
def test_round_trip(data: dict[str, Any]) -> None:
    """from_dict(to_dict(x)) == x, also through JSON text; to_dict gives back every field
    given (family and format aside)."""
    instance = from_dict(data)
    again = from_dict(json.loads(json.dumps(instance.to_dict())))
    assert again == instance
    assert again.to_dict() == instance.to_dict()
    expected = {k: v for k, v in data.items() if k not in ("family", "format")}
    assert json.loads(json.dumps(instance.to_dict())) == json.loads(json.dumps(expected))


def test_to_dict_leaves_defaults_out() -> None:
    """groups 1, migration_weight 0, objective time, no caps: not written; no transitions
    or co-activation: not written either, previous always (null)."""
    data = _with(lambda d: (d.pop("transitions"), d.pop("coactivation")))
    out = from_dict(data).to_dict()
    assert "groups" not in out["model"] and "migration_weight" not in out["cost"]
    assert not {"objective", "imbalance", "max_moved", "transitions",
                "coactivation"} & set(out)
    assert out["previous"] is None


def test_equality_sees_every_field() -> None:
    """One count, one transition, one previous slot or the name changed: not equal."""
    base = from_dict(FULL)
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d["load"][1].__setitem__(3, 46),
        lambda d: d["transitions"][1].__setitem__(3, 26),
        lambda d: d["previous"][1].__setitem__(11, 1),
        lambda d: d.__setitem__("name", "other"),
        lambda d: d.__setitem__("imbalance", 1.06),
        lambda d: d["cost"].__setitem__("migration_weight", 0.0),
    ]
    for change in changes:
        data = copy.deepcopy(FULL)
        change(data)
        assert from_dict(data) != base
    assert from_dict(copy.deepcopy(FULL)) == base


def test_missing_cost_takes_the_default() -> None:
    """Without ``cost``: 1 us per token, 0 per expert (the time objective counts tokens)."""
    instance = from_dict(_with(lambda d: d.pop("cost")))
    assert instance.cost == Cost(1.0, 0.0, 0.0)


def test_direct_construction_is_checked() -> None:
    """The dataclass checks itself too: a load array of the wrong shape names ``load``."""
    model = MoeModel(1, 2, 1, 1, 1)
    cluster = Cluster(1, 2, 1, 1.0, 1.0)
    with pytest.raises(InstanceError) as info:
        MoeInstance(model, cluster, np.zeros((1, 3), np.int64), Cost(1.0, 0.0))
    assert info.value.field == "load"
    with pytest.raises(InstanceError) as info:
        MoeInstance(model, cluster, np.array([[1, -4]], np.int64), Cost(1.0, 0.0))
    assert info.value.field == "load[0][1]"


def test_with_settings() -> None:
    """-m objective=load, imbalance=1.5 (0: no cap), max_moved=0.25 (with previous; 0: no
    expert copy may move)."""
    instance = from_dict(EXAMPLE)
    load = with_settings(instance, {"objective": "load", "imbalance": 1.5})
    assert (load.objective, load.imbalance, load.max_moved) == ("load", 1.5, None)
    assert load.load.tolist() == instance.load.tolist()
    assert with_settings(load, {"imbalance": 0}).imbalance is None
    planned = from_dict(_with(lambda d: d.update(previous=[IDENTITY, IDENTITY])))
    assert with_settings(planned, {"max_moved": 0.25}).max_moved == 0.25
    assert with_settings(replace(planned, max_moved=0.5), {"max_moved": 0}).max_moved == 0
    assert with_settings(instance, {}) == instance


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"objective": "speed"}, "model.objective", "must be one of time, load"),
    ({"imbalance": 0.5}, "model.imbalance", "must be a number >= 1"),
    ({"max_moved": 0.1}, "model.max_moved", "needs a previous placement"),
])
def test_bad_settings_name_the_option(values: dict[str, Any], field: str, words: str) -> None:
    """A setting the instance refuses is named as the -m option (model.<key>)."""
    with pytest.raises(InstanceError) as info:
        with_settings(from_dict(EXAMPLE), values)
    assert info.value.field == field and words in info.value.problem


def test_settings_through_solve_params() -> None:
    """``SolveParams(model=...)`` applies the settings before solving; a bad one is refused
    before any work, and an unknown key names itself and the valid ones."""
    instance = from_dict(EXAMPLE)
    request = prepare(instance, "lpt", SolveParams(model={"objective": "load",
                                                          "imbalance": 1.2}))
    assert (request.instance.objective, request.instance.imbalance) == ("load", 1.2)
    assert instance.objective == "time"  # the caller's instance is left alone
    with pytest.raises(InputError) as info:
        prepare(instance, "lpt", SolveParams(model={"imbalance": 0.5}))
    assert info.value.field == "model.imbalance"
    with pytest.raises(InputError) as info:
        prepare(instance, "lpt", SolveParams(model={"colour": 3}))
    assert info.value.field == "model.colour"
    assert "objective, imbalance, max_moved" in info.value.problem
