"""The ``optsched`` command: a click group whose errors are one line and exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from optsched.cli.bench import bench
from optsched.cli.generate import generate
from optsched.cli.info import families_command, solvers_command
from optsched.cli.options import one_line
from optsched.cli.plot import plot
from optsched.cli.report import report
from optsched.cli.serve import serve
from optsched.cli.solve import solve
from optsched.cli.submit import submit
from optsched.cli.validate import validate
from optsched.errors import InputError, OptschedError

EXIT_BAD_INPUT = 2
DEBUG_ENV = "OPTSCHED_DEBUG"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="optsched")
def cli() -> None:
    """Verified CP-SAT, MILP and heuristic solutions for scheduling and placement problems.

    Exit status: 0 a solution was found or infeasibility proven; 1 a solution
    was checked and violates the instance (validate); 2 bad input or usage;
    3 no solution within the limit.
    """


for command in (solve, validate, generate, families_command, solvers_command, bench, report,
                plot, serve, submit):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never print a traceback for bad input."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="optsched",
                        standalone_mode=False)
    except click.ClickException as exc:
        _fail(exc.format_message(), EXIT_BAD_INPUT if exc.exit_code in (1, 2) else exc.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except InputError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    except OptschedError as exc:
        _fail(str(exc), 1)
    except RecursionError:
        _fail("the input nests too deeply to be read", EXIT_BAD_INPUT)
    except MemoryError:
        _fail("out of memory: the input is too large for this machine", EXIT_BAD_INPUT)
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if os.environ.get(DEBUG_ENV):
            raise
        _fail(f"internal error (a bug in optsched; {DEBUG_ENV}=1 shows where): "
              f"{type(exc).__name__}: {exc}", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"optsched: error: {one_line(message)}", err=True)
    sys.exit(code)
