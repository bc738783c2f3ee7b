"""The long run of the fuzz suite: mutants of every reader's seeds through the command line.

    python benchmarks/fuzz/run.py [--per-reader 1000] [--seed 1] [--memory-mb 1024]

Prints a markdown table of verdicts per reader (see ``tests/fuzz/harness.py``)
and every failure; ``benchmarks/fuzz/README.md`` holds the committed run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.harness import cases, run, summary
from tests.fuzz.seeds import seeds

VERDICTS = ("rejected", "accepted", "traceback", "hang", "memory", "escape")


def main() -> None:
    """Run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-reader", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    found = seeds()
    per_reader: dict[str, int] = {}
    for s in found:
        per_reader[s.reader] = per_reader.get(s.reader, 0) + 1
    todo = []
    for reader, count in per_reader.items():
        mine = [s for s in found if s.reader == reader]
        todo += cases(mine, -(-args.per_reader // count), args.seed)
    started = time.monotonic()
    outcomes = run(todo, memory_mb=args.memory_mb)
    print(f"{len(outcomes)} inputs in {time.monotonic() - started:.0f} s, seed {args.seed}, "
          f"memory limit {args.memory_mb} MB\n")
    print("| reader | inputs | " + " | ".join(VERDICTS) + " |")
    print("|---|---|" + "---|" * len(VERDICTS))
    for reader, counts in summary(outcomes).items():
        print(f"| {reader} | {sum(counts.values())} | "
              + " | ".join(str(counts[v]) for v in VERDICTS) + " |")
    bad = [o for o in outcomes if o.verdict not in ("rejected", "accepted")]
    print(f"\n{len(bad)} failures")
    for o in bad[:50]:
        print(f"- {o.case.seed.reader} #{o.case.number} {o.verdict}: {o.detail}")


if __name__ == "__main__":
    main()
