"""memalloc: tensor buffer offsets in one arena (static memory allocation).

Buffers live over intervals of program steps; those live at a common step
may not share an address. Decide offsets within a capacity, or with the
smallest peak. A second kind of instance schedules a scratchpad: operators
read and write tensors, which stay, are spilled to DRAM and reloaded
(:mod:`.scratchpad`, :mod:`.kinds`). Methods and citations:
``docs/methods/memalloc.md``.
"""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from optsched.backends.cpsat import CpFormulation
from optsched.backends.milp import MilpFormulation
from optsched.errors import InstanceError, NotSupportedError
from optsched.family import Build, Family, Generator, InstanceOptions, Model, OutsideFormat
from optsched.options import Option, OptionSet
from optsched.problems.memalloc import csvfile, generate, kinds, output, solvers
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.cliques import sections
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.instance import (
    MAX_TOTAL,
    Buffer,
    Gap,
    MemallocInstance,
    with_capacity,
)
from optsched.problems.memalloc.pairs import pair_count
from optsched.problems.memalloc.scratchpad import generate as scratchpad_generate
from optsched.problems.memalloc.scratchpad import pieces, timeline
from optsched.problems.memalloc.scratchpad import samples as scratchpad_samples
from optsched.problems.memalloc.scratchpad.belady import listed_order
from optsched.problems.memalloc.scratchpad.instance import (
    ORDERS,
    Operator,
    ScratchpadInstance,
    Tensor,
)
from optsched.problems.memalloc.scratchpad.solution import ScratchpadSolution, Segment
from optsched.problems.memalloc.solution import MemallocSolution

CP_OPTIONS = OptionSet((Option("overlap", str, "cliques", "one NoOverlap per maximal clique, or "
                                                         "one NoOverlap2D", ("cliques", "2d")),))
INSTANCE_OPTIONS = OptionSet((Option("capacity", int, None, "the arena's size in bytes "
                                                             "(replaces the file's; 0: none, "
                                                             "find the smallest peak)", low=0,
                                     high=MAX_TOTAL),
                              Option("order", str, None, "scratchpad schedules: the listed "
                                                         "order, or the solver's choice",
                                     ORDERS)))
MAX_CP_PIECES = 20_000
"""Most pieces (buffers, and one more per gap) of the CP-SAT model."""
MAX_CP_MEMBERS = 2_000_000
"""Most (piece, section) memberships of the per-clique model (its NoOverlap lists)."""
MAX_MILP_PAIRS = 20_000
"""Most overlapping pairs of the MILP model (a binary and two big-M rows each)."""


def _cp_supports(instance: MemallocInstance | ScratchpadInstance) -> None:
    if isinstance(instance, ScratchpadInstance):
        if not instance.fixed and timeline.cells(instance) > timeline.MAX_CELLS:
            raise NotSupportedError("order", f"the free-order CP-SAT model takes at most "
                                             f"{timeline.MAX_CELLS} (tensor, step) cells "
                                             f"({timeline.cells(instance)} here)")
        if instance.fixed and _scratchpad_pieces(instance).count() > MAX_CP_PIECES:
            raise NotSupportedError("operators", f"the CP-SAT model takes at most "
                                                 f"{MAX_CP_PIECES} pieces (uses and gaps)")
        return
    a = instance.arrays
    pieces = len(a.piece_t0)
    if pieces > MAX_CP_PIECES:
        raise NotSupportedError("buffers", f"the CP-SAT model takes at most {MAX_CP_PIECES} "
                                           f"pieces ({pieces} here)")
    s0, s1, _ = sections(a.piece_t0, a.piece_t1)
    total = int((s1 - s0).sum())
    if total > MAX_CP_MEMBERS:
        raise NotSupportedError("buffers", f"the CP-SAT model takes at most {MAX_CP_MEMBERS} "
                                           f"pieces in its cliques ({total} here)")


def _scratchpad_pieces(instance: ScratchpadInstance) -> pieces.Pieces:
    return pieces.pieces(instance, listed_order(instance))


def _milp_supports(instance: MemallocInstance | ScratchpadInstance) -> None:
    if isinstance(instance, ScratchpadInstance):
        if not instance.fixed:
            raise NotSupportedError("order", "the MILP model takes the listed order (the "
                                             "free order: cpsat)")
        p = _scratchpad_pieces(instance)
        if p.count() > MAX_CP_PIECES or p.pairs(len(instance.operators)) > MAX_MILP_PAIRS:
            raise NotSupportedError("operators", f"the MILP model takes at most "
                                                 f"{MAX_MILP_PAIRS} pairs of pieces that "
                                                 "share a step")
        return
    pairs = pair_count(instance)
    if pairs > MAX_MILP_PAIRS:
        raise NotSupportedError("buffers", f"the MILP model takes at most {MAX_MILP_PAIRS} "
                                           f"overlapping pairs (about {pairs} here)")


def _cp() -> Build[Any, CpFormulation]:
    from optsched.problems.memalloc.cp import build
    from optsched.problems.memalloc.scratchpad import cp, cp_free

    def scratchpad(instance: ScratchpadInstance, params: Any, deadline: Any) -> Any:
        return (cp.build if instance.fixed else cp_free.build)(instance, params, deadline)

    return kinds.by_kind(build, scratchpad)


def _milp() -> Build[Any, MilpFormulation]:
    from optsched.problems.memalloc.milp import build
    from optsched.problems.memalloc.scratchpad import milp

    return kinds.by_kind(build, milp.build)


def _size(values: Mapping[str, Any]) -> int:
    return int(values["buffers"]) * int(values["count"])


def _with_settings(instance: Any, values: Mapping[str, Any]) -> Any:
    """``-m capacity=N`` and, for a scratchpad schedule, ``-m order=listed|free``."""
    if not isinstance(instance, ScratchpadInstance):
        if values.get("order") is not None:
            raise InstanceError("model.order", "is a setting of scratchpad schedules")
        return with_capacity(instance, values)
    if values.get("capacity") == 0:
        raise InstanceError("model.capacity", "a scratchpad needs a size above 0")
    for key in ("order", "capacity"):  # one at a time, so that the error names its setting
        if values.get(key) is not None:
            try:
                instance = replace(instance, **{key: values[key]})
            except InstanceError as exc:
                raise InstanceError(f"model.{key}", str(exc)) from None
    return instance


FAMILY: Family[Any, Any] = Family(
    name="memalloc",
    summary="tensor buffer offsets in one arena: fit a capacity, or the smallest peak",
    instance_type=MemallocInstance,
    solution_type=MemallocSolution,
    format=1,
    read_instance=kinds.read_instance,
    read_solution=kinds.read_solution,
    evaluate=kinds.checker(evaluate),
    lower_bound=kinds.lower_bound(lower_bound),
    solvers=kinds.table(solvers.table()),
    hint_solver="best-of-k",
    default_solver="memalloc-bb",
    trivial=kinds.trivial,
    choose=kinds.choose(solvers.choose),
    samples=lambda: [*generate.samples(), *scratchpad_samples.samples()],
    cp=Model(_cp, CP_OPTIONS, _cp_supports),
    milp=Model(_milp, supports=_milp_supports),
    generator=Generator(generate.generate, generate.PARAMS, "guillotine-cut rectangles "
                        "(MiniMalloc's challenging kind)", generate.MAX_BUFFERS, _size),
    variants={"trace": Generator(generate.trace, generate.TRACE_PARAMS,
                                 "compiler-like tensor lifetimes", generate.MAX_BUFFERS, _size),
              "scratchpad": Generator(scratchpad_generate.network,
                                      scratchpad_generate.NETWORK_PARAMS,
                                      "scratchpad schedules of real networks (ResNet, "
                                      "MobileNetV2, DenseNet, transformer and ViT blocks) at "
                                      "COSMA's budgets")},
    warm=solvers.warm,
    outside_formats=(OutsideFormat("MiniMalloc CSV", csvfile.claims, csvfile.read,
                                   csvfile.example),
                     OutsideFormat("ONNX model (.onnx, scratchpad; the onnx extra)",
                                   scratchpad_generate.claims_onnx, scratchpad_generate.onnx)),
    headline=kinds.headline,
    instance_options=InstanceOptions(INSTANCE_OPTIONS, _with_settings),
    export=kinds.by_kind(output.export, kinds.refused("--export")),
    read_export=kinds.by_kind(output.read_export, kinds.refused("--export")),
    export_suffixes=(".csv",),
    plot=kinds.by_kind(output.plot, kinds.refused("plot")),
    kinds=(kinds.SCRATCHPAD,),
)

__all__ = ["FAMILY", "Buffer", "Gap", "MemallocInstance", "MemallocSolution", "Operator",
           "ScratchpadInstance", "ScratchpadSolution", "Segment", "Tensor"]
