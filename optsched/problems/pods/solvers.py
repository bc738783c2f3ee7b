"""The table of pods' own solvers: the default-scheduler simulation and greedy baselines."""

from __future__ import annotations

from functools import partial
from typing import Protocol

from optsched.backends.native import found, stopped
from optsched.deadline import Deadline, OutOfTimeError
from optsched.family import Kind, NativeRun, NativeSolver
from optsched.options import Option, OptionSet
from optsched.params import SolveParams
from optsched.problems.pods import greedy, scale
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.movefit import move_to_fit
from optsched.problems.pods.scheduler.simulation import ORDERS, VERSIONS, schedule
from optsched.problems.pods.solution import PodsSolution, as_it_is
from optsched.result import Result

CHECK_S_PER_POD = 5e-6
"""Seconds per pod kept from a greedy rule's time for the checks of its answer:
``solve()``'s verification, and best-greedy's score of each rule (0.4-0.45 s each for
150,000 pods)."""
STOPPED = "the pods it had not reached stay as they were"
"""What a greedy rule cut short by its deadline did with the rest (``native.stopped``)."""


class Placement(Protocol):
    """A greedy rule: a valid placement, the pods reached before ``deadline`` placed."""

    def __call__(self, instance: PodsInstance, *, deadline: Deadline | None = None
                 ) -> PodsSolution:
        """Place the pending pods of ``instance`` (those reached before ``deadline``)."""


def default(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """kube-scheduler without preemption: priority queue, ties by node name."""
    return schedule(instance, deadline=deadline)


def default_preempt(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """kube-scheduler with DefaultPreemption: priority queue, ties by node name."""
    return schedule(instance, preemption=True, deadline=deadline)


def arrival_preempt(instance: PodsInstance, deadline: Deadline | None = None) -> PodsSolution:
    """kube-scheduler with DefaultPreemption, pods arriving one at a time in instance order."""
    return schedule(instance, preemption=True, order="arrival", deadline=deadline)


GREEDY: dict[str, tuple[Placement, str]] = {
    "first-fit": (greedy.first_fit, "running pods stay; pending pods by priority, first fit"),
    "best-fit-decreasing": (greedy.best_fit_decreasing,
                            "running pods stay; pending pods by priority, larger first, to the "
                            "node left with the least normalised room"),
    "worst-fit": (greedy.worst_fit, "running pods stay; pending pods by priority, larger "
                                    "first, to the node left with the most room (spreading)"),
    "best-fit-levels": (greedy.best_fit_levels,
                        "best fit level by level: larger pods first, or smaller first where "
                        "that places more of the level"),
    "worst-fit-levels": (greedy.worst_fit_levels,
                         "worst fit level by level: larger pods first, or smaller first where "
                         "that places more of the level"),
    "repack": (greedy.repack, "best-fit decreasing over pending and movable running pods, "
                              "running pods kept in place when they still fit"),
    "move-to-fit": (move_to_fit, "best fit level by level, then each pod left pending placed "
                                 "by moving at most 3 other pods off a node"),
    "scale-fit": (scale.scale_fit, "best fit by priority, smaller pods first, over NumPy arrays: "
                                   "seconds for 150,000 pods on 5,000 nodes"),
    "default": (default, "kube-scheduler's default profile simulated, no preemption"),
    "default-preempt": (default_preempt, "kube-scheduler's default profile with "
                                         "DefaultPreemption"),
    "arrival-preempt": (arrival_preempt, "default-preempt with pods arriving one at a time "
                                         "in instance order"),
}
"""Every greedy rule; :func:`best_greedy` keeps the best, so it never loses to a default."""

SCHEDULER_OPTIONS = OptionSet((
    Option("order", str, "priority", "the scheduling queue: by priority, or pods one at a time "
                                     "in instance order", ORDERS),
    Option("random_ties", bool, False, "break score ties at random with --seed (kube-scheduler's "
                                       "way) instead of by node name"),
    Option("version", str, VERSIONS[0], "kube-scheduler's scores: 1.34 (1.24 to 1.35) or 1.36 "
                                        "(BalancedAllocation scores the balance a pod brings)",
           VERSIONS),
    Option("timed", bool, False, "give the queue time: pods woken by a deletion back off and "
                                 "victims come back after their grace period, after the "
                                 "pods already queued (a real cluster; the default retries "
                                 "them at once)"),
))


LNS_OPTIONS = OptionSet((
    Option("start", float, 0.2, "share of the time CP-SAT has on the whole model first (its "
                                "bound is the result's; unless 0, at least 0.5 s when the time "
                                "allows, with drop-and-pack's share)",
           low=0.0, high=1.0),
    Option("nodes", int, 6, "nodes freed per neighbourhood (grown after a proven one, "
                             "shrunk after one that ran out of time)", low=1, high=100_000),
    Option("slice", float, 0.08, "most seconds one neighbourhood's CP-SAT may take",
           low=0.01, high=3600.0),
    Option("pack", float, 0.4, "share of the time drop-and-pack may spend improving the "
                               "hint before CP-SAT's share (start; cpsat's -m pack); 0: off",
           low=0.0, high=1.0),
))
"""The options of ``pods-lns`` (``-o``)."""


FIRST = ("move-to-fit", "default", "default-preempt", "arrival-preempt", "best-fit-levels")
"""The rules :func:`best_greedy` runs first, in this order, each when its expected time
fits: move-to-fit (best fit level by level, then repairs), the best rule (ties included)
on 77 of the 96 scenarios at 32 nodes of the grid's seeds 32 and 7 and the only best on
37; the default scheduler in the three ways :func:`optsched.problems.pods.output.compare`
runs it, so that the result is never worse than any of them; best fit level by level
(where moves are not allowed, move-to-fit is just that)."""


SECONDS_PER_POD_NODE = 1.5e-6
"""Measured time of the slowest greedy rule (kube-scheduler's simulation) per pod and node
(3.3 s for 8,000 pods on 400 nodes)."""
SLOWER = {"move-to-fit": 2.0}
"""Rules expected to take longer than :data:`SECONDS_PER_POD_NODE`, and by how much
(move-to-fit, best fit level by level and then its repairs: 0.024 s for 256 pods on 32
nodes, where the default scheduler's simulation takes 0.014 s)."""


MAX_EXACT_PAIRS = 20_000_000
"""Most pairs of the count model (:func:`model_pairs`) for which ``auto`` gives an exact
solver the solve; beyond, its model and its reserve for the checks take the whole time.
(150,000 pending pods on 5,000 nodes of the Alibaba trace make 810,000: ``pods-lns`` then
needs scale-fit's 33 s estimate, with the hint's margin, in half the limit: from 99 s.)"""


MIN_LNS_PAIRS = 50_000
"""Fewest pods x nodes for which ``auto`` takes ``pods-lns``. On the 15 Alibaba snapshots
(100 nodes x 1,000 pods) at 10 s it was better than CP-SAT alone on all 15; with
drop-and-pack in both since, it is level on the default list (956 pending pods over 10
snapshots against 952) and better on 4 of the 5 ``gpuspec33`` snapshots, level on 1. On the
paper's grid (at most 32 nodes x 256 pods, 8,192) ``cpsat`` proves 48 of the 48
scenarios at 32 nodes within 1 s (``benchmarks/README.md``)."""


SECONDS_PER_PAIR = 4e-7
"""Time expected per class and node to build the count structure and start the search, the
classes counted as :func:`model_pairs` does: four times the slowest build measured (0.08-0.10
us per pod and node on the plugin benchmark's large states, where running pods make the
classes, 2.5 to 5.4 million pods x nodes in 0.21-0.55 s). On those six states at limits of 1
to 2.5 s (idle machine), 2e-7 gave ``pods-lns`` the solve where it beat ``best-greedy`` in 29
of 30 cases, 4e-7 in 23; but on a busy machine 2e-7 gave it a state whose structure was then
not built in time (plugin, 2000 ms: the cluster as it is, where ``best-greedy`` places pods)."""


BUILD_SHARE = 0.5
"""Most of the time limit the count structure may be expected to take for ``auto`` to give
``pods-lns`` the solve; beyond, the greedy rules have the whole time."""


def model_pairs(instance: PodsInstance) -> int:
    """The count model's pairs as ``auto`` expects them: classes times nodes.

    A running pod is counted as a class of its own (its home node makes its class), the
    pending groups once per request and priority: the model merges pending pods of one spec,
    so 25,000 pending pods of the Alibaba trace on 1,000 nodes make 162 classes and 156,000
    pairs (built in 0.12 s), where pods x nodes is 25 million.
    """
    running = sum(g.replicas for g in instance.groups if g.node is not None)
    specs = {(g.priority, tuple(sorted(g.requests.items())), g.anti_affinity)
             for g in instance.groups if g.node is None}
    return (running + len(specs)) * len(instance.nodes)


def choose(instance: PodsInstance, params: SolveParams) -> tuple[str, str]:
    """CP-SAT below 50,000 pods x nodes, pods-lns if its hint and model fit, else best-greedy.

    The line above is what ``optsched families`` shows; the limits are
    :data:`MIN_LNS_PAIRS` (pods x nodes) and :data:`MAX_EXACT_PAIRS` (the model's pairs,
    :func:`model_pairs`), and ``pods-lns`` needs the
    count structure built (:data:`SECONDS_PER_PAIR` per :func:`model_pairs`) within
    :data:`BUILD_SHARE` of the time limit. Either needs scale-fit (:func:`scale.seconds`),
    with the hint's margin, to fit in the most of the limit a hint may have
    (``solve.hint_fits``): their hint is their fallback, and one cut short leaves the
    pods it has not reached pending.
    """
    from optsched.solve import hint_fits

    pairs = instance.pod_count * len(instance.nodes)
    where = f"{instance.pod_count} pods on {len(instance.nodes)} nodes"
    greedy = "the greedy rules that end in time, scale-fit first"
    model = model_pairs(instance)
    if model > MAX_EXACT_PAIRS:
        return "best-greedy", f"{where}: {greedy}"
    limit = params.time_limit
    if limit is not None and not hint_fits(scale.seconds(instance), limit):
        return "best-greedy", (f"{where}: scale-fit, an exact solver's hint, would not end "
                               f"in its share of {limit:g} s; {greedy}")
    if pairs >= MIN_LNS_PAIRS:
        if limit is not None and SECONDS_PER_PAIR * model > BUILD_SHARE * limit:
            return "best-greedy", (f"{where}: the count model would take more than half of "
                                   f"{limit:g} s to build; {greedy}")
        return "pods-lns", f"{where}: CP-SAT, then its search over nodes"
    return "cpsat", "the family's default"


def hint_seconds(instance: PodsInstance) -> float:
    """Expected seconds of :func:`best_greedy`'s answer as the exact solvers' hint.

    Scale-fit and its check (:func:`scale.seconds`), then the rules of :data:`FIRST`: on
    the grid at 0.2 s (128 pods, 32 nodes) a hint given scale-fit's time alone left 16
    pods pending where move-to-fit leaves 12.
    """
    return sum(_rule_seconds(instance, name) for name in ("scale-fit", *FIRST))


def _rule_seconds(instance: PodsInstance, name: str) -> float:
    """The expected time of the greedy rule ``name`` on ``instance``.

    :data:`SECONDS_PER_POD_NODE` per pod and node, times :data:`SLOWER` for some;
    scale-fit's is :func:`scale.seconds`.
    """
    if name == "scale-fit":
        return scale.seconds(instance)
    return SLOWER.get(name, 1.0) * SECONDS_PER_POD_NODE * instance.pod_count * len(
        instance.nodes)


def best_greedy(instance: PodsInstance, deadline: Deadline | None = None
                ) -> tuple[PodsSolution, int, str]:
    """The best placement of the greedy rules: (solution, objective, rule name).

    Scale-fit always, cut short by ``deadline`` if need be (the pods it has not reached
    stay pending: with no time at all, the cluster as it is); then the rules of
    :data:`FIRST`, then the others, each unless ``deadline`` leaves less time than it
    is expected to take (:data:`SECONDS_PER_POD_NODE`, times :data:`SLOWER` for some).
    Every rule stops at ``deadline``. Each rule's placement that is the best so far is
    reported to the deadline's listener (:meth:`Deadline.report`): a caller that stops
    waiting (the plugin at ``timeout_ms``) keeps it.
    """
    scored = []
    order = ["scale-fit", *FIRST, *(name for name in GREEDY if name not in (*FIRST,
                                                                            "scale-fit"))]
    for name in order:
        left = None if deadline is None else deadline.remaining()
        need = _rule_seconds(instance, name)
        if name != "scale-fit" and left is not None and (
                need > left or (name not in FIRST and left <= 0)):
            continue
        scored.append(_scored(instance, name, _placed(GREEDY[name][0], instance, deadline)))
        value, _, solution = scored[-1]
        if deadline is not None and deadline.listening and all(
                value < earlier for earlier, _, _ in scored[:-1]):
            deadline.report(solution, value)  # a caller that stops waiting keeps it
    value, name, solution = min(scored, key=lambda item: item[:2])
    return solution, value, name


def _scored(instance: PodsInstance, name: str, solution: PodsSolution
            ) -> tuple[int, str, PodsSolution]:
    objective = evaluate(instance, solution).objective
    assert objective is not None, name
    return int(objective), name, solution


def _scheduler(preemption: bool, name: str) -> NativeRun[PodsInstance]:
    def run(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
        order = str(params.options["order"])
        seed = params.seed if params.options["random_ties"] else None
        version = str(params.options["version"])
        timed = bool(params.options["timed"])
        deadline = _checked(deadline, instance)
        solution = _placed(partial(schedule, preemption=preemption, order=order, seed=seed,
                                   version=version, timed=timed), instance, deadline)
        return found(solution, None, rule=name, order=order,
                     random_ties=seed is not None, kube_version=version, timed=timed,
                     **stopped(deadline, STOPPED))

    return run


def _rule(rule: Placement, name: str) -> NativeRun[PodsInstance]:
    def run(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
        deadline = _checked(deadline, instance)
        solution = _placed(rule, instance, deadline)
        return found(solution, None, rule=name, **stopped(deadline, STOPPED))

    return run


def _placed(rule: Placement, instance: PodsInstance, deadline: Deadline | None
            ) -> PodsSolution:
    """``rule``'s placement, or the cluster as it is if ``deadline`` passed before it began."""
    try:
        return rule(instance, deadline=deadline)
    except OutOfTimeError:
        return as_it_is(instance)


def _checked(deadline: Deadline, instance: PodsInstance) -> Deadline:
    """``deadline`` ending earlier by the time of the checks (:data:`CHECK_S_PER_POD`)."""
    left = deadline.remaining()
    if left is None:
        return deadline
    return Deadline(max(0.0, left - CHECK_S_PER_POD * instance.pod_count), deadline.stop,
                    deadline.found)


def _best(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
    deadline = _checked(deadline, instance)
    solution, value, name = best_greedy(instance, deadline)
    return found(solution, value, rule=name, **stopped(deadline, STOPPED))


def table() -> dict[str, NativeSolver[PodsInstance]]:
    """Name -> solver, for the family's entry."""
    out = {name: NativeSolver(_rule(rule, name), Kind.HEURISTIC, summary)
           for name, (rule, summary) in GREEDY.items()}
    for name, preemption in (("default", False), ("default-preempt", True)):
        out[name] = NativeSolver(_scheduler(preemption, name), Kind.HEURISTIC,
                                 GREEDY[name][1], SCHEDULER_OPTIONS)
    out["best-greedy"] = NativeSolver(_best, Kind.HEURISTIC,
                                      "the best placement of the greedy rules (the default "
                                      "scheduler with and without preemption always, the "
                                      "others while time is left)")
    out["pods-lns"] = NativeSolver(_lns, Kind.EXACT,
                                   "CP-SAT on the whole count model, then large-neighbourhood "
                                   "search over nodes (CP-SAT on a few nodes at a time); "
                                   "the bound is the first phase's", LNS_OPTIONS,
                                   load=_load_lns)
    return out


def _load_lns() -> object:
    """The module of ``pods-lns`` and with it OR-Tools (0.44 s, pandas included)."""
    from optsched.problems.pods.counts import lns

    return lns


def _lns(instance: PodsInstance, params: SolveParams, deadline: Deadline) -> Result:
    from optsched.problems.pods.counts import lns

    return lns.run(instance, params, deadline)
