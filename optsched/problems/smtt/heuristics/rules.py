"""Constructive rules for smtt, each a plain function ``rule(instance, deadline) -> sequence``.

Sorting rules (EDD, SPT, WSPT) and dispatching rules that pick, at the
current time ``t``, the unscheduled job with the best priority (MDD, WMDD,
ATC, MDDC). Ties go to the lowest job index unless a rule says otherwise.
The rules of quadratic time stop at their deadline: the jobs they have not
reached follow in their order so far (EDD for the dispatching rules), still a
sequence of every job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from optsched.compiled import FloatArray, IntArray
from optsched.deadline import Deadline, while_time
from optsched.problems.smtt.bounds import wspt_order
from optsched.problems.smtt.instance import SmttInstance

Priority = Callable[[int, IntArray], FloatArray]
"""``priority(t, remaining_jobs) -> values``; the smallest value is scheduled next."""


def cost(instance: SmttInstance, sequence: Sequence[int] | IntArray) -> int:
    """Total weighted tardiness of ``sequence`` (vectorised; the checker is separate)."""
    p, d, w = instance.arrays
    seq = np.asarray(sequence, dtype=np.int64)
    return int((w[seq] * np.maximum(0, np.cumsum(p[seq]) - d[seq])).sum())


def edd(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Earliest due date first; ties by shorter processing time, then by index."""
    p, d, _ = instance.arrays
    return [int(j) for j in np.lexsort((np.arange(instance.n), p, d))]


def spt(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Shortest processing time first; ties by earlier due date, then by index."""
    p, d, _ = instance.arrays
    return [int(j) for j in np.lexsort((np.arange(instance.n), d, p))]


def wspt(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Smith's rule: non-decreasing ``p_j / w_j`` (exact ratios), zero weights last."""
    return wspt_order(instance)


def dispatch(instance: SmttInstance, priority: Priority, deadline: Deadline | None = None
             ) -> list[int]:
    """Build a sequence by repeatedly scheduling the job of smallest priority.

    Once ``deadline`` passes, the jobs left follow in EDD order.
    """
    p, d, _ = instance.arrays
    remaining = np.arange(instance.n)
    t = 0
    out: list[int] = []
    while remaining.size:
        if deadline is not None and deadline.expired():
            out.extend(int(j) for j in remaining[np.lexsort((remaining, p[remaining],
                                                            d[remaining]))])
            break
        k = int(np.argmin(priority(t, remaining)))
        job = int(remaining[k])
        out.append(job)
        t += int(p[job])
        remaining = np.delete(remaining, k)
    return out


def mdd(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Modified due date (Baker & Bertrand 1982): smallest ``max(t + p_j, d_j)``, ties by SPT."""
    p, d, _ = instance.arrays
    scale = float(p.max() + 1)

    def priority(t: int, jobs: IntArray) -> FloatArray:
        return np.maximum(t + p[jobs], d[jobs]) + p[jobs] / scale

    return dispatch(instance, priority, deadline)


def wmdd(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Weighted MDD (Kanet & Li 2004): smallest ``max(p_j, d_j - t) / w_j``; zero weights last."""
    p, d, w = instance.arrays

    def priority(t: int, jobs: IntArray) -> FloatArray:
        wj = w[jobs].astype(np.float64)
        value = np.maximum(p[jobs], d[jobs] - t) / np.where(wj > 0, wj, 1.0)
        return np.where(wj > 0, value, np.inf)

    return dispatch(instance, priority, deadline)


def atc(instance: SmttInstance, k: float = 2.0, deadline: Deadline | None = None
        ) -> list[int]:
    """Apparent tardiness cost (Vepsalainen & Morton 1987) with look-ahead ``k``.

    Largest ``w_j / p_j * exp(-max(0, d_j - p_j - t) / (k * pbar))`` with
    ``pbar`` the mean processing time of the unscheduled jobs. Computed in
    logarithms so that a large slack cannot underflow to a tie.
    """
    p, d, w = instance.arrays

    def priority(t: int, jobs: IntArray) -> FloatArray:
        pbar = float(p[jobs].mean())
        with np.errstate(divide="ignore"):
            log_ratio = np.log(w[jobs] / p[jobs])
        slack = np.maximum(0, d[jobs] - p[jobs] - t)
        return -(log_ratio - slack / (k * pbar))  # type: ignore[no-any-return]

    return dispatch(instance, priority, deadline)


def atc_best(instance: SmttInstance, deadline: Deadline | None = None,
             ks: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0)) -> list[int]:
    """ATC with the best look-ahead ``k`` of a small grid (a common way to set ``k``).

    Once ``deadline`` passes, the look-aheads not tried yet are left out.
    """
    tried = [atc(instance, ks[0], deadline)]
    tried += [atc(instance, k, deadline) for k in while_time(ks[1:], deadline)]
    return min(tried, key=lambda seq: cost(instance, seq))


def mddc(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """MDDC, the seed paper's LLM-discovered dispatching rule (unweighted).

    At time ``t`` over the unscheduled set ``U``, smallest
    ``max(1.1 p_j + t, d_j) * (1 + r^2 / (1 + r^2)) + p_j / (t + mean_U p)`` with
    ``r = min(1, p_j / (t + max_U p))``.
    """
    p, d, _ = instance.arrays

    def priority(t: int, jobs: IntArray) -> FloatArray:
        pj = p[jobs].astype(np.float64)
        r = np.minimum(1.0, pj / (t + pj.max()))
        r2 = r * r
        value: FloatArray = (np.maximum(1.1 * pj + t, d[jobs]) * (1 + r2 / (1 + r2))
                             + pj / (t + pj.mean()))
        return value

    return dispatch(instance, priority, deadline)


def eddc(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """EDDC, the seed paper's LLM-discovered sequence rule (unweighted).

    Start from SPT order (ties by due date). Left to right, each job bubbles
    forward past its predecessor while the predecessor is due later and stays
    early when it is passed. Each such move lowers or keeps the tardiness: the
    passed job stays early and the moved job finishes sooner.
    """
    p, d = instance.processing_times, instance.due_dates
    seq = spt(instance)
    completion = list(np.cumsum([p[j] for j in seq]))
    for i in while_time(range(1, len(seq)), deadline):  # cut short: the rest in SPT order
        k = i
        while k > 0:
            job, ahead = seq[k], seq[k - 1]
            if not (d[ahead] > d[job] and completion[k - 1] + p[job] <= d[ahead]):
                break
            seq[k - 1], seq[k] = job, ahead
            completion[k - 1] = completion[k] - p[ahead]
            k -= 1
    return seq


def psk(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Panwalkar, Smith & Koulamas (1993) for ``1||sum T_j``.

    Jobs are kept in SPT order (ties by due date). The first unscheduled job is
    active; if it is tardy when started now it is scheduled. Otherwise the list
    is scanned and any job with an earlier due date than the active one becomes
    active, scheduled at once if it is tardy now; at the end of the scan the
    active job is scheduled.
    """
    p, d = instance.processing_times, instance.due_dates
    pending = spt(instance)
    t = 0
    out: list[int] = []
    while pending:
        if deadline is not None and deadline.expired():
            return out + pending  # the rest in SPT order
        active = 0
        if t + p[pending[0]] <= d[pending[0]]:
            for k in range(1, len(pending)):
                job = pending[k]
                if d[job] < d[pending[active]]:
                    active = k
                    if t + p[job] > d[job]:
                        break
        job = pending.pop(active)
        out.append(job)
        t += p[job]
    return out


def wilkerson_irwin(instance: SmttInstance, deadline: Deadline | None = None) -> list[int]:
    """Wilkerson & Irwin's (1971) pairwise rule with backtracking, for ``1||sum T_j``.

    Jobs are taken in EDD order and appended; the new job moves ahead of its
    predecessor ``a`` (started at ``s``) while the pair rule prefers it: the
    earlier-due job goes first when ``s + max(p_a, p_b) <= max(d_a, d_b)``,
    otherwise the shorter job goes first (ties keep the current order).
    """
    p, d = instance.processing_times, instance.due_dates
    seq: list[int] = []
    starts: list[int] = []
    order = edd(instance)
    for at, job in enumerate(order):
        if deadline is not None and deadline.expired():
            return seq + order[at:]  # the rest in EDD order
        seq.append(job)
        starts.append(starts[-1] + p[seq[-2]] if len(seq) > 1 else 0)
        k = len(seq) - 1
        while k > 0:
            a, s = seq[k - 1], starts[k - 1]
            if s + max(p[a], p[job]) <= max(d[a], d[job]):
                first_job = d[job] < d[a]
            else:
                first_job = p[job] < p[a]
            if not first_job:
                break
            seq[k - 1], seq[k] = job, a
            starts[k] = s + p[job]
            k -= 1
    return seq


Rule = Callable[..., list[int]]
"""``rule(instance, deadline=None) -> sequence``."""

RULES: dict[str, tuple[Rule, str]] = {
    "edd": (edd, "earliest due date"),
    "spt": (spt, "shortest processing time"),
    "wspt": (wspt, "weighted shortest processing time (Smith)"),
    "mdd": (mdd, "modified due date (Baker & Bertrand)"),
    "wmdd": (wmdd, "weighted modified due date (Kanet & Li)"),
    "atc": (atc_best, "apparent tardiness cost, best look-ahead of a grid"),
    "psk": (psk, "Panwalkar, Smith & Koulamas"),
    "wi": (wilkerson_irwin, "Wilkerson & Irwin pairwise rule with backtracking"),
    "eddc": (eddc, "EDDC of the LLM-discovered heuristics paper"),
    "mddc": (mddc, "MDDC of the LLM-discovered heuristics paper"),
}
"""Every constructive rule by solver name, with its one-line description."""


SECONDS_PER_N2 = {"mdd": 5e-9, "wmdd": 6e-9, "mddc": 8e-9, "psk": 1.3e-8, "wi": 3e-8,
                  "eddc": 3e-8, "atc": 4.5e-8}
"""Measured time of each dispatching rule over n squared (seconds, 4,000 jobs); the sorting
rules take n log n and always run."""


def best_rule(instance: SmttInstance, deadline: Deadline | None = None
              ) -> tuple[list[int], int, str]:
    """The cheapest sequence of the constructive rules: (sequence, cost, rule name).

    With a ``deadline``, a dispatching rule runs only if its expected time
    (:data:`SECONDS_PER_N2`) fits in what is left: on 200,000 jobs ATC alone
    would take half an hour. The sorting rules always run.
    """
    scored = []
    for name, (rule, _) in RULES.items():  # in this order: ties go to the first
        need = SECONDS_PER_N2.get(name, 0.0) * instance.n ** 2
        left = None if deadline is None else deadline.remaining()
        if need and left is not None and need > left:
            continue
        seq = rule(instance, deadline=deadline)
        scored.append((cost(instance, seq), name, seq))
    value, name, seq = min(scored, key=lambda item: item[0])
    return seq, value, name


def best_known(instance: SmttInstance, hint: object = None, deadline: Deadline | None = None
               ) -> tuple[list[int], int]:
    """The better of ``hint`` (an smtt solution, if valid) and the best constructive rule."""
    from optsched.problems.smtt.solution import SmttSolution

    candidates = [best_rule(instance, deadline)[0]]
    if isinstance(hint, SmttSolution) and sorted(hint.sequence) == list(range(instance.n)):
        candidates.append(list(hint.sequence))
    return min(((seq, cost(instance, seq)) for seq in candidates), key=lambda item: item[1])
