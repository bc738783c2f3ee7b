"""Recombination of drop-and-pack's nodes (``counts/recombine.py``)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from optsched.deadline import Deadline
from optsched.problems.pods import samples as ex
from optsched.problems.pods.counts import pack, recombine
from optsched.problems.pods.counts.objective import value
from optsched.problems.pods.counts.recombine import Patterns
from optsched.problems.pods.counts.structure import Counts, build_counts
from optsched.problems.pods.counts.symmetry import decode, hint_counts
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.greedy import first_fit
from optsched.problems.pods.instance import PodsInstance

from .test_pack import perfect_fit


def _patterns(instance: PodsInstance) -> tuple[Counts, Patterns, np.ndarray]:
    counts = build_counts(instance)
    packer = pack.Packer(counts, seed=0)
    assert packer.patterns is not None
    x = hint_counts(counts, first_fit(instance), "none")
    assert x is not None
    return counts, packer.patterns, x


def _state(counts: Counts, nodes: list[list[int]]) -> tuple[np.ndarray, ...]:
    """An annealing state: ``nodes[n]`` lists the classes of node ``n``'s pods."""
    node = np.array([n for n, held in enumerate(nodes) for _ in held], dtype=np.int64)
    klass = np.array([c for held in nodes for c in held], dtype=np.int64)
    load = np.zeros((len(nodes), counts.need.shape[1]), dtype=np.int64)
    np.add.at(load, node, counts.need[klass])
    return node, klass, load, np.zeros((len(nodes), 0), dtype=np.int64)


def _by_cpu(counts: Counts) -> tuple[int, int]:
    """The classes of the 4-cpu and the 3-cpu pods of :func:`perfect_fit`."""
    big = int(np.argmax(counts.need[:, 0]))
    return big, 1 - big


def test_nodes_of_two_states_combine_into_a_plan_neither_holds() -> None:
    """:func:`perfect_fit` (two 10-cpu nodes; pods 4, 4, 3, 3, 3, 3). First fit holds
    {4, 4} and {3, 3, 3}: 5 placed, objective 1. From those two patterns alone the best
    plan places 5 (twice {3, 3, 3} would need six 3s of four), so nothing better is
    returned. An annealing state with {4, 3, 3} on n1 (10 cpu) and {4, 3, 3, 3} on n2
    (13 cpu, over) adds only {4, 3, 3}; twice that places all six: objective 0."""
    instance = perfect_fit()
    counts, patterns, x = _patterns(instance)
    assert value(counts, x) == 1
    assert patterns.best(x, Deadline(5.0), 1, 0) is None
    big, small = _by_cpu(counts)
    patterns.add_state(*_state(counts, [[big, small, small], [big, small, small, small]]))
    assert len(patterns.seen) == 3  # first fit's two and {4, 3, 3}; not the overflow
    found = patterns.best(x, Deadline(5.0), 1, 0)
    assert found is not None and value(counts, found) == 0
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 0


def test_a_pattern_serves_only_nodes_of_its_type() -> None:
    """Nodes of 10 and 7 cpu, six pods of 3 cpu (18 of 17). {3, 3, 3} seen on the 10-cpu
    node does not fit the 7-cpu one, so the best plan is {3, 3, 3} + {3, 3}: one pod
    pending, objective 1 (twice {3, 3, 3}, objective 0, if types were ignored)."""
    instance = ex.instance([ex.node("n1", "10"), ex.node("n2", "7")],
                           [ex.pod(f"p{i}", "3") for i in range(6)])
    counts = build_counts(instance)
    patterns = pack.Packer(counts, seed=0).patterns
    assert patterns is not None and patterns.type[0] != patterns.type[1]
    patterns.add_state(*_state(counts, [[0, 0, 0], [0, 0]]))
    found = patterns.best(np.zeros(len(counts.pair_class), dtype=np.int64), Deadline(5.0), 1, 0)
    assert found is not None and value(counts, found) == 1
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 1


def test_a_running_pod_keeps_its_node() -> None:
    """Two 10-cpu nodes; ``r`` (3 cpu) runs on n2; pending 4, 3 and 3 cpu. {4, 3} and
    {r, 3} fit either node; the plan puts {r, 3} on n2, r's home: every pod placed and
    no move, objective 0."""
    instance = ex.instance(
        [ex.node("n1", "10"), ex.node("n2", "10")],
        [ex.pod("r", "3", node="n2"), ex.pod("a", "4"), ex.pod("b", "3"), ex.pod("c", "3")])
    counts = build_counts(instance)
    patterns = pack.Packer(counts, seed=0).patterns
    assert patterns is not None
    home = next(c for c, k in enumerate(counts.classes) if k.home is not None)
    big = int(np.argmax(counts.need[:, 0]))
    small = next(c for c in range(len(counts.classes)) if c not in (home, big))
    patterns.add_state(*_state(counts, [[home, small], [big, small]]))  # r on n1: a move
    found = patterns.best(np.zeros(len(counts.pair_class), dtype=np.int64), Deadline(5.0), 1, 0)
    assert found is not None
    checked = evaluate(instance, decode(counts, found))
    assert not checked.violations and checked.objective == 0


def test_patterns_are_kept_only_on_small_structures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond :data:`recombine.MAX_CELLS` classes x nodes drop-and-pack keeps no patterns
    and gives its lanes the whole time."""
    counts = build_counts(perfect_fit())
    assert pack.Packer(counts, seed=0).patterns is not None
    monkeypatch.setattr(recombine, "MAX_CELLS", 1)
    monkeypatch.setattr(pack, "suits", recombine.suits)
    assert pack.Packer(counts, seed=0).patterns is None


def test_only_the_fullest_patterns_of_a_type_enter_the_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one pattern per type allowed, the model keeps first fit's own two (the hint)
    and, of {4, 3, 3} (10 cpu) and {3} (3 cpu), the fuller: still objective 0."""
    monkeypatch.setattr(recombine, "PER_TYPE", 1)
    instance = perfect_fit()
    counts, patterns, x = _patterns(instance)
    big, small = _by_cpu(counts)
    patterns.add_state(*_state(counts, [[big, small, small], [small]]))
    found = patterns.best(x, Deadline(5.0), 1, 0)
    assert found is not None and value(counts, found) == 0


def test_the_recombination_has_the_time_the_lanes_leave(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`perfect_fit` with an annealing that never packs (a stand-in kernel): the
    master's only better proposal (all six placed, objective 0) fails, the lanes have
    nothing left to propose, and the recombination is called once, with the rest of the
    1 s search (at least the half kept for it)."""
    calls: list[float] = []

    def never(*args: object) -> tuple[int, int]:
        return 1, 0

    def record(self: Patterns, x: np.ndarray, deadline: Deadline, threads: int,
               seed: int) -> None:
        calls.append(deadline.remaining() or 0.0)

    monkeypatch.setattr(pack, "kernel", lambda: never)
    monkeypatch.setattr(Patterns, "best", record)
    counts, _, x = _patterns(perfect_fit())
    pack.Packer(counts, seed=0).improve(x, Deadline(1.0))
    assert len(calls) == 1 and 0.5 <= calls[0] <= 1.0


def test_no_recombination_once_the_lanes_meet_the_bound(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """:func:`perfect_fit`: the annealing packs all six (objective 0, the master's best),
    so nothing is left for the recombination to improve and it is not called."""
    calls: list[int] = []
    monkeypatch.setattr(Patterns, "best", lambda *args: calls.append(1))
    counts, _, x = _patterns(perfect_fit())
    assert value(counts, pack.Packer(counts, seed=0).improve(x, Deadline(5.0))) == 0
    assert not calls


class _Stops:
    """A stand-in for CP-SAT's solver: records ``stop_search``."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def stop_search(self) -> None:
        self.stopped.set()


def test_the_model_stops_when_it_finds_nothing_better_for_a_while() -> None:
    """The watch stops the solver ``seconds`` after its start when no solution beats the
    incumbent's objective (10), and a better one (9) starts it again: equal (10) does not."""
    solver = _Stops()
    with recombine._Patience(solver, 10, 0.2) as watch:  # type: ignore[arg-type]
        watch.found(10)
        assert solver.stopped.wait(1.0)
    solver = _Stops()
    with recombine._Patience(solver, 10, 0.3) as watch:  # type: ignore[arg-type]
        time.sleep(0.2)
        watch.found(9)  # the watch starts again: 0.3 s from now
        assert not solver.stopped.wait(0.2)
        assert solver.stopped.wait(1.0)
    solver = _Stops()
    with recombine._Patience(solver, 10, None) as watch:  # type: ignore[arg-type]
        watch.found(9)
    assert not solver.stopped.wait(0.1)  # no time limit: never stopped, no timer left


def test_the_lanes_go_on_when_the_recombination_gives_up_early(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`perfect_fit` (first fit's objective 1, the master's best proposal 0) with
    stand-ins: a lane that only waits for its deadline, and a recombination that gives
    up at once. The lanes stop at half of the 1 s search, the recombination is called,
    and the lanes then search again until the end."""
    events: list[tuple[str, float]] = []

    def waits(self: pack.Packer, master: object, i: int, proposal: object, best: object,
              search: Deadline, started: float) -> None:
        events.append(("lane", search.remaining() or 0.0))
        while not search.expired():
            time.sleep(0.01)

    def gives_up(self: Patterns, x: np.ndarray, deadline: Deadline, threads: int,
                 seed: int) -> None:
        events.append(("recombine", deadline.remaining() or 0.0))

    monkeypatch.setattr(pack.Packer, "_lane", waits)
    monkeypatch.setattr(Patterns, "best", gives_up)
    counts, _, x = _patterns(perfect_fit())
    pack.Packer(counts, seed=0).improve(x, Deadline(1.0))
    assert [name for name, _ in events] == ["lane", "recombine", "lane"]
    first, recombination, again = (left for _, left in events)
    assert 0.4 <= first <= 0.5  # the lanes' half
    assert 0.4 <= again <= recombination <= 0.5  # the rest, all of it left to the lanes
