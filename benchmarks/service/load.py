"""Throughput and memory of ``optsched serve``: many jobs from concurrent clients.

Starts a real server (``optsched serve`` on a free loopback port, a fresh job store),
submits ``--jobs`` copies of each ``--instance`` from ``--clients`` threads (each submit
with its own Idempotency-Key), waits for every job, and prints a Markdown table: submits
per second and their latency, jobs finished per second, the time jobs waited in the queue
and ran, the server's resident memory (sampled every 0.1 s, and its peak from the kernel)
and the largest sum over the job processes alive at one time.

Run (needs the service extra)::

    python benchmarks/service/load.py --jobs 1000 --clients 20 --workers 2 [--executor ray]

The job processes' memory is a sum of resident sizes: pages the fork server shares with
its children are counted once per process.
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from optsched.client import Client, ServiceError

REPO = Path(__file__).resolve().parents[2]


def kib(pid: int, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    out, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


class Sampler(threading.Thread):
    """Samples the server's and its children's resident memory until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.server: list[int] = []
        self.children: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        """Sample every 0.1 s."""
        while not self.done.is_set():
            self.server.append(kib(self.pid, "VmRSS"))
            self.children.append(sum(kib(c, "VmRSS") for c in descendants(self.pid)))
            time.sleep(0.1)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Start the server, load it, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in all")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    parser.add_argument("--instance", default=str(REPO / "instances/smtt/example.json"))
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="optsched-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "optsched", "serve", "--port", str(port), "--db",
         str(folder / "jobs.db"), "--workers", str(args.workers), "--queue", str(args.jobs),
         "--executor", args.executor],
        stderr=subprocess.DEVNULL)
    client = Client(url)
    try:
        for _ in range(300):
            try:
                client.health()
                break
            except (OSError, ServiceError):
                time.sleep(0.1)
        idle = kib(server.pid, "VmRSS")
        sampler = Sampler(server.pid)
        sampler.start()
        latencies: list[float] = []
        lock = threading.Lock()

        def submit(i: int) -> str:
            started = time.perf_counter()
            job = Client(url).submit(Path(args.instance), solver=args.solver,
                                     time_limit=args.time_limit, idempotency_key=f"load-{i}")
            with lock:
                latencies.append(time.perf_counter() - started)
            return str(job["id"])

        began = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            ids = list(pool.map(submit, range(args.jobs)))
        submitted_s = time.perf_counter() - began
        jobs = [client.wait(i) for i in ids]
        sampler.done.set()
        sampler.join()
        peak = kib(server.pid, "VmHWM")
    finally:
        server.kill()
        server.wait()
    report(args, jobs, latencies, submitted_s, idle, peak, sampler, folder)


def report(args: argparse.Namespace, jobs: list[dict[str, Any]], latencies: list[float],
           submitted_s: float, idle: int, peak: int, sampler: Sampler, folder: Path) -> None:
    """Print the Markdown table."""
    statuses = {s: sum(j["status"] == s for j in jobs) for s in ("done", "failed", "cancelled")}
    first = min(j["created"] for j in jobs)
    last = max(j["finished"] for j in jobs)
    waits = [j["started"] - j["created"] for j in jobs if j["started"]]
    runs = [j["finished"] - j["started"] for j in jobs if j["started"]]
    db = sum(p.stat().st_size for p in folder.glob("jobs.db*"))
    print(f"{platform.node()} ({platform.processor() or platform.machine()}), Python "
          f"{platform.python_version()}; {args.jobs} jobs of {Path(args.instance).name} "
          f"({args.solver}, {args.time_limit:g} s limit) from {args.clients} clients, "
          f"--workers {args.workers}, --executor {args.executor}\n")
    print("| jobs | done | failed | distinct ids | submits/s | submit p50 / p99 ms | jobs/s "
          "| queue wait p50 / max s | run p50 / p99 s | server RSS idle / peak / end MiB "
          "| job processes peak MiB | store MiB |")
    print("|" + "---|" * 12)
    print(f"| {len(jobs)} | {statuses['done']} | {statuses['failed']} "
          f"| {len({j['id'] for j in jobs})} | {args.jobs / submitted_s:.0f} "
          f"| {1000 * statistics.median(latencies):.1f} / "
          f"{1000 * percentile(latencies, 0.99):.1f} "
          f"| {len(jobs) / (last - first):.1f} "
          f"| {statistics.median(waits):.1f} / {max(waits):.1f} "
          f"| {statistics.median(runs):.2f} / {percentile(runs, 0.99):.2f} "
          f"| {idle / 1024:.0f} / {peak / 1024:.0f} / {sampler.server[-1] / 1024:.0f} "
          f"| {max(sampler.children) / 1024:.0f} | {db / 2**20:.1f} |")


if __name__ == "__main__":
    main()
