"""``optsched serve`` under load: many concurrent clients, and a full queue.

Real servers on loopback (:class:`.test_server.Server`); skipped without the ``service``
extra unless CI requires the extras.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ..conftest import extra
from .test_server import Server

CLIENTS = 20
PER_CLIENT = 25
FINAL = ("done", "failed", "cancelled")


def stderr_of(server: Server) -> bytearray:
    """Keep reading the server's stderr (a pipe nobody else reads: a server that logs
    much would block on it) into a buffer, for the messages of failed assertions."""
    buffer = bytearray()
    pipe = server.process.stderr
    assert pipe is not None

    def read() -> None:
        for line in iter(pipe.readline, b""):
            buffer.extend(line)

    threading.Thread(target=read, name="server-stderr", daemon=True).start()
    return buffer


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (zombies included)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:  # the thread ended meanwhile
            continue
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:100].decode()
    except OSError:
        return f"{pid} (ended)"


def instance(k: int) -> dict[str, Any]:
    """A 5-job smtt instance (solved in milliseconds), different for each ``k``."""
    rng = random.Random(k)
    return {"name": f"t{k}", "processing_times": [rng.randint(1, 9) for _ in range(5)],
            "due_dates": [rng.randint(0, 25) for _ in range(5)]}


def tardiness(data: dict[str, Any], sequence: list[int]) -> int:
    """The total tardiness of ``sequence`` on ``data`` (every weight 1)."""
    total = clock = 0
    for j in sequence:
        clock += data["processing_times"][j]
        total += max(0, clock - data["due_dates"][j])
    return total


def optimum(data: dict[str, Any]) -> int:
    """The least total tardiness, by enumerating the 120 orders."""
    return min(tardiness(data, list(p)) for p in itertools.permutations(range(5)))


def listing(server: Server, limit: int = 100) -> list[dict[str, Any]]:
    """Every job of the store, page by page (``next`` fed back as ``after``)."""
    jobs: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        code, page, _ = server.call("GET", f"/jobs?limit={limit}"
                                    + ("" if after is None else f"&after={after}"))
        assert code == 200, page
        jobs.extend(page["jobs"])
        after = page["next"]
        if after is None:
            return jobs


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Server, bytearray]]:
    extra("fastapi")
    extra("uvicorn")
    s = Server(tmp_path, "--workers", "2")
    yield s, stderr_of(s)
    s.stop()


def test_500_jobs_from_20_clients_all_accounted_for(loaded: tuple[Server, bytearray]
                                                    ) -> None:
    """500 submissions from 20 concurrent clients (the issue's target), ``--workers 2``.

    Each client submits 25 tiny smtt jobs (5 jobs, time limit 5 s); every second job
    carries an Idempotency-Key and is submitted twice, once by its client and once,
    interleaved with its own, by the next client (750 POSTs, 250 of them replays,
    racing the original): exactly one of the two is 201, the other 200 with the same id.
    Then, once the listing (pages of 100 fed by ``after``) shows every job ended: the
    store holds exactly the 500 jobs (and the warm-up one), no id twice, each one
    ``done`` once started with a verified result whose order, evaluated on the instance
    its client sent, is the optimum found by enumeration. The server's RSS (after a
    warm-up job, so the solver imports are in the baseline) stays under 1 GiB and grows
    by less than 32 MiB (64 KiB a job); its open files by less than 64; no job process is
    left (only the fork server and its resource tracker).

    Measured on a 2-core machine: the 750 POSTs take 1.3-1.6 s, the 500 jobs have all
    ended 12-13 s after the first; server RSS 129 MiB before, 132 MiB at its peak and
    after; open files 14-15 before and after; the test takes 13-20 s.
    """
    server, log = loaded
    pid = server.process.pid
    code, warm, _ = server.call("POST", "/jobs", {"family": "smtt", "instance": instance(-1),
                                                  "time_limit": 5})
    assert code == 201, warm
    assert server.wait(warm["id"])["status"] == "done"
    listing(server)
    rss_before = status_kib(pid, "VmRSS")
    fds_before = len(os.listdir(f"/proc/{pid}/fd"))

    keyed = [k for k in range(CLIENTS * PER_CLIENT) if k % 2 == 0]
    answers: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    lock = threading.Lock()

    def post(k: int) -> None:
        headers = {"Idempotency-Key": f"load-{k}"} if k % 2 == 0 else {}
        code, body, _ = server.call("POST", "/jobs", {"family": "smtt", "instance": instance(k),
                                                      "time_limit": 5}, headers)
        with lock:
            answers.setdefault(k, []).append((code, body))

    def client(c: int) -> None:
        own = range(c * PER_CLIENT, (c + 1) * PER_CLIENT)
        nxt = (c + 1) % CLIENTS
        replays = iter([k for k in keyed if k // PER_CLIENT == nxt])
        for k in own:
            post(k)
            if k % 2 == 1 and (r := next(replays, None)) is not None:
                post(r)
        for r in replays:
            post(r)

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    submitted = time.monotonic() - started

    assert sorted(answers) == list(range(CLIENTS * PER_CLIENT))
    ids: dict[str, int] = {}
    for k, got in answers.items():
        codes = sorted(code for code, _ in got)
        assert codes == ([200, 201] if k % 2 == 0 else [201]), (k, got)
        assert len({body["id"] for _, body in got}) == 1, (k, got)
        assert got[0][1]["id"] not in ids, (k, got)
        ids[got[0][1]["id"]] = k

    peak = rss_before
    until = time.monotonic() + 120
    while True:
        jobs = listing(server)
        peak = max(peak, status_kib(pid, "VmRSS"))
        if all(j["status"] in FINAL for j in jobs) or time.monotonic() > until:
            break
        time.sleep(0.5)
    solved = time.monotonic() - started
    rss_after = status_kib(pid, "VmRSS")
    hwm = status_kib(pid, "VmHWM")
    fds_after = len(os.listdir(f"/proc/{pid}/fd"))
    print(f"\n{len(jobs)} jobs: submitted in {submitted:.1f} s, all ended {solved:.1f} s "
          f"after the first submit; server RSS {rss_before // 1024} MiB before, peak "
          f"{peak // 1024} MiB (VmHWM {hwm // 1024} MiB), after {rss_after // 1024} MiB; "
          f"open files {fds_before} -> {fds_after}")

    listed = [j["id"] for j in jobs]
    assert len(listed) == len(set(listed)), "an id listed twice"
    assert set(listed) == {*ids, warm["id"]}, (set(ids) ^ set(listed)) - {warm["id"]}
    stuck = [j for j in jobs if j["status"] != "done" or j["attempts"] != 1]
    assert not stuck, (stuck[:3], log.decode(errors="replace")[-2000:])
    for job in jobs:
        if job["id"] == warm["id"]:
            continue
        data = instance(ids[job["id"]])
        result = job["result"]
        assert result["verified"] is True, job
        assert tardiness(data, result["solution"]["sequence"]) == result["objective"], job
        assert result["objective"] == job["objective"] == optimum(data), job
        code, one, _ = server.call("GET", f"/jobs/{job['id']}")
        assert (code, one) == (200, job)

    assert hwm < 1024 * 1024, f"server peak RSS {hwm} KiB"
    assert rss_after - rss_before < 32 * 1024, f"RSS {rss_before} -> {rss_after} KiB"
    assert fds_after - fds_before < 64, f"open files {fds_before} -> {fds_after}"
    time.sleep(0.5)
    left = children(pid)  # the fork server and its resource tracker, no job
    assert len(left) <= 2, f"processes left: {[_cmdline(c) for c in left]}"
    assert server.call("GET", "/health")[1]["queued"] == 0


def test_a_full_queue_is_503_with_retry_after_and_writes_nothing(tmp_path: Path) -> None:
    """``--queue 2 --workers 1``: CP-SAT on 400 smtt jobs (limit 10 s) running and two
    jobs queued, the next submit is 503 with ``Retry-After``, with or without an
    Idempotency-Key, and leaves no job and no key behind (the key gets a new job once the
    queue has room); a replay of a queued job's key is still answered 200."""
    extra("fastapi")
    extra("uvicorn")
    big = json.loads(subprocess.run(
        [sys.executable, "-m", "optsched", "generate", "smtt", "--n", "400", "--seed", "5"],
        capture_output=True, check=True, text=True).stdout)
    server = Server(tmp_path, "--workers", "1", "--queue", "2")
    log = stderr_of(server)
    try:
        small = {"family": "smtt", "instance": instance(0), "time_limit": 5}
        code, long, _ = server.call("POST", "/jobs", {"family": "smtt", "instance": big,
                                                      "solver": "cpsat", "time_limit": 10})
        assert code == 201, long
        server.wait(long["id"], ("running",))
        code, first, _ = server.call("POST", "/jobs", small, {"Idempotency-Key": "first"})
        assert code == 201, first
        assert server.call("POST", "/jobs", small)[0] == 201
        before = listing(server)
        assert [j["status"] for j in before] == ["running", "queued", "queued"]

        for headers in ({}, {"Idempotency-Key": "full"}):
            code, body, answer = server.call("POST", "/jobs", small, headers)
            assert code == 503, body
            assert int(answer["Retry-After"]) > 0
            assert body == {"error": "the queue is full"}
        replay = server.call("POST", "/jobs", small, {"Idempotency-Key": "first"})
        assert replay[:2] == (200, first)
        assert [j["id"] for j in listing(server)] == [j["id"] for j in before]
        assert server.call("GET", "/health")[1]["queued"] == 2

        assert server.call("POST", f"/jobs/{long['id']}/cancel")[0] == 202
        assert server.wait(long["id"])["status"] == "cancelled"
        code, later, _ = server.call("POST", "/jobs", small, {"Idempotency-Key": "full"})
        assert code == 201, later  # the refused submit did not take the key
        assert server.wait(later["id"])["status"] == "done"
        assert len(listing(server)) == 4
    finally:
        server.stop()
    assert b"Traceback" not in log, log.decode(errors="replace")
