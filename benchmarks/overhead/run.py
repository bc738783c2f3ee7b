"""Process overhead and held limits of ``optsched solve`` in fresh processes.

For each case, runs ``optsched solve FILE -s SOLVER [-t LIMIT] --json`` in a
new process REPEAT times and reports the process's wall time, the time of the
``solve()`` call inside it (``stats.call_s``) and their difference, the
overhead: starting Python, imports, reading the instance, printing. With
``--busy N``, N processes spin on the CPU meanwhile (a loaded machine).

    python benchmarks/overhead/run.py --data-dir ../shared/data [--busy 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [("smtt/orlib/wt40.txt", 0, "smtt-ssdp", None), ("smtt/orlib/wt40.txt", 0, "cpsat", 1.0),
         ("smtt/orlib/wt40.txt", 0, "auto", 1.0), ("smtt/orlib/wt100.txt", 0, "auto", 1.0),
         ("pods/regressions/paper-grid-n8-bound.json", None, "cpsat", 1.0),
         ("memalloc/minimalloc/A.1048576.csv", None, "auto", 1.0),
         ("memalloc/traces/somas_bert_base.csv", None, "auto", 1.0),
         ("memalloc/traces/somas_pangu_2.6B.csv", None, "auto", 1.0)]


def _spin(stop: float) -> None:
    while time.time() < stop:
        pass


def main() -> None:
    """Run every case and print one markdown table row each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("OPTSCHED_DATA", "../shared/data")))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes meanwhile")
    args = parser.parse_args()
    from optsched.io import read_instances, write_instance

    folder = Path(tempfile.mkdtemp(prefix="optsched-overhead-"))
    spinners = [multiprocessing.Process(target=_spin, args=(time.time() + 3600,), daemon=True)
                for _ in range(args.busy)]
    for spinner in spinners:
        spinner.start()
    print("| instance | solver | limit | status | wall median | call median | overhead median |"
          " overhead max | over limit + 1 s |\n|---|---|---|---|---|---|---|---|---|")
    try:
        for rel, index, solver, limit in CASES:
            path = args.data_dir / rel
            if index is not None:
                instance = read_instances(path)[index]
                path = folder / f"{instance.name}.json"
                write_instance(instance, path)
            walls, calls, status = [], [], ""
            for _ in range(args.repeat):
                command = [sys.executable, "-m", "optsched", "solve", str(path), "-s", solver,
                           "--json", *(["-t", str(limit)] if limit else [])]
                started = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode not in (0, 3):  # 3: nothing found within the limit
                    raise SystemExit(f"{command} exited {done.returncode}: {done.stderr}")
                walls.append(time.perf_counter() - started)
                row = json.loads(done.stdout)
                calls.append(row["stats"]["call_s"])
                status = f"{row['solver']} {row['status']}"
            over = [w - c for w, c in zip(walls, calls, strict=True)]
            late = sum(limit is not None and c > limit + 1 for c in calls)
            print(f"| {path.stem} | {solver} | {limit or '-'} | {status} | "
                  f"{statistics.median(walls):.2f} | {statistics.median(calls):.2f} | "
                  f"{statistics.median(over):.2f} | {max(over):.2f} | {late} of {args.repeat} |")
    finally:
        for spinner in spinners:
            spinner.terminate()


if __name__ == "__main__":
    main()
