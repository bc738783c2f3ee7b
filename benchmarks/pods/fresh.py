"""Proofs on the paper's grid at 32 nodes, one fresh ``optsched solve`` process per scenario.

Generates the 48 scenarios (pods per node 4 and 8, 1, 2 and 4 priorities, load 0.90 to
1.05, two seeded instances each; ``optsched generate pods --nodes 32 --count 2 --seed 32
--failing``, or another ``--seed``) into ``--out`` and solves each with ``optsched solve
FILE -s cpsat -t 1 -w 2`` in its own process, as a user at a shell would: the 1 s limit
then includes loading whatever compiled code the solve needs. Prints the scenarios
proven optimal, in all and at load 1.00 and 1.05, and the slowest call.

Run::

    python benchmarks/pods/fresh.py --out /tmp/grid32
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

LOADS = ("0.90", "0.95", "1.00", "1.05")


def generate(out: Path, seed: int) -> list[Path]:
    """The grid's 32-node files, generated once into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for per_node in (4, 8):
        for priorities in (1, 2, 4):
            for load in LOADS:
                subprocess.run(
                    [sys.executable, "-m", "optsched.cli", "generate", "pods", "--nodes", "32",
                     "--count", "2", "--seed", str(seed), "--failing", "--pods-per-node",
                     str(per_node), "--priorities", str(priorities), "--load", load,
                     "--out", str(out)], check=True, capture_output=True)
    return sorted(out.glob(f"pods-n32-*-s{seed}-*.json"))


def main() -> None:
    """Generate, solve each scenario in a fresh process, print the proofs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the scenarios")
    parser.add_argument("--time-limit", default="1")
    parser.add_argument("--seed", type=int, default=32, help="the generator's seed")
    args = parser.parse_args()
    files = generate(args.out, args.seed)
    proven = high = high_proven = 0
    slowest = 0.0
    for path in files:
        done = subprocess.run(
            [sys.executable, "-m", "optsched.cli", "solve", str(path), "-s", "cpsat", "-t",
             args.time_limit, "-w", "2", "--json"], capture_output=True, text=True, check=False)
        row = json.loads(done.stdout)
        optimal = row["status"] == "optimal"
        at_high = "-load1-" in path.name or "-load1.05-" in path.name
        proven += optimal
        high += at_high
        high_proven += optimal and at_high
        slowest = max(slowest, float(row["stats"].get("call_s", 0.0)))
        print(f"{path.stem}: {row['status']} {row['objective']} / {row['bound']}", flush=True)
    print(f"proven {proven} of {len(files)}; at load 1.00 and 1.05 {high_proven} of {high}; "
          f"slowest call {slowest:.2f} s")


if __name__ == "__main__":
    main()
