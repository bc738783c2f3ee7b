"""Run a PuLP model with CBC (the binary bundled with PuLP) as a child process we can stop.

PuLP writes the model as MPS and reads CBC's solution file; optsched starts
the binary itself, so that a stop request or an overrun of the time limit
interrupts it (SIGINT: CBC ends its search and writes the incumbent) and, if
it does not end promptly (CBC ignores SIGINT while it solves an LP), kills
it. CBC's summary line ``Lower bound:`` gives the bound of a stopped search
(without the objective's constant, which PuLP's MPS file leaves out).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import IO, Any

from optsched.backends.milp import MilpFormulation, nothing, outcome
from optsched.deadline import Deadline
from optsched.params import SolveParams
from optsched.result import Result, Status

GRACE_S = 0.25
"""Seconds CBC may run past its own limit (or a stop request) before it is interrupted."""
KILL_AFTER_S = 0.25
"""Seconds between the interrupt and the kill (both within the watchdog's grace)."""
_LOWER_BOUND = re.compile(r"^Lower bound:\s+(\S+)", re.M)


def _pulp_cbc() -> Any:
    import pulp

    with warnings.catch_warnings():  # PuLP 3.3 warns that PuLP 4 drops the bundled CBC
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False)


def arguments(form: MilpFormulation, params: SolveParams, left: float | None) -> list[str]:
    """CBC's command-line parameters: optsched's, then the caller's (CBC keeps the last)."""
    # CBC reads randomCbcSeed 0 as "seed from the clock": shift by one to stay reproducible.
    args = ["-timeMode", "elapsed", "-randomCbcSeed", str(params.seed + 1),
            "-ratioGap", "0", "-allowableGap", repr(form.abs_gap)]
    cap = params.options.get("seconds")  # it may only shorten the limit
    if left is not None or cap is not None:
        args += ["-seconds", repr(min(t for t in (left, cap) if t is not None))]
    # "threads 1" makes the bundled CBC 2.10.3 hand the search to one worker thread,
    # which now and then never starts: the main thread waits out the whole time limit
    # and reports "Stopped on time" on a model it had solved in milliseconds. One
    # worker therefore means CBC's serial code, which is what it asks for anyway.
    if params.threads > 1:
        args += ["-threads", str(params.threads)]
    for key, value in params.options.items():
        if key != "seconds":
            args += [f"-{key}", str(value)]
    return args


def run(form: MilpFormulation, name: str, params: SolveParams, deadline: Deadline) -> Result:
    """Solve with CBC within the deadline; a stop request interrupts it."""
    import pulp

    if deadline.expired():
        return nothing(form, name)
    cbc = _pulp_cbc()
    with tempfile.TemporaryDirectory(prefix="optsched-cbc-") as folder:
        mps, sol = Path(folder) / "model.mps", Path(folder) / "solution.txt"
        variables, var_names, con_names, _ = form.problem.writeMPS(str(mps), rename=1)
        start: list[str] = []
        if form.started:  # a MIP start: CBC reads it as a solution file
            cbc.writesol(str(Path(folder) / "start.txt"), form.problem, variables, var_names,
                         con_names)
            start = ["-mips", str(Path(folder) / "start.txt")]
        left = deadline.remaining()
        command = [cbc.path, str(mps), *start, *arguments(form, params, left), "-solve",
                   "-printingOptions", "all", "-solution", str(sol)]
        started = time.perf_counter()
        log, ending = _execute(command, params.log, deadline)
        solve_s = time.perf_counter() - started
        if not sol.exists():
            status = Status.ERROR if ending == "exited" else Status.NO_SOLUTION
            return Result(status=status, solver=name, build_s=form.build_s, solve_s=solve_s,
                          stats={**form.stats, "cbc": ending, "cbc_log": log[-400:]})
        status, values, _, _, _, sol_status = cbc.readsol_MPS(str(sol), form.problem,
                                                              variables, var_names, con_names)
    form.problem.assignVarsVals(values)
    form.problem.assignStatus(status, sol_status)
    found = _LOWER_BOUND.search(log)
    bound = None if found is None else _number(found.group(1))
    if bound is not None and form.problem.sol_status == pulp.LpSolutionIntegerFeasible:
        bound += form.problem.objective.constant  # the MPS file leaves the constant out
    else:
        bound = None
    return outcome(form, name, solve_s, bound, cbc=ending)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if abs(value) < 1e300 else None


_RUNNING: set[subprocess.Popen[str]] = set()
"""The CBC processes of this process: killed when it exits, so that none outlives it
(a solve the watchdog went on without may still be waiting for its CBC)."""


@atexit.register
def _kill_running() -> None:
    for proc in list(_RUNNING):
        with contextlib.suppress(OSError):
            proc.kill()


def _execute(command: list[str], echo: bool, deadline: Deadline) -> tuple[str, str]:
    """Run CBC to its end; return its output and how it ended (exited/interrupted/killed)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    _RUNNING.add(proc)
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=_read, args=(proc.stdout, lines, echo), daemon=True)
    reader.start()
    left = deadline.remaining()
    end = None if left is None else time.perf_counter() + left + GRACE_S
    ending, interrupted = "exited", 0.0
    try:
        while proc.poll() is None:
            try:
                proc.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.perf_counter()
            if ending == "exited" and (deadline.stop.is_set() or (end is not None and now > end)):
                proc.send_signal(signal.SIGINT)
                ending, interrupted = "interrupted", now
            elif ending == "interrupted" and now > interrupted + KILL_AFTER_S:
                proc.kill()
                ending = "killed"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        _RUNNING.discard(proc)
        reader.join(timeout=1.0)
    return "".join(lines), ending


def _read(stream: IO[str], lines: list[str], echo: bool) -> None:
    for line in stream:
        lines.append(line)
        if echo:
            sys.stdout.write(line)
