"""Scratchpad schedules of real networks at COSMA's budgets (the ``memalloc-scratchpad`` variant).

The graphs (:mod:`.networks`) and their budgets (:mod:`.budgets`) are
deterministic: ``count`` copies are the same instance, ``seed`` changes
nothing; both exist for the family's generator signature.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.family import GeneratorParam
from optsched.fields import excerpt, is_int
from optsched.problems.memalloc.scratchpad.budgets import BUDGETS, budgets
from optsched.problems.memalloc.scratchpad.instance import ORDERS, ScratchpadInstance
from optsched.problems.memalloc.scratchpad.networks import NETWORKS

MAX_COUNT = 1000
"""Most copies one call makes."""
NETWORK_PARAMS = (
    GeneratorParam("network", str, "resnet18", f"the network, from its published architecture: "
                                               f"{', '.join(NETWORKS)}"),
    GeneratorParam("budget", str, "mid", "the scratchpad's size: min (M_R, the most bytes one "
                                         "operator needs), peak (M_P, the listed order's "
                                         "smallest peak with no spill), mid ((M_R + M_P) / 2). "
                                         "Chain-like CNNs without streamed weights have "
                                         "M_R = M_P"),
    GeneratorParam("stream_weights", bool, False, "each operator's weights take room in the "
                                                  "scratchpad during its step (the budgets "
                                                  "count them)", is_flag=True),
    GeneratorParam("order", str, "listed", "listed (the order PyTorch's forward runs) or free "
                                           "(the solver chooses; budgets of the listed order)"),
    GeneratorParam("count", int, 1, "number of instances (identical copies: the graphs are "
                                    "deterministic)", low=1, high=MAX_COUNT),
    GeneratorParam("seed", int, 0, "unused (the graphs are deterministic)", low=0,
                   high=2**63 - 1),
)


@cache
def _made(network: str, stream_weights: bool) -> tuple[ScratchpadInstance, dict[str, Any]]:
    """The network's instance (room for everything) and its budgets, computed once."""
    inst = NETWORKS[network]().instance(stream_weights=stream_weights)
    return inst, budgets(inst)


def network(network: str = "resnet18", budget: str = "mid", stream_weights: bool = False,
            order: str = "listed", count: int = 1, seed: int = 0) -> list[ScratchpadInstance]:
    """``count`` copies of ``network``'s scratchpad schedule at COSMA's ``budget``.

    Named ``<network>-<budget>`` (``-weights`` when the weights are streamed,
    ``-free`` for the free order, ``-<k>`` with more than one copy); ``meta``
    holds the network, the budget, M_R, M_P, M_H, whether M_P is proven
    minimal (else the best peak found: an upper bound) and the source.
    """
    _choice("network", network, tuple(NETWORKS))
    _choice("budget", budget, BUDGETS)
    _choice("order", order, ORDERS)
    if not isinstance(stream_weights, bool):
        raise InputError("stream_weights", f"must be true or false, got {excerpt(stream_weights)}")
    for key, value, low, high in (("count", count, 1, MAX_COUNT), ("seed", seed, 0, 2**63 - 1)):
        if not is_int(value) or not low <= value <= high:
            raise InputError(key, f"must be an integer in [{low}, {high}], got {excerpt(value)}")
    base, found = _made(network, stream_weights)
    capacity = {"min": found["min"], "mid": found["mid"], "peak": found["peak"]}[budget]
    name = f"{network}-{budget}" + ("-weights" if stream_weights else "") + (
        "-free" if order == "free" else "")
    meta = {"network": network, "budget": budget, "M_R": found["min"], "M_P": found["peak"],
            "M_H": found["mid"], "M_P_proven": found["peak_proven"],
            "source": base.meta["source"]}
    return [ScratchpadInstance(base.tensors, base.operators, capacity, base.inputs,
                               order=order, stream_weights=stream_weights,
                               name=name if count == 1 else f"{name}-{k}", meta=dict(meta))
            for k in range(count)]


def _choice(key: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(key, f"must be one of {', '.join(choices)}, got {excerpt(value)}")


def claims_onnx(path: Path) -> bool:
    """An ``.onnx`` file is an ONNX model."""
    return path.suffix.lower() == ".onnx"


def onnx(path: Path) -> list[ScratchpadInstance]:
    """An ONNX model as a scratchpad schedule in its node order (needs the onnx extra).

    The scratchpad's size is COSMA's midpoint budget; ``-m capacity=N`` sets another.
    """
    from optsched.problems.memalloc.scratchpad.onnxgraph import read_onnx

    roomy = read_onnx(path)
    sizes = budgets(roomy, time_limit=2.0)
    meta = {"source": str(path), "budget": "mid", "M_R": sizes["min"], "M_P": sizes["peak"],
            "M_H": sizes["mid"], "M_P_proven": sizes["peak_proven"]}
    return [replace(roomy, capacity=sizes["mid"], meta=meta)]
