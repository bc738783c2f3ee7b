"""The packing search in C (``counts/_anneal.c``) and in numba (``counts/pack_kernel.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.deadline import Deadline
from optsched.problems.pods.counts import kernels, pack, pack_kernel
from optsched.problems.pods.counts.objective import value
from optsched.problems.pods.counts.structure import build_counts
from optsched.problems.pods.counts.symmetry import hint_counts
from optsched.problems.pods.greedy import first_fit

from ...conftest import extra
from .test_pack import perfect_fit


def _c() -> kernels.Kernel:
    """The C kernel; skips without it, unless CI requires it (:func:`extra`)."""
    module = extra("optsched.problems.pods.counts._anneal")
    return module.anneal  # type: ignore[no-any-return]


def _numba() -> kernels.Kernel:
    return pack_kernel.anneal


KERNELS: dict[str, Callable[[], kernels.Kernel]] = {"c": _c, "numba": _numba}


def _state(cpu: list[int], capacity: list[int], start: list[int], key: list[int] | None = None
           ) -> dict[str, Any]:
    """One class per pod, every class allowed on every node; resources cpu and pods."""
    n_pods, n_nodes = len(cpu), len(capacity)
    need = np.array([[c, 1] for c in cpu], dtype=np.int64).reshape(n_pods, 2)
    cap = np.array([[c, 110] for c in capacity], dtype=np.int64)
    node = np.array(start, dtype=np.int64)
    keys = np.array(key if key is not None else [-1] * n_pods, dtype=np.int64)
    n_keys = int(keys.max(initial=-1)) + 1
    load = np.zeros((n_nodes, 2), dtype=np.int64)
    kload = np.zeros((n_nodes, n_keys), dtype=np.int64)
    for i, n in enumerate(start):
        load[n] += need[i]
        if keys[i] >= 0:
            kload[n, keys[i]] += 1
    return {"node": node, "klass": np.arange(n_pods, dtype=np.int64), "load": load,
            "cap": cap, "need": need, "weight": np.ones(3), "key": keys, "kload": kload,
            "eligible": np.ones((n_pods, n_nodes), dtype=np.bool_),
            "ptr": np.arange(0, n_pods * n_nodes + 1, n_nodes, dtype=np.int64),
            "targets": np.tile(np.arange(n_nodes, dtype=np.int64), n_pods)}


def _run(kernel: str, state: dict[str, Any], iterations: int = 100_000, seed: int = 0
         ) -> tuple[int, int]:
    return _call(KERNELS[kernel](), state, iterations, 2.0, seed)


def _call(anneal: kernels.Kernel, s: dict[str, Any], iterations: int, temperature: float,
          seed: int) -> tuple[int, int]:
    return anneal(s["node"], s["klass"], s["load"], s["cap"], s["need"], s["weight"], s["key"],
                  s["kload"], s["eligible"], s["ptr"], s["targets"], iterations, temperature,
                  seed)


def _exceeded(state: dict[str, Any]) -> int:
    """Exceeded capacities recomputed from the nodes alone."""
    n_nodes, n_keys = state["cap"].shape[0], state["kload"].shape[1]
    load = np.zeros_like(state["cap"])
    kload = np.zeros((n_nodes, n_keys), dtype=np.int64)
    for i, n in enumerate(state["node"].tolist()):
        c = state["klass"][i]
        load[n] += state["need"][c]
        if state["key"][c] >= 0:
            kload[n, state["key"][c]] += 1
    assert (load == state["load"]).all() and (kload == state["kload"]).all()
    return int((load > state["cap"]).sum() + (kload > 1).sum())


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_packs_four_three_three_twice(kernel: str) -> None:
    """Pods of 4, 4, 3, 3, 3, 3 cpu all on the first of two 10-cpu nodes: 20 > 10, one
    exceeded capacity. The only packings are 4 + 3 + 3 on each node; both kernels find
    one, and the loads they kept match the nodes they chose."""
    state = _state([4, 4, 3, 3, 3, 3], [10, 10], [0] * 6)
    assert _exceeded(state) == 1
    bad, tried = _run(kernel, state)
    assert bad == 0 and 0 < tried < 100_000
    assert _exceeded(state) == 0
    assert sorted(state["load"][:, 0].tolist()) == [10, 10]


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_anti_affinity_spreads(kernel: str) -> None:
    """Two 1-cpu pods of one anti-affinity key on node 0 of two: the key counts 2 > 1
    there; the search moves one away (the cpu never binds)."""
    state = _state([1, 1], [10, 10], [0, 0], key=[0, 0])
    assert _exceeded(state) == 1
    assert _run(kernel, state)[0] == 0
    assert sorted(state["node"].tolist()) == [0, 1]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_loads_stay_true_to_the_nodes(data: st.DataObject) -> None:
    """Random states, a few hundred moves, both kernels: the loads they keep equal the
    loads of the nodes they chose, the count they return is the exceeded capacities of
    that state, and a pod only lands on a node of its class."""
    n_nodes = data.draw(st.integers(1, 4))
    cpu = data.draw(st.lists(st.integers(1, 6), min_size=0, max_size=8))
    start = [data.draw(st.integers(0, n_nodes - 1)) for _ in cpu]
    keys = [data.draw(st.integers(-1, 1)) for _ in cpu]
    capacity = [data.draw(st.integers(1, 12)) for _ in range(n_nodes)]
    for kernel in sorted(KERNELS):
        state = _state(cpu, capacity, start, keys)
        bad, _ = _run(kernel, state, iterations=300, seed=data.draw(st.integers(0, 99)))
        assert bad == _exceeded(state)


def test_bad_arguments_are_refused_by_name() -> None:
    """The C kernel checks what it reads and writes: a wrong type, a length that does
    not match, a node out of range, a read-only array it must write."""
    anneal = _c()
    good = _state([4, 3], [10, 10], [0, 1])
    cases: list[tuple[str, Any, str]] = [
        ("node", good["node"].astype(np.int32), "node must be an array of int64"),
        ("weight", good["weight"].astype(np.float32), "weight must be an array of float64"),
        ("klass", good["klass"][:1], "klass holds 1 items, expected 2"),
        ("node", np.array([0, 2], dtype=np.int64), r"node\[1\] = 2 is outside \[0, 2\)"),
        ("targets", good["targets"] - 5, "targets"),
        ("ptr", good["ptr"][::-1].copy(), "ptr"),
    ]
    for field, array, message in cases:
        state = _state([4, 3], [10, 10], [0, 1])
        state[field] = array
        with pytest.raises((TypeError, ValueError), match=message):
            _call(anneal, state, 10, 1.0, 0)
    frozen = _state([4, 3], [10, 10], [0, 1])
    frozen["load"].flags.writeable = False
    with pytest.raises((TypeError, ValueError, BufferError)):
        _call(anneal, frozen, 10, 1.0, 0)
    with pytest.raises(ValueError, match="temperature"):
        _call(anneal, good, 10, 0.0, 0)


def test_the_search_runs_on_numba_without_the_extension(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Without the C extension (no compiler at install) drop-and-pack runs numba's
    kernel and still packs :func:`perfect_fit` from first fit's 1 to 0."""
    monkeypatch.setattr(kernels, "_native", lambda: None)
    assert kernels.kernel() is pack_kernel.anneal
    instance = perfect_fit()
    counts = build_counts(instance)
    x = hint_counts(counts, first_fit(instance), "none")
    assert x is not None and value(counts, x) == 1
    assert value(counts, pack.Packer(counts, seed=0).improve(x, Deadline(30.0))) == 0
