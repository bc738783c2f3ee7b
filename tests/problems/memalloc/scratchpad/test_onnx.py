"""The ONNX reader, on a tiny model built with onnx.helper (skipped without onnx).

The model: x (1x3x8x8) -> Conv 3x3 pad 1 to 4 channels (W 4x3x3x3, B 4) -> c; Relu(c) -> r;
Add(r, c) -> s; a shape computed from s (Shape, Gather, Unsqueeze, Concat with -1: static,
folded) -> Reshape(s) -> f (1x256: an alias of s); MatMul(f, W2 256x10) -> m; Add(m, B2) -> y;
Identity(y) -> out, the graph output (an alias of y).

8-bit: x 192, c r s 256 each, m y 10 each: 6 tensors, 5 operators (Conv, Relu, Add, MatMul,
Add). Weights: Conv 108 + 4 = 112, MatMul 2,560, the last Add 10. The output is y. With
``dtype_sizes`` (float32) every size and weight is 4x. M_R is the Add's r + c + s = 768;
M_P: c waits across Relu (c, r) and Add (c, r, s): 768 as well.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from optsched.errors import InputError
from optsched.problems.memalloc.scratchpad.belady import belady, listed_order
from optsched.problems.memalloc.scratchpad.budgets import budgets
from optsched.problems.memalloc.scratchpad.evaluate import evaluate
from optsched.problems.memalloc.scratchpad.onnxgraph import read_onnx
from tests.conftest import extra


def tiny(onnx: Any, batch: int | str = 1) -> Any:
    h, tp = onnx.helper, onnx.TensorProto
    init = [
        h.make_tensor("W", tp.FLOAT, [4, 3, 3, 3], [0.1] * 108),
        h.make_tensor("B", tp.FLOAT, [4], [0.0] * 4),
        h.make_tensor("W2", tp.FLOAT, [256, 10], [0.01] * 2560),
        h.make_tensor("B2", tp.FLOAT, [10], [0.0] * 10),
        h.make_tensor("zero", tp.INT64, [], [0]),
        h.make_tensor("axes", tp.INT64, [1], [0]),
    ]
    nodes = [
        h.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["c"], ["r"], name="relu"),
        h.make_node("Add", ["r", "c"], ["s"], name="add"),
        h.make_node("Shape", ["s"], ["s_shape"]),
        h.make_node("Gather", ["s_shape", "zero"], ["n"]),
        h.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        h.make_node("Constant", [], ["minus1"],
                    value=h.make_tensor("m1", tp.INT64, [1], [-1])),
        h.make_node("Concat", ["n1", "minus1"], ["flat"], axis=0),
        h.make_node("Reshape", ["s", "flat"], ["f"], name="flatten"),
        h.make_node("MatMul", ["f", "W2"], ["m"], name="fc"),
        h.make_node("Add", ["m", "B2"], ["y"], name="bias"),
        h.make_node("Identity", ["y"], ["out"]),
    ]
    graph = h.make_graph(nodes, "tiny", [h.make_tensor_value_info("x", tp.FLOAT,
                                                                  [batch, 3, 8, 8])],
                         [h.make_tensor_value_info("out", tp.FLOAT, None)], init)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


@pytest.fixture
def onnx() -> Any:
    return extra("onnx")


def test_reads_a_tiny_model(onnx: Any, tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny(onnx), str(path))
    inst = read_onnx(path, 1000)
    assert inst.name == "tiny" and inst.capacity == 1000 and inst.fixed
    assert [op.id for op in inst.operators] == ["conv", "relu", "add", "fc", "bias"]
    assert {t.id: t.size for t in inst.tensors} == {"x": 192, "c": 256, "r": 256, "s": 256,
                                                    "m": 10, "y": 10}
    assert [op.weights for op in inst.operators] == [112, 0, 0, 2560, 10]
    ops = {op.id: op for op in inst.operators}
    assert ops["fc"].inputs == ("s",)  # through the Reshape alias
    assert ops["add"].inputs == ("r", "c")
    assert inst.inputs == ("x",) and inst.outputs == ("y",)
    assert inst.meta["aliased"] == 2 and inst.meta["folded"] == 5
    found = budgets(inst)
    assert (found["min"], found["peak"]) == (768, 768)
    check = evaluate(inst, belady(inst, listed_order(inst)))
    assert check.violations == () and check.objective == 0


def test_element_sizes_from_the_data_type(onnx: Any) -> None:
    inst = read_onnx(tiny(onnx), dtype_sizes=True, stream_weights=True)
    assert {t.id: t.size for t in inst.tensors}["x"] == 4 * 192
    assert [op.weights for op in inst.operators] == [448, 0, 0, 10240, 40]
    assert inst.stream_weights
    assert inst.capacity == 4 * (192 + 3 * 256 + 20) + 4 * (112 + 2560 + 10)


def test_symbolic_dimensions(onnx: Any) -> None:
    model = tiny(onnx, batch="N")
    with pytest.raises(InputError, match="symbolic dimension 'N'"):
        read_onnx(model)
    inst = read_onnx(model, dims={"N": 1})
    assert {t.id: t.size for t in inst.tensors}["c"] == 256


def test_a_bad_file_is_named(onnx: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"not a protobuf at all \xff\xff")
    with pytest.raises(InputError) as err:
        read_onnx(path)
    assert err.value.field == str(path)


def test_without_onnx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(InputError) as err:
        read_onnx("model.onnx")
    assert err.value.field == "onnx"
    assert 'pip install -e ".[onnx]"' in str(err.value)
