"""The "Priority Matters" scheduler plugin's solver contract, answered by optsched's pods models.

The plugin (MyPriorityOptimizer) runs a solver process, writes one JSON
object on its stdin and reads one from its stdout
(``../shared/docs/priority-optimizer-contract.md``; the plugin's code is the
authority). :func:`answer` turns the plugin's input into a pods instance
(cpu and memory; every pod named by its ``uid``; protected pods stay put; the
preemptor a pending pod), solves it with ``auto`` within ``timeout_ms`` from
the process's start, and returns the plugin's output: the placements of
pending pods and the moves of running ones, the evictions. The plan is never
worse than the cluster as it is (lexicographic: pods placed by priority,
highest first, then fewer evictions, then fewer moves). A bad input is a
status the plugin ignores (``MODEL_INVALID``) and one ``error`` line naming
the field; nothing raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optsched.errors import InputError, OptschedError
from optsched.fields import excerpt, is_int, type_name

RESERVE_S = 0.3
"""Seconds of ``timeout_ms`` kept for reading, checking and writing the answer."""
DEFAULT_TIMEOUT_MS = 16_000
"""The plugin's default ``timeout_ms``."""
INVALID = "MODEL_INVALID"
"""The status of an input the solver refuses (the plugin ignores it, as every status but
OPTIMAL and FEASIBLE)."""
MAX_REQUEST = 1 << 62
EXACT_MIN_S = 1.0
"""Seconds left below which the answer comes from the greedy solvers alone (loading
OR-Tools takes about half a second of a fresh process)."""


@dataclass(frozen=True)
class Pod:
    """A pod of the input, as the output names it."""

    uid: str
    namespace: str
    name: str
    node: str


@dataclass(frozen=True)
class Request:
    """The plugin's input, checked: the pods instance and what the answer needs."""

    instance: Any
    pods: Mapping[str, Pod]
    preemptor: str | None
    timeout_s: float


def answer(obj: object, started: float) -> dict[str, Any]:
    """The plugin's output for its input ``obj``.

    ``started`` is ``time.monotonic()`` at the process's start: the deadline is
    ``timeout_ms`` from then, less :data:`RESERVE_S`.
    """
    try:
        request = read(obj)
    except InputError as exc:
        return refusal(exc, started)
    return solve_request(request, started)


def refusal(exc: InputError, started: float) -> dict[str, Any]:
    """The answer to a bad input: a status the plugin ignores and one line naming the field."""
    return {"status": INVALID, "error": f"{exc.field}: {exc.problem}", "placements": [],
            "evictions": [], "phases": [], "duration_ms": _ms(started)}


def time_left(request: Request, started: float) -> tuple[str, float]:
    """The solver and the time limit the request leaves (greedy alone when short)."""
    left = started + request.timeout_s - RESERVE_S - time.monotonic()
    return ("auto" if left >= EXACT_MIN_S else "best-greedy"), max(0.05, left)


def solve_request(request: Request, started: float) -> dict[str, Any]:
    """Solve within the request's time and write the plan in the plugin's terms.

    The solve runs in a thread of its own; should it still run at ``timeout_ms``
    (a machine so busy that its own limit and watchdog come late), it is asked to
    stop and the answer is its best verified incumbent so far, or the cluster as
    it is, with an ``error`` line saying so.
    """
    from optsched.deadline import StopRequest
    from optsched.params import SolveParams
    from optsched.registry import family_of
    from optsched.result import Result
    from optsched.solve import solve

    family_of(request.instance)  # finding the families (0.15 s) before the limit is set
    solver, limit = time_left(request, started)
    stop, done = StopRequest(), threading.Event()
    best: list[Result] = []  # the verified incumbents, in order
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(solve(request.instance, solver, SolveParams(time_limit=limit, workers=1),
                             stop=stop, on_progress=best.append))
        except OptschedError as exc:  # a solver bug: keep the cluster as it is
            out.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="plugin-solve", daemon=True).start()
    if not done.wait(max(0.0, started + request.timeout_s - time.monotonic())):
        stop.set()
        last = best[-1] if best else None
        return respond(request, last.solution if last else None,
                       last.objective if last else None, "feasible", started,
                       f"solver: {solver} still ran at timeout_ms; the best plan verified "
                       "by then")
    result = out[0]
    if isinstance(result, OptschedError):
        return respond(request, None, None, "", started, f"solver: {result}")
    return respond(request, result.solution, result.objective, result.status.value, started)


def respond(request: Request, solution: Any, objective: float | None, status: str,
            started: float, error: str = "") -> dict[str, Any]:
    """The plugin's answer from a solve's verified solution (None: none was found).

    A solution that scores below the cluster as it is, or none, gives the
    cluster as it is (status ``FEASIBLE``): the answer is never worse than it.
    """
    from optsched.problems.pods.evaluate import evaluate
    from optsched.problems.pods.solution import PodsSolution, as_it_is

    now = as_it_is(request.instance)
    now_value = evaluate(request.instance, now).objective
    better = now_value is None or (objective is not None and objective <= now_value)
    if not (isinstance(solution, PodsSolution) and better):
        solution, status = now, "feasible"
    out: dict[str, Any] = {"status": status.upper(), **_plan(request, solution.assignment),
                           "phases": [], "duration_ms": _ms(started)}
    if request.preemptor is not None and solution.assignment.get(request.preemptor) is None:
        out["error"] = (f"preemptor {request.preemptor}: no node has room for it without "
                        "evicting pods of its priority or higher")
    if error:
        out["error"] = error
    return out


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


def read(obj: object) -> Request:
    """Check the plugin's input and build the pods instance; a bad field raises naming it."""
    from optsched.problems.pods.instance import from_dict

    if not isinstance(obj, Mapping) or not isinstance(obj.get("solver_input"), Mapping):
        raise InputError("solver_input", "must be a JSON object (the plugin's input)")
    data = obj["solver_input"]
    nodes = _list(data, "nodes", "solver_input")
    names: dict[str, int] = {}
    out_nodes: list[dict[str, Any]] = []
    for i, node in enumerate(nodes):
        where = f"solver_input.nodes[{i}]"
        name = _text(node, "name", where, required=True)
        if name in names:
            raise InputError(f"{where}.name", f"{excerpt(name)} is listed twice")
        names[name] = i
        cpu, mem = _amount(node, "cap_cpu_m", where), _amount(node, "cap_mem_bytes", where)
        out_nodes.append({"name": name, "allocatable": {"cpu": f"{cpu}m", "memory": mem,
                                                        "pods": 0}})
    raw = [(f"solver_input.pods[{i}]", p) for i, p in enumerate(_list(data, "pods",
                                                                        "solver_input"))]
    preemptor = data.get("preemptor")
    if preemptor is not None:
        raw.append(("solver_input.preemptor", preemptor))
    pods: dict[str, Pod] = {}
    groups = []
    for where, pod in raw:
        uid = _text(pod, "uid", where, required=True)
        if uid in pods:
            raise InputError(f"{where}.uid", f"{excerpt(uid)} is used by another pod")
        node = _text(pod, "node", where)
        if node and node not in names:
            raise InputError(f"{where}.node", f"{excerpt(node)} is not a listed node")
        if where.endswith("preemptor") and node:
            raise InputError(f"{where}.node", "the preemptor is pending: it has no node")
        protected = pod.get("protected", False)
        if not isinstance(protected, bool):
            raise InputError(f"{where}.protected", f"must be true or false, got "
                                                   f"{type_name(protected)}")
        priority = pod.get("priority", 0)
        if not is_int(priority) or abs(priority) >= 2**31:
            raise InputError(f"{where}.priority", f"must be a 32-bit integer, got "
                                                  f"{excerpt(priority)}")
        pods[uid] = Pod(uid, _text(pod, "namespace", where), _text(pod, "name", where), node)
        group: dict[str, Any] = {"name": uid, "priority": priority, "requests": {
            "cpu": f"{_amount(pod, 'req_cpu_m', where)}m",
            "memory": _amount(pod, "req_mem_bytes", where)}}
        if node:
            group["node"] = node
            group["protected"] = protected
        elif protected:
            raise InputError(f"{where}.protected", "only a running pod (with a node) can be "
                                                   "protected")
        groups.append(group)
    for node in out_nodes:
        node["allocatable"]["pods"] = len(groups) + 1  # the plugin sends no pod limit
    timeout = data.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    if not is_int(timeout) or not 0 < timeout <= 86_400_000:
        raise InputError("solver_input.timeout_ms", f"must be a positive integer of "
                                                    f"milliseconds, got {excerpt(timeout)}")
    try:
        instance = from_dict({"name": "plugin", "nodes": out_nodes, "pods": groups})
    except InputError as exc:  # e.g. running pods that overfill a node
        raise InputError("solver_input", f"{exc.field}: {exc.problem}") from None
    return Request(instance, pods, None if preemptor is None else _text(
        preemptor, "uid", "solver_input.preemptor"), timeout / 1000)


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        value = []
    if not isinstance(value, list):
        raise InputError(f"{where}.{key}", f"must be a list, got {type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InputError(f"{where}.{key}[{i}]", f"must be an object, got "
                                                    f"{type_name(item)}")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = obj.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"{where}.{key}", f"must be a string, got {type_name(value)}")
    if required and not value:
        raise InputError(f"{where}.{key}", "is missing")
    return value


def _amount(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        value = 0
    if not is_int(value) or not 0 <= value < MAX_REQUEST:
        raise InputError(f"{where}.{key}", f"must be a non-negative integer, got "
                                           f"{excerpt(value)}")
    return int(value)
