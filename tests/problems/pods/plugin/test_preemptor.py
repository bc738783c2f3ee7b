"""The plugin's preemptor: ``optsched.problems.pods.plugin.preemptor``."""

from __future__ import annotations

from optsched.problems.pods.plugin.preemptor import swap, why_not
from optsched.problems.pods.plugin.request import Pod


def P(node: str = "", priority: int = 5, cpu: int = 0, memory: int = 0,  # noqa: N802
      protected: bool = False) -> Pod:
    """A pod of the plugin's input; the names are not read here."""
    return Pod("", "", "", node, priority, cpu, memory, protected)


NODES = {"n1": (1000, 100), "n2": (1000, 100)}


def test_swap_gives_up_the_pod_that_leaves_least_room() -> None:
    """n1 holds a (600m, pending before), n2 holds b (450m) and c (100m, priority 1); the
    preemptor (400m) fits in place of a or b. In a's place n1 keeps 1000 - 600 + 600 -
    400 = 600m unused, in b's n2 keeps 1000 - 550 + 450 - 400 = 500m: b is given up.
    Without c both leave 600m (and all memory): the name decides, a."""
    pods = {"a": P(cpu=600), "b": P(cpu=450), "c": P(priority=1, cpu=100), "p": P(cpu=400)}
    assert swap(pods, NODES, "p", {"a": "n1", "b": "n2", "c": "n2", "p": None}) == {
        "a": "n1", "b": None, "c": "n2", "p": "n2"}
    assert swap(pods, NODES, "p", {"a": "n1", "b": "n2", "c": None, "p": None}) == {
        "a": None, "b": "n2", "c": None, "p": "n1"}


def test_swap_gives_up_only_a_pending_pod_of_the_same_priority() -> None:
    """A running pod (its loss an eviction), a pod of another priority (a different count)
    and a pod too small to make room are never given up."""
    pods = {"run": P(node="n1", cpu=800), "low": P(priority=1, cpu=800),
            "small": P(cpu=100), "p": P(cpu=500)}
    assert swap(pods, NODES, "p", {"run": "n1", "low": "n2", "small": "n1",
                                   "p": None}) is None
    assert swap(pods, NODES, "p", {"run": "n1", "low": None, "small": "n1",
                                   "p": "n2"}) is None  # already placed


def test_why_not_claims_no_more_than_is_known() -> None:
    """n1 and n2 each run a protected pod of 600m: 400m free beside them. A preemptor of
    500m fits nowhere; one of 300m would fit, so the answer depends on the proof."""
    pods = {"d1": P(node="n1", cpu=600, protected=True),
            "d2": P(node="n2", cpu=600, protected=True), "p": P(cpu=500), "q": P(cpu=300)}
    assert why_not(pods, NODES, "p", True).endswith("no node has room for it beside its "
                                                    "protected pods")
    assert "no plan that places it scores better" in why_not(pods, NODES, "q", True)
    assert why_not(pods, NODES, "q", False) == ("preemptor q: not placed in the best plan "
                                                "found within the time")
