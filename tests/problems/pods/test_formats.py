"""The Kubernetes YAML reader: every kind, Kubernetes' request rules, errors and warnings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from optsched.errors import InstanceError
from optsched.io import instance_from_dict, instance_to_dict
from optsched.problems.pods import greedy
from optsched.problems.pods.evaluate import evaluate
from optsched.problems.pods.formats import UnmodelledFieldWarning, claims, load, read_yaml
from optsched.problems.pods.instance import PodsInstance
from optsched.problems.pods.kube import NODE_NAME_LABEL
from optsched.problems.pods.objects import Expression, Taint, Toleration

DATA = Path(__file__).parent / "data"
MI, GI = 2**20, 2**30


def node(name: str = "n1", **status: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": status or {"allocatable": {"cpu": "4", "memory": "4Gi"}}}


def pod(name: str = "web", cpu: str = "1", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
                     **spec}}


def workload(kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None,
             api: str = "apps/v1", **pod_spec: Any) -> dict[str, Any]:
    template = pod(name, **pod_spec)
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name},
            "spec": {**spec, "template": {"metadata": {"labels": labels or {}},
                                          "spec": template["spec"]}}}


def write(tmp_path: Path, *objects: dict[str, Any], name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects))
    return path


def read(tmp_path: Path, *objects: dict[str, Any]) -> tuple[PodsInstance, list[str]]:
    return load(write(tmp_path, *objects, name="t.yaml"))


def test_reads_every_kind() -> None:
    """``cluster.yaml``: 3 nodes and 6 groups (the Succeeded pod is skipped).

    cache: containers 250m + 250m = 500m and 64Mi + 128Mi = 192Mi; the init
    container asks 1 cpu and 32Mi, so max(500m, 1000m) = 1000m and
    max(192Mi, 32Mi) = 192Mi; overhead adds 100m and 16Mi: 1100m, 208Mi.
    report: only limits, so requests = limits (300m, 256Mi); spec.priority 5.
    api and db name no class: the globalDefault ``low`` (10) applies.
    train: min(parallelism 2, completions 5 - 0 succeeded) = 2 pods.
    """
    instance, notes = load(DATA / "cluster.yaml")
    assert notes == []
    assert instance.name == "cluster"
    n1, n2, n3 = instance.nodes
    assert dict(n1.allocatable) == {"cpu": 4000, "memory": 8 * GI, "pods": 110}
    assert dict(n2.allocatable) == {"cpu": 2500, "memory": 4 * GI, "pods": 20,
                                    "nvidia.com/gpu": 1}
    assert n2.taints == (Taint("gpu", "true", "NoSchedule"),)
    assert n3.unschedulable and n3.allocatable["memory"] == 1536 * MI
    assert n3.allocatable["pods"] == 110
    assert n1.labels[NODE_NAME_LABEL] == "n1"  # db's matchFields needs it
    groups = {g.name: g for g in instance.groups}
    assert list(groups) == ["cache", "batch/report", "front", "api", "db", "train"]
    cache = groups["cache"]
    assert dict(cache.requests) == {"cpu": 1100, "memory": 208 * MI}
    assert (cache.priority, cache.priority_class, cache.node, cache.protected) == (
        1000, "high", "n1", True)
    report = groups["batch/report"]
    assert dict(report.requests) == {"cpu": 300, "memory": 256 * MI}
    assert (report.priority, report.priority_class, report.node) == (5, None, None)
    front = groups["front"]
    assert (front.replicas, front.priority, front.anti_affinity) == (3, 1000, "default/app=front")
    api = groups["api"]
    assert dict(api.requests) == {"cpu": 200, "memory": 10**8, "nvidia.com/gpu": 1}
    assert (api.replicas, api.priority, api.priority_class) == (2, 10, "low")
    assert api.node_selector == {"zone": "b"}
    assert api.tolerations == (Toleration("gpu", "Exists", "", "NoSchedule"),)
    assert groups["db"].node_affinity == ((Expression("zone", "In", ("a", "b")),
                                           Expression(NODE_NAME_LABEL, "NotIn", ("n3",))),)
    assert groups["train"].replicas == 2
    assert instance.priority_classes == {"high": 1000, "low": 10}


def test_round_trip_through_the_json_format() -> None:
    instance, _ = load(DATA / "cluster.yaml")
    assert instance_from_dict(instance_to_dict(instance)) == instance


def test_greedy_placement_is_feasible() -> None:
    instance, _ = load(DATA / "cluster.yaml")
    assert evaluate(instance, greedy.first_fit(instance)).feasible


def test_claims_yaml_names() -> None:
    assert claims(Path("a.yaml")) and claims(Path("b.YML"))
    assert not claims(Path("c.json"))


def test_sidecars_add_to_both_sums(tmp_path: Path) -> None:
    """Containers 200m; sidecar (restartPolicy Always) 100m; then an init container 500m.

    Sum: 200 + 100 = 300m. The init container runs beside the sidecar: 500 + 100 =
    600m. The request is max(300, 600) = 600m.
    """
    spec = pod(cpu="200m")
    spec["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        {"name": "setup", "resources": {"requests": {"cpu": "500m"}}}]
    instance, _ = read(tmp_path, node(), spec)
    assert instance.groups[0].requests == {"cpu": 600}


def test_list_kinds(tmp_path: Path) -> None:
    """``kind: List`` items carry their kind; a ``PodList``'s items may omit it."""
    pods = {"apiVersion": "v1", "kind": "PodList",
            "items": [{k: v for k, v in pod("a").items() if k != "kind"}, pod("b")]}
    instance, _ = read(tmp_path, {"apiVersion": "v1", "kind": "List", "items": [node()]}, pods)
    assert [g.name for g in instance.groups] == ["a", "b"]


def test_controlled_pods_count_towards_their_workload(tmp_path: Path) -> None:
    """ReplicaSet of 3 with one running pod: 2 pending. Its Deployment is read as it.
    StatefulSet of 3 with web-0 running: web-1 and web-2 pending. Job: parallelism 3,
    completions 4, one pod succeeded and one running: min(3, 4 - 1) - 1 = 2 pending."""
    def owned(name: str, kind: str, owner: str, **spec: Any) -> dict[str, Any]:
        out = pod(name, **spec)
        out["metadata"]["ownerReferences"] = [{"kind": kind, "name": owner, "controller": True}]
        return out

    rs = workload("ReplicaSet", "front-7d", {"replicas": 3})
    rs["metadata"]["ownerReferences"] = [{"kind": "Deployment", "name": "front"}]
    done = owned("train-a", "Job", "train")
    done["status"] = {"phase": "Succeeded"}
    instance, notes = read(
        tmp_path, node(), workload("Deployment", "front", {"replicas": 3}), rs,
        owned("front-7d-x1", "ReplicaSet", "front-7d", nodeName="n1"),
        workload("StatefulSet", "web", {"replicas": 3}),
        owned("web-0", "StatefulSet", "web", nodeName="n1"),
        workload("Job", "train", {"parallelism": 3, "completions": 4}, api="batch/v1"),
        done, owned("train-b", "Job", "train", nodeName="n1"))
    pending = {g.name: g.replicas for g in instance.groups if g.node is None}
    assert pending == {"front-7d": 2, "web-1": 1, "web-2": 1, "train": 2}
    assert notes == ["Deployment default/front: read as ReplicaSet default/front-7d "
                     "(not read itself)"]


def test_priority_rules(tmp_path: Path) -> None:
    """spec.priority wins over a class of another value (noted); built-in classes resolve;
    without a class and without a global default the priority is 0."""
    klass = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": "gold"}, "value": 100}
    instance, notes = read(tmp_path, node(), klass,
                           pod("a", priority=7, priorityClassName="gold"),
                           pod("b", priority=100, priorityClassName="gold"),
                           pod("c", priorityClassName="system-node-critical"), pod("d"))
    got = [(g.priority, g.priority_class) for g in instance.groups]
    assert got == [(7, None), (100, "gold"), (2000001000, "system-node-critical"), (0, None)]
    assert notes == ["Pod default/a.spec.priorityClassName: gold has value 100: "
                     "spec.priority 7 is used"]
    assert instance.priority_classes == {"gold": 100, "system-node-critical": 2000001000}


def test_namespaces_qualify_names(tmp_path: Path) -> None:
    other = pod("web")
    other["metadata"]["namespace"] = "shop"
    instance, _ = read(tmp_path, node(), pod("web"), other)
    assert [g.name for g in instance.groups] == ["web", "shop/web"]


def test_unmodelled_fields_warn(tmp_path: Path) -> None:
    """Each unmodelled field is one warning naming the object and the field."""
    spec = pod("web", topologySpreadConstraints=[{"maxSkew": 1}],
               volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "d"}},
                        {"name": "cfg", "configMap": {"name": "c"}}],
               affinity={"nodeAffinity": {
                   "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]},
                   "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{}]},
                   "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                       {"labelSelector": {"matchLabels": {"app": "web"}},
                        "topologyKey": "topology.kubernetes.io/zone"}]}})
    container = spec["spec"]["containers"][0]
    container["resources"]["limits"] = {"cpu": "2"}
    container["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    path = write(tmp_path, node(), spec)
    with pytest.warns(UnmodelledFieldWarning) as caught:
        read_yaml(path)
    where = "Pod default/web.spec"
    expected = [
        f"{where}.topologySpreadConstraints", f"{where}.volumes[0].persistentVolumeClaim",
        f"{where}.containers[0].resources.limits.cpu", f"{where}.containers[0].ports[0].hostPort",
        f"{where}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution",
        f"{where}.affinity.podAffinity",
        f"{where}.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"]
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(expected)
    for field in expected:
        assert any(m.startswith(f"{path}: {field}: ") for m in messages), field


def test_anti_affinity_that_repels_other_pods_is_noted(tmp_path: Path) -> None:
    """``front`` repels pods labelled app=web; ``solo`` carries the label but not the
    term, so that pair is noted; ``front``'s own replicas share the key."""
    term = {"labelSelector": {"matchLabels": {"app": "web"}},
            "topologyKey": "kubernetes.io/hostname"}
    front = workload("ReplicaSet", "front", {"replicas": 2}, {"app": "web"}, affinity={
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}})
    solo = pod("solo")
    solo["metadata"]["labels"] = {"app": "web"}
    instance, notes = read(tmp_path, node(), front, solo)
    assert [g.anti_affinity for g in instance.groups] == ["default/app=web", None]
    assert notes == ["ReplicaSet default/front.podAntiAffinity: also repels solo, which lacks "
                     "the same term: not modelled"]


W = "Pod default/web"


@pytest.mark.parametrize(("objects", "field", "problem"), [
    ([node(), pod(priorityClassName="gold")], f"{W}.spec.priorityClassName",
     "names no PriorityClass: 'gold'"),
    ([node(), {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}],
     "documents[1].kind", "'Service' is not a kind optsched reads"),
    ([node("n1", capacity={"cpu": "4"})], "Node n1.status.allocatable",
     "a node without allocatable resources"),
    ([node("n1", allocatable={"cpu": "0"})], "Node n1.status.allocatable",
     "a node without allocatable resources"),
    ([node(), pod(), pod()], f"{W}.metadata.name", "duplicate Pod name"),
    ([node(), node()], "Node n1.metadata.name", "duplicate Node name"),
    ([node(), workload("ReplicaSet", "web", {"replicas": 2}), pod("web-1")],
     "ReplicaSet default/web.name", "duplicate pod name 'web-1'"),
    ([node(), pod(cpu="100MB")], f"{W}.spec.containers[0].resources.requests.cpu",
     "'100MB' is not a Kubernetes quantity"),
    ([node(), pod(cpu="-1")], f"{W}.spec.containers[0].resources.requests.cpu",
     "must not be negative"),
    ([node(), pod(nodeName="n9")], f"{W}.spec.nodeName", "names no node: 'n9'"),
    ([node(), pod(cpu="5", nodeName="n1")], "Node n1.status.allocatable.cpu",
     "more than its 4000"),
    ([node(), {**pod(), "metadata": {"name": "web", "annotations": {
        "optsched.io/protected": "true"}}}],
     f"{W}.metadata.annotations.optsched.io/protected", "only a running pod"),
    ([node(), {**pod(), "metadata": {"name": "web", "annotations": {
        "optsched.io/protected": "yes"}}}],
     f"{W}.metadata.annotations.optsched.io/protected", "must be \"true\" or \"false\""),
    ([node(), workload("Deployment", "web", {}, api="v1")], "documents[1].apiVersion",
     "'v1' is not an API version of Deployment"),
    ([node(), {**pod(), "spec": {}}], f"{W}.spec.containers", "is missing"),
    ([node(), {"kind": "Pod", "metadata": {}}], "documents[1].metadata.name", "is missing"),
    ([node(), pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "spec.x", "operator": "In",
                                                "values": ["a"]}]}]}}})],
     f"{W}.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     "nodeSelectorTerms[0].matchFields[0]", "only metadata.name"),
    ([pod()], "", "holds no Node"),
    ([node(), {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": "p"}}], "PriorityClass p.value", "is missing"),
    ([node(), workload("ReplicaSet", "web", {"replicas": -1})], "ReplicaSet default/web.spec."
     "replicas", "must be an integer >= 0"),
])
def test_bad_input_names_file_object_and_field(tmp_path: Path, objects: list[dict[str, Any]],
                                               field: str, problem: str) -> None:
    path = write(tmp_path, *objects)
    prefix = f"{path}: {field}: " if field else f"{path}: "
    with pytest.raises(InstanceError, match="^" + re.escape(prefix) + ".*" + re.escape(problem)):
        read_yaml(path)


def test_two_global_defaults(tmp_path: Path) -> None:
    classes = [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": 1, "globalDefault": True}
               for name in ("a", "b")]
    with pytest.raises(InstanceError, match=r"PriorityClass b.globalDefault: PriorityClass a"):
        read_yaml(write(tmp_path, node(), *classes))


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: Node\nmetadata: {name: [\n")
    with pytest.raises(InstanceError, match=r"broken.yaml: is not valid YAML: .* at line 3"):
        read_yaml(path)


def test_preemption_policy_never_from_the_pod_or_its_class(tmp_path: Path) -> None:
    """spec.preemptionPolicy Never, and a PriorityClass with preemptionPolicy Never (the
    admission plugin copies it to its pods), make pods that do not preempt; the default
    and an explicit PreemptLowerPriority do; another value is an error naming the field."""
    never = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": "polite"}, "value": 10, "preemptionPolicy": "Never"}
    instance, notes = read(tmp_path, node(), never,
                           pod("a", preemptionPolicy="Never"), pod("b"),
                           pod("c", priorityClassName="polite"),
                           pod("d", preemptionPolicy="PreemptLowerPriority"))
    assert [g.preempts for g in instance.groups] == [False, True, False, True]
    assert notes == []
    assert instance_to_dict(instance)["pods"][0]["preemption_policy"] == "Never"
    assert instance_from_dict(instance_to_dict(instance)) == instance
    with pytest.raises(InstanceError) as caught:
        read(tmp_path, node(), pod("e", preemptionPolicy="Sometimes"))
    assert caught.value.field.endswith("t.yaml: Pod default/e.spec.preemptionPolicy")


def test_default_spreading_counts_the_owners_running_pods(tmp_path: Path) -> None:
    """ReplicaSet web (3 replicas, selector app=web) has 2 running pods on n1 (8 cpu); n2
    (4 cpu) runs a 2-cpu pod of no owner. The third replica: LeastAllocated prefers n1
    (300m of 8 cpu against 2100m of 4), but the default spreading counts web's 2 pods
    on n1 (weight 2) and sends it to n2, as kube-scheduler does. Keyed only by its own
    group, as before, the replica saw no pod of web and went to n1. The pod without an
    owner is not spread."""
    import dataclasses

    from optsched.problems.pods.scheduler.simulation import schedule

    def running(name: str, cpu: str, node_name: str, owner: str | None) -> dict[str, Any]:
        obj = pod(name, cpu, nodeName=node_name)
        obj["metadata"]["labels"] = {"app": "web"} if owner else {}
        if owner:
            obj["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner,
                                                   "controller": True}]
        return obj

    web = workload("ReplicaSet", "web", {"replicas": 3,
                                         "selector": {"matchLabels": {"app": "web"}}},
                   labels={"app": "web"}, cpu="100m")
    instance, _ = read(tmp_path, node("n1", allocatable={"cpu": "8", "memory": "8Gi"}),
                       node("n2", allocatable={"cpu": "4", "memory": "8Gi"}), web,
                       running("web-a", "100m", "n1", "web"),
                       running("web-b", "100m", "n1", "web"), running("other", "2", "n2", None))
    keys = {g.name: g.spread_key for g in instance.groups}
    assert keys == {"web": "default/app=web", "web-a": "default/app=web",
                    "web-b": "default/app=web", "other": None}
    assert schedule(instance).assignment["web"] == "n2"
    alone = dataclasses.replace(instance, groups=tuple(dataclasses.replace(g, spread="")
                                                       for g in instance.groups))
    assert schedule(alone).assignment["web"] == "n1"
