"""The errors optsched raises.

Everything a user can cause by bad input derives from :class:`InputError`; the
command line turns those into one line and exit status 2, the service into
HTTP 422. :class:`InvalidSolutionError` is never the user's fault: it means a
solver or a formulation produced something the independent checker rejects.
"""

from __future__ import annotations


class OptschedError(Exception):
    """Base class of every error optsched raises on purpose."""


class InputError(OptschedError, ValueError):
    """Bad input: the message names the field and the problem.

    Parameters
    ----------
    field
        Dotted path of the offending field, e.g. ``"processing_times[3]"``.
    problem
        What is wrong with it, e.g. ``"must be an integer >= 1, got 0"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)

    def within(self, prefix: str) -> InputError:
        """Return the same error with ``prefix`` (a file or object) before the field."""
        field = f"{prefix}: {self.field}" if self.field else prefix
        return type(self)(field, self.problem)


class InstanceError(InputError):
    """An instance file or object is malformed or violates the family's rules."""


class UnknownSolverError(InputError):
    """A solver name that is not in the solver table."""


class SolverUnavailableError(InputError):
    """A known solver whose optional package is not installed."""


class NotSupportedError(InputError):
    """A solver that has no formulation or rule for the requested family."""


class InvalidSolutionError(OptschedError):
    """A solver returned a solution the family's checker rejects.

    This signals a bug in a solver or a formulation, never bad input.
    """
