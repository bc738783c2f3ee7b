"""The plugin's output: the solve within ``timeout_ms`` and the plan in the plugin's terms."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from optsched.errors import InputError
from optsched.problems.pods.plugin.preemptor import swap, why_not
from optsched.problems.pods.plugin.request import LateError, Request, read

RESERVE_S = 0.15
"""Seconds of ``timeout_ms`` kept for checking and writing the answer."""
INVALID = "MODEL_INVALID"
"""The status of an input the solver refuses (the plugin ignores it, as every status but
OPTIMAL and FEASIBLE)."""
EXACT_MIN_S = 0.3
"""Seconds left below which the answer comes from the greedy solvers alone (importing
OR-Tools takes 0.2-0.3 s of a fresh process). It was 1.0 while drop-and-pack's kernel
needed numba (0.9 s to load); with its C kernel, ``timeout_ms`` 1000 (0.55 s left after
start-up) gets CP-SAT: 40 of 40 generated states answered with the optimum instead of
20, none later (``benchmarks/README.md``, the plugin). It was 0.5 until CP-SAT proved
as much with 0.3: at ``timeout_ms`` 800, 40 of 40 with the optimum instead of 20 (700:
37), none later, also with both cores busy."""
LATE = "UNKNOWN"
"""The status of an answer without a plan because the input's read ended too late
(:data:`READ_GRACE_S`; 289,000 pods take about 4 s to read), or too late for scale-fit
to place its pods by :data:`PLAN_GRACE_S` past ``timeout_ms``; the plugin ignores it."""
READ_GRACE_S = 0.2
"""Most seconds past ``timeout_ms`` at which the input's read may end for a plan to
follow: the greedy rules' :data:`GREEDY_MIN_S` and the answer then end by
:data:`PLAN_GRACE_S` late, within the plugin's grace period (1 s by default). (It was
0.4: 150,000 pods at ``timeout_ms`` 1000 were answered 0.57-0.68 s late.)"""
GREEDY_MIN_S = 0.1
"""Least time the greedy solvers get, even past ``timeout_ms``: a ``timeout_ms`` shorter
than the process's start-up (about 0.3 s) is answered up to this much late, with a plan,
rather than on time with the cluster as it is (the plugin waits a grace period, 1 s by
default, past ``timeout_ms``)."""
PLAN_GRACE_S = 0.35
"""Most seconds past ``timeout_ms`` the answer waits for the solve's first plan when none
has come by then (a solve that overran its short limit: 3,000 pods at ``timeout_ms`` 600
had their first plan 0.05 s after it, and were answered with the cluster as it is)."""


def answer(obj: object, started: float, on_read: Callable[[], object] | None = None
           ) -> dict[str, Any]:
    """The plugin's output for its input ``obj``.

    ``started`` is ``time.monotonic()`` at the process's start: the answer comes by
    ``timeout_ms`` from then (:func:`time_left`). ``on_read`` is called once the input
    is read, before the solve (the script turns the garbage collector back on).
    """
    try:
        request = read(obj, started, READ_GRACE_S)
        if on_read is not None:
            on_read()
        if time.monotonic() - started > request.timeout_s + READ_GRACE_S:
            raise LateError(f"timeout_ms passed once the {len(request.pods)} pods were read")
    except InputError as exc:
        return refusal(exc, started)
    except LateError as exc:
        return _no_plan(LATE, f"{exc}; no plan", started)
    return solve_request(request, started)


def refusal(exc: InputError, started: float) -> dict[str, Any]:
    """The answer to a bad input: a status the plugin ignores and one line naming the field."""
    return _no_plan(INVALID, f"{exc.field}: {exc.problem}", started)


def _no_plan(status: str, error: str, started: float) -> dict[str, Any]:
    """An answer without a plan: ``status`` (one the plugin ignores) and its ``error`` line."""
    return {"status": status, "error": error, "placements": [], "evictions": [],
            "phases": [], "duration_ms": _ms(started)}


def time_left(request: Request, started: float, plan_s: float = 0.0) -> tuple[str, float]:
    """The solver and the time limit the request leaves (greedy alone when short).

    The greedy rules get the time up to ``timeout_ms`` itself, without the reserve: each
    stops at its deadline with the pods it has placed (and keeps time for the checks of
    its answer), and :func:`solve_request` answers at ``timeout_ms`` whatever the solve
    is doing. ``plan_s`` is the expected time of scale-fit's plan (:func:`.scale.seconds`):
    when less is left, scale-fit alone gets that much, up to :data:`PLAN_GRACE_S` past
    ``timeout_ms`` less the reserve, for the whole plan a little late rather than a part
    of it on time (20,001 pods at ``timeout_ms`` 1000: 701 pods placed by a scale-fit cut
    short at ``timeout_ms``, 3,827 by the whole of it). Best-greedy would try no other
    rule after it, and would check its plan once more (0.07 s for 20,000 pods).
    """
    left = started + request.timeout_s - time.monotonic()
    if left - RESERVE_S >= max(EXACT_MIN_S, plan_s):
        return "auto", left - RESERVE_S
    limit = max(GREEDY_MIN_S, left)
    if plan_s <= limit:
        return "best-greedy", limit
    return "scale-fit", max(limit, min(plan_s, left + PLAN_GRACE_S - RESERVE_S))


def solve_request(request: Request, started: float) -> dict[str, Any]:
    """Solve within the request's time and write the plan in the plugin's terms.

    The solve runs in a thread of its own; should it still run at ``timeout_ms``
    (a machine so busy that its own limit and watchdog come late; or
    :data:`GREEDY_MIN_S` after it started, when that is later), it is asked to
    stop and the answer is its best verified incumbent so far, or the cluster as
    it is, with an ``error`` line saying so. A solve that fails answers the cluster
    as it is and says why.
    """
    from optsched.deadline import StopRequest
    from optsched.params import SolveParams
    from optsched.problems.pods import scale
    from optsched.registry import family_of
    from optsched.result import Result
    from optsched.solve import solve

    family_of(request.instance)  # the pods family and its solvers, before the limit is set
    now = as_is(request)  # before the solve: the answer then has less to do
    plan_s = scale.seconds(request.instance)
    if time.monotonic() + plan_s > started + request.timeout_s + PLAN_GRACE_S:
        return _no_plan(LATE, f"timeout_ms would pass before scale-fit placed the "
                              f"{len(request.pods)} pods read; no plan", started)
    solver, limit = time_left(request, started, plan_s)
    ends = max(started + request.timeout_s, time.monotonic() + limit)  # see GREEDY_MIN_S
    stop, done, first = StopRequest(), threading.Event(), threading.Event()
    best: list[Result] = []  # the verified incumbents, in order
    out: list[Any] = []

    def found(result: Result) -> None:
        best.append(result)
        first.set()

    def run() -> None:
        try:
            out.append(solve(request.instance, solver, SolveParams(time_limit=limit, workers=1),
                             stop=stop, on_progress=found))
        except Exception as exc:  # a solver bug: keep the cluster as it is, say why
            out.append(exc)
        finally:
            done.set()
            first.set()  # a solve that ends without telling of a plan ends the wait too

    threading.Thread(target=run, name="plugin-solve", daemon=True).start()
    finished = done.wait(max(0.0, ends - time.monotonic()))
    if not finished:  # no plan yet: wait a little longer for the first (PLAN_GRACE_S)
        first.wait(max(0.0, started + request.timeout_s + PLAN_GRACE_S - time.monotonic()))
        finished = done.is_set()
    if not finished:
        stop.set()
        last = best[-1] if best else None
        return respond(request, last.solution if last else None,
                       last.objective if last else None, "feasible", started,
                       f"solver: {solver} still ran at timeout_ms; the best plan verified "
                       "by then", now)
    result = out[0]
    if isinstance(result, Exception):
        return respond(request, None, None, "", started, f"solver: {type(result).__name__}: "
                                                         f"{result}"[:500], now)
    return respond(request, result.solution, result.objective, result.status.value, started,
                   "", now)


def as_is(request: Request) -> tuple[Any, int]:
    """The cluster as it is and its objective: the weight of each pending pod's level.

    It is always valid: :func:`.request.read` refuses a node its running pods overfill,
    and the plugin sends no selectors, taints or anti-affinity. Summed here, not checked:
    the checker took 0.2-0.4 s on 20,000 pods (``tests`` compare the two).
    """
    from optsched.problems.pods.solution import as_it_is

    instance = request.instance
    levels = dict(zip(instance.priorities, instance.weights[0], strict=True))
    value = sum(levels[g.priority] * g.replicas for g in instance.groups if g.node is None)
    return as_it_is(instance), value


def respond(request: Request, solution: Any, objective: float | None, status: str,
            started: float, error: str = "", now: tuple[Any, int] | None = None
            ) -> dict[str, Any]:
    """The plugin's answer from a solve's verified solution (None: none was found).

    A solution that scores below the cluster as it is, or none, gives the
    cluster as it is (status ``FEASIBLE``): the answer is never worse than it. ``now`` is
    :func:`as_is`, made before the solve when known.
    """
    from optsched.problems.pods.solution import PodsSolution

    now_solution, now_value = as_is(request) if now is None else now
    better = objective is not None and objective <= now_value
    if not (isinstance(solution, PodsSolution) and better):
        solution, objective, status = now_solution, now_value, "feasible"
    out: dict[str, Any] = {"status": status.upper(), **_plan(request, solution.assignment),
                           "phases": [], "duration_ms": _ms(started)}
    if request.preemptor is not None and solution.assignment.get(request.preemptor) is None:
        why = _preemptor(request, solution, objective, status, out)
        if why:
            out["error"] = why
    if error:
        out["error"] = error
    return out


def _preemptor(request: Request, solution: Any, objective: float | None, status: str,
               out: dict[str, Any]) -> str:
    """Place the pending preemptor where a pod of its priority stands, or say why not.

    ``out`` takes the plan with the preemptor when it fits there and the checker
    finds it scores the same; else the answer is the ``error`` line.
    """
    from optsched.problems.pods.evaluate import evaluate
    from optsched.problems.pods.solution import make

    assert request.preemptor is not None
    swapped = swap(request.pods, request.nodes, request.preemptor, solution.assignment)
    if swapped is not None:
        plan = make(request.instance, swapped)
        checked = evaluate(request.instance, plan)
        if checked.feasible and checked.objective == objective:
            out.update(_plan(request, plan.assignment))
            return ""
    return why_not(request.pods, request.nodes, request.preemptor, status == "optimal")


def _plan(request: Request, assignment: Mapping[str, str | None]) -> dict[str, Any]:
    placements, evictions = [], []
    for uid, pod in request.pods.items():
        node = assignment.get(uid)
        if node is None and pod.node:
            evictions.append({"uid": uid, "namespace": pod.namespace, "name": pod.name,
                              "node": pod.node})
        elif node is not None and node != pod.node:
            placements.append({"uid": uid, "namespace": pod.namespace, "name": pod.name,
                               "old_node": pod.node, "node": node})
    return {"placements": placements, "evictions": evictions}


def _ms(started: float) -> int:
    return round(1000 * (time.monotonic() - started))
