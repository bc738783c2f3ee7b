"""The pods checker: every violation is found; the objective is the hand-computed one."""

from __future__ import annotations

from optsched.problems.pods.bounds import lower_bound
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.samples import fragmented, instance, node, pod, running
from optsched.problems.pods.solution import PodsSolution, make


def test_hand_computed_objectives() -> None:
    """See the docstrings of ``fragmented`` and ``running`` for the arithmetic."""
    frag = fragmented()
    best = make(frag, {"one": "n1", "three": "n1", "two": "n2", "two-b": "n2", "low": None})
    ev = evaluate(frag, best)
    assert ev.objective == 1 and ev.metrics["placed_by_priority"] == [4, 0]
    run = running()
    evict = make(run, {"old": None, "fill": "n2", "big": "n1"})
    assert evict.evicted == ("old",) and evict.moved == ()
    ev = evaluate(run, evict)
    assert ev.objective == 12 and ev.metrics["evicted"] == 1
    assert evaluate(run, make(run, {"old": "n1", "fill": "n2", "big": None})).objective == 27


def test_violations_are_listed() -> None:
    inst = instance([node("n1"), node("n2", unschedulable=True)],
                    [pod("a", "3", anti_affinity="k"), pod("b", "2", anti_affinity="k"),
                     pod("keep", "1", node="n1", protected=True), pod("c", "1")],
                    allow_moves=False)
    bad = PodsSolution({"a": "n1", "b": "n1", "keep": None, "c": "n2", "ghost": "n1"},
                       evicted=(), moved=())
    found = evaluate(inst, bad).violations
    text = "\n".join(found)
    assert evaluate(inst, bad).objective is None
    for expected in ("pod ghost is not in the instance", "keep runs on n1 and may not be "
                     "evicted", "c may not be placed on n2", "over capacity on cpu: 5 > 4",
                     "share node n1 despite anti-affinity 'k'", "evicted list"):
        assert expected in text, (expected, found)
    missing = evaluate(inst, PodsSolution({"a": "n1"})).violations
    assert any("b has no entry" in v for v in missing)


def test_moves_need_permission() -> None:
    inst = instance([node("n1"), node("n2")], [pod("a", "1", node="n1")], allow_moves=False)
    found = evaluate(inst, make(inst, {"a": "n2"})).violations
    assert found == ("pod a runs on n1 and may not move",)


def test_never_placeable_pods_are_named_per_spec() -> None:
    """n1 has 4 cpu and gpu=true, n2 4 cpu. ``huge`` and ``huge-b`` (8 cpu, one spec)
    fit no node; ``tiny-gpu`` selects gpu=true (n1 has it) and ``tiny-tpu`` selects
    tpu=true (no node), with the same 1 cpu request: the same requests but other node
    filters, so they are judged apart. Never placeable: huge, huge-b, tiny-tpu; with one
    priority level of weight 1 (no running pod) the family's lower bound is 3."""
    inst = instance([node("n1", labels={"gpu": "true"}), node("n2")],
                    [pod("huge", "8"), pod("huge-b", "8"),
                     pod("tiny-gpu", "1", node_selector={"gpu": "true"}),
                     pod("tiny-tpu", "1", node_selector={"tpu": "true"})])
    ev = evaluate(inst, make(inst, {"huge": None, "huge-b": None, "tiny-gpu": "n1",
                                    "tiny-tpu": None}))
    assert sorted(ev.metrics["never_placeable"]) == ["huge", "huge-b", "tiny-tpu"]
    assert lower_bound(inst) == 3
