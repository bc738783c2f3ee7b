"""MiniMalloc's challenging instances and the compiler traces of ../shared/data/memalloc."""

from __future__ import annotations

from pathlib import Path

import pytest

from optsched import SolveParams, Status, solve
from optsched.problems.memalloc import csvfile
from optsched.problems.memalloc.bounds import lower_bound

CHALLENGING = "ABCDEFGHIJK"
TRACES = {"iree_mobilenet": 56, "iopddl_G_1": 816, "somas_resnet50": 1042,
          "somas_tiny_bert": 1821, "somas_bert_base": 5620, "somas_pangu_2.6B": 18692}


def _folder(data_dir: Path, name: str) -> Path:
    folder = data_dir / "memalloc" / name
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    return folder


@pytest.mark.data
def test_challenging_read_with_their_capacity(data_dir: Path) -> None:
    """Each file name carries the capacity 2^20 (``X.1048576.csv``), below every total."""
    folder = _folder(data_dir, "minimalloc")
    for name in CHALLENGING:
        (instance,) = csvfile.read(folder / f"{name}.1048576.csv")
        assert instance.capacity == 1 << 20 and instance.name == name
        assert lower_bound(instance) <= 1 << 20 < sum(b.size for b in instance.buffers)


@pytest.mark.data
def test_traces_read(data_dir: Path) -> None:
    """The six traces: their buffer counts, no capacity (the smallest peak is asked)."""
    folder = _folder(data_dir, "traces")
    for name, n in TRACES.items():
        (instance,) = csvfile.read(folder / f"{name}.csv")
        assert instance.n == n and instance.capacity is None


@pytest.mark.data
def test_challenging_c_decided(data_dir: Path) -> None:
    """C is decided within 2^20 by the exact search in well under a second (benchmarks)."""
    (instance,) = csvfile.read(_folder(data_dir, "minimalloc") / "C.1048576.csv")
    result = solve(instance, "memalloc-bb", SolveParams(time_limit=60, workers=1))
    assert result.verified and result.status.has_solution
    assert result.objective is not None and result.objective <= 1 << 20


@pytest.mark.data
def test_mobilenet_at_its_bound(data_dir: Path) -> None:
    """IREE's MobileNet: the best greedy reaches the live peak 5,706,112 bytes."""
    (instance,) = csvfile.read(_folder(data_dir, "traces") / "iree_mobilenet.csv")
    result = solve(instance, "auto", SolveParams(time_limit=30))
    assert result.status is Status.OPTIMAL and result.objective == 5_706_112
