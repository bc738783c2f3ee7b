"""What memalloc shows and writes: the headline, the trivial solution, the CSV of offsets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optsched.problems.memalloc import csvfile
from optsched.problems.memalloc.greedy.allocators import naive
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution, make


def headline(metrics: Mapping[str, Any]) -> str:
    """``peak 1048576, live peak 1039360 (+0.8866 %)``."""
    peak, live = metrics.get("peak"), metrics.get("live_peak")
    if not isinstance(peak, int) or not isinstance(live, int) or live <= 0:
        return f"peak {peak}"
    return f"peak {peak}, live peak {live} (+{100 * (peak - live) / live:.4g} %)"


def naive_solution(instance: MemallocInstance) -> MemallocSolution:
    """No reuse: every buffer its own range (the answer of last resort)."""
    return make(instance, naive(instance))


def export(instance: MemallocInstance, solution: MemallocSolution) -> str:
    """The instance as MiniMalloc CSV with each buffer's offset (``solve --export``)."""
    return csvfile.write(instance, solution.in_order(instance))


def read_export(instance: MemallocInstance, text: str) -> MemallocSolution:
    """The offsets of a MiniMalloc CSV of the instance's buffers (``validate``)."""
    return MemallocSolution(csvfile.read_solution(instance, text))


def plot(instance: MemallocInstance, solution: MemallocSolution, path: Path) -> None:
    """The memory map (:func:`.plot.memory_map`), matplotlib imported only now."""
    from optsched.problems.memalloc.plot import memory_map

    memory_map(instance, solution, path)
