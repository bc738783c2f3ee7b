"""A solver that ignores its limit, behind ``optsched serve``: stopped on time all the same.

The toy family of ``tests/toy/makespan`` is installed in a temporary site folder under an
``optsched.families`` entry point (as a user installs a family), with two more solvers:
``sleepy`` sleeps past its limit in Python (the solve's own watchdog goes on without
it), ``frozen`` stops its whole process (SIGSTOP), as a native solver wedged with the
interpreter would: only the runner's kill ends it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ..conftest import extra
from ..toy import install
from .test_server import Server

STUBBORN = '''
import dataclasses
import os
import signal
import time

from optsched.family import Kind, NativeSolver
from optsched_makespan import FAMILY as TOY


def _sleepy(instance, params, deadline):
    time.sleep(3600)


def _frozen(instance, params, deadline):
    os.kill(os.getpid(), signal.SIGSTOP)


FAMILY = dataclasses.replace(TOY, solvers={
    **TOY.solvers,
    "sleepy": NativeSolver(_sleepy, Kind.HEURISTIC, "sleeps past its limit"),
    "frozen": NativeSolver(_frozen, Kind.HEURISTIC, "stops its own process")})
'''
INSTANCE = {"name": "toy", "times": [3, 5, 2, 7], "machines": 2}


@pytest.fixture
def server(tmp_path: Path) -> Server:
    extra("fastapi")
    extra("uvicorn")
    site = tmp_path / "site"
    install(site, "optsched-stubborn", "optsched_stubborn:FAMILY")
    (site / "optsched_stubborn.py").write_text(STUBBORN)
    path = f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    return Server(tmp_path, "--workers", "1", env={"PYTHONPATH": path})


@pytest.mark.parametrize(("solver", "status"), [("sleepy", "done"), ("frozen", "failed")])
def test_a_solver_that_ignores_its_limit_ends_within_two_seconds(
        server: Server, solver: str, status: str) -> None:
    """Limit 1 s: the job ends within 1 + 2 s of starting to run, either with the solve's
    own fallback (``sleepy``: the hint-less heuristic ends as no solution or the trivial
    answer) or killed (``frozen``: SIGTERM 0.5 s past the limit, SIGKILL 1 s later)."""
    try:
        code, job, _ = server.call("POST", "/jobs", {"family": "makespan", "instance": INSTANCE,
                                                     "solver": solver, "time_limit": 1})
        assert code == 201, job
        running = server.wait(job["id"], ("running", "done", "failed"))
        ended = server.wait(job["id"], ("done", "failed", "cancelled"), within=30)
        assert ended["status"] == status, ended
        assert ended["finished"] - running["started"] <= 1 + 2, ended
        if status == "failed":
            assert "killed" in ended["error"]
        # the server is still there and takes the next job
        code, nxt, _ = server.call("POST", "/jobs", {"family": "makespan",
                                                     "instance": INSTANCE, "solver": "lpt"})
        assert server.wait(nxt["id"])["status"] == "done"
    finally:
        server.stop()
        time.sleep(0.1)
