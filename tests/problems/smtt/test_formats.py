"""The OR-Library reader, on a hand-made file and (when present) the real sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from optsched import InstanceError, SolveParams, read_instances, solve
from optsched.problems.smtt.formats import read_orlib


def _write(path: Path, numbers: list[int]) -> Path:
    path.write_text("\n".join(" ".join(map(str, numbers[i:i + 5]))
                              for i in range(0, len(numbers), 5)) + "\n")
    return path


def test_reads_instances_and_references(tmp_path: Path) -> None:
    """Two 2-job instances: p, then w, then d; values from wtopt2.txt beside the file."""
    path = _write(tmp_path / "wt2.txt", [3, 5, 1, 2, 4, 6, 2, 2, 1, 1, 0, 1])
    (tmp_path / "wtopt2.txt").write_text("4\n2\n")
    first, second = read_orlib(path)
    assert first.name == "wt2-001"
    assert (first.processing_times, first.weights, first.due_dates) == ((3, 5), (1, 2), (4, 6))
    assert (second.processing_times, second.weights, second.due_dates) == ((2, 2), (1, 1),
                                                                            (0, 1))
    assert first.reference is not None and first.reference.value == 4
    assert first.reference.status == "optimal"


def test_without_reference_file(tmp_path: Path) -> None:
    """No wtopt/wtbest file: no reference values."""
    (inst,) = read_orlib(_write(tmp_path / "wt1.txt", [3, 1, 2]))
    assert inst.reference is None


@pytest.mark.parametrize(("numbers", "message"), [
    ([3, 5, 1, 2, 4], "not a whole number"),
    ([], "not a whole number"),
])
def test_wrong_count(tmp_path: Path, numbers: list[int], message: str) -> None:
    """A count that is not a multiple of 3n is one clear error."""
    with pytest.raises(InstanceError, match=message):
        read_instances(_write(tmp_path / "wt2.txt", numbers))


def test_bad_token(tmp_path: Path) -> None:
    """A token that is not an integer names the file and line."""
    path = tmp_path / "wt1.txt"
    path.write_text("3 1\n2.5\n")
    with pytest.raises(InstanceError, match=r"wt1.txt line 2: '2.5' is not an integer"):
        read_instances(path)


@pytest.mark.data
def test_real_wt40(data_dir: Path) -> None:
    """wt40: 125 instances; instance 1's optimum is 913 and the WSPT-based bound is below it."""
    instances = read_orlib(data_dir / "smtt" / "orlib" / "wt40.txt")
    assert len(instances) == 125
    first = instances[0]
    assert first.n == 40 and first.reference is not None and first.reference.value == 913
    result = solve(first, "vnd", SolveParams(workers=1))
    assert result.verified and result.objective is not None
    assert result.objective >= 913 and result.bound is not None and result.bound <= 913
