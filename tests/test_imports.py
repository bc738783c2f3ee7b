"""ortools, highspy and pulp must import together in either order (solvers.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ORDERS = [
    ("ortools.sat.python.cp_model", "highspy", "pulp"),
    ("highspy", "pulp", "ortools.sat.python.cp_model"),
    ("pulp", "ortools.sat.python.cp_model", "highspy"),
]


@pytest.mark.parametrize("order", ORDERS, ids=["->".join(o) for o in ORDERS])
def test_solver_libraries_import_in_any_order(order: tuple[str, ...]) -> None:
    """Each order imports in a fresh interpreter and both solvers then solve a tiny model.

    x + y >= 3 over integers in [0, 10], minimise x + 2y: optimum x=3, y=0, value 3.
    """
    code = "\n".join(f"import {m}" for m in order) + """
from ortools.sat.python import cp_model
import highspy, pulp
m = cp_model.CpModel(); x = m.new_int_var(0, 10, "x"); y = m.new_int_var(0, 10, "y")
m.add(x + y >= 3); m.minimize(x + 2 * y)
s = cp_model.CpSolver(); s.parameters.num_workers = 1; s.solve(m)
assert s.objective_value == 3, s.objective_value
p = pulp.LpProblem("t", pulp.LpMinimize)
a = pulp.LpVariable("a", 0, 10, cat="Integer"); b = pulp.LpVariable("b", 0, 10, cat="Integer")
p += a + 2 * b; p += a + b >= 3
p.solve(pulp.HiGHS(msg=False))
assert pulp.value(p.objective) == 3
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_finding_the_families_loads_no_kernel() -> None:
    """numba is imported on a kernel's first call, not with the families (``compiled.jit``).

    A fresh process that solves pods (the scheduler plugin's script, a command line)
    runs no numba kernel for a greedy answer and must not pay numba's import (about
    0.15 s) for memalloc's or smtt's kernels, which the registry imports with their
    families. Then a kernel's first call compiles (or loads) it and gives its answer:
    memalloc's best fit places 3 buffers live at once end to end (0, 4, 6).
    """
    code = """
import sys
from optsched.registry import families
assert set(families()) >= {"memalloc", "pods", "smtt"}, families()
assert "numba" not in sys.modules, "numba imported with the families"
from optsched.problems.memalloc.instance import Buffer, MemallocInstance
from optsched.problems.memalloc.greedy.allocators import in_order
import numpy as np
inst = MemallocInstance(buffers=(Buffer("a", 0, 2, 4), Buffer("b", 0, 2, 2), Buffer("c", 0, 2, 1)))
print(in_order(inst, np.arange(3)).tolist(), "numba" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[0,", "4,", "6]", "True"]


def test_solving_one_family_imports_only_its_package() -> None:
    """A fresh process that solves a pods instance imports the pods package and no other
    family's (the plugin's script: memalloc, moe, parplan and smtt took 0.1-0.2 s), and
    its family and solver table are the ones the registry lists once every family is
    found."""
    code = """
import sys
from optsched import solve
from optsched.problems.pods.samples import fragmented
from optsched.registry import family_of, registry, solvers
instance = fragmented()
result = solve(instance, "best-greedy")
families = sorted(m.split(".")[2] for m in sys.modules
                  if m.startswith("optsched.problems.") and m.count(".") == 2)
table = solvers(family_of(instance))
print(result.status.value, families, table is registry().solvers["pods"],
      family_of(instance) is registry().families["pods"])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["feasible", "['pods']", "True", "True"]


def test_the_plugin_script_imports_no_yaml_nor_package_metadata() -> None:
    """The plugin script's answer to a one-pod request needs neither PyYAML nor
    importlib.metadata (27 and 40 ms of each start); reading YAML still loads it."""
    code = """
import json, sys
from optsched.problems.pods.plugin import answer
request = {"solver_input": {"nodes": [{"name": "a", "cap_cpu_m": 1000, "cap_mem_bytes": 10}],
           "pods": [{"uid": "p", "req_cpu_m": 1, "req_mem_bytes": 1}], "timeout_ms": 5000}}
out = answer(request, 0.0 + __import__("time").monotonic())
print(out["status"], "yaml" in sys.modules, "importlib.metadata" in sys.modules)
from optsched.reading import parse_yaml_all
print(parse_yaml_all("a: 1", "x"), "yaml" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OPTIMAL", "False", "False", "[{'a':", "1}]", "True"]
