"""Snapshots of the Alibaba GPU trace: the mapping on a tiny hand-made trace, then the real one."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from optsched.errors import InputError, InstanceError
from optsched.problems.pods import alibaba, greedy
from optsched.problems.pods.bounds import placeable
from optsched.problems.pods.objects import Expression

GI = 2**30
NODES = """sn,cpu_milli,memory_mib,gpu,model
g1,16000,65536,2,V100
g2,8000,32768,1,T4
c1,32000,131072,0,
"""
HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time," \
         "deletion_time,scheduled_time\n"
PODS = HEADER + """p-late,4000,8192,1,1000,,LS,Running,300,900,300
p-share,2000,4096,1,500,,BE,Running,100,900,100
p-cpu,1000,1024,0,0,,Guaranteed,Running,200,900,200
p-spec,2000,2048,1,1000,T4|T4,Burstable,Pending,50,900,
p-big,4000,4096,4,1000,,LS,Failed,10,20,10
"""


def tiny(root: Path, pods: str = PODS) -> Path:
    folder = root / "pods" / "alibaba-gpu-v2023"
    folder.mkdir(parents=True)
    (folder / alibaba.NODE_FILE).write_text(NODES)
    (folder / f"{alibaba.PREFIX}pod_list_default.csv").write_text(pods)
    return folder


def test_mapping_on_a_tiny_trace(tmp_path: Path) -> None:
    """Two GPU nodes (c1 has no GPU, so weight 0) and the four pods that fit one of them.

    p-big asks 4 GPUs and no node has them: skipped. Arrival by creation time: p-spec (50),
    p-share (100), p-cpu (200), p-late (300). g1: 65536 MiB = 64 GiB, 2 GPUs = 2000 milli.
    p-late takes one whole GPU (1 device, 1000 milli); p-share shares one (500 milli only).
    """
    (instance,) = alibaba.generate(str(tiny(tmp_path)), nodes=2, pods=4, min_load=0)
    g1, g2 = instance.nodes
    assert dict(g1.allocatable) == {"cpu": 16000, "memory": 64 * GI, "pods": 110,
                                    "nvidia.com/gpu": 2, "alibaba.com/gpu-milli": 2000}
    assert g1.labels == {"gpu-model": "V100"} and g2.labels == {"gpu-model": "T4"}
    groups = {g.name: g for g in instance.groups}
    assert list(groups) == ["p-spec", "p-share", "p-cpu", "p-late"]
    assert dict(groups["p-late"].requests) == {"cpu": 4000, "memory": 8 * GI,
                                               "alibaba.com/gpu-milli": 1000, "nvidia.com/gpu": 1}
    assert dict(groups["p-share"].requests) == {"cpu": 2000, "memory": 4 * GI,
                                                "alibaba.com/gpu-milli": 500}
    assert dict(groups["p-cpu"].requests) == {"cpu": 1000, "memory": GI}
    assert groups["p-spec"].node_affinity == ((Expression("gpu-model", "In", ("T4",)),),)
    assert [(g.priority, g.priority_class) for g in groups.values()] == [
        (2, "burstable"), (1, "best-effort"), (4, "guaranteed"), (3, "latency-sensitive")]
    assert all(g.node is None for g in instance.groups)
    assert instance.name == "alibaba-default-n2-p4-s0-0"


def test_a_snapshot_larger_than_the_trace_takes_copies(tmp_path: Path) -> None:
    """5 nodes of the tiny trace's 2 GPU nodes (drawn with replacement) and 10 of its 4
    placeable pods (the pool twice, then two more): copies are named ``~1``, ``~2``; the
    names stay unique and every copy keeps its original's requests."""
    (instance,) = alibaba.generate(str(tiny(tmp_path)), nodes=5, pods=10, min_load=0)
    names = [n.name for n in instance.nodes]
    assert len(names) == len(set(names)) == 5
    assert {n.name.split("~")[0] for n in instance.nodes} <= {"g1", "g2"}
    pods = [g.name for g in instance.groups]
    assert len(pods) == len(set(pods)) == 10
    originals = {g.name: g for g in instance.groups if "~" not in g.name}
    assert set(originals) == {"p-spec", "p-share", "p-cpu", "p-late"}
    for g in instance.groups:
        assert g.requests == originals[g.name.split("~")[0]].requests


def test_locate(tmp_path: Path) -> None:
    folder = tiny(tmp_path)
    assert alibaba.locate(tmp_path) == folder == alibaba.locate(folder)
    with pytest.raises(InputError, match=r"^data: no Alibaba GPU trace v2023 at"):
        alibaba.locate(tmp_path / "elsewhere")


def test_min_load_not_reachable(tmp_path: Path) -> None:
    """The tiny trace asks (1000 + 500 + 1000) / 3000 = 0.83 of the GPU milli at most."""
    with pytest.raises(InputError, match=r"^min_load: no draw of 2 nodes and 4 pods"):
        alibaba.snapshots(tiny(tmp_path), nodes=2, pods=4)


@pytest.mark.parametrize(("row", "problem"), [
    ("p-x,1.5,1,0,0,,LS,Running,1,2,1", r"line 2: cpu_milli: '1.5' is not a non-negative"),
    ("p-x,1,1,0,0,,Gold,Running,1,2,1", r"line 2: qos: 'Gold' is not one of"),
])
def test_bad_rows(tmp_path: Path, row: str, problem: str) -> None:
    with pytest.raises(InstanceError, match=problem):
        alibaba.snapshots(tiny(tmp_path, HEADER + row + "\n"), nodes=1, pods=1, min_load=0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"nodes": 0}, "nodes"), ({"pods": 0}, "pods"), ({"variant": "x"}, "variant"),
    ({"min_load": -1}, "min_load"),
])
def test_bad_parameters(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}: "):
        alibaba.snapshots(tiny(tmp_path), **kwargs)  # type: ignore[arg-type]


@pytest.mark.data
def test_real_snapshots(data_dir: Path) -> None:
    """100 GPU nodes and 1000 pending pods of the trace, overbooked (so first fit leaves
    pods pending), requests as in the CSV, arrival by creation time; reproducible."""
    folder = alibaba.locate(data_dir)
    with (folder / f"{alibaba.PREFIX}pod_list_default.csv").open() as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    instances = alibaba.snapshots(folder, count=2, seed=3)
    assert instances == alibaba.snapshots(folder, count=2, seed=3)
    assert instances[0] != instances[1]
    for instance in instances:
        assert len({n.name for n in instance.nodes}) == 100
        assert all(n.allocatable["nvidia.com/gpu"] > 0 for n in instance.nodes)
        assert instance.pod_count == len(instance.groups) == 1000
        assert all(g.node is None and g.priority in (1, 2, 3, 4) for g in instance.groups)
        times = [int(rows[g.name]["creation_time"]) for g in instance.groups]
        assert times == sorted(times)
        for group in instance.groups[:50]:
            row = rows[group.name]
            assert group.requests["cpu"] == int(row["cpu_milli"])
            assert group.requests["memory"] == int(row["memory_mib"]) * 2**20
            share = int(row["num_gpu"]) * int(row["gpu_milli"])
            assert group.requests.get("alibaba.com/gpu-milli", 0) == share
        assert alibaba.binding_load(instance.nodes, instance.groups) > 1
        assert all(placeable(instance, g) for g in instance.groups)
        placed = greedy.first_fit(instance).assignment.values()
        assert any(node is None for node in placed)


@pytest.mark.data
@pytest.mark.parametrize("variant", ["gpuspec33", "cpu050"])
def test_real_variants(data_dir: Path, variant: str) -> None:
    """gpuspec33: some pods require GPU models, and each still fits some drawn node."""
    (instance,) = alibaba.generate(str(data_dir), variant=variant, nodes=50, pods=500, seed=1)
    assert instance.pod_count == 500 and all(placeable(instance, g) for g in instance.groups)
    required = [g for g in instance.groups if g.node_affinity]
    assert bool(required) == (variant == "gpuspec33")
