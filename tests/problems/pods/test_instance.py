"""The pods instance: reading, validation naming the field, derived weights."""

from __future__ import annotations

import pytest

from optsched.errors import InstanceError
from optsched.io import instance_from_dict, instance_to_dict
from optsched.problems.pods.samples import fragmented, instance, node, pod, running


def test_amounts_are_integers_in_kubernetes_units() -> None:
    """cpu "500m" is 500 millicores, memory "1.5Gi" is 1.5 * 2^30 = 1610612736 bytes;
    a node without ``pods`` gets kubelet's 110."""
    inst = instance([node("n1", cpu="2", memory="1.5Gi")], [pod("a", "500m")])
    assert dict(inst.nodes[0].allocatable) == {"cpu": 2000, "memory": 1610612736, "pods": 110}
    assert inst.groups[0].requests == {"cpu": 500, "memory": 2**20}
    assert inst.resources == ("cpu", "memory", "pods")


def test_weights_make_the_objective_lexicographic() -> None:
    """``running``: two movable pods, so a move weighs 1, an eviction 2 + 1 = 3, a pending
    priority-1 pod 3 * 3 = 9 and a pending priority-100 pod 9 * (1 + 2) = 27."""
    assert running().weights == ((27, 9), 3, 1)
    assert running().priorities == (100, 1)


def test_round_trip_keeps_every_field() -> None:
    for inst in (fragmented(), running()):
        assert instance_from_dict(instance_to_dict(inst)) == inst


@pytest.mark.parametrize(("nodes", "pods", "field"), [
    ([node("n1"), node("n1")], [], "nodes[1].name"),
    ([node("n1")], [pod("a", "1", replicas=2), pod("a-1", "1")], "pods[1].name"),
    ([node("n1")], [pod("a", "1", node="n9")], "pods[0].node"),
    ([node("n1")], [pod("a", "1", protected=True)], "pods[0].protected"),
    ([node("n1")], [pod("a", "5", node="n1")], "nodes[0].allocatable.cpu"),
    ([node("n1")], [pod("a", "-1")], "pods[0].requests.cpu"),
    ([node("n1")], [pod("a", "100MB")], "pods[0].requests.cpu"),
    ([node("n1")], [pod("a", "1", replicas=0)], "pods[0].replicas"),
    ([node("n1")], [pod("a", "1", priority_class="gold")], "pods[0].priority"),
    ([{"name": "n1", "allocatable": {}}], [], "nodes[0].allocatable"),
    ([{"name": "n1"}], [], "nodes[0].allocatable"),
    ([node("n1", taints=[{"key": "k", "effect": "Never"}])], [], "nodes[0].taints[0].effect"),
    ([node("n1")], [pod("a", "1", node_affinity=[[{"key": "z", "operator": "Near"}]])],
     "pods[0].node_affinity[0][0].operator"),
    ([node("n1")], [pod("a", "1", anti_affinity=True, replicas=2, node="n1")],
     "pods[0].anti_affinity"),
    ([node("n1")], [pod("a", "1", preemption_policy="Always")], "pods[0].preemption_policy"),
    ([node("n1")], [pod("a", "1", spread="")], "pods[0].spread"),
    ([node("n1")], [pod("a", "1", spread=3)], "pods[0].spread"),
])
def test_bad_fields_are_named(nodes: list[dict[str, object]], pods: list[dict[str, object]],
                              field: str) -> None:
    with pytest.raises(InstanceError) as err:
        instance(nodes, pods)
    assert err.value.field.startswith(field), err.value


def test_a_missing_priority_class_is_named() -> None:
    data = {"nodes": [node("n1")], "pods": [{"name": "a", "priority_class": "gold"}],
            "priority_classes": [{"name": "silver", "value": 5}]}
    with pytest.raises(InstanceError, match=r"pods\[0\].priority_class: names no priority "
                                            r"class: 'gold' \(known: silver\)"):
        instance_from_dict({"family": "pods", "format": 1, **data})


def test_matching_rules() -> None:
    """A selector needs equal labels, a NoSchedule taint needs a toleration (PreferNoSchedule
    does not keep a pod out), required affinity needs one term whose expressions all hold."""
    inst = instance(
        [node("a", labels={"zone": "x", "gen": "5"}),
         node("b", labels={"zone": "y"}, taints=[{"key": "gpu", "effect": "NoSchedule"}]),
         node("c", labels={"zone": "y"}, taints=[{"key": "s", "effect": "PreferNoSchedule"}]),
         node("d", unschedulable=True)],
        [pod("sel", "1", node_selector={"zone": "y"}),
         pod("tol", "1", tolerations=[{"key": "gpu", "operator": "Exists"}]),
         pod("aff", "1", node_affinity=[[{"key": "gen", "operator": "Gt", "values": ["4"]}],
                                        [{"key": "zone", "operator": "NotIn",
                                          "values": ["x", "y"]}]])])
    ok = {g.name: [n.name for n in inst.nodes if g.can_start_on(n)] for g in inst.groups}
    assert ok == {"sel": ["c"], "tol": ["a", "b", "c"], "aff": ["a"]}


def test_pod_names_are_made_once_and_not_carried_by_replace() -> None:
    """Three replicas of ``web`` are web-0, web-1 and web-2, the same tuple on each read;
    a copy with one replica is named ``web`` alone."""
    from dataclasses import replace

    from optsched.problems.pods.objects import PodGroup

    group = PodGroup(name="web", requests={"cpu": 100}, replicas=3)
    assert group.pod_names == ("web-0", "web-1", "web-2")
    assert group.pod_names is group.pod_names
    assert replace(group, replicas=1).pod_names == ("web",)
    assert group == PodGroup(name="web", requests={"cpu": 100}, replicas=3)
