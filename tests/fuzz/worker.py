"""Runs fuzz cases in one process, importing optsched once (``python -m tests.fuzz.worker``).

Reads one JSON request per line (``{"args": [...], "cwd": "..."}``), runs
``optsched ARGS`` in-process in that folder, and answers one JSON line: the
exit status, standard output and error, and the process's peak memory so far.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import traceback


def main() -> None:
    from optsched.cli.main import main as cli

    for line in sys.stdin:
        request = json.loads(line)
        os.chdir(request["cwd"])
        out, err = io.StringIO(), io.StringIO()
        code: object = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli(request["args"])
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # the CLI let something through: the worst outcome
                code = "escaped"
                err.write(traceback.format_exc())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"code": code if isinstance(code, int | str) else 0,
                          "out": out.getvalue()[-4000:], "err": err.getvalue()[-4000:],
                          "peak_kb": peak}), flush=True)


if __name__ == "__main__":
    main()
