"""The incumbents a solve reports before its end: verified first, improvements only."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from optsched.family import Family
from optsched.result import Result, Status

Progress = Callable[[Result], None]
"""A listener of a solve's verified incumbents."""

CHECK_SHARE = 0.1
"""Most of a solve's time the checks of its incumbents may take; past it an incumbent is
not told (a later one, or the final result, supersedes it)."""


class Incumbents:
    """Verify each incumbent a solver offers and tell ``on_progress`` of each improvement.

    Called as the solve's :attr:`.Deadline.found` (from any solver thread). An
    offer whose claimed objective is not below the best one told is skipped
    without a check; the others are checked by the family's checker, and a
    solution with a violation (or one the checker cannot read, e.g. a
    sub-problem's) is dropped and counted in :attr:`rejected`. The bound told
    with an incumbent is the best one seen so far that is not above the
    verified objective: the hint's (verified as the result's is) or a claim of
    the solver, and ``stats["bound_by"]`` names whose it is.
    """

    def __init__(self, family: Family[Any, Any], instance: Any, solver: str,
                 on_progress: Progress) -> None:
        self.family = family
        self.instance = instance
        self.solver = solver
        self.on_progress = on_progress
        self.best: int | float | None = None
        self.bound: tuple[float, str] | None = None
        """The best bound seen, and whose it is."""
        self.rejected = 0
        self._started = time.perf_counter()
        self._checking = 0.0
        self._lock = threading.Lock()

    def __call__(self, solution: Any, objective: float | None = None,
                 bound: float | None = None) -> None:
        """Offer an incumbent with the solver's claims (:meth:`.Deadline.report`)."""
        with self._lock:
            if objective is not None and not self._improves(objective):
                return
            elapsed = time.perf_counter() - self._started
            if self._checking <= CHECK_SHARE * elapsed:
                self._check(solution, bound)

    def hint(self, hint: Result) -> None:
        """Tell of the (already verified) hint, the first incumbent of an exact solve."""
        with self._lock:
            if hint.objective is not None and self._improves(hint.objective):
                self.best = hint.objective
                if hint.bound is not None:
                    self.bound = (hint.bound, "hint")
                self._tell(replace(hint, stats={} if hint.bound is None
                                                else {"bound_by": "hint"}))

    def _improves(self, objective: float) -> bool:
        return self.best is None or objective < self.best

    def _check(self, solution: Any, bound: float | None) -> None:
        started = time.perf_counter()
        try:
            evaluation = self.family.evaluate(self.instance, solution)
        except Exception:  # e.g. a sub-problem's solution offered by mistake
            evaluation = None
        finally:
            self._checking += time.perf_counter() - started
        if evaluation is None or evaluation.violations or evaluation.objective is None:
            self.rejected += 1
            return
        objective = evaluation.objective
        if not self._improves(objective):
            return
        self.best = objective
        if bound is not None and bound <= objective and (
                self.bound is None or bound > self.bound[0]):
            self.bound = (bound, self.solver)
        told = self.bound if self.bound is not None and self.bound[0] <= objective else None
        self._tell(Result(status=Status.FEASIBLE, solver=self.solver, family=self.family.name,
                          instance=self.instance.name, solution=solution, objective=objective,
                          bound=None if told is None else told[0], verified=True,
                          stats={} if told is None else {"bound_by": told[1]}))

    def _tell(self, result: Result) -> None:
        with contextlib.suppress(Exception):  # a broken listener must not end the solve
            self.on_progress(result)
