"""``POST /pods/plugin``: the "Priority Matters" scheduler plugin's contract as an endpoint.

The body is the plugin's input, the answer its output
(:mod:`optsched.problems.pods.plugin`). The solve is a job like any other:
stored, run in a child process within the server's workers and the limit
the request leaves of ``timeout_ms`` (counted from the request's arrival),
its incumbents kept; the endpoint waits for it and writes the plan. A bad
input is the plugin's ``MODEL_INVALID`` status with one line naming the
field (HTTP 200: the plugin reads the status), and nothing is stored.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException

from optsched.errors import InputError
from optsched.io import instance_to_dict
from optsched.problems.pods import plugin, scale
from optsched.problems.pods.solution import from_dict as solution_from_dict
from optsched.service.runner import Runner
from optsched.service.store import FINAL, QueueFullError

GRACE_S = 3.0
"""Seconds past the job's limit the endpoint waits for its child's three-stage stop."""


def add_route(app: FastAPI, runner: Runner, queue: int, auth: Callable[..., None]) -> None:
    """Add ``POST /pods/plugin`` to ``app``."""
    store = runner.store

    @app.post("/pods/plugin", dependencies=[Depends(auth)])
    async def pods_plugin(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            request = plugin.read(body)
        except InputError as exc:
            return plugin.refusal(exc, started)
        solver, limit = plugin.time_left(request, started, scale.seconds(request.instance))
        params = {"time_limit": limit, "workers": 1, "seed": 0, "options": {}, "model": {}}
        try:
            job, _ = store.submit("pods", solver, instance_to_dict(request.instance), params,
                                  None, queue)
        except QueueFullError:
            raise HTTPException(503, detail={"error": "the queue is full"},
                                headers={"Retry-After": "5"}) from None
        runner.wake()
        give_up = time.monotonic() + limit + GRACE_S
        while job.status not in FINAL and time.monotonic() < give_up:
            await asyncio.sleep(0.05)
            job = store.get(job.id) or job
        result = job.result or {}
        raw = result.get("solution")
        solution = None if raw is None else solution_from_dict(raw)
        return plugin.respond(request, solution, result.get("objective"),
                              str(result.get("status", "feasible")), started,
                              "" if job.status == "done" else f"job {job.id} {job.status}")
