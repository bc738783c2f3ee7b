"""Plots of a batch, when matplotlib is installed (the plots extra; CI installs it)."""

from __future__ import annotations

from pathlib import Path

from optsched.bench import store
from optsched.bench.runner import execute, plan
from optsched.bench.suite import load_suite

from ..conftest import extra
from .helpers import write_suite


def test_plots_are_written(tmp_path: Path) -> None:
    """A tiny batch's gap-vs-time and profile plots are PNG files."""
    extra("matplotlib")
    from optsched.bench.plots import plot

    run = plan(load_suite(write_suite(tmp_path)), tmp_path / "out", cores=2)
    execute(run, "local", 2, 2, None)
    paths = plot(store.read_results(run.path).rows, tmp_path / "plots", "tiny")
    assert [p.name for p in paths] == ["gap-vs-time.png", "profile.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)
