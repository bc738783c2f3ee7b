"""The cluster views: Cluster (greedy rules) and Kube (the scheduler simulation's cache)."""

from __future__ import annotations

import pytest

from optsched.deadline import Deadline, OutOfTimeError, StopRequest
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.samples import instance, node, pod
from optsched.problems.pods.state import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Cluster,
    Kube,
    node_tree_order,
    zone_key,
)

ZONE = "topology.kubernetes.io/zone"


def sample() -> PodsInstance:
    """n1 (4 cpu) runs r (1 cpu, key k); n2 is cordoned; a (2 cpu, key k) and b (3 cpu)."""
    return instance([node("n1"), node("n2", unschedulable=True), node("n3", "2")],
                    [pod("r", "1", node="n1", anti_affinity="k"),
                     pod("a", "2", anti_affinity="k"), pod("b", "3")])


def test_cluster_places_running_pods_and_filters() -> None:
    """Free cpu: n1 4 - 1 = 3, n2 4, n3 2. a may not join r's key on n1, n2 is cordoned: n3.
    b (3 cpu) fits only n1.
    """
    inst = sample()
    cluster = Cluster(inst)
    a, b = inst.groups[1], inst.groups[2]
    assert [f[0] for f in cluster.free] == [3000, 4000, 2000]
    assert cluster.feasible(a) == [2] and cluster.feasible(b) == [0]
    assert not cluster.fits(a, 0) and not cluster.fits(a, 1) and cluster.fits(a, 2)
    assert cluster.fits_now(b, 1)  # the amounts fit; only the static filter says no
    assert [g.name for g, _ in cluster.pending()] == ["a", "b"]


def test_cluster_place_remove_and_copy() -> None:
    """Placing b (3 cpu) on n1 leaves 0 cpu there; removing it restores the amounts; a copy
    changes independently of the original. Without running pods n1 starts with all 4 cpu.
    """
    inst = sample()
    cluster = Cluster(inst)
    b = inst.groups[2]
    before = [list(f) for f in cluster.free]
    twin = cluster.copy()
    twin.place(b, "b", 0)
    assert twin.free[0][0] == 0 and cluster.free[0][0] == 3000
    assert twin.assignment["b"] == "n1" and cluster.assignment["b"] is None
    twin.remove(b, "b")
    assert twin.free == before
    empty = Cluster(inst, running=False)
    assert empty.assignment["r"] is None and empty.free[0][0] == 4000


def test_kube_cache_bind_unbind() -> None:
    """Kube counts LeastAllocated's non-zero requests: a pod without a cpu request counts as
    100m and without memory as 200Mi; unbinding restores every array.
    """
    inst = instance([node("n1")], [{"name": "bare", "requests": {}}, pod("a", "1")])
    kube = Kube(inst, None)
    assert kube.free[0][0] == 4000 and kube.nonzero_cpu == [0]
    kube.bind(0, 0)
    assert kube.nonzero_cpu == [DEFAULT_MILLI_CPU_REQUEST]
    assert kube.nonzero_memory == [DEFAULT_MEMORY_REQUEST]
    assert kube.free[0][0] == 4000 and kube.where[0] == 0 and kube.host["bare"] == {0: 1}
    version = kube.version[0]
    kube.unbind(0)
    assert kube.nonzero_cpu == [0] and kube.where[0] == -1 and kube.version[0] > version
    kube.bind(1, 0)
    assert kube.free[0][0] == 3000 and kube.nonzero_cpu == [1000]


def test_node_tree_order_interleaves_zones() -> None:
    """Zones a (n1, n2, n4) and b (n3): a, b, a, a -> n1, n3, n2, n4; unlabelled nodes form
    their own zone "" in order of appearance.
    """
    labelled = instance([node("n1", labels={ZONE: "a"}), node("n2", labels={ZONE: "a"}),
                         node("n3", labels={ZONE: "b"}), node("n4", labels={ZONE: "a"})],
                        [pod("p", "1")])
    assert node_tree_order(labelled.nodes) == [0, 2, 1, 3]
    assert zone_key(labelled.nodes[0]) == ":\x00:a"
    plain = instance([node("x"), node("y")], [pod("p", "1")])
    assert node_tree_order(plain.nodes) == [0, 1] and zone_key(plain.nodes[0]) == ""


def test_static_filters_are_shared_by_signature() -> None:
    """a and b have no selector, affinity or tolerations; c selects ``disk=ssd``. The
    views evaluate the node filters once per signature: a and b share one mask (Cluster)
    and one list of allowed nodes (Kube); c gets its own, with n2 alone (n1 has no label).
    """
    inst = instance([node("n1"), node("n2", labels={"disk": "ssd"})],
                    [pod("a", "1"), pod("b", "2"), pod("c", "1", node_selector={"disk": "ssd"})])
    a, b, c = inst.groups
    cluster = Cluster(inst)
    assert cluster.allowed(a) is cluster.allowed(b)
    assert cluster.allowed(c) == [False, True]
    specs = Kube(inst, None).specs
    assert specs[0].allowed is specs[1].allowed and specs[2].allowed == [1]


def test_a_deadline_that_passes_before_the_views_are_made() -> None:
    """Both views look at their deadline once per group while they are made."""
    stop = StopRequest()
    stop.set()
    for make in (lambda: Cluster(sample(), deadline=Deadline(None, stop)),
                 lambda: Kube(sample(), None, deadline=Deadline(None, stop))):
        with pytest.raises(OutOfTimeError):
            make()
    assert Cluster(sample(), deadline=Deadline(60.0)).free[0][0] == 3000
