#!/usr/bin/env python3
"""The solver of the "Priority Matters" Kubernetes scheduler plugin, backed by optsched.

Run by the plugin as ``$SOLVER_PYTHON_BIN $SOLVER_PATH`` (this project's interpreter, this
file): reads the plugin's JSON on stdin, answers on stdout within ``timeout_ms`` of its
start, exits 0 always (``optsched/problems/pods/plugin/``; ``docs/pods-plugin.md``).
"""

import time

STARTED = time.monotonic()  # the deadline counts from here, imports included

import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# The start and the read make objects that live to the end: the garbage collector's passes
# over them took 0.06-0.1 s of reading 20,000 pods (of 0.4). It is on again for the solve.
gc.disable()

# The plugin starts this script for every decision: cached bytecode saves 0.1-0.2 s of
# each start (measured), even where the environment asks not to write it.
sys.dont_write_bytecode = False


def _without_pandas() -> None:
    """Let OR-Tools' CP-SAT module import without pandas (0.3-0.36 s of each start).

    ``ortools.sat.python.cp_model`` imports pandas for its helpers over pandas indexes
    and series and, at import, names only ``pandas.Index`` and ``pandas.Series``; this
    process passes it neither. A module whose two classes nothing is an instance of
    stands in for pandas (unless pandas is already imported); any other name asked of it
    imports pandas itself, which then replaces it. With it, 39 of 40 generated states
    were answered with their optimum at ``timeout_ms`` 1000 instead of 24.
    """
    import importlib
    import types

    if "pandas" in sys.modules:
        return
    stand_in = types.ModuleType("pandas", "stand-in: this process never uses pandas")
    stand_in.Index = type("Index", (), {})  # type: ignore[attr-defined]
    stand_in.Series = type("Series", (), {})  # type: ignore[attr-defined]

    def real(name: str) -> object:
        if sys.modules.get("pandas") is stand_in:
            del sys.modules["pandas"]
        return getattr(importlib.import_module("pandas"), name)

    stand_in.__getattr__ = real  # type: ignore[method-assign]
    sys.modules["pandas"] = stand_in


def _collect_again() -> None:
    """Turn the garbage collector back on, past the objects made so far (they live on)."""
    gc.freeze()
    gc.enable()


def main() -> int:
    """Answer one request; a broken input or a crash is a status, never a traceback."""
    try:
        _without_pandas()
        from optsched.errors import InputError
        from optsched.problems.pods.plugin import answer, refusal
        from optsched.reading import read_text

        try:  # at most 128 MiB; json.loads without hooks: 3 times faster than parse_json
            request = json.loads(read_text("-"))
        except InputError as exc:  # stdin is named "-" by the reader
            print(json.dumps(refusal(InputError("input", exc.problem), STARTED)))
            return 0
        except (ValueError, RecursionError) as exc:  # the checks of the fields follow
            problem = "nests too deeply" if isinstance(exc, RecursionError) else str(exc)
            print(json.dumps(refusal(InputError("input", f"is not valid JSON: {problem}"),
                                     STARTED)))
            return 0
        print(json.dumps(answer(request, STARTED, on_read=_collect_again)))
    except Exception as exc:  # the plugin reads a status, not a traceback
        print(json.dumps({"status": "PYTHON_EXCEPTION", "error": f"{type(exc).__name__}: "
                                                                 f"{exc}"[:500],
                          "placements": [], "evictions": []}))
    return 0


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # now: a solve left running past timeout_ms is not waited for
