"""The scheduler plugin's contract on generated cluster states: valid, on time, better.

Generates seeded cluster states the way the plugin sends them (nodes with cpu and
memory; running pods, some protected in kube-system; pending pods; half of the states
with a preemptor), runs ``cli/priority_optimizer.py`` in a fresh process on each (as the
plugin does), and checks every answer independently of optsched: placements and
evictions name real pods from their real nodes, protected pods stay, no node's cpu or
memory is exceeded, and the plan's score (pods placed per priority, highest first, then
fewer evictions, then fewer moves) is compared with the cluster as it is. A state whose
optimum is strictly better than the cluster as it is (found by ``auto`` with 60 s in this
process: CP-SAT, which proves it, on the default 2 to 12 nodes) must get a strictly better
answer.

Run::

    python benchmarks/pods/plugin.py --states 40 --timeout-ms 2000
    python benchmarks/pods/plugin.py --states 6 --nodes 300 600 --node-scale 4 \
        --timeout-ms 5000 --reference-s 20
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "cli" / "priority_optimizer.py"
GIB = 1 << 30
PRIORITIES = (0, 10, 100, 1000)


def state(seed: int, timeout_ms: int, sizes: tuple[int, int] = (2, 12),
          scale: int = 1) -> dict[str, Any]:
    """A cluster state: ``sizes`` nodes, about 70 % full, pending pods, maybe a preemptor.

    ``scale`` multiplies the nodes' capacities (and so the pods per node).
    """
    rng = random.Random(seed)
    nodes: list[dict[str, Any]] = [
        {"name": f"n{i}", "cap_cpu_m": scale * rng.choice((2000, 4000, 8000)),
         "cap_mem_bytes": scale * rng.choice((4, 8, 16)) * GIB}
        for i in range(rng.randint(*sizes))]
    pods: list[dict[str, Any]] = []
    for node in nodes:
        cpu, mem = node["cap_cpu_m"], node["cap_mem_bytes"]
        if rng.random() < 0.5:
            pods.append({"uid": f"sys-{node['name']}", "namespace": "kube-system",
                         "name": f"dns-{node['name']}", "req_cpu_m": 100,
                         "req_mem_bytes": GIB // 8, "priority": 2000000000,
                         "protected": True, "node": node["name"]})
            cpu, mem = cpu - 100, mem - GIB // 8
        while True:
            c, m = rng.choice((250, 500, 1000, 1500)), rng.choice((1, 2, 4)) * GIB // 4
            if c > cpu * 0.7 or m > mem * 0.7:
                break
            cpu, mem = cpu - c, mem - m
            pods.append(_pod(rng, len(pods), c, m, node["name"]))
    for _ in range(rng.randint(1, 2 * len(nodes))):
        pods.append(_pod(rng, len(pods), rng.choice((250, 500, 1000, 2000)),
                         rng.choice((1, 2, 4, 8)) * GIB // 4, None))
    data: dict[str, Any] = {"nodes": nodes, "pods": pods, "timeout_ms": timeout_ms}
    if rng.random() < 0.5:
        data["preemptor"] = _pod(rng, len(pods), rng.choice((500, 1000, 2000)), GIB, None)
        data["preemptor"]["priority"] = 1000
    return {"solver_input": data, "solver_options": {"gap_limit": 0.0}}


def _pod(rng: random.Random, i: int, cpu: int, mem: int, node: str | None) -> dict[str, Any]:
    pod: dict[str, Any] = {"uid": f"u{i}", "namespace": "default", "name": f"pod-{i}",
                           "req_cpu_m": cpu, "req_mem_bytes": mem,
                           "priority": rng.choice(PRIORITIES)}
    if node is not None:
        pod["node"] = node
    return pod


def _pods(request: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every pod of the request by uid, the preemptor included."""
    data = request["solver_input"]
    pods = {p["uid"]: p for p in data["pods"]}
    if "preemptor" in data:
        pods[data["preemptor"]["uid"]] = data["preemptor"]
    return pods


def final(request: Mapping[str, Any], out: Mapping[str, Any]) -> dict[str, str | None]:
    """Every pod's node after the answer; raises AssertionError on a contract breach."""
    data = request["solver_input"]
    pods = _pods(request)
    where: dict[str, str | None] = {u: p.get("node") for u, p in pods.items()}
    for move in out.get("placements", []):
        assert move["uid"] in pods, f"unknown pod {move['uid']}"
        assert move["old_node"] == (pods[move["uid"]].get("node") or ""), "wrong old_node"
        assert move["node"] != move["old_node"], f"{move['uid']} placed on its own node"
        where[move["uid"]] = move["node"]
    for gone in out.get("evictions", []):
        assert pods[gone["uid"]].get("node") == gone["node"], "evicted from a wrong node"
        where[gone["uid"]] = None
    names = {n["name"]: n for n in data["nodes"]}
    for uid, node in where.items():
        assert node is None or node in names, f"{uid} on unknown node {node}"
        if pods[uid].get("protected") and pods[uid].get("node"):  # pending: may be placed
            assert node == pods[uid]["node"], f"protected {uid} moved"
    if "preemptor" in data and where[data["preemptor"]["uid"]] is None:
        assert out.get("error"), "the preemptor is pending and the answer does not say why"
    for name, node in names.items():
        on = [pods[u] for u, n in where.items() if n == name]
        # the plugin's omitempty leaves zero amounts out
        assert sum(p.get("req_cpu_m", 0) for p in on) <= node.get("cap_cpu_m", 0), f"{name} cpu"
        assert (sum(p.get("req_mem_bytes", 0) for p in on)
                <= node.get("cap_mem_bytes", 0)), f"{name} memory"
    return where


def score(request: Mapping[str, Any], where: Mapping[str, str | None]) -> tuple[Any, ...]:
    """Larger is better: placed pods per priority (highest first), -evictions, -moves."""
    pods = _pods(request)
    levels = sorted({p.get("priority", 0) for p in pods.values()}, reverse=True)
    placed = tuple(sum(1 for u, p in pods.items() if p.get("priority", 0) == lvl
                       and where[u] is not None) for lvl in levels)
    evicted = sum(1 for u, p in pods.items() if p.get("node") and where[u] is None)
    moved = sum(1 for u, p in pods.items() if p.get("node") and where[u] not in (None,
                                                                                p["node"]))
    return (*placed, -evicted, -moved)


def best(request: Mapping[str, Any], seconds: float = 60.0) -> tuple[tuple[Any, ...], bool]:
    """The optimum's score by ``auto`` with 60 s (in this process), and whether proven."""
    from optsched.problems.pods import plugin
    from optsched.problems.pods.solution import PodsSolution

    req = plugin.read(request)
    from optsched import SolveParams, solve

    result = solve(req.instance, "auto", SolveParams(time_limit=seconds, workers=2))
    assert isinstance(result.solution, PodsSolution)
    where = {u: result.solution.assignment.get(u) for u in req.pods}
    return score(request, where), result.status.value == "optimal"


def main() -> None:
    """Run the states and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--states", type=int, default=40)
    parser.add_argument("--timeout-ms", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nodes", type=int, nargs=2, default=(2, 12), metavar=("MIN", "MAX"),
                        help="nodes per state, drawn between MIN and MAX")
    parser.add_argument("--node-scale", type=int, default=1,
                        help="multiplies the nodes' cpu and memory (more pods per node)")
    parser.add_argument("--reference-s", type=float, default=60.0,
                        help="seconds of the in-process solve the answers are compared with")
    args = parser.parse_args()
    rows = []
    for k in range(args.states):
        request = state(args.seed * 100_000 + k, args.timeout_ms, tuple(args.nodes),
                        args.node_scale)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(SCRIPT)], input=json.dumps(request),
                              capture_output=True, text=True, timeout=120, check=False)
        wall = time.monotonic() - started
        out = json.loads(done.stdout)
        as_is = {u: p.get("node") for u, p in _pods(request).items()}
        now = score(request, as_is)
        try:
            where, valid = final(request, out), True
        except AssertionError as breach:
            print(f"state {k}: {breach}", file=sys.stderr)
            where, valid = as_is, False
        mine = score(request, where)
        optimum, proven = best(request, args.reference_s)
        preemptor = request["solver_input"].get("preemptor")
        rows.append({"status": out["status"], "wall": wall, "exit": done.returncode,
                     "preemptor": preemptor is not None,
                     "preemptor_placed": valid and preemptor is not None
                     and where[preemptor["uid"]] is not None,
                     "valid": valid, "better": mine > now, "should": optimum > now,
                     "optimal": mine == optimum, "proven": proven,
                     "traceback": "Traceback" in done.stderr})
    late = [r["wall"] - args.timeout_ms / 1000 for r in rows]
    print(f"{len(rows)} states, timeout_ms {args.timeout_ms}, Python {sys.version.split()[0]}")
    print("| states | valid answers | exit 0, no traceback | wall max (s) | over timeout + 0.5 s "
          "| strictly better / optimum strictly better | answer = optimum (proven) "
          "| preemptor placed / states with one |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(rows)} | {sum(r['valid'] for r in rows)} "
          f"| {sum(r['exit'] == 0 and not r['traceback'] for r in rows)}"
          f" | {max(r['wall'] for r in rows):.2f} | {sum(x > 0.5 for x in late)} "
          f"| {sum(r['better'] and r['should'] for r in rows)} / {sum(r['should'] for r in rows)} "
          f"| {sum(r['optimal'] for r in rows)} ({sum(r['proven'] for r in rows)}) "
          f"| {sum(r['preemptor_placed'] for r in rows)} / {sum(r['preemptor'] for r in rows)} |")


if __name__ == "__main__":
    main()
