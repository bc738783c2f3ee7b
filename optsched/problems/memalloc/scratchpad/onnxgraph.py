"""A scratchpad instance from an ONNX model (the ``onnx`` extra: ``pip install -e ".[onnx]"``).

The model's nodes in their stored order are the operators in the listed
order (ONNX stores them topologically sorted). Shapes come from ONNX shape
inference (with data propagation, so a Reshape to a computed shape gets
its output's shape); a symbolic dimension (a dynamic batch ``N``) is fixed
with ``dims={"N": 1}``. How the nodes become operators:

- Values known before the network runs are *static*: initializers, the
  outputs of ``Constant``, ``Shape`` and ``Size``, and every output of a node
  whose inputs are all static (constant folding, e.g. the arithmetic on a
  shape). They are no tensors: a node reading one counts its bytes among
  its ``weights`` (streamed with ``stream_weights``), each once per node.
- ``Reshape``, ``Flatten``, ``Squeeze``, ``Unsqueeze`` and ``Identity``
  (:data:`ALIASES`) only relabel their data input: their output is an alias
  of it (the same bytes), and readers of the output read the input. A
  shape argument they take is not read.
- Every other node is an operator reading its non-static inputs (each once)
  and writing its outputs (optional outputs left unnamed are skipped).
- Sizes are 8-bit by default (bytes = elements, as COSMA assumes); with
  ``dtype_sizes`` an element takes its data type's bytes (float32: 4).
- Graph outputs (through aliases) are the instance's outputs; graph inputs
  no operator reads are left out. Control flow (``If``, ``Loop``, ``Scan``:
  nodes with subgraphs) is refused, since a body may read any outer value.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optsched.errors import InputError
from optsched.fields import excerpt
from optsched.problems.memalloc.scratchpad.instance import Operator, ScratchpadInstance, Tensor

ALIASES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
"""Shape-only operators: their output is their data input under another name."""
STATIC_OPS = frozenset({"Constant", "Shape", "Size"})
"""Operators whose outputs are known without running the network."""
INSTALL = 'pip install -e ".[onnx]"'


def _onnx() -> Any:
    """The ``onnx`` package, imported on first use (an optional extra)."""
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise InputError("onnx", f"reading ONNX models needs the onnx package: {INSTALL}"
                         ) from None


def read_onnx(path: str | os.PathLike[str] | Any, capacity: int | None = None, *,
              dtype_sizes: bool = False, stream_weights: bool = False, order: str = "listed",
              dims: Mapping[str, int] | None = None, name: str | None = None
              ) -> ScratchpadInstance:
    """Read an ONNX model (a file, or a loaded ``ModelProto``) as a scratchpad instance.

    ``capacity`` is the scratchpad's size (None: room for every tensor, and
    the weights when streamed, at once; :func:`.budgets.budgets` then gives
    COSMA's). ``dims`` gives symbolic dimensions their values. Bad input
    raises :class:`InputError` naming the file, node or tensor at fault.
    """
    onnx = _onnx()
    where = "model"
    if isinstance(path, str | os.PathLike):
        where = str(path)
        try:
            model = onnx.load(where)
        except Exception as exc:  # a missing file, or protobuf's DecodeError
            raise InputError(where, f"cannot read an ONNX model: {exc}") from None
        default_name = Path(where).stem
    elif isinstance(path, onnx.ModelProto):
        model = path
        default_name = model.graph.name or "onnx"
    else:
        raise InputError("path", f"must be a file or an onnx.ModelProto, got {excerpt(path)}")
    try:
        return _read(onnx, model, where, capacity, dtype_sizes, stream_weights, order,
                     dict(dims or {}), default_name if name is None else name)
    except InputError as exc:
        if where == "model":
            raise
        raise exc.within(where) from None


def _read(onnx: Any, original: Any, where: str, capacity: int | None, dtype_sizes: bool,
          stream_weights: bool, order: str, dims: dict[str, int], name: str
          ) -> ScratchpadInstance:
    graph = original.graph
    initializers = {t.name: t for t in graph.initializer}
    model = onnx.ModelProto()
    model.CopyFrom(original)
    for value in model.graph.input:
        for d in value.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in dims:
                d.dim_value = dims[d.dim_param]
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # onnx's InferenceError, or a checker error
        raise InputError("shape inference", str(exc).strip()) from None
    types: dict[str, Any] = {}
    for value in (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output):
        if value.type.HasField("tensor_type"):
            types.setdefault(value.name, value.type.tensor_type)

    def size(tensor: str) -> int:
        if tensor in initializers:
            init = initializers[tensor]
            return int(math.prod(init.dims)) * _element(onnx, init.data_type, dtype_sizes, tensor)
        found = types.get(tensor)
        if found is None or not found.HasField("shape"):
            raise InputError(f"tensor {excerpt(tensor)}", "no shape after shape inference")
        shape = []
        for d in found.shape.dim:
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            else:
                what = excerpt(d.dim_param) if d.HasField("dim_param") else "unnamed"
                raise InputError(f"tensor {excerpt(tensor)}", f"has the symbolic dimension "
                                 f"{what}: give it a value with dims={{name: value}}")
        return int(math.prod(shape)) * _element(onnx, found.elem_type, dtype_sizes, tensor)

    graph_inputs = [v.name for v in graph.input if v.name not in initializers]
    static = set(initializers)
    alias: dict[str, str] = {}
    operators: list[Operator] = []
    names: set[str] = set()
    aliased = folded = 0
    for i, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{i}"
        if any(a.HasField("g") or len(a.graphs) for a in node.attribute):
            raise InputError(f"node {excerpt(label)}", f"{node.op_type} has a subgraph "
                                                       "(control flow is not supported)")
        reads = [alias.get(t, t) for t in node.input if t]
        writes = [t for t in node.output if t]
        if node.op_type in STATIC_OPS or (reads and all(t in static for t in reads)):
            static.update(writes)
            folded += 1
            continue
        if node.op_type in ALIASES and node.input and node.input[0] and len(writes) == 1:
            alias[writes[0]] = alias.get(node.input[0], node.input[0])
            aliased += 1
            continue
        unique = list(dict.fromkeys(reads))
        weights = sum(size(t) for t in unique if t in static)
        op_id, k = label, 1
        while op_id in names:
            op_id, k = f"{label}#{k}", k + 1
        names.add(op_id)
        operators.append(Operator(op_id, tuple(t for t in unique if t not in static),
                                  tuple(writes), weights))
    used = list(dict.fromkeys(t for op in operators for t in (*op.inputs, *op.outputs)))
    if not operators:
        raise InputError("graph", "has no operator beyond constants and aliases")
    tensors = []
    for t in used:
        bytes_ = size(t)
        if bytes_ <= 0:
            raise InputError(f"tensor {excerpt(t)}", "is empty (a dimension is 0)")
        tensors.append(Tensor(t, bytes_))
    produced = {t for op in operators for t in op.outputs}
    outputs = tuple(dict.fromkeys(alias.get(v.name, v.name) for v in graph.output
                                  if alias.get(v.name, v.name) in produced))
    if capacity is None:
        capacity = sum(t.size for t in tensors) + (
            sum(op.weights for op in operators) if stream_weights else 0)
    meta = {"source": where, "onnx_nodes": len(graph.node), "aliased": aliased,
            "folded": folded, "element_bytes": "dtype" if dtype_sizes else 1}
    return ScratchpadInstance(tuple(tensors), tuple(operators), capacity,
                              tuple(t for t in graph_inputs if t in set(used)), outputs,
                              order=order, stream_weights=stream_weights, name=name, meta=meta)


def _element(onnx: Any, elem_type: int, dtype_sizes: bool, tensor: str) -> int:
    """Bytes of one element: 1, or (``dtype_sizes``) its data type's."""
    if not dtype_sizes:
        return 1
    if elem_type == onnx.TensorProto.STRING:
        raise InputError(f"tensor {excerpt(tensor)}", "holds strings (no fixed element size)")
    try:
        return int(onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize)
    except Exception:
        raise InputError(f"tensor {excerpt(tensor)}", f"has the unknown ONNX data type "
                                                      f"{elem_type}") from None
