"""Report arithmetic on hand-made rows."""

from __future__ import annotations

from typing import Any

import pytest

from optsched.bench.report import summarize
from optsched.errors import InputError


def _row(instance: str, solver: str, objective: int | None, status: str = "feasible",
         bound: int | None = None, ref: int | None = None, wall: float = 1.0) -> dict[str, Any]:
    return {"family": "smtt", "instance": instance, "class": "c", "solver": solver,
            "status": status, "objective": objective, "bound": bound,
            "verified": objective is not None, "wall_s": wall,
            "reference": None if ref is None else {"value": ref, "status": "optimal"}}


def test_gaps_flags_and_times() -> None:
    """Instance a has a published optimum 100; b has none, exact proves 50; c's optimum is 0.

    h: a 110 (gap 10 %), b 60 (gap 20 %), c 5 (gap 5 / max(0, 1) = 500 %).
    mean gap = (10 + 20 + 500) / 3 = 176.667 %; aggregate = (175 - 150) / 150 = 16.667 %;
    non-zero mean = (10 + 20) / 2 = 15 %. x: a 90 is below the optimum: flagged, and
    its b row found nothing (solved 0 of 2). Times of h: 1, 2, 3 -> median 2, p90 2.8.
    """
    rows = [_row("a", "h", 110, ref=100, wall=1), _row("b", "h", 60, wall=2),
            _row("c", "h", 5, ref=0, wall=3),
            _row("b", "exact", 50, status="optimal", bound=50),
            _row("a", "x", 90, ref=100), _row("b", "x", None, status="no_solution")]
    table = {line["solver"]: line for line in summarize(rows, ["solver"])}
    h = table["h"]
    assert (h["rows"], h["solved"], h["flagged"], h["nonzero"]) == (3, 3, 0, 2)
    assert h["mean_gap_pct"] == pytest.approx(176.667, abs=1e-3)
    assert h["aggregate_gap_pct"] == pytest.approx(16.667, abs=1e-3)
    assert h["mean_gap_nonzero_pct"] == pytest.approx(15.0)
    assert (h["time_median_s"], h["time_p90_s"]) == (2.0, 2.8)
    x = table["x"]
    assert (x["solved"], x["flagged"], x["mean_gap_pct"]) == (1, 1, None)
    assert table["exact"]["optimal"] == 1 and table["exact"]["mean_gap_pct"] == 0.0


def test_unknown_grouping_is_bad_input() -> None:
    with pytest.raises(InputError, match="--by"):
        summarize([], ["colour"])


def test_comparison_with_baselines() -> None:
    """Three rows compared with baselines d and p: d says better, better, equal -> 66.667 %
    better, 0 worse; p says better, worse, and one row has no comparison -> 33.333 %
    better, 1 worse. ``solve_wall_s`` (the solve alone) is the time when present: 0.5.
    """
    rows = [{**_row("a", "s", 1), "compare": {"vs_d": "better", "vs_p": "better"}},
            {**_row("b", "s", 1), "compare": {"vs_d": "better", "vs_p": "worse"}},
            {**_row("c", "s", 1), "compare": {"vs_d": "equal"}, "solve_wall_s": 0.5}]
    (line,) = summarize(rows, ["solver"])
    assert line["better_vs_d_pct"] == pytest.approx(66.667, abs=1e-3)
    assert (line["worse_vs_d"], line["worse_vs_p"]) == (0, 1)
    assert line["better_vs_p_pct"] == pytest.approx(33.333, abs=1e-3)
    by_instance = {ln["instance"]: ln for ln in summarize(rows, ["instance"])}
    assert (by_instance["a"]["time_median_s"], by_instance["c"]["time_median_s"]) == (1.0, 0.5)
    assert "better_vs_d_pct" not in summarize([_row("a", "s", 1)], ["solver"])[0]
