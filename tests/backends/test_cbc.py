"""The CBC backend: its declared options exist in the binary, its bound, its stop."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pulp

from optsched import SmttInstance, SmttSolution, SolveParams, Status, solve
from optsched.backends import cbc
from optsched.backends.cbc_options import OPTIONS
from optsched.backends.milp import MilpFormulation
from optsched.deadline import Deadline, StopRequest
from optsched.problems.smtt.bounds import lower_bound
from optsched.problems.smtt.generate import generate


def test_every_declared_option_is_one_of_the_binary() -> None:
    """CBC answers ``NAME??`` for each option with its help, its range or its choices."""
    binary = cbc._pulp_cbc().path
    queries = "".join(f"{o.name}??\n" for o in OPTIONS.options if o.name != "seconds")
    text = subprocess.run([binary], input=queries + "quit\n", capture_output=True, text=True,
                          timeout=60).stdout
    text = re.sub(r"\((\w*)\)", r"\1", text)  # CBC prints dualB(ound) for dualBound
    for option in OPTIONS.options:
        if option.name == "seconds":
            continue
        block = re.search(rf"Coin:{re.escape(option.name)} : .*?(?=Coin:|\Z)", text, re.S)
        assert block is not None, option.name
        for choice in option.choices:
            assert re.search(rf"\b{re.escape(choice)}\b", block.group(0)), (option.name, choice)


def test_a_stopped_search_keeps_its_bound_with_the_constant() -> None:
    """After its first solution (``maxSolutions=1``) CBC stops with a bound.

    The time-indexed model has the constant ``sum w_j max(0, p_j - d_j)`` (19,783 here),
    which PuLP's MPS file leaves out: CBC's ``Lower bound`` 4375 - 19,783 < 0 becomes
    4375 once it is added back. The optimum is 4444 (smtt-ssdp), the family's bound far
    lower, so the bound shown is CBC's and valid.
    """
    inst = generate(n=10, tf=0.8, rdd=0.2, weighted=True, seed=2)[0]
    params = SolveParams(time_limit=30, workers=1, fallback=False, options={"maxSolutions": 1},
                         model={"formulation": "time-indexed"})
    result = solve(inst, "cbc", params)
    optimum = solve(inst, "smtt-ssdp").objective
    assert result.status is Status.FEASIBLE and result.bound is not None
    assert optimum == 4444 and lower_bound(inst) < 4000 < result.bound <= optimum


def test_a_child_that_ignores_its_limit_is_killed() -> None:
    """A stand-in for CBC that ignores SIGINT and sleeps: killed soon after the limit."""
    ignore = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
    started = time.perf_counter()
    _, ending = cbc._execute([sys.executable, "-c", ignore], False, Deadline(0.5))
    took = time.perf_counter() - started
    assert ending == "killed" and took < 0.5 + cbc.GRACE_S + cbc.KILL_AFTER_S + 1.0


def test_a_stop_interrupts_the_child() -> None:
    """A stand-in that ends on SIGINT: a stop request set after 1 s ends it. The child is a
    bare Python that handles SIGINT even when started from a background job (which ignores
    SIGINT, and Python then keeps ignoring it), as CBC does."""
    script = ("import signal, time\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # even if ignored
              "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    pass\n")
    stop = StopRequest()
    deadline = Deadline(60, stop)
    timer = __import__("threading").Timer(1.0, stop.set)
    timer.start()
    started = time.perf_counter()
    _, ending = cbc._execute([sys.executable, "-I", "-S", "-c", script], False, deadline)
    assert ending == "interrupted" and time.perf_counter() - started < 5


def test_declared_options_reach_cbc() -> None:
    """Cuts off and a node limit still prove the 3-job example's optimum 8 (order 2, 1, 0)."""
    inst = SmttInstance((3, 5, 2), (4, 6, 3), (1, 2, 1), name="example")
    params = SolveParams(time_limit=30, workers=1,
                         options={"cutsOnOff": "off", "maxNodes": 10000, "seconds": 20.0})
    result = solve(inst, "cbc", params)
    assert result.status is Status.OPTIMAL and result.objective == 8
    form = MilpFormulation(problem=pulp.LpProblem("empty"), decode=lambda: SmttSolution(()),
                           build_s=0.0)
    args = cbc.arguments(form, params, 30.0)
    assert args[args.index("-seconds") + 1] == "20.0" and "-cutsOnOff" in args


def test_no_cbc_outlives_the_process(tmp_path: Path) -> None:
    """A process that exits while a CBC child still runs (its solve was left behind by the
    watchdog) takes the child with it."""
    child = (f"import os, signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
             f"open({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid())); time.sleep(60)")
    script = ("import sys, threading, time\nfrom optsched.backends import cbc\n"
              "from optsched.deadline import Deadline\n"
              f"args = ([sys.executable, '-c', {child!r}], False, Deadline(None))\n"
              "threading.Thread(target=cbc._execute, args=args, daemon=True).start()\n"
              "time.sleep(1.5)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.2)
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone, or a zombie
