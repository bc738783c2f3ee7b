"""``optsched serve`` on loopback: a real uvicorn in a child process, spoken to over HTTP.

Skipped without the ``service`` extra (fastapi, uvicorn), unless CI requires the extras.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import extra

REPO = Path(__file__).resolve().parents[2]
SMALL = json.loads((REPO / "instances" / "parplan" / "mixed-h100-a100-l40s.json").read_text())


class Server:
    """One ``optsched serve`` process over a job store in ``tmp``."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.db = tmp / "jobs.db"
        self.args = ["--port", str(self.port), "--db", str(self.db), *args]
        self.env = {**os.environ, **(env or {})}
        self.process = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "optsched", "serve", *self.args],
                                   env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        until = time.monotonic() + 60
        while time.monotonic() < until:
            try:
                if self.call("GET", "/health")[0] == 200:
                    return process
            except OSError:
                time.sleep(0.1)
        process.kill()
        raise AssertionError(f"the server did not start: {process.stderr}")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, Any, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def wait(self, job: str, states: tuple[str, ...] = ("done", "failed", "cancelled"),
             within: float = 60.0) -> dict[str, Any]:
        until = time.monotonic() + within
        while time.monotonic() < until:
            status, body, _ = self.call("GET", f"/jobs/{job}")
            if status == 200 and body["status"] in states:
                return dict(body)
            time.sleep(0.05)
        raise AssertionError(f"job {job} not in {states} within {within} s: {body}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path, "--workers", "1")
    yield s
    s.stop()


def _submit(s: Server, instance: dict[str, Any] = SMALL, **fields: Any) -> tuple[int, Any]:
    status, body, _ = s.call("POST", "/jobs", {"family": "parplan", "instance": instance,
                                               **fields})
    return status, body


def test_a_job_is_solved_verified_and_kept(server: Server) -> None:
    """The mixed-cluster example (optimum 6225.9 tokens/s, instances/README.md) through the
    service: 201, then done with the verified optimum and a zero gap, listed, with its
    events from queued to done."""
    status, job = _submit(server, time_limit=20)
    assert status == 201 and job["status"] in ("queued", "running")
    done = server.wait(job["id"])
    assert done["status"] == "done" and done["result"]["verified"]
    assert done["objective"] == pytest.approx(-6225.897759275289, rel=1e-9)
    assert done["gap"] == 0
    listed = server.call("GET", "/jobs?status=done")[1]["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    events = server.call("GET", f"/jobs/{job['id']}")[1]
    assert events["attempts"] == 1


def test_idempotency_key_returns_the_same_job(server: Server) -> None:
    first = server.call("POST", "/jobs", {"family": "parplan", "instance": SMALL},
                        {"Idempotency-Key": "once"})
    again = server.call("POST", "/jobs", {"family": "parplan", "instance": SMALL},
                        {"Idempotency-Key": "once"})
    assert (first[0], again[0]) == (201, 200) and first[1]["id"] == again[1]["id"]
    assert len(server.call("GET", "/jobs")[1]["jobs"]) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"family": "parplan", "instance": {**SMALL, "model": "gpt-9"}}, "model"),
    ({"family": "parplan", "instance": SMALL, "solver": "nope"}, "solver"),
    ({"family": "parplan", "instance": SMALL, "time_limit": -1}, "time_limit"),
    ({"family": "nope", "instance": {}}, "family"),
    ({"family": "smtt", "instance": "1 2 x", "filename": "wt40.txt"}, "wt40.txt line 1"),
])
def test_bad_input_is_422_with_the_field(server: Server, body: dict[str, Any],
                                         field: str) -> None:
    status, answer, _ = server.call("POST", "/jobs", body)
    assert status == 422 and answer["field"] == field
    assert answer["error"].startswith(f"{field}: ") and "\n" not in answer["error"]
    assert server.call("GET", "/jobs")[1]["jobs"] == []  # nothing written


def test_malformed_json_too_large_and_unknown(server: Server) -> None:
    assert server.call("POST", "/jobs", raw=b"{not json")[0] == 422
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/jobs")  # a body announced over 16 MiB: refused unread
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(17 << 20))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "larger than" in json.loads(response.read())["error"]
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/jobs", body=(b" " * (1 << 20) for _ in range(40)),
                       headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()  # 40 MiB sent chunked: counted, refused at 16 MiB
    assert response.status == 413
    connection.close()
    assert server.call("GET", "/jobs/nothing")[0] == 404
    assert server.call("POST", "/jobs/nothing/cancel")[0] == 404


def test_cancel_reaches_a_running_job(server: Server) -> None:
    """CP-SAT on 400 smtt jobs with a 60 s limit, cancelled while it runs, ends cancelled
    within 1 s of the request."""
    big = json.loads(subprocess.run(
        [sys.executable, "-m", "optsched", "generate", "smtt", "--n", "400", "--seed", "3"],
        capture_output=True, check=True, text=True).stdout)
    status, body, _ = server.call("POST", "/jobs", {"family": "smtt", "instance": big,
                                                    "solver": "cpsat", "time_limit": 60})
    assert status == 201
    server.wait(body["id"], ("running",))
    time.sleep(1.0)
    asked = time.monotonic()
    assert server.call("POST", f"/jobs/{body['id']}/cancel")[0] == 202
    ended = server.wait(body["id"], ("cancelled", "done", "failed"), within=10)
    assert ended["status"] == "cancelled"
    assert time.monotonic() - asked < 1.0


def test_kill_9_loses_nothing(tmp_path: Path) -> None:
    """kill -9 while a job runs and another waits; on restart both finish, the finished
    one untouched, the interrupted one started twice."""
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path, "--workers", "1")
    try:
        first = _submit(s, time_limit=20)[1]
        done = s.wait(first["id"])
        big = json.loads(subprocess.run(
            [sys.executable, "-m", "optsched", "generate", "smtt", "--n", "400", "--seed", "4"],
            capture_output=True, check=True, text=True).stdout)
        long = s.call("POST", "/jobs", {"family": "smtt", "instance": big, "solver": "cpsat",
                                        "time_limit": 4})[1]
        waiting = _submit(s, time_limit=20)[1]
        s.wait(long["id"], ("running",))
        os.kill(s.process.pid, signal.SIGKILL)
        s.process.wait(10)
        s.process = s.start()
        again = s.wait(long["id"], within=60)
        assert again["status"] == "done" and again["attempts"] == 2
        assert s.wait(waiting["id"])["status"] == "done"
        assert s.call("GET", f"/jobs/{first['id']}")[1] == done
    finally:
        s.stop()


def test_off_loopback_needs_a_token(tmp_path: Path) -> None:
    extra("fastapi")
    extra("uvicorn")
    refused = subprocess.run([sys.executable, "-m", "optsched", "serve", "--host", "0.0.0.0",
                              "--db", str(tmp_path / "x.db")], capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "OPTSCHED_TOKEN"},
                             timeout=60)
    assert refused.returncode == 2 and "OPTSCHED_TOKEN" in refused.stderr
    s = Server(tmp_path, env={"OPTSCHED_TOKEN": "secret"})
    try:
        assert s.call("GET", "/jobs")[0] == 401
        assert s.call("GET", "/jobs", headers={"Authorization": "Bearer secret"})[0] == 200
        assert s.call("GET", "/health")[0] == 200
    finally:
        s.stop()
