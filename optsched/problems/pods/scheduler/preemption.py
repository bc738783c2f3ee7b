"""``DefaultPreemption``, simulated: victims on one node, reprieve, and the node choice rules.

Follows ``pkg/scheduler/framework/preemption/preemption.go`` and
``plugins/defaultpreemption/default_preemption.go``; the rules, step by step:
``docs/methods/pods-kube-scheduler.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optsched.problems.pods.state import Kube, Spec

MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
PRIORITY_OFFSET = 2**31
"""``math.MaxInt32 + 1``, added to each victim's priority in rule (3)."""

Candidate = tuple[int, list[int]]
"""A node index and its victims, most important first."""


def num_candidates(nodes: int) -> int:
    """``calculateNumCandidates``: 10 % of the potential nodes, at least 100, at most all."""
    return min(max(nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100,
                   MIN_CANDIDATE_NODES_ABSOLUTE), nodes)


def preempt(kube: Kube, pod: int) -> Candidate | None:
    """The node and victims ``DefaultPreemption`` picks for ``pod``, or None."""
    spec = kube.spec_of[pod]
    potential = spec.allowed
    if not potential:
        return None
    offset = 0 if kube.rng is None else kube.rng.randrange(len(potential))
    wanted = num_candidates(len(potential))
    candidates: list[Candidate] = []
    for i in range(len(potential)):
        j = potential[(offset + i) % len(potential)]
        victims = select_victims(kube, spec, j)
        if victims:
            candidates.append((j, victims))
            if len(candidates) >= wanted:
                break
    return pick_one(kube, candidates) if candidates else None


def select_victims(kube: Kube, spec: Spec, j: int) -> list[int] | None:
    """``SelectVictimsOnNode``: the victims on node ``j``, most important first, or None.

    None when no pod of lower priority may be preempted there or the
    preemptor does not fit even without all of them. The answer depends on
    the node's pods and the preemptor's priority, requests and key only, so
    it is kept until the node changes (its ``version``).
    """
    signature = (spec.priority, spec.needs, spec.key)
    cache = kube.victim_cache.setdefault(signature, {})
    hit = cache.get(j)
    if hit is None or hit[0] != kube.version[j]:
        hit = (kube.version[j], _select_victims(kube, spec, j))
        cache[j] = hit
    return hit[1]


def _select_victims(kube: Kube, spec: Spec, j: int) -> list[int] | None:
    spec_of = kube.spec_of
    lower = [q for q in kube.pods_on[j]
             if spec_of[q].priority < spec.priority and spec_of[q].preemptible]
    if not lower:
        return None
    needs, key = spec.needs, spec.key
    free = kube.free[j]
    room = [free[r] for r, _ in needs]
    keyed = 0 if key is None else kube.keys[j].get(key, 0)
    for q in lower:
        need = spec_of[q].need
        for i, (r, _) in enumerate(needs):
            room[i] += need[r]
        if key is not None and spec_of[q].key == key:
            keyed -= 1
    if keyed or any(x < a for x, (_, a) in zip(room, needs, strict=True)):
        return None
    lower.sort(key=lambda q: (-spec_of[q].priority, kube.start[q]))
    victims: list[int] = []
    for q in lower:
        other = spec_of[q]
        need = other.need
        fits = key is None or other.key != key
        if fits:
            for i, (r, a) in enumerate(needs):
                if room[i] - need[r] < a:
                    fits = False
                    break
        if fits:
            for i, (r, _) in enumerate(needs):
                room[i] -= need[r]
        else:
            victims.append(q)
    return victims


def pick_one(kube: Kube, candidates: list[Candidate]) -> Candidate:
    """``pickOneNodeForPreemption`` with the default rules (2)-(6).

    The rules are listed in ``docs/methods/pods-kube-scheduler.md``.
    """
    spec_of = kube.spec_of

    def top(victims: list[int]) -> int:
        return max(spec_of[q].priority for q in victims)

    def latest_start(victims: list[int]) -> int:
        high = top(victims)
        return min(kube.start[q] for q in victims if spec_of[q].priority == high)

    rules: list[Callable[[list[int]], int]] = [
        lambda v: -top(v),
        lambda v: -sum(spec_of[q].priority + PRIORITY_OFFSET for q in v),
        lambda v: -len(v),
        latest_start,
    ]
    for rule in rules:
        scores = [rule(victims) for _, victims in candidates]
        best = max(scores)
        candidates = [c for c, s in zip(candidates, scores, strict=True) if s == best]
        if len(candidates) == 1:
            break
    return candidates[0]


def woken(kube: Kube, parked: dict[int, list[tuple[int, int]]], node: int,
          preemption: bool) -> list[int]:
    """The parked groups a deletion on ``node`` may help: they fit there now, or could preempt.

    A parked pod fitted nowhere and could preempt nowhere; only deletions
    free room, and these were all on ``node``. So every other parked pod is
    bound to fail again when kube retries it: the simulation requeues it
    (its retry order and new timestamp matter) without trying it.
    """
    out = []
    for index in parked:
        spec = kube.specs[index]
        if spec.mask[node] and (kube.fits(spec, node) or (
                preemption and select_victims(kube, spec, node) is not None)):
            out.append(index)
    return out
