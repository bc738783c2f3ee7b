"""The service's jobs as Ray tasks (``--executor ray``) on one local Ray for the module.

Skipped without the ``ray`` extra, unless CI requires the extras. The runner
tests drive :class:`.Runner` over a :class:`.JobStore` directly; the last one
runs ``optsched serve --executor ray`` against the module's cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from optsched.bench.ray_exec import connect
from optsched.errors import InputError
from optsched.io import instance_to_dict, read_instances
from optsched.problems.smtt.generate import generate
from optsched.service.checks import check
from optsched.service.local import Jobs
from optsched.service.ray_exec import RayExecutor, RayRunning
from optsched.service.runner import Runner
from optsched.service.store import FINAL, Job, JobStore

from ..conftest import extra
from .test_server import Server

ray = extra("ray")
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((REPO / "instances" / "smtt" / "example.json").read_text())
CPUS = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray with two CPUs; its address, for a server to connect to."""
    connect(None, CPUS)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.fixture
def runner(cluster: str) -> Iterator[Runner]:
    """A runner of four workers on the module's Ray (which offers two)."""
    r = Runner(JobStore(":memory:"), workers=4, executor=RayExecutor())
    r.start()
    yield r
    r.close()
    r.store.close()


def _submit(runner: Runner, instance: dict[str, Any], time_limit: float,
            workers: int = 1) -> str:
    family, data, params = check("smtt", instance, None, "cpsat", time_limit, workers, 0, {},
                                 {}, runner.workers, 3600.0)
    job, _ = runner.store.submit(family, "cpsat", data, params, None)
    runner.wake()
    return job.id


def _wait(runner: Runner, job_id: str, states: tuple[str, ...] = FINAL,
          within: float = 60.0) -> Job:
    until = time.monotonic() + within
    while time.monotonic() < until:
        job = runner.store.get(job_id)
        if job is not None and job.status in states:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} not in {states} within {within} s: {job}")


def test_a_job_is_solved_verified_and_kept(runner: Runner) -> None:
    """The README's example (p = 3, 5, 2; d = 4, 6, 3; w = 1, 2, 1): order 2, 1, 0 ends at
    2, 7, 10 with tardiness 0, 1, 6, weighted 0 + 2 + 6 = 8, and every other order costs
    9 or more; CP-SAT proves it, so the job is done with objective 8, zero gap, verified,
    its events running, the incumbent 8 and done, and its workers free again."""
    assert runner.capacity == CPUS  # min(4 asked, 2 CPUs)
    job = _wait(runner, _submit(runner, EXAMPLE, 10))
    assert job.status == "done" and job.error is None
    assert job.result is not None and job.result["verified"] and job.result["gap"] == 0
    assert job.objective == 8 and job.result["outcome"] == "finished"
    events = runner.store.events(job.id)
    assert [e["detail"] for e in events if e["kind"] == "status"] == ["queued", "running",
                                                                        "done"]
    assert [e["objective"] for e in events if e["kind"] == "incumbent"][-1] == 8
    assert runner.used() == 0


def test_too_big_for_the_cluster_fails_and_the_queue_goes_on(runner: Runner) -> None:
    """A job asking three workers of a runner of four on a two-CPU Ray (stored past the
    submit's cap, as by a server started with more workers) cannot start: it fails at once
    with the reason, and the job behind it (the example, optimum 8) runs."""
    big = _submit(runner, EXAMPLE, 10, workers=3)
    after = _submit(runner, EXAMPLE, 10)
    failed = _wait(runner, big)
    assert failed.status == "failed" and failed.error is not None
    assert "3 workers" in failed.error and "2" in failed.error
    assert _wait(runner, after).objective == 8


def test_incumbents_stream_and_a_cancel_keeps_the_best(runner: Runner) -> None:
    """CP-SAT on 400 jobs with a 60 s limit: an incumbent is stored while the task runs;
    cancelled, the job ends ``cancelled`` within 2 s with a verified solution no worse
    than the streamed incumbent."""
    job_id = _submit(runner, instance_to_dict(generate(n=400, seed=3)[0]), 60)
    until = time.monotonic() + 30
    while (job := runner.store.get(job_id)) is not None and job.objective is None:
        assert job.status == "running" or job.status == "queued", job
        assert time.monotonic() < until, "no incumbent within 30 s"
        time.sleep(0.05)
    assert job is not None and job.objective is not None
    streamed = job.objective
    asked = time.monotonic()
    runner.store.cancel(job_id)
    runner.wake()
    ended = _wait(runner, job_id, within=10)
    assert time.monotonic() - asked < 2.0
    assert ended.status == "cancelled" and ended.result is not None
    assert ended.result["verified"] and ended.result["solution"] is not None
    assert ended.result["outcome"] == "stopped"
    assert ended.objective is not None and ended.objective <= streamed


def test_a_lost_task_fails_its_job_with_the_reason(runner: Runner) -> None:
    """A task whose worker dies (here: Ray kills it) fails its job with Ray's reason and
    frees its workers; it does not hang. (Its orphaned child ends with its 3 s limit.)"""
    job_id = _submit(runner, instance_to_dict(generate(n=400, seed=5)[0]), 3)
    _wait(runner, job_id, ("running",))
    until = time.monotonic() + 30
    while (handle := cast(RayRunning | None, runner.running.get(job_id))) is not None \
            and handle.started is None:
        assert time.monotonic() < until, "the task did not start within 30 s"
        time.sleep(0.02)
    assert handle is not None
    ray.cancel(handle.ref, force=True)
    failed = _wait(runner, job_id, within=10)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.startswith("ray: ") and failed.result is not None
    assert failed.result["outcome"] == "lost"
    assert runner.used() == 0


def test_jobs_in_process_are_capped_at_the_cluster(cluster: str) -> None:
    """:class:`.Jobs` of four workers on the two-CPU Ray: a job asking four gets two, and
    the example ends done with its optimum 8."""
    with Jobs(workers=4, executor=RayExecutor()) as jobs:
        job = jobs.submit(read_instances(REPO / "instances" / "smtt" / "example.json")[0],
                          solver="cpsat", time_limit=10, workers=4)
        assert job.params["workers"] == CPUS
        assert jobs.wait(job.id, timeout=60).objective == 8


def test_without_ray_the_executor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InputError, match="ray is not installed") as caught:
        RayExecutor()
    assert caught.value.field == "--executor"


def test_the_server_runs_jobs_on_ray(cluster: str, tmp_path: Path) -> None:
    """``optsched serve --executor ray`` on the module's cluster: the example (optimum 8)
    done over HTTP; ``--ray-address`` without ``--executor ray`` is refused."""
    extra("fastapi")
    extra("uvicorn")
    refused = subprocess.run([sys.executable, "-m", "optsched", "serve", "--ray-address",
                              cluster, "--db", str(tmp_path / "x.db")], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "--ray-address" in refused.stderr
    s = Server(tmp_path, "--workers", "2", "--executor", "ray", "--ray-address", cluster)
    try:
        status, job, _ = s.call("POST", "/jobs", {"family": "smtt", "instance": EXAMPLE,
                                                  "solver": "cpsat", "time_limit": 10})
        assert status == 201
        done = s.wait(job["id"])
        assert done["status"] == "done" and done["objective"] == 8
        assert done["result"]["verified"]
    finally:
        s.stop()
