"""The same batch on a local Ray instance (CI installs the ray extra)."""

from __future__ import annotations

from pathlib import Path

from optsched.bench import store
from optsched.bench.runner import execute, plan
from optsched.bench.suite import load_suite

from ..conftest import extra
from .helpers import write_suite


def test_ray_batch_writes_the_same_rows(tmp_path: Path) -> None:
    ray = extra("ray")
    suite = load_suite(write_suite(tmp_path))
    try:
        first = plan(suite, tmp_path / "ray", cores=2)
        assert execute(first, "ray", 2, 2, None) == 8
    finally:
        ray.shutdown()
    rows = store.read_results(first.path).rows
    assert sorted(r["key"] for r in rows) == sorted(j.key for j in first.jobs)
    assert all(r["verified"] for r in rows)
    local = plan(suite, tmp_path / "local", cores=2)
    execute(local, "local", 2, 2, None)
    objectives = {r["key"]: r["objective"] for r in store.read_results(local.path).rows}
    assert {r["key"]: r["objective"] for r in rows} == objectives
