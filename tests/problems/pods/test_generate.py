"""The paper's grid generator: reproducible, on the grid, at the asked load."""

from __future__ import annotations

import inspect

import pytest

from optsched.errors import InputError
from optsched.problems.pods import greedy
from optsched.problems.pods.generate import MB, PARAMS, generate, scenario
from optsched.problems.pods.instance import PodsInstance


def loads(instance: PodsInstance) -> tuple[float, float]:
    """Requested / allocatable over the cluster, for cpu and for memory."""
    out = []
    for resource in ("cpu", "memory"):
        need = sum(g.requests[resource] * g.replicas for g in instance.groups)
        out.append(need / sum(n.allocatable[resource] for n in instance.nodes))
    return out[0], out[1]


def pending(instance: PodsInstance) -> bool:
    return any(node is None for node in greedy.first_fit(instance).assignment.values())


def test_reproducible_and_independent_of_count() -> None:
    """Scenario k depends only on (seed, k): the first of 3 equals the only one of 1."""
    three = generate(nodes=8, pods_per_node=4, priorities=4, load=0.95, count=3, seed=5)
    assert generate(nodes=8, pods_per_node=4, priorities=4, load=0.95, seed=5)[0] == three[0]
    assert three == generate(nodes=8, pods_per_node=4, priorities=4, load=0.95, count=3, seed=5)
    assert three[0] != three[1]
    assert [i.name for i in three] == [f"pods-n8-ppn4-pr4-load0.95-s5-{k}" for k in range(3)]


@pytest.mark.parametrize("nodes", [4, 8, 16, 32])
@pytest.mark.parametrize("pods_per_node", [4, 8])
@pytest.mark.parametrize(("priorities", "load"), [(1, 0.9), (2, 1.0), (4, 1.05)])
def test_grid_properties(nodes: int, pods_per_node: int, priorities: int, load: float) -> None:
    """N identical nodes with as many millicores as MB; N * ppn pending pods in ReplicaSets
    of 1-4 with requests in the paper's ranges (100-1000 m, 100-1000 MB); priorities in
    1..K; the binding resource at ``load``: a node's room ``ppn * 500 / s`` is rounded down
    by less than one unit, and since every request is at least 100 (a fifth of a 500 slot)
    the factor s is at most 1.05 / 0.2 = 5.25, so the room is at least ppn * 95 units and
    the load is above target by a factor at most 1 + 1 / (ppn * 95)."""
    for instance in generate(nodes, pods_per_node, priorities, load, count=3, seed=1):
        assert len(instance.nodes) == nodes
        rooms = {(n.allocatable["cpu"], n.allocatable["memory"]) for n in instance.nodes}
        assert len(rooms) == 1 and all(mem == cpu * MB for cpu, mem in rooms)
        assert instance.pod_count == nodes * pods_per_node
        assert all(1 <= g.replicas <= 4 and g.node is None for g in instance.groups)
        assert all(100 <= g.requests["cpu"] <= 1000 for g in instance.groups)
        assert all(100 * MB <= g.requests["memory"] <= 1000 * MB and
                   g.requests["memory"] % MB == 0 for g in instance.groups)
        assert {g.priority for g in instance.groups} <= set(range(1, priorities + 1))
        assert all(g.priority_class == f"p{g.priority}" for g in instance.groups)
        cpu, memory = loads(instance)
        assert load <= max(cpu, memory) <= load * (1 + 1 / (pods_per_node * 95))
        assert min(cpu, memory) <= max(cpu, memory)


def test_several_priorities_and_sizes_appear() -> None:
    """256 pods in about 100 ReplicaSets: all 4 levels and all 4 sizes show up."""
    instance = generate(nodes=32, pods_per_node=8, priorities=4, seed=2)[0]
    assert {g.priority for g in instance.groups} == {1, 2, 3, 4}
    assert {g.replicas for g in instance.groups[:-1]} == {1, 2, 3, 4}


def test_failing_keeps_scenarios_that_leave_pods_pending() -> None:
    """With the first-fit stand-in for the default scheduler: every kept scenario leaves a
    pod pending, and each equals the plain scenario of the k in its name."""
    kept = generate(nodes=8, pods_per_node=8, priorities=2, load=0.9, count=4, seed=7,
                    failing=True, baseline=greedy.first_fit)
    assert len(kept) == 4
    for instance in kept:
        assert pending(instance)
        k = int(instance.name.rsplit("-", 1)[1])
        assert instance == scenario(8, 8, 2, 0.9, 7, k)
    skipped = [k for k in range(int(kept[-1].name.rsplit("-", 1)[1]))
               if k not in {int(i.name.rsplit("-", 1)[1]) for i in kept}]
    assert all(not pending(scenario(8, 8, 2, 0.9, 7, k)) for k in skipped)


def test_failing_gives_up_when_nothing_fails() -> None:
    """At load 0.2 first fit places every pod: no scenario qualifies."""
    with pytest.raises(InputError, match=r"^failing: only 0 of the first 1000 scenarios"):
        generate(nodes=4, load=0.2, failing=True, baseline=greedy.first_fit)


def test_failing_uses_the_default_scheduler() -> None:
    kept = generate(nodes=4, pods_per_node=4, load=1.0, count=2, failing=True)
    assert len(kept) == 2


def test_params_match_the_signature() -> None:
    """Every generator parameter is an argument with the same default (a CLI option)."""
    signature = inspect.signature(generate).parameters
    for param in PARAMS:
        assert signature[param.name].default == param.default
    assert [p.name for p in PARAMS] == [n for n in signature if n != "baseline"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"nodes": 0}, "nodes"), ({"pods_per_node": 2.5}, "pods_per_node"),
    ({"priorities": 0}, "priorities"), ({"count": 0}, "count"), ({"seed": -1}, "seed"),
    ({"load": 0}, "load"), ({"load": True}, "load"), ({"nodes": True}, "nodes"),
])
def test_out_of_range_parameters(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}: "):
        generate(**kwargs)  # type: ignore[arg-type]
