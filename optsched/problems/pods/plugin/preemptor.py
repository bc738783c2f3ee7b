"""The plugin's preemptor: given a place in a plan that scores the same, or told why not.

The plugin's score counts pods placed per priority, then evictions, then moves;
it does not single out the preemptor. So an optimal plan may give the room the
preemptor needs to another pending pod of the same priority. :func:`swap` gives
that room to the preemptor instead, which changes no count of the score;
:func:`why_not` says, without claiming more than is known, why a plan leaves the
preemptor pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optsched.problems.pods.plugin.request import Pod


def swap(pods: Mapping[str, Pod], nodes: Mapping[str, tuple[int, int]], preemptor: str,
         assignment: Mapping[str, str | None]) -> dict[str, str | None] | None:
    """The plan with the preemptor in the place of a pending pod of its priority, or None.

    The pod given up must have been pending in the cluster (so its place is no
    move and leaving it out no eviction), and its node must hold the preemptor
    once it is gone. Of those, the one that leaves the least room unused.
    """
    if assignment.get(preemptor) is not None:
        return None
    want = pods[preemptor]
    used = {name: [0, 0] for name in nodes}
    for uid, node in assignment.items():
        if node is not None:
            used[node][0] += pods[uid].cpu
            used[node][1] += pods[uid].memory
    best: tuple[int, int, str] | None = None
    for uid, node in assignment.items():
        pod = pods[uid]
        if node is None or pod.node or uid == preemptor or pod.priority != want.priority:
            continue
        cpu = nodes[node][0] - used[node][0] + pod.cpu - want.cpu
        memory = nodes[node][1] - used[node][1] + pod.memory - want.memory
        if cpu >= 0 and memory >= 0 and (best is None or (cpu, memory, uid) < best):
            best = (cpu, memory, uid)
    if best is None:
        return None
    out = dict(assignment)
    out[best[2]] = None
    out[preemptor] = assignment[best[2]]
    return out


def why_not(pods: Mapping[str, Pod], nodes: Mapping[str, tuple[int, int]], preemptor: str,
            proven: bool) -> str:
    """The ``error`` line of an answer that leaves the preemptor pending.

    Three cases, from the strongest claim: no node holds it beside the pods that
    must stay there (protected ones); the plan is proven optimal, so no plan that
    places it scores better; else only that the best plan found does not place it.
    """
    want = pods[preemptor]
    room = {name: list(cap) for name, cap in nodes.items()}
    for pod in pods.values():
        if pod.node and pod.protected:
            room[pod.node][0] -= pod.cpu
            room[pod.node][1] -= pod.memory
    if not any(cpu >= want.cpu and memory >= want.memory for cpu, memory in room.values()):
        return (f"preemptor {preemptor}: no node has room for it beside its protected "
                "pods")
    if proven:
        return (f"preemptor {preemptor}: not placed; no plan that places it scores better "
                f"(pods placed by priority, then fewer evictions, then fewer moves)")
    return f"preemptor {preemptor}: not placed in the best plan found within the time"
