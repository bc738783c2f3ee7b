"""The scheduler plugin's contract: ``cli/priority_optimizer.py`` and ``pods.plugin.answer``.

Each answer is checked here independently of the family: protected pods stay put, no
node's cpu or memory is exceeded, every pod named exists, a preemptor is placed (or the
answer says why not).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from optsched import Result, Status
from optsched.errors import InputError
from optsched.problems.pods import plugin
from optsched.problems.pods.solution import PodsSolution

from ....conftest import REPO

SCRIPT = REPO / "cli" / "priority_optimizer.py"
GIB = 1 << 30
CONTRACT: dict[str, Any] = {"solver_input": {
    "preemptor": {"uid": "u9", "namespace": "default", "name": "web-7", "req_cpu_m": 500,
                  "req_mem_bytes": 268435456, "priority": 100},
    "nodes": [{"name": "n1", "cap_cpu_m": 4000, "cap_mem_bytes": 8 * GIB},
              {"name": "n2", "cap_cpu_m": 4000, "cap_mem_bytes": 8 * GIB}],
    "pods": [{"uid": "u1", "namespace": "default", "name": "batch-0", "req_cpu_m": 2000,
              "req_mem_bytes": GIB, "priority": 10, "node": "n1"},
             {"uid": "u2", "namespace": "kube-system", "name": "dns-0", "req_cpu_m": 100,
              "req_mem_bytes": 73400320, "priority": 2000000000, "protected": True,
              "node": "n2"},
             {"uid": "u3", "namespace": "default", "name": "web-6", "req_cpu_m": 500,
              "req_mem_bytes": 268435456, "priority": 100}],
    "timeout_ms": 5000},
    "solver_options": {"gap_limit": 0.0}}
"""The contract's example: two pending pods of 500m fit either node (n1 has 2000m free,
n2 3900m); nothing needs to move or leave."""


def _contract_checker() -> Callable[[Mapping[str, Any], Mapping[str, Any]],
                                    dict[str, str | None]]:
    """The benchmark's checker of the contract (``benchmarks/pods/plugin.py``, standard
    library only): one independent checker for the tests and the benchmark."""
    spec = importlib.util.spec_from_file_location("plugin_benchmark",
                                                  REPO / "benchmarks" / "pods" / "plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checker: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, str | None]] = (
        module.final)
    return checker


check = _contract_checker()
"""The plan's final node of every pod, after checking it against the contract."""


def test_the_contract_example() -> None:
    """Both pending pods are placed, nothing moves or leaves: OPTIMAL."""
    out = plugin.answer(CONTRACT, time.monotonic())
    where = check(CONTRACT, out)
    assert out["status"] == "OPTIMAL" and out["evictions"] == []
    assert where["u9"] is not None and where["u3"] is not None
    assert {m["uid"] for m in out["placements"]} == {"u3", "u9"}


def test_a_preemptor_evicts_a_lower_priority_pod() -> None:
    """One node of 1000m runs low (800m, priority 1); the preemptor (500m, priority 100)
    fits only if low leaves: the plan evicts low and places the preemptor (placing a
    priority-100 pod outranks keeping a priority-1 one)."""
    request = {"solver_input": {
        "nodes": [{"name": "n1", "cap_cpu_m": 1000, "cap_mem_bytes": GIB}],
        "pods": [{"uid": "low", "name": "low", "req_cpu_m": 800, "priority": 1,
                  "node": "n1"}],
        "preemptor": {"uid": "p", "name": "p", "req_cpu_m": 500, "priority": 100},
        "timeout_ms": 5000}}
    out = plugin.answer(request, time.monotonic())
    where = check(request, out)
    assert (where["p"], where["low"]) == ("n1", None)
    assert "error" not in out


def test_a_preemptor_that_cannot_fit_is_explained() -> None:
    """The node (1000m) runs a priority-100 pod of 800m; a preemptor of the same priority
    (500m) may not evict it: not placed, and the answer says why."""
    request = {"solver_input": {
        "nodes": [{"name": "n1", "cap_cpu_m": 1000}],
        "pods": [{"uid": "peer", "req_cpu_m": 800, "priority": 100, "node": "n1"}],
        "preemptor": {"uid": "p", "req_cpu_m": 500, "priority": 100},
        "timeout_ms": 5000}}
    out = plugin.answer(request, time.monotonic())
    where = check(request, out)
    assert where["p"] is None and where["peer"] == "n1"
    assert out["status"] == "OPTIMAL"
    assert out["error"].startswith("preemptor p: not placed; no plan that places it scores")


def test_a_preemptor_beside_protected_pods_is_explained() -> None:
    """n1 (1000m) runs a protected pod of 600m; the preemptor asks 500m > 400m: no node
    can ever hold it, whatever is evicted, and the answer says that."""
    request = {"solver_input": {
        "nodes": [{"name": "n1", "cap_cpu_m": 1000}],
        "pods": [{"uid": "dns", "req_cpu_m": 600, "priority": 7, "node": "n1",
                  "protected": True}],
        "preemptor": {"uid": "p", "req_cpu_m": 500, "priority": 100},
        "timeout_ms": 5000}}
    out = plugin.answer(request, time.monotonic())
    assert check(request, out)["p"] is None
    assert out["error"] == "preemptor p: no node has room for it beside its protected pods"


@pytest.mark.parametrize("pending", ["a", "z"])
def test_the_preemptor_takes_the_room_of_a_pending_pod_of_its_priority(pending: str) -> None:
    """n1 (1000m) runs r (500m); room for one more 500m pod. The pending pod (named before
    or after the preemptor, so no tie-break by name helps) and the preemptor both ask
    500m at priority 100: either placed scores the same (one more pod at 100, nothing
    evicted or moved), and the answer places the preemptor."""
    request = {"solver_input": {
        "nodes": [{"name": "n1", "cap_cpu_m": 1000}],
        "pods": [{"uid": pending, "req_cpu_m": 500, "priority": 100},
                 {"uid": "r", "req_cpu_m": 500, "priority": 100, "node": "n1"}],
        "preemptor": {"uid": "p", "req_cpu_m": 500, "priority": 100},
        "timeout_ms": 5000}}
    out = plugin.answer(request, time.monotonic())
    where = check(request, out)
    assert (where["p"], where[pending], where["r"]) == ("n1", None, "n1")
    assert out["status"] == "OPTIMAL" and "error" not in out


def test_the_greedy_rules_may_use_the_reserve() -> None:
    """With 5 s left the exact solvers get 5 - RESERVE_S; with 0.4 s (0.25 s after the
    reserve, below EXACT_MIN_S) the greedy rules get all of it (each stops at its
    deadline, and the answer comes at timeout_ms whatever the solve does)."""
    request = plugin.read(CONTRACT)  # timeout_ms 5000
    now = time.monotonic()
    solver, limit = plugin.time_left(request, now)
    assert solver == "auto" and 5 - plugin.RESERVE_S - 0.1 < limit <= 5 - plugin.RESERVE_S
    solver, limit = plugin.time_left(request, now - 4.6)
    assert solver == "best-greedy" and 0.3 < limit <= 0.4
    solver, limit = plugin.time_left(request, now - 6)  # past timeout_ms
    assert solver == "best-greedy" and limit == plugin.GREEDY_MIN_S


def test_scale_fit_gets_its_plan_s_up_to_the_grace() -> None:
    """0.4 s left and scale-fit expected to take 0.6 s: it runs alone (no time for another
    rule after it) and gets 0.6 s, 0.2 s past timeout_ms (within PLAN_GRACE_S less
    RESERVE_S, 0.2 s); expected 2 s, it gets 0.4 + 0.2, the answer's reserve kept. With
    1 s left and 0.9 s expected, 1 - RESERVE_S (0.85 s) is too little for the exact
    solvers' hint: the greedy rules get the whole second. With 5 s left, auto as before."""
    request = plugin.read(CONTRACT)  # timeout_ms 5000
    now = time.monotonic()
    solver, limit = plugin.time_left(request, now - 4.6, plan_s=0.6)
    assert solver == "scale-fit" and 0.59 < limit <= 0.6
    solver, limit = plugin.time_left(request, now - 4.6, plan_s=2.0)
    assert solver == "scale-fit" and 0.5 < limit <= 0.4 + plugin.PLAN_GRACE_S - plugin.RESERVE_S
    solver, limit = plugin.time_left(request, now - 4.0, plan_s=0.9)
    assert solver == "best-greedy" and 0.9 < limit <= 1.0
    solver, limit = plugin.time_left(request, now, plan_s=0.9)
    assert solver == "auto" and 4.75 < limit <= 5 - plugin.RESERVE_S


def test_a_timeout_shorter_than_the_start_up_still_gets_a_plan() -> None:
    """timeout_ms 1, and the process started 0.15 s ago (within READ_GRACE_S, 0.2 s): the
    greedy rules still get GREEDY_MIN_S and place both pending pods of the example (no
    ``still ran`` error), answering less than a second late. Started 0.3 s ago, the
    input is read too late for a plan: UNKNOWN, at once."""
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["timeout_ms"] = 1
    started = time.monotonic() - 0.15
    out = plugin.answer(request, started)
    where = check(request, out)
    assert where["u3"] is not None and where["u9"] is not None and "error" not in out
    assert time.monotonic() - started < 0.15 + plugin.GREEDY_MIN_S + 0.5
    late = plugin.answer(request, time.monotonic() - 0.3)
    assert late["status"] == "UNKNOWN" and late["placements"] == []


def test_the_instance_is_the_one_the_json_reader_builds() -> None:
    """:data:`CONTRACT` read by the plugin equals the same cluster written in the family's
    JSON (``formats.md``) and read by ``from_dict``: nodes of 4000m and 8 GiB with 4 pod
    slots (the three pods and the preemptor, plus one: the plugin sends no pod limit),
    u1 running on n1, u2 running protected on n2, u3 and the preemptor u9 pending."""
    from optsched.problems.pods.instance import from_dict

    node = {"cpu": "4000m", "memory": 8 * GIB, "pods": 5}
    expected = from_dict({"name": "plugin", "nodes": [
        {"name": "n1", "allocatable": node}, {"name": "n2", "allocatable": node}], "pods": [
        {"name": "u1", "priority": 10, "requests": {"cpu": "2000m", "memory": GIB},
         "node": "n1"},
        {"name": "u2", "priority": 2000000000, "node": "n2", "protected": True,
         "requests": {"cpu": "100m", "memory": 73400320}},
        {"name": "u3", "priority": 100, "requests": {"cpu": "500m", "memory": 268435456}},
        {"name": "u9", "priority": 100, "requests": {"cpu": "500m", "memory": 268435456}}]})
    assert plugin.read(CONTRACT).instance == expected


def test_whole_numbers_written_with_a_fraction_are_read() -> None:
    """``500.0`` is the integer 500 (JSON does not tell them apart); 500.5 is refused."""
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["pods"][2]["req_cpu_m"] = 500.0
    request["solver_input"]["timeout_ms"] = 5000.0
    assert plugin.read(request).pods["u3"].cpu == 500
    request["solver_input"]["pods"][2]["req_cpu_m"] = 500.5
    with pytest.raises(InputError, match="500.5"):
        plugin.read(request)


def test_the_lowest_32_bit_priority_is_read() -> None:
    """Priorities are 32-bit: -2^31 is one (2^31 is refused: the bad-input test)."""
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["pods"][0]["priority"] = -(2**31)
    out = plugin.answer(request, time.monotonic())
    assert out["status"] == "OPTIMAL" and check(request, out)["u1"] == "n1"


def test_an_int64_capacity_is_read() -> None:
    """A node's memory of 2^63 - 1 bytes (the plugin's int64 allows it) is more than all
    the pods ask, so it is cut to what they ask and the example is solved as before."""
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["nodes"][0]["cap_mem_bytes"] = 2**63 - 1
    out = plugin.answer(request, time.monotonic())
    assert out["status"] == "OPTIMAL" and check(request, out)["u3"] is not None


def test_a_pending_protected_pod_is_placed() -> None:
    """The plugin marks every kube-system pod protected, pending ones too: only a running
    protected pod must stay, so the pending u3 (500m) is placed like any other."""
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["pods"][2]["protected"] = True
    out = plugin.answer(request, time.monotonic())
    assert out["status"] == "OPTIMAL" and check(request, out)["u3"] is not None


def test_an_input_read_past_its_timeout_gets_no_plan() -> None:
    """5,000 pending pods, the process started 10 s before a 1,000 ms limit: the read
    stops at its first look at the clock (pod 1,024) and the answer is UNKNOWN (which
    the plugin ignores) with no plan, at once."""
    pods = [{"uid": f"p{i}", "req_cpu_m": 1} for i in range(5000)]
    request = {"solver_input": {"nodes": [{"name": "n1", "cap_cpu_m": 10}], "pods": pods,
                                "timeout_ms": 1000}}
    began = time.monotonic()
    out = plugin.answer(request, began - 10)
    assert out["status"] == "UNKNOWN" and out["placements"] == []
    assert out["error"].startswith("timeout_ms passed after 1024 of 5000 pods were read")
    assert time.monotonic() - began < 1.0


def test_never_worse_than_the_cluster_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that returns a worse plan (everything evicted) is overruled: the answer
    keeps the cluster as it is (u1 and u2 stay; the pending pods are left out)."""
    module = importlib.import_module("optsched.solve")  # the package exports a function

    def worse(instance: Any, *_args: Any, **_kwargs: Any) -> Result:
        empty = PodsSolution({g.name: None for g in instance.groups}, (), ())
        return Result(status=Status.FEASIBLE, solver="fake", solution=empty, objective=10**30)

    monkeypatch.setattr(module, "solve", worse)
    out = plugin.answer(CONTRACT, time.monotonic())
    assert out["status"] == "FEASIBLE"
    assert out["evictions"] == [] and out["placements"] == []


def test_a_solve_that_fails_keeps_the_cluster_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that raises (as an OverflowError once did on a wide objective): the
    answer is the cluster as it is, FEASIBLE, with the error on its one line."""
    module = importlib.import_module("optsched.solve")

    def crash(*_args: Any, **_kwargs: Any) -> Result:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(module, "solve", crash)
    out = plugin.answer(CONTRACT, time.monotonic())
    assert out["status"] == "FEASIBLE" and out["placements"] == [] == out["evictions"]
    assert out["error"] == "solver: OverflowError: int too large to convert to float"


@pytest.mark.parametrize("reports", [True, False])
def test_a_solve_that_ignores_its_limit_is_not_waited_for(
        monkeypatch: pytest.MonkeyPatch, reports: bool) -> None:
    """A stand-in solver that runs on past its limit (until its stop request, at most
    20 s), after reporting a verified incumbent that places both pending pods on n2 (3900m
    free, two of 500m fit) or reporting nothing. With timeout_ms 500 the answer comes at
    0.5 s, not 20: the incumbent's plan (two placements), or the cluster as it is (none),
    an error line saying the solver still ran, and the solve asked to stop."""
    module = importlib.import_module("optsched.solve")
    asked: list[bool] = []

    def late(instance: Any, *_args: Any, stop: Any = None, on_progress: Any = None,
             **_kwargs: Any) -> Result:
        where = {g.name: g.node for g in instance.groups}
        where.update(u3="n2", u9="n2")
        if reports:
            on_progress(Result(status=Status.FEASIBLE, solver="late",
                               solution=PodsSolution(where, (), ()), objective=0))
        ends = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < ends:
            time.sleep(0.01)
        asked.append(stop.is_set())
        return Result(status=Status.NO_SOLUTION, solver="late")

    monkeypatch.setattr(module, "solve", late)
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["timeout_ms"] = 500
    started = time.monotonic()
    out = plugin.answer(request, started)
    assert time.monotonic() - started < 1.0
    assert out["status"] == "FEASIBLE" and "still ran at timeout_ms" in out["error"]
    assert {(p["uid"], p["node"]) for p in out["placements"]} == (
        {("u3", "n2"), ("u9", "n2")} if reports else set())
    assert out["evictions"] == []
    check(request, out)
    ends = time.monotonic() + 5
    while not asked and time.monotonic() < ends:
        time.sleep(0.01)
    assert asked == [True]


def test_a_first_plan_after_timeout_ms_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in solver that reports its first plan (u3 and u9 on n2) 0.1 s after a
    500 ms timeout_ms, then runs on until asked to stop: the answer waits for that plan
    (up to PLAN_GRACE_S, 0.35 s past timeout_ms) and gives it, not the cluster as it is."""
    module = importlib.import_module("optsched.solve")
    started = time.monotonic()

    def slow(instance: Any, *_args: Any, stop: Any = None, on_progress: Any = None,
             **_kwargs: Any) -> Result:
        time.sleep(max(0.0, started + 0.6 - time.monotonic()))
        where = {g.name: g.node for g in instance.groups}
        where.update(u3="n2", u9="n2")
        on_progress(Result(status=Status.FEASIBLE, solver="slow",
                           solution=PodsSolution(where, (), ()), objective=0))
        ends = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < ends:
            time.sleep(0.01)
        return Result(status=Status.NO_SOLUTION, solver="slow")

    monkeypatch.setattr(module, "solve", slow)
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["timeout_ms"] = 500
    out = plugin.answer(request, started)
    assert 0.6 <= time.monotonic() - started < 0.5 + plugin.PLAN_GRACE_S + 0.1
    assert {(p["uid"], p["node"]) for p in out["placements"]} == {("u3", "n2"), ("u9", "n2")}
    check(request, out)


def test_a_solve_ending_in_the_grace_is_answered_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in solver that tells of no incumbent (as scale-fit alone) and returns its
    plan (u3 and u9 on n2) 0.1 s after a 500 ms timeout_ms: the answer is that plan as
    soon as it returns, 0.6 s after the start, not at the end of PLAN_GRACE_S (0.85 s)."""
    module = importlib.import_module("optsched.solve")
    started = time.monotonic()

    def quiet(instance: Any, *_args: Any, **_kwargs: Any) -> Result:
        time.sleep(max(0.0, started + 0.6 - time.monotonic()))
        where = {g.name: g.node for g in instance.groups}
        where.update(u3="n2", u9="n2")
        return Result(status=Status.FEASIBLE, solver="quiet", objective=0,
                      solution=PodsSolution(where, (), ()))

    monkeypatch.setattr(module, "solve", quiet)
    request = copy.deepcopy(CONTRACT)
    request["solver_input"]["timeout_ms"] = 500
    out = plugin.answer(request, started)
    assert 0.6 <= time.monotonic() - started < 0.5 + plugin.PLAN_GRACE_S - 0.1
    assert {(p["uid"], p["node"]) for p in out["placements"]} == {("u3", "n2"), ("u9", "n2")}
    assert "error" not in out
    check(request, out)


def test_no_plan_when_scale_fit_would_end_too_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale-fit, the first of the greedy rules, expected to take 10 s where 5 s are left:
    the answer is UNKNOWN at once (the plugin ignores it), not the cluster as it is
    after the wait (20,000 pods on 1,000 nodes at timeout_ms 1000 were answered 0.5 s
    late that way)."""
    from optsched.problems.pods import scale

    monkeypatch.setattr(scale, "seconds", lambda instance: 10.0)
    started = time.monotonic()
    out = plugin.answer(CONTRACT, started)  # timeout_ms 5000
    assert time.monotonic() - started < 1.0
    assert out["status"] == "UNKNOWN" and out["placements"] == [] == out["evictions"]
    assert "before scale-fit placed the 4 pods read" in out["error"]


@pytest.mark.parametrize("seed", range(5))
def test_the_cluster_as_it_is_scores_as_the_checker_scores_it(seed: int) -> None:
    """The answer's value of the cluster as it is (pending pods times their level's
    weight) equals the checker's, on random states: 4 nodes of 4000m and 8 GiB, 12 pods
    of 3 priorities with requests of 300-1500m, each running (where it fits) or pending,
    some protected. On CONTRACT: u3 and u9 pending at priority 100, level 1 of 3, whose
    weight is (1 + 1 eviction)(1 + 1) x (1 + 1 pod at priority 10) = 8: 16."""
    import random

    from optsched.problems.pods.evaluate import evaluate

    assert plugin.as_is(plugin.read(CONTRACT))[1] == 16
    rng = random.Random(seed)
    nodes = [{"name": f"n{j}", "cap_cpu_m": 4000, "cap_mem_bytes": 8 * GIB} for j in range(4)]
    free = {n["name"]: 4000 for n in nodes}
    pods = []
    for i in range(12):
        cpu = rng.randint(300, 1500)
        pod: dict[str, Any] = {"uid": f"p{i}", "req_cpu_m": cpu, "req_mem_bytes": GIB,
                               "priority": rng.choice([0, 10, 1000])}
        node = rng.choice([*free, None])
        if node is not None and free[node] >= cpu:
            free[node] -= cpu
            pod.update(node=node, protected=rng.random() < 0.3)
        pods.append(pod)
    request = plugin.read({"solver_input": {"nodes": nodes, "pods": pods}})
    solution, value = plugin.as_is(request)
    assert value == evaluate(request.instance, solution).objective


def run(text: str) -> subprocess.CompletedProcess[str]:
    """The script in a fresh process, as the plugin runs it."""
    return subprocess.run([sys.executable, str(SCRIPT)], input=text, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["solver_input"]["pods"][0].pop("uid"), "solver_input.pods[0].uid"),
    (lambda d: d["solver_input"]["pods"][0].update(req_cpu_m=-5),
     "solver_input.pods[0].req_cpu_m"),
    (lambda d: d["solver_input"]["pods"][0].update(node="n9"), "solver_input.pods[0].node"),
    (lambda d: d["solver_input"]["pods"][1].update(uid="u1"), "solver_input.pods[1].uid"),
    (lambda d: d["solver_input"]["preemptor"].update(uid="u3"),
     "solver_input.preemptor.uid"),
    (lambda d: d["solver_input"].update(timeout_ms=-1), "solver_input.timeout_ms"),
    (lambda d: d["solver_input"]["nodes"].append({"name": "n1"}),
     "solver_input.nodes[2].name"),
    (lambda d: d.pop("solver_input"), "solver_input"),
    (lambda d: d["solver_input"].update(preemptor=[]), "solver_input.preemptor"),
    (lambda d: d["solver_input"]["pods"][0].update(req_cpu_m=None),
     "solver_input.pods[0].req_cpu_m"),
    (lambda d: d["solver_input"]["pods"][0].update(priority=2**31),
     "solver_input.pods[0].priority"),
    (lambda d: d["solver_input"]["nodes"][0].update(cap_cpu_m=1000),  # u1 runs 2000m
     "solver_input.nodes[0].cap_cpu_m"),
])
def test_bad_input_is_a_status_and_one_line(change: Any, field: str) -> None:
    """Each bad field: status MODEL_INVALID (the plugin ignores it), ``error`` naming the
    field, exit 0, no traceback, in a fresh process."""
    request = copy.deepcopy(CONTRACT)
    change(request)
    done = run(json.dumps(request))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "MODEL_INVALID" and out["error"].startswith(field + ":"), out
    assert "\n" not in out["error"]


@pytest.mark.parametrize(("text", "problem"), [
    ("{not json", "input: is not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "input: is not valid JSON: nests too deeply"),
    ('{"solver_input": {"timeout_ms": NaN}}', "solver_input.timeout_ms: must be"),
])
def test_input_that_is_not_json_is_a_status(text: str, problem: str) -> None:
    """Broken JSON, JSON nested past Python's recursion limit, a constant JSON does not
    have (Python reads it; the field's check refuses it)."""
    done = run(text)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "MODEL_INVALID" and out["error"].startswith(problem), out


def test_input_past_the_size_limit_is_a_status(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The script reads at most ``reading.MAX_BYTES`` (128 MiB; 100 bytes here): more is
    refused, not read into memory."""
    from optsched import reading

    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)  # the script's
    spec = importlib.util.spec_from_file_location("priority_optimizer", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(reading, "MAX_BYTES", 100)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b" " * 101)))
    assert script.main() == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "MODEL_INVALID"
    assert out["error"] == "input: holds more than 100 bytes"


def test_the_script_answers_the_example() -> None:
    """The same answer as the function, through stdin and stdout."""
    done = run(json.dumps(CONTRACT))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    check(CONTRACT, out)
    assert out["status"] == "OPTIMAL" and len(out["placements"]) == 2


def test_the_script_runs_cp_sat_with_a_stand_in_for_pandas() -> None:
    """In a fresh process the script's stand-in for pandas lets CP-SAT's module import and
    solve (x + y >= 3 over [0, 10], minimise x + 2y: x = 3, y = 0, value 3) without pandas
    itself; asking the stand-in for anything else (``DataFrame``) imports pandas, which
    replaces it. The contract's example, answered by the script: OPTIMAL, no error."""
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("script", {str(SCRIPT)!r})
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
script._without_pandas()
from ortools.sat.python import cp_model
m = cp_model.CpModel(); x = m.new_int_var(0, 10, "x"); y = m.new_int_var(0, 10, "y")
m.add(x + y >= 3); m.minimize(x + 2 * y)
s = cp_model.CpSolver(); s.parameters.num_workers = 1
real = lambda: "__file__" in vars(sys.modules["pandas"])
print(s.solve(m) == cp_model.OPTIMAL, s.objective_value, real())
import pandas
print(pandas.DataFrame.__name__, real())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "3.0", "False", "DataFrame", "True"]
    out = json.loads(run(json.dumps(CONTRACT)).stdout)
    assert out["status"] == "OPTIMAL" and "error" not in out


def test_on_read_is_called_once_the_input_is_read() -> None:
    """The script's hook (the garbage collector back on) runs once per answer, between the
    read and the solve; a bad input is refused before it."""
    calls: list[float] = []
    out = plugin.answer(CONTRACT, time.monotonic(), on_read=lambda: calls.append(1))
    assert calls == [1] and out["status"] == "OPTIMAL"
    bad = copy.deepcopy(CONTRACT)
    bad["solver_input"]["pods"][0]["req_cpu_m"] = -1
    out = plugin.answer(bad, time.monotonic(), on_read=lambda: calls.append(2))
    assert calls == [1] and out["status"] == "MODEL_INVALID"
