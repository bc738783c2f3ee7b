"""What a benchmark ran on: machine and package versions, stamped into every results file."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from optsched.threads import available_cores

PACKAGES = ("optsched", "ortools", "highspy", "pulp", "numpy", "numba", "ray")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and the versions of the solver packages."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"cpu": _cpu(), "cores": available_cores(), "memory_gib": _memory_gib(),
            "os": platform.platform(terse=True), "python": platform.python_version(),
            "versions": versions}
