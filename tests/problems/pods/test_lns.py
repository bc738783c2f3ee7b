"""pods-lns: CP-SAT on the whole model, then the search over nodes (``counts/lns.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings

from optsched import SolveParams, Status, solve
from optsched.problems.pods import samples as ex
from optsched.problems.pods.greedy import first_fit
from optsched.problems.pods.instance import PodsInstance

from .oracle import HAND, brute_force, instances

SEARCH_ONLY = {"start": 0.0, "nodes": 100}
"""No time for the first phase (it returns nothing, the search starts from the hint),
and neighbourhoods of every node: each one is the whole count model."""


@pytest.mark.parametrize(("factory", "optimum"), HAND, ids=lambda v: getattr(v, "__name__", ""))
def test_whole_neighbourhoods_reach_the_hand_optimum(factory: Callable[[], PodsInstance],
                                                     optimum: int) -> None:
    """Each instance's docstring in ``oracle.py`` works out its optimum; a neighbourhood
    of every node is the whole model, so the search alone reaches it."""
    result = solve(factory(), "pods-lns", SolveParams(time_limit=5, workers=1, seed=0,
                                                      options=SEARCH_ONLY))
    assert result.verified and result.objective == optimum


@settings(max_examples=25, deadline=None, derandomize=True)
@given(instances())
def test_matches_the_oracle(instance: PodsInstance) -> None:
    """Running, protected and pending pods, anti-affinity: the search alone finds the
    brute-force optimum; the bound never passes it."""
    optimum, _ = brute_force(instance)
    result = solve(instance, "pods-lns", SolveParams(time_limit=5, workers=1, seed=0,
                                                     options=SEARCH_ONLY))
    assert result.verified and result.objective == optimum
    assert result.bound is None or result.bound <= optimum


@settings(max_examples=25, deadline=None, derandomize=True)
@given(instances())
def test_a_staged_objective_is_searched_digit_by_digit(instance: PodsInstance) -> None:
    """The same with every objective counted as too wide for one weighted sum (staged:
    ``cp.OBJECTIVE_LIMIT`` at 0), as thousands of pods with several priorities are. Each
    neighbourhood then weighs the digits by what they can change in it
    (``objective.radix``); a neighbourhood of every node is still the whole model, so
    the search finds the brute-force optimum and proves it."""
    from optsched.problems.pods.counts import cp

    optimum, _ = brute_force(instance)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cp, "OBJECTIVE_LIMIT", 0)
        result = solve(instance, "pods-lns", SolveParams(time_limit=5, workers=1, seed=0,
                                                         options=SEARCH_ONLY))
    assert result.verified and result.objective == optimum
    assert result.status is Status.OPTIMAL


def test_neighbourhoods_grow_until_they_mend_first_fit() -> None:
    """``fragmented`` (see its docstring): first fit leaves two-b pending (objective 2),
    the optimum is 1. One node at a time cannot mend it: freeing n1 (one, two, low; 4
    cpu) packs two priority-10 pods there at best, as now, and freeing n2 (three) fits
    one of three and two-b. Each one-node neighbourhood is proven, so the next is a node
    larger: two nodes are the whole model, whose optimum (1) ends the search, proven."""
    instance = ex.fragmented()
    result = solve(instance, "pods-lns", SolveParams(
        time_limit=10, workers=1, seed=0, hint=first_fit(instance),
        options={"start": 0.0, "nodes": 1}))
    assert result.verified and result.objective == 1 and result.stats["lns_start"] == 2
    assert result.status is Status.OPTIMAL and result.stats["lns_neighbourhoods"] >= 2


def test_the_search_starts_from_the_hint_when_the_whole_model_is_not_built(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole model that cannot be written in the first phase's share of the time (here:
    every look at the deadline says it has passed) is skipped, not waited for: the search
    over nodes starts from the hint. On ``fragmented`` (its docstring) first fit leaves 2
    pending; a neighbourhood of every node is the whole model, whose optimum (1) it
    proves."""
    from optsched.deadline import Deadline, OutOfTimeError
    from optsched.problems.pods.counts import cp, lns, structure

    def expired(self: object) -> None:
        raise OutOfTimeError

    monkeypatch.setattr(Deadline, "check", expired)
    monkeypatch.setattr(cp, "CHECK_EVERY", 1)  # a model this small is otherwise always built
    monkeypatch.setattr(lns, "build_counts", lambda instance, _: structure.build_counts(
        instance))  # the count structure is built (the next test: when it is not)
    instance = ex.fragmented()
    result = solve(instance, "pods-lns", SolveParams(
        time_limit=10, workers=1, seed=0, hint=first_fit(instance),
        options={"nodes": 100}))
    assert "not built" in result.stats["build"] and result.stats["lns_start"] == 2
    assert result.verified and result.objective == 1 and result.status is Status.OPTIMAL


def test_a_count_structure_not_built_in_time_gives_the_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the limit comes while the count structure is built (here: every look at the
    deadline says it has passed), pods-lns stops there and the answer is the hint,
    verified: first fit's 2 pending on ``fragmented`` (its docstring)."""
    from optsched.deadline import Deadline, OutOfTimeError

    def expired(self: object) -> None:
        raise OutOfTimeError

    monkeypatch.setattr(Deadline, "check", expired)
    instance = ex.fragmented()
    result = solve(instance, "pods-lns", SolveParams(time_limit=10, workers=1, seed=0,
                                                     hint=first_fit(instance)))
    assert "count structure" in result.stats["build"]
    assert result.verified and result.objective == 2 and result.status is Status.FEASIBLE


def test_a_proven_first_phase_ends_the_solve() -> None:
    """``running`` is proven optimal (12, see its docstring) by the first phase: no search."""
    result = solve(ex.running(), "pods-lns", SolveParams(time_limit=10, workers=1, seed=0))
    assert result.status is Status.OPTIMAL and result.objective == 12
    assert "lns_neighbourhoods" not in result.stats


def test_the_limit_holds_with_a_short_slice() -> None:
    """A 1 s limit on the paper's largest grid point: the call ends within it (plus the
    checks), with a verified solution at least as good as the hint."""
    from optsched.problems.pods.generate import scenario

    instance = scenario(32, 8, 4, 1.05, seed=32, k=0)
    started = time.perf_counter()
    result = solve(instance, "pods-lns", SolveParams(time_limit=1, workers=2, seed=0))
    assert result.verified and time.perf_counter() - started < 2.0
    assert result.objective <= result.stats["hint_objective"]


def test_a_stop_reaches_a_neighbourhood_in_flight() -> None:
    """Neighbourhoods of every node (the whole model, not proven within a minute on this
    grid point) of 30 s within a 60 s limit: a stop 3 s in (the first phase has 1.2 s)
    ends the one in flight, and the solve within a second, with a verified solution."""
    from optsched import StopRequest
    from optsched.problems.pods.generate import scenario

    instance = scenario(32, 8, 4, 1.05, seed=32, k=1)
    stop = StopRequest()
    threading.Timer(3.0, stop.set).start()
    started = time.perf_counter()
    result = solve(instance, "pods-lns", SolveParams(
        time_limit=60, workers=1, seed=0, options={"start": 0.02, "pack": 0.0, "slice": 30.0,
                                                   "nodes": 100}), stop=stop)
    assert result.verified and time.perf_counter() - started < 4.0
    # its own answer: a neighbourhood that ignored the stop would be left behind by the
    # watchdog, and the hint returned in its place
    assert result.stats["fallback"] is None and "watchdog" not in result.stats


@pytest.mark.parametrize(("factory", "optimum"), HAND, ids=lambda v: getattr(v, "__name__", ""))
def test_side_by_side_neighbourhoods_reach_the_hand_optimum(
        factory: Callable[[], PodsInstance], optimum: int) -> None:
    """Two workers solve two one-node neighbourhoods side by side (one worker each) and
    apply both only while the classes' totals hold; neighbourhoods grow until one holds
    every node, whose proven optimum ends the search at the docstring's optimum."""
    result = solve(factory(), "pods-lns", SolveParams(
        time_limit=20, workers=2, seed=0, options={"start": 0.0, "nodes": 1}))
    assert result.verified and result.objective == optimum


def test_a_neighbourhood_leaves_out_the_classes_the_other_nodes_hold() -> None:
    """n1 and n2 (4 cpu each); a (2 cpu) runs on n1, p (3 cpu, priority 10) is pending.
    Freeing n2 alone: a's one pod sits on n1, which keeps its counts, so a has no room on
    n2 and no variable there (with thousands of running classes, most of a
    neighbourhood's pairs); p has one, at most 1. The neighbourhood's optimum places p
    on n2: nothing pending, nothing moved."""
    import numpy as np

    from optsched.deadline import Deadline
    from optsched.problems.pods.counts.lns import _Search
    from optsched.problems.pods.counts.structure import build_counts
    from optsched.problems.pods.counts.symmetry import decode, hint_counts
    from optsched.problems.pods.evaluate import evaluate
    from optsched.problems.pods.solution import as_it_is

    instance = ex.instance([ex.node("n1"), ex.node("n2")],
                           [ex.pod("a", "2", 0, node="n1"), ex.pod("p", "3", 10)])
    counts = build_counts(instance)
    x = hint_counts(counts, as_it_is(instance), "none")
    assert x is not None
    search = _Search(counts, x, SolveParams(workers=1, seed=0), 1, 1.0)
    n2 = [n.name for n in instance.nodes].index("n2")
    _, pairs, variables, exact = search._model(np.flatnonzero(counts.pair_node == n2))
    assert len(variables) == 1 and exact
    assert counts.classes[int(counts.pair_class[pairs[0]])].pods == ("p",)
    search.nodes = 1  # n1 alone cannot place p; a draw of n2, or of both nodes, does
    assert any(search.step(None, Deadline(5)) for _ in range(30))
    result = evaluate(instance, decode(counts, search.x))
    assert result.objective == 0 and not result.violations
    assert np.all(search.x[counts.pair_node != n2] == x[counts.pair_node != n2])


@pytest.mark.parametrize(("limit", "first"), [(10.0, 2.0), (1.0, 0.5), (0.4, 0.4)])
def test_the_first_phase_has_half_a_second_when_the_time_allows(
        monkeypatch: pytest.MonkeyPatch, limit: float, first: float) -> None:
    """No hint, so no drop-and-pack: the whole model's deadline is 0.2 of 10 s (2 s); of
    1 s, 0.2 would be 0.2 s, so FIRST_MIN_S (0.5 s); of 0.4 s, all of it (then no search
    follows)."""
    from optsched.deadline import Deadline
    from optsched.problems.pods.counts import cp, lns

    seen: list[float | None] = []
    build_on = cp.build_on

    def recorded(counts: object, params: SolveParams, deadline: Deadline,
                 started: float) -> object:
        seen.append(deadline.time_limit)
        return build_on(counts, params, deadline, started)  # type: ignore[arg-type]

    monkeypatch.setattr(cp, "build_on", recorded)
    lns.run(ex.fragmented(), SolveParams(time_limit=limit, workers=1, seed=0),
            Deadline(limit))
    assert seen[0] is not None and first - 0.02 < seen[0] <= first


@pytest.mark.parametrize(("limit", "phase"), [(10.0, 6.0), (0.7, 0.5)])
def test_drop_and_pack_has_its_share_before_the_whole_model(
        monkeypatch: pytest.MonkeyPatch, limit: float, phase: float) -> None:
    """With a hint that drop-and-pack can improve (first fit on ``fragmented``), the first
    phase is ``start`` + ``pack`` of the time, 0.2 + 0.4 = 0.6 of 10 s (6 s), and
    drop-and-pack has 0.4 / 0.6 = 2/3 of it (4 s); CP-SAT the rest (2 s). Of 0.7 s, 0.6
    would be 0.42 s, so FIRST_MIN_S (0.5 s), and drop-and-pack still has 2/3 of it (it
    had 0.4 / (0.5 / 0.7) = 0.56: on 300 x 5,000 Alibaba pods at 1 s too little)."""
    from optsched.deadline import Deadline
    from optsched.problems.pods.counts import cp, lns
    from optsched.problems.pods.greedy import first_fit

    seen: list[tuple[float | None, float]] = []
    build_on = cp.build_on

    def recorded(counts: object, params: SolveParams, deadline: Deadline,
                 started: float) -> object:
        seen.append((deadline.time_limit, float(params.model["pack"])))
        return build_on(counts, params, deadline, started)  # type: ignore[arg-type]

    monkeypatch.setattr(cp, "build_on", recorded)
    instance = ex.fragmented()
    lns.run(instance, SolveParams(time_limit=limit, workers=1, seed=0,
                                  hint=first_fit(instance)), Deadline(limit))
    (first, share), = seen
    assert first is not None and phase - 0.02 < first <= phase
    assert share == pytest.approx(2 / 3)


def test_pods_lns_names_its_module_for_the_command_line_to_import_first() -> None:
    """``optsched solve -s pods-lns`` imports the module (and OR-Tools, 0.44 s) before the
    first instance's limit starts, as it does for a backend: at 0.2 s on an Alibaba
    snapshot the call took 0.5 s with the import inside the limit. A greedy rule has
    nothing to import."""
    from optsched.registry import solvers

    table = solvers("pods")
    load = table["pods-lns"].load
    assert load is not None
    assert getattr(load(), "__name__", "") == "optsched.problems.pods.counts.lns"
    assert table["best-greedy"].load is None
