"""The scratchpad instance: every bad input is refused naming its field, from a JSON object
and on the command line (exit 2, one line, no traceback); the round trip; ``-m`` options.

``SKIP`` is the formats.md example (``samples.skip()``): x (2, graph input) -> op0 -> a (4)
-> op1 -> b (4) -> op2 -> c (4); op3 reads a and c and writes d (2); capacity 10. The
operators need 6, 8, 8 and 10 bytes at once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optsched.errors import InstanceError
from optsched.problems.memalloc.scratchpad import samples
from optsched.problems.memalloc.scratchpad.instance import (
    MAX_SIZE,
    Operator,
    ScratchpadInstance,
    Tensor,
)
from optsched.problems.memalloc.scratchpad.reading import from_dict

from ....cli.helpers import one_error, one_json, run, write_json

SKIP: dict[str, Any] = {
    "family": "memalloc", "format": 1, "kind": "scratchpad", "name": "skip", "capacity": 10,
    "order": "listed", "inputs": ["x"],
    "tensors": [{"id": "x", "size": 2}, {"id": "a", "size": 4}, {"id": "b", "size": 4},
                {"id": "c", "size": 4}, {"id": "d", "size": 2}],
    "operators": [{"id": "op0", "inputs": ["x"], "outputs": ["a"]},
                  {"id": "op1", "inputs": ["a"], "outputs": ["b"]},
                  {"id": "op2", "inputs": ["b"], "outputs": ["c"]},
                  {"id": "op3", "inputs": ["a", "c"], "outputs": ["d"], "weights": 0}]}


def changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    """A deep copy of SKIP after ``edit``."""
    data = copy.deepcopy(SKIP)
    edit(data)
    return data


def setter(*path: str | int, value: object) -> Callable[[dict[str, Any]], object]:
    """An edit setting ``data[path[0]][path[1]]... = value``."""
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def both(*edits: Callable[[dict[str, Any]], object]) -> Callable[[dict[str, Any]], object]:
    """One edit doing ``edits`` in turn."""
    def edit(data: dict[str, Any]) -> None:
        for one in edits:
            one(data)

    return edit


def _swap_op1_op2(data: dict[str, Any]) -> None:
    ops = data["operators"]
    ops[1], ops[2] = ops[2], ops[1]


def _add_tensor(data: dict[str, Any]) -> None:
    data["tensors"].append({"id": "u", "size": 1})


def _z_read_never_written(data: dict[str, Any]) -> None:
    data["tensors"].append({"id": "z", "size": 1})
    data["operators"][3]["inputs"].append("z")


BAD: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    # (case, instance, the field named, words of the message)
    ("read, never written, not an input", changed(_z_read_never_written),
     "operators[3].inputs[2]", ("'z'", "read but never written", "not a graph input")),
    ("graph input not listed", changed(setter("inputs", value=[])), "operators[0].inputs[0]",
     ("'x'", "read but never written")),
    ("two-operator cycle", changed(setter("operators", 0, "inputs", value=["x", "b"])),
     "operators", ("a cycle: 'op0' -> 'op1' -> 'op0'",)),
    ("cycle through all four, free order",
     changed(both(setter("operators", 0, "inputs", value=["x", "d"]),
                  setter("order", value="free"))),
     "operators", ("a cycle: 'op0' -> 'op1' -> 'op2' -> 'op3' -> 'op0'",)),
    ("op3 needs 10 > 9", changed(setter("capacity", value=9)), "operators[3]",
     ("'op3' needs 10 bytes", "holds 9", "never schedulable")),
    ("streamed weights: op0 needs 2 + 4 + 5 = 11 > 10",
     changed(both(setter("operators", 0, "weights", value=5),
                  setter("stream_weights", value=True))),
     "operators[0]", ("needs 11 bytes", "inputs, outputs and weights", "never schedulable")),
    *[(f"size {v!r}", changed(setter("tensors", 1, "size", value=v)), "tensors[1].size",
       ("must be a positive integer",)) for v in (0, -1, 1.5, "8", True, MAX_SIZE + 1)],
    *[(f"capacity {v!r}", changed(setter("capacity", value=v)), "capacity",
       ("must be an integer in [1,",)) for v in (0, -4, 1.5, "10", True, MAX_SIZE + 1)],
    ("listed order reads b before op1 writes it", changed(_swap_op1_op2),
     "operators[1].inputs[0]", ("'op2' reads 'b' before operators[2] writes it",)),
    ("duplicate tensor id", changed(setter("tensors", 2, "id", value="a")), "tensors[2].id",
     ("must be a new",)),
    ("tensor id ending in :weights", changed(setter("tensors", 0, "id", value="x:weights")),
     "tensors[0].id", (":weights",)),
    ("duplicate operator id", changed(setter("operators", 2, "id", value="op1")),
     "operators[2].id", ("must be a new",)),
    ("unknown top-level key", changed(setter("colour", value="red")), "colour",
     ("is not a known key",)),
    ("unknown tensor key", changed(setter("tensors", 0, "bytes", value=2)), "tensors[0].bytes",
     ("is not a known key",)),
    ("unknown operator key", changed(setter("operators", 0, "weight", value=1)),
     "operators[0].weight", ("is not a known key",)),
    ("missing capacity", changed(lambda d: d.pop("capacity")), "capacity", ("is missing",)),
    ("unused tensor", changed(_add_tensor), "tensors[5]",
     ("'u'", "neither written nor read")),
    ("unused graph input", changed(both(_add_tensor, setter("inputs", value=["x", "u"]))),
     "tensors[5]", ("'u'", "neither written nor read")),
    ("output written twice, two operators",
     changed(setter("operators", 2, "outputs", value=["c", "b"])), "operators[2].outputs[1]",
     ("'b' is already written by operators[1]",)),
    ("output written twice, one operator",
     changed(setter("operators", 0, "outputs", value=["a", "a"])), "operators[0].outputs[1]",
     ("'a' is already written",)),
    ("output also an input", changed(setter("operators", 0, "outputs", value=["a", "x"])),
     "operators[0].outputs[1]", ("'x' is also an input",)),
    ("no outputs", changed(setter("operators", 3, "outputs", value=[])), "operators[3].outputs",
     ("at least one",)),
    ("unknown tensor read", changed(setter("operators", 1, "inputs", value=["q"])),
     "operators[1].inputs[0]", ("unknown tensor 'q'",)),
    ("graph input written", changed(setter("inputs", value=["x", "b"])), "inputs[1]",
     ("'b' is written by operators[1]",)),
    ("graph output never written", changed(setter("outputs", value=["d", "x"])), "outputs[1]",
     ("'x' is not written",)),
    ("negative weights", changed(setter("operators", 0, "weights", value=-1)),
     "operators[0].weights", ("must be an integer in [0,",)),
    ("order not listed/free", changed(setter("order", value="random")), "order",
     ("must be one of listed, free", "'random'")),
    ("order not a string", changed(setter("order", value=1)), "order", ("must be a string",)),
    *[(f"stream_weights {v!r}", changed(setter("stream_weights", value=v)), "stream_weights",
       ("must be true or false",)) for v in ("true", 1, None)],
    ("kind buffers", changed(setter("kind", value="buffers")), "kind", ("scratchpad",)),
    ("tensors not a list", changed(setter("tensors", value={"x": 2})), "tensors",
     ("must be a list",)),
]


@pytest.mark.parametrize(("case", "data", "field", "words"), BAD, ids=[c[0] for c in BAD])
def test_from_dict_names_the_field(case: str, data: dict[str, Any], field: str,
                                   words: tuple[str, ...]) -> None:
    """Each bad object raises InstanceError whose ``field`` is exactly the culprit."""
    with pytest.raises(InstanceError) as caught:
        from_dict(data)
    assert caught.value.field == field, str(caught.value)
    for word in words:
        assert word in caught.value.problem, str(caught.value)


@pytest.mark.parametrize(("case", "data", "field", "words"), BAD, ids=[c[0] for c in BAD])
def test_cli_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                             data: dict[str, Any], field: str, words: tuple[str, ...]) -> None:
    """``optsched solve FILE``: exit 2, one line ``FILE: field: problem``, no traceback."""
    path = write_json(tmp_path / "bad.json", data)
    line = one_error(run(capsys, "solve", path), *words)
    assert f"{path}: {field}: " in line, line


def test_the_example_is_accepted() -> None:
    """SKIP is the skip sample; its graph in integers: producers, readers, needs."""
    inst = from_dict(SKIP)
    assert inst == samples.skip()
    g = inst.graph
    assert g.ids == ("x", "a", "b", "c", "d")
    assert g.producer == (-1, 0, 1, 2, 3)
    assert g.readers == ((0,), (1, 3), (2,), (3,), ())
    assert g.needs == (6, 8, 8, 10)
    assert g.output == (False, False, False, False, True)  # d: no operator reads it


def test_a_listed_order_that_reads_early_is_fine_when_free() -> None:
    """The swapped listing (op2 before op1) is a graph, not a schedule, when free."""
    data = changed(_swap_op1_op2)
    data["order"] = "free"
    assert from_dict(data).fixed is False


def _weighted() -> ScratchpadInstance:
    t = (Tensor("x", 2), Tensor("y", 3), Tensor("z", 1))
    ops = (Operator("p", ("x",), ("y",), weights=4), Operator("q", ("x", "y"), ("z",)))
    return ScratchpadInstance(t, ops, 12, inputs=("x",), outputs=("y", "z"), order="free",
                              stream_weights=True, name="w", meta={"from": "hand"})


@pytest.mark.parametrize("make", [samples.skip, samples.branches, _weighted],
                         ids=["skip", "branches", "weighted"])
def test_round_trip(make: Callable[[], ScratchpadInstance]) -> None:
    """to_dict -> JSON text -> from_dict gives the same instance, meta included."""
    inst = make()
    back = from_dict(json.loads(json.dumps(inst.to_dict())))
    assert back == inst
    assert back.meta == inst.meta and back.to_dict() == inst.to_dict()
    assert inst.to_dict()["kind"] == "scratchpad"


def test_round_trip_keeps_settings() -> None:
    """Explicit outputs, streamed weights, free order and weights survive; the weights
    tensor ``p:weights`` (4 bytes, read by p) exists only in the graph."""
    data = _weighted().to_dict()
    assert (data["order"], data["stream_weights"], data["outputs"]) == ("free", True,
                                                                        ["y", "z"])
    assert data["operators"][0]["weights"] == 4 and "weights" not in data["operators"][1]
    assert [t["id"] for t in data["tensors"]] == ["x", "y", "z"]
    g = _weighted().graph
    assert g.ids[-1] == "p:weights" and g.sizes[-1] == 4 and g.readers[-1] == (0,)
    assert g.needs == (2 + 3 + 4, 2 + 3 + 1)


# --- -m order=... and -m capacity=... on the command line ------------------------------


def test_order_free_lets_memorder_solve(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """scratchpad-memorder chooses the order, so it refuses SKIP (listed) naming order;
    ``-m order=free`` makes it take it. SKIP's graph is a chain (op3 needs c from op2), so
    the only order is the listed one and a must still leave at step 2 (12 bytes wanted >
    10): 8 bytes, verified; a free order's step bound is 0."""
    path = write_json(tmp_path / "skip.json", SKIP)
    one_error(run(capsys, "solve", path, "-s", "scratchpad-memorder"), "order: ")
    row = one_json(run(capsys, "solve", path, "-m", "order=free", "-s", "scratchpad-memorder",
                       "--json"))
    assert (row["solver"], row["objective"], row["bound"], row["verified"]) == \
        ("scratchpad-memorder", 8, 0, True)
    assert row["solution"]["order"] == ["op0", "op1", "op2", "op3"]


def test_order_free_with_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-m order=free`` with auto: a free-order solver, the same 8 bytes, verified."""
    path = write_json(tmp_path / "skip.json", SKIP)
    row = one_json(run(capsys, "solve", path, "-m", "order=free", "-w", "1", "--json"))
    assert (row["objective"], row["verified"]) == (8, True)
    assert "free order" in row["stats"]["auto"]


def test_listed_order_is_solved_by_cpsat(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Without -m, auto is CP-SAT, which proves 8 (samples.skip)."""
    path = write_json(tmp_path / "skip.json", SKIP)
    row = one_json(run(capsys, "solve", path, "-w", "1", "--json"))
    assert (row["solver"], row["status"], row["objective"], row["bound"]) == \
        ("cpsat", "optimal", 8, 8)


def test_capacity_12_needs_no_move(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-m capacity=12``: step 2 wants b, c and the waiting a, 12 bytes: all stay, 0."""
    path = write_json(tmp_path / "skip.json", SKIP)
    row = one_json(run(capsys, "solve", path, "-m", "capacity=12", "-w", "1", "--json"))
    assert (row["status"], row["objective"], row["bound"]) == ("optimal", 0, 0)


@pytest.mark.parametrize(("value", "words"), [
    ("1", ("operators[0]", "'op0' needs 6 bytes", "never schedulable")),
    ("9", ("operators[3]", "'op3' needs 10 bytes", "never schedulable")),
    ("0", ("above 0",)),
    ("-1", ()),
])
def test_bad_capacity_option(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str,
                             words: tuple[str, ...]) -> None:
    """A capacity an operator cannot fit, or not above 0: exit 2 naming model.capacity."""
    path = write_json(tmp_path / "skip.json", SKIP)
    line = one_error(run(capsys, "solve", path, "-m", f"capacity={value}"), *words)
    assert f"{path}: model.capacity: " in line, line


def test_bad_order_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``-m order=sideways``: exit 2 naming model.order."""
    path = write_json(tmp_path / "skip.json", SKIP)
    one_error(run(capsys, "solve", path, "-m", "order=sideways"), "model.order", "listed, free")


def _free_swapped() -> dict[str, Any]:
    data = changed(_swap_op1_op2)
    data["order"] = "free"
    return data


def test_order_listed_on_a_graph_listed_out_of_order(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The swapped listing is fine as a free graph; ``-m order=listed`` makes it a schedule
    reading b before it is written: exit 2 naming model.order and the operator input."""
    path = write_json(tmp_path / "free.json", _free_swapped())
    one_error(run(capsys, "solve", path, "-m", "order=listed"), "model.order: ",
              "operators[1].inputs[0]")


def test_order_at_fault_before_capacity(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``-m order=listed -m capacity=50``: capacity 50 is fine (op3 needs 10); the listed
    order reads b early, and model.order is named."""
    path = write_json(tmp_path / "free.json", _free_swapped())
    one_error(run(capsys, "solve", path, "-m", "order=listed", "-m", "capacity=50"),
              "model.order: ", "operators[1].inputs[0]")


def test_order_at_fault_after_capacity(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``-m capacity=50 -m order=listed``: the same two settings the other way round; the
    order is still the one at fault, so model.order is named."""
    path = write_json(tmp_path / "free.json", _free_swapped())
    one_error(run(capsys, "solve", path, "-m", "capacity=50", "-m", "order=listed"),
              "model.order: ", "operators[1].inputs[0]")


def test_capacity_at_fault_after_order(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``-m order=free -m capacity=1``: the free order is fine; capacity 1 < 6 bytes of op0
    is the culprit, so model.capacity is named."""
    path = write_json(tmp_path / "skip.json", SKIP)
    one_error(run(capsys, "solve", path, "-m", "order=free", "-m", "capacity=1"),
              "model.capacity: ", "never schedulable")
