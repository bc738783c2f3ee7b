"""Reading the plugin's input (``pods.plugin.request.read``): every field, fast path or not.

The pods' fields are taken as they are when they have the common form and checked by a
helper otherwise; these tests hold the two paths to the same rules.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from optsched.errors import InputError
from optsched.problems.pods.plugin.request import Pod, read

POD: dict[str, Any] = {"uid": "u1", "namespace": "default", "name": "web-0",
                       "req_cpu_m": 500, "req_mem_bytes": 1024, "priority": 7, "node": "n1"}
INPUT: dict[str, Any] = {"solver_input": {
    "nodes": [{"name": "n1", "cap_cpu_m": 4000, "cap_mem_bytes": 1 << 30}],
    "pods": [POD], "timeout_ms": 1000}}


def _read(**fields: Any) -> Pod:
    """The pod read from :data:`INPUT` with ``fields`` changed (None: the field removed)."""
    data = copy.deepcopy(INPUT)
    pod = data["solver_input"]["pods"][0]
    for key, value in fields.items():
        if value is None:
            pod.pop(key)
        else:
            pod[key] = value
    return read(data).pods[pod.get("uid", "")]


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("uid", 5, "must be a string, got"),
    ("uid", "", "is missing"),
    ("uid", None, "is missing"),
    ("node", 0, "must be a string, got"),
    ("node", False, "must be a string, got"),
    ("node", "n2", "is not a listed node"),
    ("namespace", 0, "must be a string, got"),
    ("name", [], "must be a string, got"),
    ("protected", "yes", "must be true or false"),
    ("protected", 1, "must be true or false"),
    ("priority", True, "must be a 32-bit integer"),
    ("priority", 1.5, "must be a 32-bit integer"),
    ("priority", "1", "must be a 32-bit integer"),
    ("priority", -(2**31) - 1, "must be a 32-bit integer"),
    ("req_cpu_m", True, "must be a non-negative integer"),
    ("req_cpu_m", -1, "must be a non-negative integer"),
    ("req_mem_bytes", 1 << 62, "must be a non-negative integer"),
    ("req_mem_bytes", "1Gi", "must be a non-negative integer"),
])
def test_a_bad_field_is_named(field: str, value: Any, problem: str) -> None:
    """Each wrong type or value raises naming the field, whichever path reads it."""
    with pytest.raises(InputError) as caught:
        _read(**{field: value})
    assert caught.value.field == f"solver_input.pods[0].{field}"
    assert problem in caught.value.problem, caught.value.problem


def test_the_common_form_is_read_as_it_is() -> None:
    """The example pod is read field for field (500m, 1 KiB, priority 7, running on n1)."""
    assert _read() == Pod("u1", "default", "web-0", "n1", 7, 500, 1024, False)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"node": None}, {"node": ""}),  # absent: pending
    ({"namespace": None, "name": None}, {"namespace": "", "name": ""}),
    ({"priority": None, "req_cpu_m": None}, {"priority": 0, "cpu": 0}),
    ({"priority": 5.0, "req_mem_bytes": 2048.0}, {"priority": 5, "memory": 2048}),
    ({"priority": -(2**31)}, {"priority": -(2**31)}),
    ({"protected": True}, {"protected": True}),
])
def test_the_other_forms_read_as_the_helpers_read_them(fields: dict[str, Any],
                                                       expected: dict[str, Any]) -> None:
    """Absent fields take their defaults, whole numbers written with a fraction are read as
    integers, and a running pod may be protected."""
    pod = _read(**fields)
    assert {key: getattr(pod, key) for key in expected} == expected


def test_null_fields_read_as_absent() -> None:
    """JSON null in a text field reads as the empty text: the node null is a pending pod."""
    data = copy.deepcopy(INPUT)
    data["solver_input"]["pods"][0].update(node=None, namespace=None, name=None)
    pod = read(data).pods["u1"]
    assert (pod.node, pod.namespace, pod.name) == ("", "", "")
