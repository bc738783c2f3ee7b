"""The in-process job API (:class:`optsched.service.local.Jobs`): the service's semantics
without HTTP, and without the ``service`` extra."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optsched.errors import InputError
from optsched.io import instance_from_dict
from optsched.service.local import Jobs

REPO = Path(__file__).resolve().parents[2]
MIXED = instance_from_dict(json.loads(
    (REPO / "instances" / "parplan" / "mixed-h100-a100-l40s.json").read_text()))


def test_submit_wait_and_keep(tmp_path: Path) -> None:
    """The mixed-cluster example ends done with its verified optimum (6225.9 tokens/s,
    instances/README.md); the same key returns the same job; the events go from queued
    to done; a reopened store still has it."""
    db = str(tmp_path / "jobs.db")
    with Jobs(db) as jobs:
        job = jobs.submit(MIXED, time_limit=20, idempotency_key="once")
        assert jobs.submit(MIXED, idempotency_key="once").id == job.id
        done = jobs.wait(job.id, timeout=60)
        assert done.status == "done" and done.result is not None and done.result["verified"]
        assert done.objective == pytest.approx(-6225.897759275289, rel=1e-9)
        kinds = [e["detail"] or e["kind"] for e in jobs.events(job.id)]
        assert kinds[0] == "queued" and kinds[-1] == "done"
    with Jobs(db) as again:
        assert [j.id for j in again.jobs(status="done")] == [job.id]


def test_bad_input_is_refused_before_anything_is_stored() -> None:
    with Jobs() as jobs:
        with pytest.raises(InputError, match="^solver"):
            jobs.submit(MIXED, solver="nope")
        with pytest.raises(InputError, match="^time_limit"):
            jobs.submit(MIXED, time_limit=10_000)
        with pytest.raises(InputError, match="^options.nope"):
            jobs.submit(MIXED, solver="parplan-exact", options={"nope": 1})
        assert jobs.jobs() == []


def test_cancel_a_queued_job() -> None:
    """With one worker busy, a second job waits; cancelled, it ends at once."""
    with Jobs(workers=1) as jobs:
        first = jobs.submit(MIXED, time_limit=20)
        second = jobs.submit(MIXED, time_limit=20)
        cancelled = jobs.cancel(second.id)
        assert cancelled is not None and cancelled.status in ("cancelled", "running")
        assert jobs.wait(second.id, timeout=60).status in ("cancelled", "done")
        assert jobs.wait(first.id, timeout=60).status == "done"


def test_each_incumbent_event_names_its_finder() -> None:
    """A heuristic tells nothing while it runs: its final solution is one incumbent event
    named after it. The exact solver's last told incumbent is its result, which is not
    told twice (the final result adds no event without a new objective)."""
    with Jobs() as jobs:
        greedy = jobs.wait(jobs.submit(MIXED, solver="vllm", time_limit=20).id,
                           timeout=60)
        told = [e for e in jobs.events(greedy.id) if e["kind"] == "incumbent"]
        assert [e["detail"] for e in told] == ["vllm"]
        assert told[0]["objective"] == greedy.objective
        exact = jobs.wait(jobs.submit(MIXED, time_limit=20).id, timeout=60)
        told = [e for e in jobs.events(exact.id) if e["kind"] == "incumbent"]
        assert told and all(e["detail"] for e in told)
        assert [e["objective"] for e in told].count(exact.objective) == 1
