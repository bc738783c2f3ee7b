"""Run mutated inputs through the command line and sort what happened.

Each case is a seed's command on a mutant of its file, in a fresh scratch
folder, through a worker process (``worker.py``). The verdicts:

- ``rejected``: exit 2 and one ``optsched: error:`` line (bad input, said clearly);
- ``accepted``: exit 0, 1 for ``validate`` with its violation lines, or 3;
- ``traceback``: anything else the CLI printed or raised (a bug);
- ``hang``: no answer within the timeout (the worker is killed);
- ``memory``: the worker's peak memory passed the limit (it is restarted);
- ``escape``: a file written outside the output folder.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .mutate import mutate
from .seeds import Seed

REPO = Path(__file__).resolve().parents[2]
RESTART_EVERY = 40
"""Cases per worker: a fresh one now and then drops threads a watchdog left behind."""


@dataclass(frozen=True)
class Case:
    """One mutant of one seed."""

    seed: Seed
    text: str
    number: int


@dataclass(frozen=True)
class Outcome:
    """What one case did."""

    case: Case
    verdict: str
    detail: str


def cases(seeds: list[Seed], per_seed: int, seed: int) -> list[Case]:
    """``per_seed`` mutants of every seed, reproducible from ``seed``."""
    rng = random.Random(seed)
    return [Case(s, mutate(s.text, rng), k) for s in seeds for k in range(per_seed)]


class _Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.worker"], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        self.done = 0

    def ask(self, args: list[str], cwd: Path, timeout: float) -> dict[str, Any] | None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"args": args, "cwd": str(cwd)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        self.done += 1
        return json.loads(line) if line else None

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run(all_cases: list[Case], timeout: float = 8.0, memory_mb: int = 1024) -> list[Outcome]:
    """Every case's outcome (see the module docstring)."""
    base = Path(tempfile.mkdtemp(prefix="optsched-fuzz-"))
    worker: _Worker | None = None
    outcomes: list[Outcome] = []
    try:
        for case in all_cases:
            if worker is None or worker.done >= RESTART_EVERY:
                if worker is not None:
                    worker.close()
                worker = _Worker()
                worker.ask(["--version"], base, 120)  # imports done before the clock
            folder = base / f"case{len(outcomes)}"
            (folder / "in").mkdir(parents=True)
            (folder / "in" / case.seed.name).write_text(case.text, encoding="utf-8",
                                                        errors="surrogateescape")
            for name, text in case.seed.extra.items():
                (folder / "in" / name).write_text(text, encoding="utf-8")
            args = [a.replace("{file}", case.seed.name).replace("{out}", "out")
                    .replace("{value}", case.text) for a in case.seed.args]
            before = _files(base)
            started = time.monotonic()
            answer = worker.ask(args, folder / "in", timeout)
            verdict, detail = _verdict(case, answer, memory_mb)
            if verdict in ("hang", "memory"):
                worker.close()
                worker = None
            after = _files(base) - before
            escaped = [p for p in after if not str(p).startswith(str(folder / "in"))]
            if escaped or any(Path("/tmp").glob("abs*")):
                verdict, detail = "escape", str(escaped[:3])
            took = time.monotonic() - started
            outcomes.append(Outcome(case, verdict, f"{detail} ({took:.1f}s)"))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        if worker is not None:
            worker.close()
        shutil.rmtree(base, ignore_errors=True)
    return outcomes


def _files(base: Path) -> set[Path]:
    return {p for p in base.rglob("*") if p.is_file()}


def _verdict(case: Case, answer: dict[str, Any] | None, memory_mb: int) -> tuple[str, str]:
    if answer is None:
        return "hang", "no answer in time"
    code, err, out = answer["code"], answer["err"], answer["out"]
    if answer["peak_kb"] > memory_mb * 1024:
        return "memory", f"peak {answer['peak_kb'] // 1024} MB"
    errors = [line for line in err.splitlines() if line.startswith("optsched: error:")]
    if "Traceback" in err or "internal error" in err or code == "escaped":
        return "traceback", err.strip().splitlines()[-1] if err.strip() else str(code)
    if code == 2 and len(errors) == 1:
        return "rejected", errors[0][:200]
    if code in (0, 3):
        return "accepted", out.splitlines()[0][:120] if out else ""
    if code == 1 and case.seed.args[0] == "validate" and (
            "violation:" in out or "false claim:" in out):
        return "accepted", "violations listed"
    return "traceback", f"exit {code}: {err.strip()[-200:]}"


def summary(outcomes: list[Outcome]) -> dict[str, Counter[str]]:
    """Verdict counts per reader."""
    out: dict[str, Counter[str]] = {}
    for o in outcomes:
        out.setdefault(o.case.seed.reader, Counter())[o.verdict] += 1
    return out
