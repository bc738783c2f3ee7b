"""Batches: every job exactly once across interruptions, watchdog rows, corrupt files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optsched.bench import child, store
from optsched.bench.jobs import make_jobs
from optsched.bench.runner import execute, plan
from optsched.bench.suite import load_suite
from optsched.errors import InputError

from ..cli.helpers import run
from .helpers import sleeper, write_suite


def _keys(path: Path) -> list[str]:
    return [row["key"] for row in store.read_results(path).rows]


def test_run_then_rerun_runs_nothing(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    first = plan(suite, tmp_path / "out", cores=2)
    assert execute(first, "local", 2, 2, None) == 8
    rows = store.read_results(first.path).rows
    assert sorted(r["key"] for r in rows) == sorted(j.key for j in first.jobs)
    assert all(r["verified"] and r["outcome"] == "finished" for r in rows)
    assert all(r["status"] == "optimal" for r in rows if r["solver"] == "cpsat")
    again = plan(suite, tmp_path / "out", cores=2)
    assert again.todo == [] and execute(again, "local", 2, 2, None) == 0


def test_killed_batch_resumes_with_every_job_once(tmp_path: Path) -> None:
    """Start the command line, SIGKILL it after its first rows, start it again."""
    suite = write_suite(tmp_path, n=25, count=3, limit=1)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "optsched.cli", "bench", str(suite), "--out", str(out),
           "--cores", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with results.open("a") as fh:  # as if the kill hit in the middle of a write
        fh.write('{"key": "smtt-u25')
    partial = store.read_results(results, unfinished="skip").rows
    assert 1 <= len(partial) < 12
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "unfinished line" in done.stderr
    keys = _keys(results)
    assert sorted(keys) == sorted(j.key for j in make_jobs(load_suite(suite)))
    assert len(keys) == len(set(keys)) == 12


def test_watchdog_stops_then_kills_a_stuck_child(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    job = make_jobs(load_suite(write_suite(tmp_path, limit=0.1)))[0]
    monkeypatch.setattr(child, "KILL_AFTER", 0.5)
    monkeypatch.setattr(child, "STARTUP_LIMIT", 0.5)  # the sleeper never reports ready
    ctx = child._context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=sleeper, args=(60,), daemon=True)
    process.start()
    sender.close()
    running = child.Running(job, process, receiver)
    row = None
    while row is None:
        row = running.poll()
        time.sleep(0.05)
    assert (row["status"], row["outcome"]) == ("error", "killed")
    assert row["key"] == job.key and "SIGTERM" in row["error"]


def test_corrupt_line_is_reported_with_its_number(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path)
    out = tmp_path / "out"
    assert run(capsys, "bench", suite, "--out", out).code == 0
    path = out / "results.jsonl"
    lines = path.read_text().splitlines()
    good = list(lines)
    lines[3] = lines[3][:20] + "#" + lines[3][21:]  # inside a key: valid JSON, unknown job
    path.write_text("\n".join(lines) + "\n")
    res = run(capsys, "bench", suite, "--out", out)
    assert res.code == 2 and f"{path}:4" in res.err and "not a job" in res.err
    lines = list(good)
    lines[3] = "#" + lines[3][1:]
    path.write_text("\n".join(lines) + "\n")
    res = run(capsys, "bench", suite, "--out", out)
    assert res.code == 2 and f"{path}:4" in res.err and "not valid JSON" in res.err
    res = run(capsys, "report", out)
    assert res.code == 2 and f"{path}:4" in res.err
    assert path.read_text().splitlines() == lines  # nothing dropped or rewritten


def test_results_of_another_suite_are_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run(capsys, "bench", write_suite(tmp_path), "--out", out).code == 0
    before = (out / "results.jsonl").read_text()
    other = write_suite(tmp_path, reps=2)
    res = run(capsys, "bench", other, "--out", out)
    assert res.code == 2 and "belongs to suite" in res.err
    assert (out / "results.jsonl").read_text() == before


def test_workers_beyond_cores_is_bad_input(tmp_path: Path) -> None:
    path = write_suite(tmp_path)
    path.write_text(path.read_text().replace("workers = 1", "workers = 4"))
    with pytest.raises(InputError, match="workers"):
        plan(load_suite(path), tmp_path / "out", cores=2)


def test_report_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cpsat proves every optimum, so its gaps are 0 and no row is flagged."""
    out = tmp_path / "out"
    assert run(capsys, "bench", write_suite(tmp_path), "--out", out).code == 0
    res = run(capsys, "report", out, "--by", "solver", "--format", "csv")
    assert res.code == 0
    lines = [ln for ln in res.out.splitlines() if not ln.startswith("#")]
    header, cpsat, mddc = lines[0].split(","), lines[1].split(","), lines[2].split(",")
    row = dict(zip(header, cpsat, strict=True))
    assert (row["solver"], row["rows"], row["optimal"], row["mean_gap_pct"]) == (
        "cpsat", "4", "4", "0.0")
    assert dict(zip(header, mddc, strict=True))["flagged"] == "0"
    assert "time limit 5.0 s" in res.out
    rows = store.read_results(out / "results.jsonl").rows
    assert json.dumps(rows)  # rows are plain JSON
