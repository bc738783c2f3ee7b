"""A small family that lives outside the package, to show that a folder is all it takes."""

from __future__ import annotations

import shutil
from pathlib import Path

MAKESPAN = Path(__file__).parent / "makespan"


def install(site: Path, dist: str, entry: str) -> None:
    """Put the toy in ``site`` as package ``optsched_makespan``, and an installed
    distribution ``dist`` whose ``optsched.families`` entry point ``makespan`` is
    ``entry`` (``module:FAMILY``): ``site`` on ``PYTHONPATH`` then finds the family."""
    shutil.copytree(MAKESPAN, site / "optsched_makespan")
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[optsched.families]\nmakespan = {entry}\n")
