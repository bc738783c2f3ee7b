"""The "Priority Matters" scheduler plugin's solver contract, answered by optsched's pods models.

The plugin (MyPriorityOptimizer) runs a solver process, writes one JSON
object on its stdin and reads one from its stdout
(``../shared/docs/priority-optimizer-contract.md``; the plugin's code is the
authority). :func:`answer` turns the plugin's input into a pods instance
(cpu and memory; every pod named by its ``uid``; protected pods stay put; the
preemptor a pending pod), solves it with ``auto`` within ``timeout_ms`` from
the process's start, and returns the plugin's output: the placements of
pending pods and the moves of running ones, the evictions. The plan is never
worse than the cluster as it is (lexicographic: pods placed by priority,
highest first, then fewer evictions, then fewer moves). A bad input is a
status the plugin ignores (``MODEL_INVALID``) and one ``error`` line naming
the field; nothing raises.
"""

from optsched.problems.pods.plugin.answer import (
    EXACT_MIN_S,
    GREEDY_MIN_S,
    INVALID,
    PLAN_GRACE_S,
    RESERVE_S,
    answer,
    as_is,
    refusal,
    respond,
    solve_request,
    time_left,
)
from optsched.problems.pods.plugin.request import DEFAULT_TIMEOUT_MS, Pod, Request, read

__all__ = ["DEFAULT_TIMEOUT_MS", "EXACT_MIN_S", "GREEDY_MIN_S", "INVALID", "PLAN_GRACE_S",
           "RESERVE_S", "Pod", "Request", "answer", "as_is", "read", "refusal", "respond",
           "solve_request", "time_left"]
