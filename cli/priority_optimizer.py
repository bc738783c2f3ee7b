#!/usr/bin/env python3
"""The solver of the "Priority Matters" Kubernetes scheduler plugin, backed by optsched.

Run by the plugin as ``$SOLVER_PYTHON_BIN $SOLVER_PATH`` (this project's interpreter, this
file): reads the plugin's JSON on stdin, answers on stdout within ``timeout_ms`` of its
start, exits 0 always (``optsched/problems/pods/plugin/``; ``docs/pods-plugin.md``).
"""

import time

STARTED = time.monotonic()  # the deadline counts from here, imports included

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# The plugin starts this script for every decision: cached bytecode saves 0.1-0.2 s of
# each start (measured), even where the environment asks not to write it.
sys.dont_write_bytecode = False


def main() -> int:
    """Answer one request; a broken input or a crash is a status, never a traceback."""
    try:
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
        print(json.dumps(answer(request, STARTED)))
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
