"""A moe instance: a model's routed experts, a cluster's GPU slots, and measured routing.

Per MoE layer ``l``, ``load[l][e]`` tokens chose expert ``e``. Every GPU has
``slots_per_gpu`` physical expert slots per layer; a placement (``phy2log``)
puts a logical expert in every slot, every expert at least once. Sparse
``transitions`` ``[l, e, f, n]`` count tokens that went from expert ``e`` of
layer ``l`` to expert ``f`` of layer ``l + 1``; ``coactivation`` ``[l, e, f,
n]`` counts tokens that chose both ``e`` and ``f`` in layer ``l``. The cost
model is :mod:`.evaluate`'s.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, cast

import numpy as np

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int, require_keys, require_str, type_name

MAX_COUNT = 1 << 40
"""Largest token count (sums over a layer stay exact in a double)."""
MAX_LAYERS, MAX_EXPERTS, MAX_SLOTS = 1024, 4096, 1 << 16
"""Most layers, experts per layer and physical slots per layer."""
MAX_CELLS = 1 << 24
"""Most layers x slots (the size of a placement) and most sparse entries of each list."""
OBJECTIVES = ("time", "load")


@dataclass(frozen=True)
class MoeModel:
    """The routed experts: ``layers`` MoE layers of ``experts``, ``top_k`` chosen per token.

    ``groups`` are DeepSeek's expert groups (consecutive blocks of experts),
    used by EPLB's hierarchical policy only.
    """

    layers: int
    experts: int
    top_k: int
    expert_bytes: int
    token_bytes: int
    groups: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``groups`` only when not 1)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.groups == 1:
            del out["groups"]
        return out


@dataclass(frozen=True)
class Cluster:
    """``nodes`` x ``gpus_per_node`` GPUs with ``slots_per_gpu`` expert slots each, per layer."""

    nodes: int
    gpus_per_node: int
    slots_per_gpu: int
    intra_node_GBps: float  # noqa: N815 - the format's field name
    inter_node_GBps: float  # noqa: N815 - the format's field name

    @property
    def gpus(self) -> int:
        """The number of GPUs."""
        return self.nodes * self.gpus_per_node

    @property
    def slots(self) -> int:
        """Physical slots per layer (``gpus * slots_per_gpu``)."""
        return self.gpus * self.slots_per_gpu

    def to_dict(self) -> dict[str, Any]:
        """The JSON object."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Cost:
    """Microseconds per routed token and per distinct expert a GPU runs in a layer.

    ``migration_weight`` scales the time of copying moved experts (from
    ``previous``) into the time objective; 0 reports it without counting it.
    """

    us_per_token: float
    us_per_expert: float
    migration_weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``migration_weight`` only when set)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if not self.migration_weight:
            del out["migration_weight"]
        return out


@dataclass(frozen=True, eq=False)
class MoeInstance:
    """Expert placement with replication: the routing data, the cluster and the goal.

    ``objective`` is ``time`` (the sum over layers of the heaviest GPU's
    compute plus the communication) or ``load`` (the sum over layers of the
    heaviest GPU's tokens). ``imbalance`` caps each layer's heaviest GPU at
    that multiple of the layer's token bound; ``max_moved`` caps the share
    of expert copies that are new against ``previous``.
    """

    model: MoeModel
    cluster: Cluster
    load: np.ndarray
    """int64 ``[layers, experts]``, read-only."""
    cost: Cost
    transitions: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    """int64 ``[n, 4]`` rows ``(l, e, f, count)``."""
    coactivation: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int64))
    """int64 ``[n, 4]`` rows ``(l, e, f, count)``, ``e < f``."""
    previous: np.ndarray | None = None
    """int64 ``[layers, slots]``: the placement to re-plan from."""
    objective: str = "time"
    imbalance: float | None = None
    max_moved: float | None = None
    name: str = ""
    cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Values derived once per instance (its bounds), for the solver and the checker."""

    def __post_init__(self) -> None:
        from optsched.problems.moe.checks import check_instance

        check_instance(self)
        for array in (self.load, self.transitions, self.coactivation, self.previous):
            if array is not None:
                array.setflags(write=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MoeInstance):
            return NotImplemented
        arrays = ("load", "transitions", "coactivation")
        mine, theirs = self.previous, other.previous
        same_previous = (mine is None and theirs is None) or (
            mine is not None and theirs is not None and bool(np.array_equal(mine, theirs)))
        return same_previous and all(np.array_equal(getattr(self, k), getattr(other, k))
                                     for k in arrays) and all(
            getattr(self, f.name) == getattr(other, f.name) for f in fields(self)
            if f.name not in (*arrays, "previous", "cache"))

    __hash__ = None  # type: ignore[assignment]

    @property
    def layers(self) -> int:
        """MoE layers."""
        return self.model.layers

    @property
    def experts(self) -> int:
        """Logical experts per layer."""
        return self.model.experts

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields (without ``family`` and ``format``)."""
        out: dict[str, Any] = {"name": self.name, "model": self.model.to_dict(),
                               "cluster": self.cluster.to_dict(), "load": self.load.tolist(),
                               "cost": self.cost.to_dict()}
        if len(self.transitions):
            out["transitions"] = self.transitions.tolist()
        if len(self.coactivation):
            out["coactivation"] = self.coactivation.tolist()
        out["previous"] = None if self.previous is None else self.previous.tolist()
        if self.objective != "time":
            out["objective"] = self.objective
        for key in ("imbalance", "max_moved"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


MODEL_KEYS = ("layers", "experts", "top_k", "expert_bytes", "token_bytes")
CLUSTER_KEYS = ("nodes", "gpus_per_node", "slots_per_gpu", "intra_node_GBps",
                "inter_node_GBps")
COST_KEYS = ("us_per_token", "us_per_expert")


def from_dict(obj: Mapping[str, Any]) -> MoeInstance:
    """Build an instance from its JSON object; a bad field raises naming it."""
    data = require_keys(obj, "", ("model", "cluster", "load"),
                        ("family", "format", "name", "transitions", "coactivation", "previous",
                         "cost", "objective", "imbalance", "max_moved"))
    m = require_keys(data["model"], "model", MODEL_KEYS, ("groups",))
    model = MoeModel(**{k: _int(m[k], f"model.{k}", 1) for k in MODEL_KEYS},
                     groups=_int(m.get("groups", 1), "model.groups", 1))
    c = require_keys(data["cluster"], "cluster", CLUSTER_KEYS)
    cluster = Cluster(*(_int(c[k], f"cluster.{k}", 1) for k in CLUSTER_KEYS[:3]),
                      *(_number(c[k], f"cluster.{k}", positive=True) for k in CLUSTER_KEYS[3:]))
    raw_cost = data.get("cost") or {"us_per_token": 1.0, "us_per_expert": 0.0}
    k = require_keys(raw_cost, "cost", COST_KEYS, ("migration_weight",))
    cost = Cost(**{key: _number(k[key], f"cost.{key}") for key in COST_KEYS},
                migration_weight=_number(k.get("migration_weight", 0.0), "cost.migration_weight"))
    if model.layers > MAX_LAYERS or model.experts > MAX_EXPERTS:
        raise InstanceError("model", f"at most {MAX_LAYERS} layers of {MAX_EXPERTS} experts")
    load = _matrix(data["load"], "load", model.layers, model.experts, 0, MAX_COUNT)
    slots = cluster.gpus * cluster.slots_per_gpu
    if slots > MAX_SLOTS or slots * model.layers > MAX_CELLS:
        raise InstanceError("cluster", f"{slots} slots per layer: at most {MAX_SLOTS}, and "
                                       f"at most {MAX_CELLS} over all layers")
    previous = data.get("previous")
    return MoeInstance(
        model=model, cluster=cluster, load=load, cost=cost,
        transitions=_entries(data.get("transitions"), "transitions"),
        coactivation=_entries(data.get("coactivation"), "coactivation"),
        previous=None if previous is None else _matrix(previous, "previous", model.layers,
                                                       slots, 0, model.experts - 1),
        objective=require_str(data.get("objective", "time"), "objective"),
        imbalance=_optional(data.get("imbalance"), "imbalance"),
        max_moved=_optional(data.get("max_moved"), "max_moved"),
        name=require_str(data.get("name", ""), "name"))


def _int(value: object, where: str, low: int) -> int:
    if not is_int(value) or not low <= int(cast(Any, value)) <= MAX_COUNT:
        raise InstanceError(where, f"must be an integer in [{low}, 2^40], got "
                                   f"{type_name(value)} {excerpt(value)}")
    return int(cast(Any, value))


def _number(value: object, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < 0 or (positive and value == 0):
        raise InstanceError(where, f"must be a finite number {'> 0' if positive else '>= 0'}, "
                                   f"got {excerpt(value)}")
    return float(value)


def _optional(value: object, where: str) -> float | None:
    return None if value is None else _number(value, where)


def _matrix(raw: object, where: str, rows: int, cols: int, low: int, high: int) -> np.ndarray:
    """A ``rows x cols`` integer matrix with entries in ``[low, high]``, named to the cell."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InstanceError(where, f"must be a list of {rows} rows, got {type_name(raw)}")
    if len(raw) != rows:
        raise InstanceError(where, f"must have {rows} rows (one per layer), got {len(raw)}")
    out = np.zeros((rows, cols), np.int64)
    for i, row in enumerate(raw):
        if not isinstance(row, Sequence) or isinstance(row, str | bytes):
            raise InstanceError(f"{where}[{i}]", f"must be a list, got {type_name(row)}")
        if len(row) != cols:
            raise InstanceError(f"{where}[{i}]", f"must have {cols} entries, got {len(row)}")
        for j, value in enumerate(row):
            if not is_int(value) or not low <= value <= high:
                raise InstanceError(f"{where}[{i}][{j}]", f"must be an integer in [{low}, "
                                                          f"{high}], got {excerpt(value)}")
        out[i] = row
    return out


def _entries(raw: object, where: str) -> np.ndarray:
    """``[l, e, f, count]`` rows as an int64 array (their ranges are checked by the instance)."""
    if raw is None:
        return np.zeros((0, 4), np.int64)
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InstanceError(where, f"must be a list of [layer, e, f, count], got "
                                   f"{type_name(raw)}")
    if len(raw) > MAX_CELLS:
        raise InstanceError(where, f"at most {MAX_CELLS} entries, got {len(raw)}")
    if set(map(type, raw)) <= {list, tuple} and set(map(len, raw)) <= {4} and set(
            map(type, itertools.chain.from_iterable(raw))) <= {int}:  # the fast path
        try:
            rows = np.array(raw, np.int64).reshape(-1, 4) if raw else np.zeros((0, 4),
                                                                                np.int64)
        except OverflowError:  # an integer beyond int64: the loop below names it
            rows = np.full((1, 4), MAX_COUNT + 1, np.int64)
        if not len(rows) or np.abs(rows).max() <= MAX_COUNT:
            return rows
    for i, row in enumerate(raw):
        if not isinstance(row, Sequence) or len(row) != 4 or not all(map(is_int, row)):
            raise InstanceError(f"{where}[{i}]", f"must be [layer, e, f, count] of integers, "
                                                 f"got {excerpt(row)}")
        if not all(-MAX_COUNT <= v <= MAX_COUNT for v in row):
            raise InstanceError(f"{where}[{i}]", f"values must be at most 2^40, got "
                                                 f"{excerpt(row)}")
    return np.array(raw, np.int64).reshape(-1, 4)


def with_settings(instance: MoeInstance, values: Mapping[str, Any]) -> MoeInstance:
    """``instance`` with ``-m objective=``, ``imbalance=`` (0: no cap) or ``max_moved=``."""
    changes: dict[str, Any] = {}
    if "objective" in values:
        changes["objective"] = values["objective"]
    if "imbalance" in values:
        changes["imbalance"] = values["imbalance"] or None
    if "max_moved" in values:
        changes["max_moved"] = values["max_moved"]
    try:
        return replace(instance, **changes)
    except InstanceError as exc:
        raise InstanceError(f"model.{exc.field}", exc.problem) from None
