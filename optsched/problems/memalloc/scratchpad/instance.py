"""A scratchpad instance: operators reading and writing tensors, and the scratchpad's size.

One operator runs per step; while it runs, its inputs and outputs (and, with
``stream_weights``, its weights) are resident in the scratchpad. Graph inputs
start in DRAM; a tensor produced on chip may be spilled to DRAM and reloaded.
The order is the operators' listed one (``order: "listed"``) or the solver's
choice among topological orders (``"free"``). Semantics and costs:
``docs/formats.md`` (memalloc, scratchpad kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from optsched.errors import InstanceError
from optsched.fields import excerpt, is_int

MAX_SIZE = 1 << 40
"""Largest tensor or scratchpad size in bytes (sums of sizes stay far below 2^62)."""
MAX_ITEMS = 100_000
"""Most tensors, and most operators, of one instance."""
ORDERS = ("listed", "free")
WEIGHTS = ":weights"
"""Suffix of the tensor that holds an operator's streamed weights (``conv1:weights``)."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor: its id and size in bytes."""

    id: str
    size: int


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator: the tensors it reads and writes, and its weights' bytes."""

    id: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    weights: int = 0


@dataclass(frozen=True)
class Graph:
    """The instance in integers: tensor and operator indices (weights made tensors).

    ``producer[a]`` is the operator writing tensor ``a`` (-1 for a graph
    input); ``readers[a]`` the operators reading it; ``reads[o]`` and
    ``writes[o]`` an operator's tensors, ``needs[o]`` their total size.
    """

    ids: tuple[str, ...]
    sizes: tuple[int, ...]
    producer: tuple[int, ...]
    readers: tuple[tuple[int, ...], ...]
    reads: tuple[tuple[int, ...], ...]
    writes: tuple[tuple[int, ...], ...]
    output: tuple[bool, ...]
    needs: tuple[int, ...]

    @property
    def n(self) -> int:
        """Tensors."""
        return len(self.ids)

    @cached_property
    def windows(self) -> tuple[list[int], list[int]]:
        """Each operator's earliest and latest step: after its ancestors, before the rest.

        Bit sets over a topological order (``operators^2 / 8`` bytes at most), computed
        once for the size check, ``auto`` and the free-order model alike.
        """
        ops = len(self.reads)
        parents = [{self.producer[a] for a in self.reads[o] if self.producer[a] >= 0}
                   for o in range(ops)]
        children: list[set[int]] = [set() for _ in range(ops)]
        for o in range(ops):
            for p in parents[o]:
                children[p].add(o)
        waiting = [len(p) for p in parents]
        ready = [o for o, w in enumerate(waiting) if w == 0]
        order = []
        while ready:
            o = ready.pop()
            order.append(o)
            for c in children[o]:
                waiting[c] -= 1
                if waiting[c] == 0:
                    ready.append(c)
        up = [0] * ops
        for o in order:
            for p in parents[o]:
                up[o] |= up[p] | (1 << p)
        down = [0] * ops
        for o in reversed(order):
            for c in children[o]:
                down[o] |= down[c] | (1 << c)
        return [u.bit_count() for u in up], [ops - 1 - d.bit_count() for d in down]


@dataclass(frozen=True)
class ScratchpadInstance:
    """Operators over tensors, a scratchpad of ``capacity`` bytes; validated when made."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    capacity: int
    inputs: tuple[str, ...] = ()
    """Graph inputs: in DRAM at the start (their first load is compulsory)."""
    outputs: tuple[str, ...] | None = None
    """Graph outputs (stored to DRAM, compulsorily); None: the tensors no operator reads."""
    order: str = "listed"
    stream_weights: bool = False
    """Each operator's weights are loaded into the scratchpad for its step (as a tensor)."""
    name: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Where the instance came from (network, budget rule); not used by solvers."""

    def __post_init__(self) -> None:
        _validate(self)

    @cached_property
    def graph(self) -> Graph:
        """The integer form every solver and the checker use."""
        return _graph(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (without ``family`` and ``format``); ``from_dict`` reads it."""
        from optsched.problems.memalloc.scratchpad.reading import to_dict

        return to_dict(self)

    @property
    def fixed(self) -> bool:
        """True when the order is the listed one."""
        return self.order == "listed"


def _validate(inst: ScratchpadInstance) -> None:
    if not is_int(inst.capacity) or not 0 < inst.capacity <= MAX_SIZE:
        raise InstanceError("capacity", f"must be an integer in [1, {MAX_SIZE}], got "
                                        f"{excerpt(inst.capacity)}")
    if inst.order not in ORDERS:
        raise InstanceError("order", f"must be one of {', '.join(ORDERS)}, got "
                                     f"{excerpt(inst.order)}")
    for key, items in (("tensors", inst.tensors), ("operators", inst.operators)):
        if not items:
            raise InstanceError(key, "must not be empty")
        if len(items) > MAX_ITEMS:
            raise InstanceError(key, f"at most {MAX_ITEMS}, got {len(items)}")
    index: dict[str, int] = {}
    for i, tensor in enumerate(inst.tensors):
        if not isinstance(tensor.id, str) or not tensor.id or tensor.id in index or \
                tensor.id.endswith(WEIGHTS):
            raise InstanceError(f"tensors[{i}].id", f"must be a new non-empty string not ending "
                                                    f"in {WEIGHTS}, got {excerpt(tensor.id)}")
        if not is_int(tensor.size) or not 0 < tensor.size <= MAX_SIZE:
            raise InstanceError(f"tensors[{i}].size", f"must be a positive integer <= "
                                                      f"{MAX_SIZE}, got {excerpt(tensor.size)}")
        index[tensor.id] = i
    producer: dict[str, int] = {}
    read: set[str] = set()
    names: set[str] = set()
    for o, op in enumerate(inst.operators):
        where = f"operators[{o}]"
        if not isinstance(op.id, str) or not op.id or op.id in names:
            raise InstanceError(f"{where}.id", f"must be a new non-empty string, got "
                                               f"{excerpt(op.id)}")
        names.add(op.id)
        if not is_int(op.weights) or not 0 <= op.weights <= MAX_SIZE:
            raise InstanceError(f"{where}.weights", f"must be an integer in [0, {MAX_SIZE}], "
                                                    f"got {excerpt(op.weights)}")
        if not op.outputs:
            raise InstanceError(f"{where}.outputs", "must name at least one tensor")
        for key, tensors in (("inputs", op.inputs), ("outputs", op.outputs)):
            for k, t in enumerate(tensors):
                if t not in index:
                    raise InstanceError(f"{where}.{key}[{k}]", f"unknown tensor {excerpt(t)}")
        for k, t in enumerate(op.outputs):
            if t in producer or t in op.outputs[:k]:
                raise InstanceError(f"{where}.outputs[{k}]", f"tensor {excerpt(t)} is already "
                                    f"written by operators[{producer.get(t, o)}]")
            if t in op.inputs:
                raise InstanceError(f"{where}.outputs[{k}]", f"tensor {excerpt(t)} is also "
                                                             "an input of the operator")
            producer[t] = o
        read.update(op.inputs)
    for k, t in enumerate(inst.inputs):
        if t not in index:
            raise InstanceError(f"inputs[{k}]", f"unknown tensor {excerpt(t)}")
        if t in producer:
            raise InstanceError(f"inputs[{k}]", f"tensor {excerpt(t)} is written by "
                                                f"operators[{producer[t]}]")
    graph_inputs = set(inst.inputs)
    for o, op in enumerate(inst.operators):
        for k, t in enumerate(op.inputs):
            if t not in producer and t not in graph_inputs:
                raise InstanceError(f"operators[{o}].inputs[{k}]",
                                    f"tensor {excerpt(t)} is read but never written and is "
                                    "not a graph input (list it in \"inputs\")")
    for i, tensor in enumerate(inst.tensors):
        if tensor.id not in producer and tensor.id not in read:
            raise InstanceError(f"tensors[{i}]", f"tensor {excerpt(tensor.id)} is neither "
                                                 "written nor read by any operator")
    for k, t in enumerate(inst.outputs or ()):
        if t not in producer:
            raise InstanceError(f"outputs[{k}]", f"tensor {excerpt(t)} is not written by any "
                                                 "operator")
    _check_order(inst, producer)
    sizes = {t.id: t.size for t in inst.tensors}
    for o, op in enumerate(inst.operators):
        need = sum(sizes[t] for t in {*op.inputs, *op.outputs})
        need += op.weights if inst.stream_weights else 0
        if need > inst.capacity:
            what = "inputs, outputs and weights" if inst.stream_weights else "inputs and outputs"
            raise InstanceError(f"operators[{o}]", f"{excerpt(op.id)} needs {need} bytes at "
                                f"once ({what}) but the scratchpad holds {inst.capacity}: "
                                "never schedulable")


def _check_order(inst: ScratchpadInstance, producer: Mapping[str, int]) -> None:
    """No cycle; with the listed order, every operator after the writers of its inputs."""
    ops = inst.operators
    after: list[set[int]] = [set() for _ in ops]
    for o, op in enumerate(ops):
        for t in op.inputs:
            if t in producer:
                after[producer[t]].add(o)
    state = [0] * len(ops)  # 0 new, 1 on the path, 2 done
    for root in range(len(ops)):
        if state[root]:
            continue
        path, stack = [root], [iter(sorted(after[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state[nxt] == 1:
                cycle = [ops[i].id for i in path[path.index(nxt):]] + [ops[nxt].id]
                raise InstanceError("operators", "a cycle: " + " -> ".join(map(excerpt, cycle)))
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(after[nxt])))
    if inst.fixed:
        for o, op in enumerate(ops):
            for k, t in enumerate(op.inputs):
                if producer.get(t, -1) > o:
                    raise InstanceError(f"operators[{o}].inputs[{k}]",
                                        f"{excerpt(op.id)} reads {excerpt(t)} before "
                                        f"operators[{producer[t]}] writes it (the listed order "
                                        "is the schedule; \"order\": \"free\" lets the solver "
                                        "choose)")


def _graph(inst: ScratchpadInstance) -> Graph:
    ids = [t.id for t in inst.tensors]
    sizes = [t.size for t in inst.tensors]
    index = {t: i for i, t in enumerate(ids)}
    producer = [-1] * len(ids)
    readers: list[list[int]] = [[] for _ in ids]
    reads: list[tuple[int, ...]] = []
    writes: list[tuple[int, ...]] = []
    for o, op in enumerate(inst.operators):
        mine = list(dict.fromkeys(index[t] for t in op.inputs))
        if inst.stream_weights and op.weights:
            index[op.id + WEIGHTS] = len(ids)
            mine.append(len(ids))
            ids.append(op.id + WEIGHTS)
            sizes.append(op.weights)
            producer.append(-1)
            readers.append([])
        for a in mine:
            readers[a].append(o)
        reads.append(tuple(mine))
        writes.append(tuple(index[t] for t in op.outputs))
        for a in writes[-1]:
            producer[a] = o
    outs = set(inst.outputs) if inst.outputs is not None else \
        {ids[a] for a in range(len(ids)) if producer[a] >= 0 and not readers[a]}
    needs = tuple(sum(sizes[a] for a in (*r, *w)) for r, w in zip(reads, writes, strict=True))
    return Graph(tuple(ids), tuple(sizes), tuple(producer), tuple(map(tuple, readers)),
                 tuple(reads), tuple(writes), tuple(i in outs for i in ids), needs)
