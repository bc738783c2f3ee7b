"""What a result file claims, checked against what its solution really is (``validate``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optsched.family import Evaluation, Family
from optsched.fields import excerpt
from optsched.result import relative_gap


def false_claims(family: Family[Any, Any], instance: Any, claims: Mapping[str, Any],
                 evaluation: Evaluation) -> list[str]:
    """One line per claim of a result object that the checker's evaluation contradicts.

    Checked: the family and instance it names, its objective, its bound (never
    above the objective, nor above the instance's known optimum), an
    ``optimal`` status (its bound must meet the objective, which must be the
    known optimum) and its gap.
    """
    out = []
    for key, actual in (("family", family.name), ("instance", instance.name)):
        said = claims.get(key)
        if said not in (None, "", actual):
            out.append(f"the result is for {key} {excerpt(said)}, not {excerpt(actual)}")
    objective = evaluation.objective
    if objective is None:
        return out
    tol = 0.5 if family.integral else 1e-6 * max(1.0, abs(objective))
    said_objective, bound = _number(claims.get("objective")), _number(claims.get("bound"))
    if "objective" in claims and (said_objective is None
                                  or abs(said_objective - objective) > tol):
        out.append(f"it claims objective {excerpt(claims.get('objective'))}; the solution's "
                   "objective "
                   f"is {objective}")
    reference: Any = getattr(instance, "reference", None)
    optimum = reference.value if getattr(reference, "status", "") == "optimal" else None
    if bound is not None and bound > objective + tol:
        out.append(f"it claims bound {bound}, above the solution's objective {objective}")
    elif bound is not None and optimum is not None and bound > optimum + tol:
        out.append(f"it claims bound {bound}, above the known optimum {optimum}")
    if claims.get("status") == "optimal":
        if bound is None or objective - bound > tol:
            out.append(f"it claims optimal, but its bound {bound} does not meet the objective "
                       f"{objective}")
        elif optimum is not None and objective > optimum + tol:
            out.append(f"it claims optimal, but the known optimum is {optimum}")
    if "gap" in claims:
        said_gap, gap = _number(claims.get("gap")), relative_gap(objective, bound)
        if (said_gap is None) != (gap is None) or (
                said_gap is not None and gap is not None and abs(said_gap - gap) > 1e-6):
            out.append(f"it claims gap {excerpt(claims.get('gap'))}; its objective and bound give "
                       f"{gap}")
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
