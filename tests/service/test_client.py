"""``optsched.client`` and ``optsched submit`` against a real ``optsched serve`` on loopback.

Skipped without the ``service`` extra (fastapi, uvicorn), unless CI requires the extras.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from optsched.client import Client, ServiceError, ServiceInputError
from optsched.errors import InputError
from optsched.io import read_instance

from ..cli.helpers import one_error, one_json, run
from ..conftest import extra
from .test_server import REPO, SMALL, Server

PARPLAN = REPO / "instances" / "parplan" / "mixed-h100-a100-l40s.json"
CLUSTER = REPO / "instances" / "pods" / "cluster.yaml"
OPTIMUM = -6225.897759275289
"""The mixed cluster's verified optimum (tokens/s, negated), as test_server asserts."""
WT3 = "3 5 2\n1 2 1\n4 6 3\n"
"""An OR-Library wt<n>.txt file of one 3-job instance: times, weights, due dates (optimum 8)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path_factory.mktemp("client"), "--workers", "1")
    yield s
    s.stop()


@pytest.fixture
def client(server: Server) -> Client:
    return Client(f"http://127.0.0.1:{server.port}")


def _long_smtt(seed: int) -> dict[str, Any]:
    """400 smtt jobs: CP-SAT runs until its limit or a cancel."""
    big: dict[str, Any] = json.loads(subprocess.run(
        [sys.executable, "-m", "optsched", "generate", "smtt", "--n", "400", "--seed",
         str(seed)], capture_output=True, check=True, text=True).stdout)
    return big


def _running(client: Client, job_id: str, within: float = 60.0) -> None:
    until = time.monotonic() + within
    while client.get(job_id)["status"] == "queued":
        assert time.monotonic() < until, "the job did not start"
        time.sleep(0.05)


def test_a_json_object_an_instance_and_a_file(client: Client, tmp_path: Path) -> None:
    """The same parplan instance as its object and as a file path; the smtt example as an
    Instance object; an OR-Library text file and a pods YAML by their file names."""
    as_object = client.submit(SMALL, time_limit=20)
    assert as_object["status"] in ("queued", "running") and as_object["family"] == "parplan"
    as_file = client.submit(PARPLAN, time_limit=20)
    as_str = client.submit(str(PARPLAN), time_limit=20)
    example = client.submit(read_instance(REPO / "instances" / "smtt" / "example.json"))
    wt3 = tmp_path / "wt3.txt"
    wt3.write_text(WT3)
    orlib = client.submit(wt3, solver="cpsat", seed=1)
    cluster = client.submit(CLUSTER)
    for job in (as_object, as_file, as_str):
        done = client.wait(job["id"], timeout=60)
        assert done["status"] == "done" and done["result"]["verified"]
        assert done["objective"] == pytest.approx(OPTIMUM, rel=1e-9)
    assert client.wait(example["id"], timeout=60)["objective"] == 8
    done = client.wait(orlib["id"], timeout=60)
    assert (done["family"], done["solver"], done["objective"]) == ("smtt", "cpsat", 8)
    done = client.wait(cluster["id"], timeout=60)
    assert done["family"] == "pods" and done["result"]["status"] == "optimal"


def test_get_jobs_families_health(client: Client) -> None:
    job = client.submit(SMALL, time_limit=20)
    assert client.get(job["id"])["id"] == job["id"]
    client.wait(job["id"], timeout=60)
    first = client.jobs(limit=1)
    assert len(first["jobs"]) == 1 and first["next"] == first["jobs"][0]["id"]
    rest = client.jobs(limit=500, after=first["next"])
    assert job["id"] in [j["id"] for j in rest["jobs"]] and rest["next"] is None
    assert all(j["family"] == "parplan" for j in client.jobs(family="parplan")["jobs"])
    assert all(j["status"] == "done" for j in client.jobs(status="done", limit=500)["jobs"])
    assert "auto" not in client.families()["smtt"]["solvers"]
    assert "cpsat" in client.families()["smtt"]["solvers"]
    assert client.health()["status"] == "ok"
    with pytest.raises(ServiceError) as missing:
        client.get("nothing")
    assert missing.value.status == 404 and "no job nothing" in str(missing.value)
    assert not isinstance(missing.value, InputError)


def test_wait_times_out(client: Client) -> None:
    job = client.submit(_long_smtt(5), solver="cpsat", time_limit=30)
    try:
        with pytest.raises(TimeoutError, match=job["id"]):
            client.wait(job["id"], timeout=0.3, poll=0.05)
    finally:
        client.cancel(job["id"])
        assert client.wait(job["id"], timeout=30)["status"] == "cancelled"


def test_stream_ends_with_the_job(client: Client) -> None:
    job = client.submit(SMALL, time_limit=20)
    events = list(client.stream(job["id"]))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status" and events[0]["data"]["detail"] == "queued"
    assert "incumbent" in kinds and kinds[-1] == "end"
    assert [e["id"] for e in events[:-1]] == list(range(1, len(events)))
    end = events[-1]["data"]
    assert end["id"] == job["id"] and end["status"] == "done"
    assert end["objective"] == pytest.approx(OPTIMUM, rel=1e-9)
    again = list(client.stream(job["id"], last_event_id=len(events) - 2))
    assert [e["event"] for e in again] == ["status", "end"]


def test_cancel_a_queued_and_a_running_job(client: Client) -> None:
    running = client.submit(_long_smtt(3), solver="cpsat", time_limit=60)
    queued = client.submit(SMALL, time_limit=20)
    _running(client, running["id"])
    assert client.cancel(queued["id"])["status"] == "cancelled"
    client.cancel(running["id"])
    ended = client.wait(running["id"], timeout=10)
    assert ended["status"] == "cancelled"
    with pytest.raises(ServiceError) as missing:
        client.cancel("nothing")
    assert missing.value.status == 404


def test_idempotency_key(client: Client) -> None:
    first = client.submit(SMALL, time_limit=20, idempotency_key="client-once")
    again = client.submit(PARPLAN, time_limit=20, idempotency_key="client-once")
    assert again["id"] == first["id"]
    assert client.submit(SMALL, time_limit=20)["id"] != first["id"]


@pytest.mark.parametrize(("instance", "options", "field"), [
    ({**SMALL, "model": "gpt-9"}, {}, "model"),
    (SMALL, {"solver": "nope"}, "solver"),
    (SMALL, {"time_limit": -1}, "time_limit"),
    (SMALL, {"options": {"no_such_option": 1}}, "no_such_option"),
])
def test_bad_input_is_an_input_error_with_the_field(client: Client, instance: dict[str, Any],
                                                    options: dict[str, Any],
                                                    field: str) -> None:
    with pytest.raises(ServiceInputError) as bad:
        client.submit(instance, **options)
    assert isinstance(bad.value, InputError) and isinstance(bad.value, ServiceError)
    assert bad.value.status == 422 and field in bad.value.field
    assert str(bad.value).startswith(f"{bad.value.field}: ") and "\n" not in str(bad.value)


def test_bad_files_name_the_file(client: Client, tmp_path: Path) -> None:
    """The server's field comes back under the file's path; a file the client cannot read
    is an InputError before any request."""
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**SMALL, "model": "gpt-9"}))
    with pytest.raises(ServiceInputError) as bad:
        client.submit(wrong)
    assert bad.value.field == f"{wrong}: model"
    wt40 = tmp_path / "wt40.txt"
    wt40.write_text("1 2 x")
    with pytest.raises(ServiceInputError) as bad:
        client.submit(wt40)
    assert bad.value.field.startswith(str(wt40))
    with pytest.raises(InputError, match="no such file"):
        client.submit(tmp_path / "missing.json")
    with pytest.raises(InputError, match="family"):
        client.submit({"format": 1})
    with pytest.raises(InputError, match="but the smtt family was asked for"):
        client.submit(SMALL, family="smtt")


def test_refused_connections_are_retried_only_with_a_key(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    calls = []
    real = urllib.request.urlopen

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", counting)
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens
    nobody = Client(f"http://127.0.0.1:{port}", retries=2, backoff=0.01)
    with pytest.raises(ServiceError, match="connection refused") as refused:
        nobody.submit(SMALL)
    assert refused.value.status == 0 and len(calls) == 1
    calls.clear()
    with pytest.raises(ServiceError, match="connection refused"):
        nobody.submit(SMALL, idempotency_key="k")
    assert len(calls) == 3
    with pytest.raises(InputError, match="url"):
        Client("127.0.0.1:8000")


def test_a_full_queue_is_503_and_retried_with_a_key(tmp_path: Path) -> None:
    """With --queue 1, a running job and a queued one, a third submit is refused with
    Retry-After; with a key it is retried, and lands once the queue has room."""
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path, "--workers", "1", "--queue", "1")
    try:
        client = Client(f"http://127.0.0.1:{s.port}", retries=2)
        running = client.submit(_long_smtt(6), solver="cpsat", time_limit=60)
        _running(client, running["id"])
        queued = client.submit(SMALL, time_limit=20)
        with pytest.raises(ServiceError) as full:
            client.submit(SMALL)
        assert full.value.status == 503 and full.value.retry_after == 5
        assert not isinstance(full.value, InputError)
        timer = threading.Timer(1.0, client.cancel, (queued["id"],))
        timer.start()
        late = client.submit(SMALL, idempotency_key="late")
        timer.join()
        assert late["status"] in ("queued", "running")
        client.cancel(late["id"])
        client.cancel(running["id"])
        assert client.wait(running["id"], timeout=10)["status"] == "cancelled"
    finally:
        s.stop()


def test_a_token(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path, env={"OPTSCHED_TOKEN": "secret"})
    try:
        url = f"http://127.0.0.1:{s.port}"
        with pytest.raises(ServiceError) as refused:
            Client(url).families()
        assert refused.value.status == 401 and not isinstance(refused.value, InputError)
        assert "smtt" in Client(url, token="secret").families()
        monkeypatch.setenv("OPTSCHED_TOKEN", "secret")
        res = run(capsys, "submit", PARPLAN, "--server", url, "--no-wait")
        assert res.code == 0 and len(res.out.split()) == 1
        monkeypatch.setenv("OPTSCHED_TOKEN", "wrong")
        res = run(capsys, "submit", PARPLAN, "--server", url)
        assert res.code == 1 and "a bearer token is required (HTTP 401)" in res.err
        assert "Traceback" not in res.err and len(res.err.splitlines()) == 1
    finally:
        s.stop()


def test_submit_command(server: Server, capsys: pytest.CaptureFixture[str],
                        tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server.port}"
    res = run(capsys, "submit", PARPLAN, "--server", url, "-t", "20")
    assert res.code == 0, res.err
    (line,) = res.out.splitlines()
    assert line.startswith(f"{PARPLAN}  auto  optimal  objective=") and "job=" in line
    assert "(bound gap 0.00%)" in line

    job = one_json(run(capsys, "submit", PARPLAN, "--server", url, "--json", "-t", "20"))
    assert job["status"] == "done" and job["objective"] == pytest.approx(OPTIMUM, rel=1e-9)

    wt3 = tmp_path / "wt3.txt"
    wt3.write_text(WT3)
    res = run(capsys, "submit", wt3, CLUSTER, "--server", url, "--no-wait",
              "--idempotency-key", "cli")
    assert res.code == 0
    ids = res.out.split()
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)
    again = run(capsys, "submit", wt3, CLUSTER, "--server", url, "--no-wait",
                "--idempotency-key", "cli")
    assert again.out.split() == ids
    client = Client(url)
    assert client.wait(ids[0], timeout=60)["objective"] == 8
    assert client.wait(ids[1], timeout=60)["family"] == "pods"

    res = run(capsys, "submit", wt3, "--server", url, "-s", "cpsat", "-m", "nothing=1")
    one_error(res, f"{wt3}", "nothing")


def test_submit_command_bad_input(server: Server, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{server.port}"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**SMALL, "model": "gpt-9"}))
    one_error(run(capsys, "submit", wrong, "--server", url), f"{wrong}: model: ")
    one_error(run(capsys, "submit", PARPLAN, "--server", url, "-s", "nope"), "solver: ")
    one_error(run(capsys, "submit", tmp_path / "missing.json", "--server", url), "no such file")
    one_error(run(capsys, "submit", PARPLAN, "--server", "localhost:1"), "--server")
    one_error(run(capsys, "submit", PARPLAN, "--server", url, "-o", "x"), "--option")
    res = run(capsys, "submit", wrong, PARPLAN, "--server", url, "--json", "-t", "20")
    assert res.code == 2 and len(res.err.splitlines()) == 1
    error, job = (json.loads(line) for line in res.out.splitlines())
    assert error["status"] == "error" and "model" in error["error"]
    assert job["status"] == "done"
    assert server.call("GET", f"/jobs/{job['id']}")[1]["status"] == "done"
