"""A caller's time limit holds for the whole call, whatever the solver does."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from optsched import SmttInstance, SmttSolution, SolveParams, Status, solve
from optsched.backends.native import found
from optsched.deadline import Deadline, StopRequest
from optsched.io import write_instance
from optsched.registry import solvers
from optsched.result import Result
from optsched.watchdog import GRACE_S, STOP_WAIT_S, bounded

EXAMPLE = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")
"""Optimum 8 (order 2, 1, 0); the family's lower bound is 7."""


def _sleeper(seconds: float) -> Any:
    def run(instance: Any, params: SolveParams, deadline: Deadline) -> Result:
        time.sleep(seconds)  # ignores the deadline and the stop request
        return found(SmttSolution((0, 1, 2)), 11)

    return run


@pytest.mark.parametrize("limit", [0.3, 1.0, 2.0])
def test_a_solver_that_ignores_its_limit(monkeypatch: pytest.MonkeyPatch, limit: float) -> None:
    """A stand-in for cpsat sleeps 30 s: the call returns within limit + 1 s with the
    verified hint (cost 8), and says the solver was left behind."""
    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(table["cpsat"],
                                                            run=_sleeper(30)))
    started = time.perf_counter()
    result = solve(EXAMPLE, "cpsat", SolveParams(time_limit=limit, workers=1))
    assert time.perf_counter() - started < limit + 1.0
    assert result.verified and result.objective == 8
    assert result.stats["fallback"] == "dynasearch" and "left behind" in result.stats["watchdog"]


def test_the_limit_counts_from_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks before a solve (here a solver's ``supports`` that takes 1 s, as a first
    import of a family's solvers can take a fifth of one) are within the limit: with 1.5 s
    and a stand-in for cpsat that sleeps 30 s, the call returns within 2.5 s (not 1 s +
    1.5 s + the watchdog's grace) and its ``call_s`` counts the check."""
    def slow_check(instance: Any) -> None:
        time.sleep(1.0)

    table = solvers("smtt")
    monkeypatch.setitem(table, "cpsat", dataclasses.replace(
        table["cpsat"], run=_sleeper(30), supports=slow_check))
    started = time.perf_counter()
    result = solve(EXAMPLE, "cpsat", SolveParams(time_limit=1.5, workers=1))
    assert time.perf_counter() - started < 2.5
    assert result.verified and result.stats["call_s"] >= 1.0


def test_a_hint_that_ignores_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hint solver sleeps 30 s: the solve goes on without it and cpsat proves 8."""
    table = solvers("smtt")
    monkeypatch.setitem(table, "dynasearch", dataclasses.replace(table["dynasearch"],
                                                                 run=_sleeper(30)))
    started = time.perf_counter()
    result = solve(EXAMPLE, "cpsat", SolveParams(time_limit=2, workers=1))
    assert time.perf_counter() - started < 3.0
    assert result.status is Status.OPTIMAL and result.objective == 8
    assert result.stats["hint_error"] == "did not end in its share of the time limit"


def test_bounded_returns_what_ends_in_time() -> None:
    """The watchdog hands back a result or an exception, and gives up on a sleeper."""
    assert bounded(lambda: 42, Deadline(1.0), "quick") == 42
    with pytest.raises(ZeroDivisionError):
        bounded(lambda: 1 // 0, Deadline(1.0), "broken")
    stop = StopRequest()
    started = time.perf_counter()
    assert bounded(lambda: time.sleep(5), Deadline(0.2, stop), "sleeper") is None
    assert time.perf_counter() - started < 0.2 + GRACE_S + STOP_WAIT_S + 0.3
    assert stop.is_set()


@pytest.fixture(scope="module")
def loaded() -> None:
    """smtt's kernels loaded, as after the first solves of a process (cold loads: below)."""
    from optsched.problems.smtt.solvers import warm

    warm()


@pytest.mark.parametrize("solver", ["cpsat", "highs", "cbc", "smtt-ssdp", "dynasearch"])
@pytest.mark.parametrize("limit", [0.2, 1.0])
def test_every_backend_holds_a_short_limit(loaded: None, solver: str, limit: float) -> None:
    """A 100-job weighted instance none of them proves at once: limit + 1 s at most, and a
    verified solution at 1 s (at 0.2 s HiGHS may find none: then it says so)."""
    from optsched.problems.smtt.generate import generate

    inst = generate(n=100, tf=0.6, rdd=0.2, weighted=True, seed=3)[0]
    started = time.perf_counter()
    result = solve(inst, solver, SolveParams(time_limit=limit, workers=1))
    assert time.perf_counter() - started < limit + 1.0
    assert result.verified or (limit < 1 and result.status is Status.NO_SOLUTION)


@pytest.mark.parametrize("solver", ["cpsat", "smtt-ssdp", "auto"])
def test_the_first_solve_of_a_fresh_install(tmp_path: Path, solver: str) -> None:
    """No compiled code on disk yet (an empty numba cache): ``-t 1`` still holds for the
    solve call (compiling included), with a verified answer; the process starts (numba
    and SciPy load before the limit: 0.8 s), reads and prints in 1.2-1.5 s more."""
    path = tmp_path / "x.json"
    write_instance(generate_one(), path)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optsched.cli", "solve", str(path), "-s",
                           solver, "-t", "1", "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["verified"] and row["stats"]["call_s"] < 1.0 + 1.0, row["stats"]
    assert wall < row["stats"]["call_s"] + STARTUP_S, (wall, row["stats"])


STARTUP_S = 2.0
"""Allowance for starting Python, importing optsched and the solver's libraries, reading
and printing, on a busy test machine (1.2-1.5 s measured on an idle one; 1.5 s was once
exceeded in CI: a 3.52 s process around a 1.7 s call)."""


def generate_one() -> SmttInstance:
    """OR-Library-sized: 40 weighted jobs of the hardest class."""
    from optsched.problems.smtt.generate import generate

    return generate(n=40, tf=0.6, rdd=0.2, weighted=True, seed=5)[0]
