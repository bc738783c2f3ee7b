"""The benchmark fork server's warm-up of smtt's compiled solvers."""

from __future__ import annotations

import json
import subprocess
import sys

from optsched.problems.smtt import FAMILY
from optsched.problems.smtt.solvers import warm


def test_warm_runs_the_compiled_solvers() -> None:
    """It solves two tiny instances without error and is what the family offers."""
    warm()
    assert FAMILY.warm is warm


ENTRY_POINTS = {
    "ssdp.graph": ("start", "forward", "backward", "best_path", "rehash"),
    "ssdp.lr": ("arcs", "forward", "backward", "eliminate", "path", "subgradient"),
    "ssdp.ls": ("ils", "repair", "seq_cost"),
    "ssdp.windows": ("propagate",),
    "bb.kernel": ("register", "search", "known_value", "lookup", "push", "reinsert",
                  "rehash_registry"),
}
"""The compiled functions that Python code calls directly, by module."""


def test_warm_loads_every_entry_point() -> None:
    """In a fresh process, every entry point has been loaded (has a signature) after warm().

    One left out is loaded again in each benchmark child: with the level
    stages missing, OR-Library wt40/wt50 runs at 1 s proved 121 and 112
    instead of 125 and 123.
    """
    script = (
        "import importlib, json\n"
        "from optsched.problems.smtt.solvers import warm\n"
        "warm()\n"
        f"entry = {ENTRY_POINTS!r}\n"
        "print(json.dumps([f'{m}.{f}' for m, fs in entry.items() for f in fs if not getattr("
        "importlib.import_module('optsched.problems.smtt.' + m), f).signatures]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=600)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
