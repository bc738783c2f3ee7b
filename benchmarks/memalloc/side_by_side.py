r"""optsched's memalloc solvers beside MiniMalloc, one instance after the other, on one machine.

MiniMalloc (github.com/google/minimalloc, Moffitt, ASPLOS 2023) is not part of
optsched: build it from source and pass the binary with ``--minimalloc``. Each
case runs both programs in fresh processes, one at a time (so they never share
the cores), times their wall clock, and checks both answers with optsched's
checker: MiniMalloc's output CSV is read back as a solution of the instance.

Cases: the 11 challenging instances at their capacity 2^20 (both on one core),
the same without a capacity (the smallest peak; MiniMalloc's
``--minimize_capacity`` with the capacity as the start) and the compiler traces
(the smallest peak; MiniMalloc from the sum of the sizes).

    python benchmarks/memalloc/side_by_side.py --minimalloc PATH [--data-dir DIR] \
        [--parts decide,minpeak,traces] > benchmarks/results/memalloc-vs-minimalloc.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from optsched.bench.machine import machine
from optsched.problems.memalloc import csvfile
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.evaluate import evaluate
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.output import read_export

CHALLENGING = "ABCDEFGHIJK"
HEADER = ("| case | instance | buffers | bound | optsched peak | status | s | MiniMalloc peak "
          "| MiniMalloc result | s |\n|---|---|---:|---:|---:|---|---:|---:|---|---:|")


def _optsched(path: Path, args: list[str], limit: float) -> tuple[str, int | None, float]:
    """(status, verified peak, wall seconds) of ``optsched solve PATH ARGS --json``."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optsched", "solve", str(path), "-t",
                           str(limit), "--json", *args], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return f"error: {done.stderr.strip()[:80]}", None, wall
    result = json.loads(lines[0])
    peak = result["objective"] if result.get("verified") else None
    return result["status"], peak, wall


def _minimalloc(binary: Path, instance: MemallocInstance, path: Path, capacity: int,
                extra: list[str], limit: float) -> tuple[str, int | None, float]:
    """(outcome, peak checked by optsched's checker, wall seconds) of one MiniMalloc run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "solution.csv"
        started = time.perf_counter()
        try:
            done = subprocess.run([str(binary), f"--capacity={capacity}", f"--input={path}",
                                   f"--output={out}", *extra], capture_output=True, text=True,
                                  timeout=limit + 60, check=False)
        except subprocess.TimeoutExpired:
            return f"killed at {limit + 60:.0f} s", None, time.perf_counter() - started
        wall = time.perf_counter() - started
        if not out.exists() or not out.read_text(encoding="utf-8").strip():
            return f"no solution (exit {done.returncode})", None, wall
        solution = read_export(instance, out.read_text(encoding="utf-8"))
        bare = MemallocInstance(instance.buffers, None, instance.name)  # peak, not capacity
        evaluation = evaluate(bare, solution)
        if evaluation.violations:
            return f"INVALID: {evaluation.violations[0][:60]}", None, wall
        assert evaluation.objective is not None
        return "valid", int(evaluation.objective), wall


def _row(case: str, path: Path, instance: MemallocInstance, ours: tuple[str, int | None, float],
         theirs: tuple[str, int | None, float]) -> str:
    return (f"| {case} | {instance.name} | {instance.n} | {lower_bound(instance)} | {ours[1]} "
            f"| {ours[0]} | {ours[2]:.2f} | {theirs[1]} | {theirs[0]} | {theirs[2]:.2f} |")


def main() -> None:
    """Run the parts asked for and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minimalloc", type=Path, required=True, help="MiniMalloc's binary")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("OPTSCHED_DATA", "../shared/data")))
    parser.add_argument("--parts", default="decide,minpeak,traces")
    parser.add_argument("--decide-limit", type=float, default=60.0)
    parser.add_argument("--minpeak-limit", type=float, default=10.0)
    parser.add_argument("--trace-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2,
                        help="optsched's threads for minpeak and traces (decide: 1)")
    args = parser.parse_args()
    folder = args.data_dir / "memalloc"
    parts = args.parts.split(",")
    info = machine()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
          f"{info['os']}, Python {info['python']}; run {when}.")
    print()
    print(HEADER)
    for part in parts:
        if part == "decide":
            for name in CHALLENGING:
                path = folder / "minimalloc" / f"{name}.1048576.csv"
                (instance,) = csvfile.read(path)
                ours = _optsched(path, ["-s", "memalloc-bb", "-w", "1"], args.decide_limit)
                theirs = _minimalloc(args.minimalloc, instance, path, 1 << 20,
                                     [f"--timeout={args.decide_limit:g}s"], args.decide_limit)
                print(_row("decide 2^20", path, instance, ours, theirs), flush=True)
        elif part == "minpeak":
            for name in CHALLENGING:
                path = folder / "minimalloc" / f"{name}.1048576.csv"
                (instance,) = csvfile.read(path)
                limit = args.minpeak_limit
                ours = _optsched(path, ["-s", "memalloc-bb", "-m", "capacity=0", "-w",
                                        str(args.workers)], limit)
                theirs = _minimalloc(args.minimalloc, instance, path, 1 << 20,
                                     ["--minimize_capacity", f"--timeout={limit:g}s"], limit)
                print(_row(f"min-peak {limit:g} s", path, instance, ours, theirs), flush=True)
        elif part == "traces":
            for path in sorted((folder / "traces").glob("*.csv")):
                (instance,) = csvfile.read(path)
                limit = args.trace_limit
                ours = _optsched(path, ["-w", str(args.workers)], limit)
                total = sum(b.size for b in instance.buffers)
                theirs = _minimalloc(args.minimalloc, instance, path, total,
                                     ["--minimize_capacity", f"--timeout={limit:g}s"], limit)
                print(_row(f"trace {limit:g} s", path, instance, ours, theirs), flush=True)
        else:
            parser.error(f"--parts: unknown part {part!r} (decide, minpeak, traces)")


if __name__ == "__main__":
    main()
