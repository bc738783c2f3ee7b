"""pods solvers at short limits on Alibaba snapshots between the paper's grid and cluster scale.

Generates ``--count`` snapshots per size (``optsched generate pods-alibaba --nodes N --pods
P --seed S``) into ``--out`` and solves each with each solver at each limit in a fresh
``optsched solve FILE -s SOLVER -t T -w 2`` process, as a user at a shell would. Prints one
row per snapshot, limit and solver: the objective (mixed radix: pending pods by priority,
then evictions, then moves), the pods placed by priority, the hint's objective, the
fallback taken and the solve call's time.

Run::

    python benchmarks/pods/midsize.py --out /tmp/midsize
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SIZES = ("100x2000", "300x5000", "600x12000", "1000x25000")
"""Nodes x pods of the snapshots."""


def generate(out: Path, size: str, count: int, seed: int) -> list[Path]:
    """The snapshots of one size, generated once into ``out``."""
    nodes, pods = size.split("x")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "optsched.cli", "generate", "pods-alibaba",
                    "--nodes", nodes, "--pods", pods, "--count", str(count), "--seed",
                    str(seed), "--out", str(out)], check=True, capture_output=True)
    return sorted(out.glob(f"alibaba-default-n{nodes}-p{pods}-s{seed}-*.json"))


def main() -> None:
    """Generate, solve each snapshot with each solver and limit in a fresh process, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the snapshots")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), help="NODESxPODS")
    parser.add_argument("--count", type=int, default=2, help="snapshots per size")
    parser.add_argument("--seed", type=int, default=3, help="the generator's seed")
    parser.add_argument("--limits", nargs="+", default=["1", "2"], help="seconds")
    parser.add_argument("--solvers", nargs="+",
                        default=["best-greedy", "cpsat", "pods-lns", "auto"])
    args = parser.parse_args()
    print("| snapshot | limit (s) | solver | objective | placed by priority | hint | "
          "fallback | solve call (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        for path in generate(args.out, size, args.count, args.seed):
            for limit in args.limits:
                for solver in args.solvers:
                    done = subprocess.run(
                        [sys.executable, "-m", "optsched.cli", "solve", str(path), "-s", solver,
                         "-t", limit, "-w", "2", "--json"], capture_output=True, text=True,
                        check=False)
                    row = json.loads(done.stdout)
                    stats = row["stats"]
                    chosen = f"{solver} ({row['solver']})" if solver == "auto" else solver
                    print(f"| {path.stem} | {limit} | {chosen} | {row['objective']:,} | "
                          f"{stats['metrics']['placed_by_priority']} | "
                          f"{stats.get('hint_objective') or '-'} | "
                          f"{stats.get('fallback') or '-'} | {stats.get('call_s')} |",
                          flush=True)


if __name__ == "__main__":
    main()
