"""Drive ``smtt-ssdp``: incumbent, multipliers, then relaxations with growing memory.

Every compiled call does a bounded amount of work, and ``stop()`` is asked
between calls; the search keeps its best sequence and its best bound at all
times, so stopping anywhere still leaves a valid answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optsched.compiled import FloatArray, IntArray
from optsched.problems.smtt.dominance import completion_windows, tighten_windows
from optsched.problems.smtt.ssdp import graph as gr
from optsched.problems.smtt.ssdp import lr, ls
from optsched.problems.smtt.ssdp import windows as win
from optsched.problems.smtt.ssdp.level import Level

SLICE = 2_000_000
"""Arcs scanned by one compiled call between two looks at the clock."""
FIRST_STATES = 1 << 12
MAX_MEMORY = 128
STOPPED, MEMORY_LIMIT = "time limit or stop request", "memory limit of the state tables"
REBUILD = 0.8
"""The arc table is rebuilt when the nodes alive fall below this share of its last build
(with propagation killing nodes faster, 0.9 rebuilt it so often that OR-Library wt100
took 187 s in all, against 174 s at 0.8 and 175 s at 0.7)."""
CHUNK = 20
"""Subgradient steps per compiled call of the first stage."""


class StopSearchError(Exception):
    """Raised inside the search when ``stop()`` says so or a cap is reached."""


class Search:
    """One exact solve of ``1 || sum w_j T_j``; see :mod:`optsched.problems.smtt.ssdp.solver`.

    Parameters
    ----------
    p, d, w
        The jobs, int64 arrays.
    stop
        Asked between slices of work; True ends the search.
    max_bytes
        Cap on the memory of the state tables (two levels live at once).
    opts
        The options of :data:`optsched.problems.smtt.ssdp.solver.OPTIONS`.
    """

    def __init__(self, p: IntArray, d: IntArray, w: IntArray, stop: Callable[[], bool],
                 max_bytes: int, opts: Mapping[str, int]) -> None:
        self.p, self.d, self.w, self.stop, self.max_bytes = p, d, w, stop, max_bytes
        self.opts, self.n, self.horizon = opts, int(p.shape[0]), int(p.sum())
        self.best = np.argsort(d, kind="mergesort").astype(np.int64)
        self.ub = int(ls.seq_cost(p, d, w, self.best))
        self.lb = 0.0
        self.mu = np.zeros(self.n)
        self.arcs_alive = 0
        self.before = np.zeros((self.n, self.n), dtype=np.bool_)
        self.stats: dict[str, Any] = {"levels": 0, "memory": 0, "states": 0,
                                      "subgradient_iterations": 0, "lb1": 0.0, "stopped": None}

    @property
    def eps(self) -> float:
        """Tolerance of float sums of the Lagrangian values."""
        return 1e-6 + 1e-9 * (abs(self.ub) + float(np.abs(self.mu).sum()))

    @property
    def closed(self) -> bool:
        """True once the bound proves the incumbent optimal."""
        return self.bound() >= self.ub

    def bound(self) -> int:
        """The best valid lower bound (integer, rounded safely)."""
        if self.lb >= self.ub:  # also when no path is left (inf)
            return self.ub
        return max(0, math.ceil(self.lb - self.eps))

    def check(self) -> None:
        """Raise :class:`StopSearchError` if the caller wants to stop."""
        if self.stop():
            self.stats["stopped"] = STOPPED
            raise StopSearchError

    def offer(self, seq: IntArray, iterations: int = 0) -> None:
        """Improve the incumbent from ``seq`` (a permutation) by local search."""
        current, best = seq.copy(), seq.copy()
        value = int(ls.ils(self.p, self.d, self.w, current, best, iterations, self.n))
        if value < self.ub:
            self.ub, self.best = value, best

    def solve(self, start: list[IntArray]) -> None:
        """Run all stages; ``self.closed`` says whether optimality was proven."""
        try:
            for seq in start:
                self.offer(seq)
            self.offer(self.best, self.opts["ils_iterations"])
            self.check()
            self.base = self._multipliers()
            level: Level | None = None
            while not self.closed:
                level = self._level(self.base, level)
        except StopSearchError:
            return

    def _multipliers(self) -> FloatArray:
        """First stage: subgradient optimisation; the first-stage completion bounds."""
        p, d, w, n, horizon = self.p, self.d, self.w, self.n, self.horizon
        if (33 + n) * (horizon + 1) * n > self.max_bytes:  # f, g, pred, base, alive, ok
            self.stats["stopped"] = MEMORY_LIMIT
            raise StopSearchError
        times = np.arange(horizon + 1)[:, None]
        self.alive = times >= p[None, :]
        if self.opts["windows"]:
            earliest, latest, self.before = completion_windows(p, d, w)
            self.alive &= (times >= earliest[None, :]) & (times <= latest[None, :])
        self.f, self.g = np.full((horizon + 1, n), np.inf), np.full((horizon + 1, n), np.inf)
        self.pred = np.zeros((horizon + 1, n), dtype=np.int64)
        self.ok = np.zeros((0, n, n), dtype=np.bool_)  # the pair rule until the first cuts
        alive, f, g, pred = self.alive, self.f, self.g, self.pred
        self.mu = w * np.maximum(0, np.cumsum(p[self.best]) - d[self.best])[
            np.argsort(self.best)].astype(np.float64)
        best_mu, direction = self.mu.copy(), np.zeros(n)
        state = np.array([1.0, -np.inf, 0.0, 0.0])
        outcome = lr.GOING
        while state[lr.STEP] > 1e-2 and state[lr.RUNS] < self.opts["iterations"]:
            self.check()
            outcome = lr.subgradient(p, d, w, self.mu, best_mu, direction, alive, f, g, pred,
                                     self.ub, self.eps, state, CHUNK, self.ok)
            self.lb = max(self.lb, float(state[lr.BEST_LB]))
            self.stats["subgradient_iterations"] = int(state[lr.RUNS])
            if outcome != lr.GOING:
                break
            self.offer(ls.repair(lr.path(p, f, pred), n, d))
            self._arcs()
        self.stats["lb1"] = round(float(state[lr.BEST_LB]), 2)
        if outcome == lr.CLOSED:
            self.lb = float(self.ub)
        elif outcome == lr.PERMUTATION:
            self.offer(lr.path(p, f, pred))
            self.lb = float(self.ub)
        self.mu = best_mu
        return self._base()

    def _base(self) -> FloatArray:
        """First-stage completion bounds for the current ``mu`` (inf where eliminated)."""
        p, d, w, total = self.p, self.d, self.w, float(self.mu.sum())
        self.lb = max(self.lb, lr.forward(p, d, w, self.mu, self.alive, self.f, self.pred,
                                          self.ok) + total)
        lr.backward(p, d, w, self.mu, self.alive, self.g, self.ok)
        lr.eliminate(self.f, self.g, self.alive, self.ub - 1 + self.eps - total)
        self._arcs()
        return np.where(self.alive, self.g, np.inf)

    def _arcs(self) -> None:
        """Propagate the nodes, then rebuild the arc table (:func:`ssdp_lr.arcs`) per REBUILD."""
        if self.opts["windows"]:
            self._propagate()
        left = int(self.alive.sum())
        if self.ok.shape[0] == 0:
            self.ok = np.zeros((self.horizon + 1, self.n, self.n), dtype=np.bool_)
        elif left > REBUILD * self.arcs_alive:
            return
        lr.arcs(self.p, self.d, self.w, self.alive, self.ok)
        self.arcs_alive = left

    def _propagate(self) -> None:
        """Narrow the alive nodes and grow the precedences from each other until both settle.

        :func:`ssdp_windows.propagate` kills nodes given the precedences;
        the first and last alive completion of each job are then windows of
        the lexicographically first optimum (if it beats the incumbent), from
        which :func:`tighten_windows` may infer more precedences. On OR-Library
        wt100-060 the pairs grow from 2040 to 3550 and the instance closes in
        8 s; propagating the nodes alone left it open at 30 s (bound 19910,
        optimum 19912).
        """
        alive = self.alive
        while True:
            win.propagate(self.p, self.before, alive)
            if not alive.any(axis=0).all():  # a job without a node: no sequence left
                return
            first = alive.argmax(axis=0)
            last = self.horizon - alive[::-1].argmax(axis=0)
            _, _, before = tighten_windows(self.p, self.d, self.w, first, last, self.before)
            if (before == self.before).all():
                return
            self.before = before

    def _backward(self, level: Level, memo: IntArray) -> None:
        """Backward values of ``level`` for the current ``mu``, eliminating states."""
        level.ctl[gr.CURSOR], level.ctl[gr.STATUS] = self.horizon, gr.RUNNING
        thr = self.ub - 1 + self.eps - float(self.mu.sum())
        while level.ctl[gr.STATUS] != gr.DONE:
            self.check()
            gr.backward(self.p, self.d, self.w, self.mu, self.ok, thr, memo, level.nodes,
                        level.values, level.head, level.table, level.ctl, SLICE)

    def _order_masks(self, memory: list[int]) -> tuple[IntArray, IntArray]:
        """Per job ``k``: the memorised jobs that must precede it, and those that must follow.

        As two-word bit masks (see :meth:`Level.masks`), from ``self.before``.
        """
        need, forbid = np.zeros((self.n, 2), dtype=np.uint64), np.zeros((self.n, 2), np.uint64)
        for b, j in enumerate(memory):
            bit = np.uint64(1) << np.uint64(b % 64)
            need[self.before[j], b // 64] |= bit
            forbid[self.before[:, j], b // 64] |= bit
        return need.view(np.int64), forbid.view(np.int64)

    def _fewest_states(self, prev: Level) -> list[int]:
        """The jobs not yet memorised, fewest surviving states of ``prev`` ending with them first.

        Ties go to the job ``prev``'s best path holds fewest times. Jobs that end
        few states have narrow windows of completion times, and memorising them
        grows the next level least, so more jobs fit under the memory cap (the
        rule of SiPS, Tanaka's C library of these methods). On OR-Library
        wt100 at 30 s it proves 120 of 125 where memorising the jobs the path
        repeats or misses, smallest multiplier first, proved 118 (benchmarks);
        wt100-009 and 015, open before, close in 3.4 s and 12 s.
        """
        live = prev.values[:prev.count, gr.BV] < np.inf
        states = np.bincount(prev.nodes[:prev.count, gr.JOB][live], minlength=self.n + 1)
        seq = gr.best_path(self.p, prev.nodes, prev.values, prev.head)
        counts = np.bincount(seq, minlength=self.n)
        order = np.lexsort((counts, states[:self.n]))
        return [int(j) for j in order if j not in prev.memory]

    def _level(self, base: FloatArray, prev: Level | None) -> Level:
        """Build the next relaxation (memory grown by :meth:`_fewest_states` of ``prev``)."""
        memory = [] if prev is None else list(prev.memory)
        if prev is not None:
            memory += self._fewest_states(prev)[:self.opts["add"]]
        if len(memory) > MAX_MEMORY:
            self.stats["stopped"] = MEMORY_LIMIT
            raise StopSearchError
        level = Level.empty(self.horizon, self.n, memory, FIRST_STATES)
        memo = level.bits(self.n)
        keep = prev.masks() if prev is not None else (0, 0)
        empty_i, empty_f = np.zeros((0, gr.COLUMNS), dtype=np.int64), np.zeros((0, 2))
        pi, pv, pt = ((prev.nodes, prev.values, prev.table) if prev is not None
                      else (empty_i, empty_f, np.full(1, -1, dtype=np.int64)))
        pm_total = int(self.p[memory].sum())
        need, forbid = self._order_masks(memory)
        total = float(self.mu.sum())
        while True:
            self.check()
            thr = self.ub - 1 + self.eps - total
            gr.forward(self.p, self.d, self.w, self.mu, self.ok, thr, memo, pm_total, base, pi,
                       pv, pt, keep[0], keep[1], need, forbid, level.nodes, level.values,
                       level.head, level.table, level.ctl, SLICE)
            if level.ctl[gr.STATUS] == gr.DONE:
                break
            if level.ctl[gr.STATUS] == gr.GROW:
                if 2 * level.nbytes + (prev.nbytes if prev is not None else 0) > self.max_bytes:
                    self.stats["stopped"] = MEMORY_LIMIT
                    raise StopSearchError
                level.grow()
        self._backward(level, memo)
        self.stats["levels"] += 1
        self.stats["memory"] = len(memory)
        self.stats["states"] = max(self.stats["states"], level.count)
        source = float(level.values[0, gr.BV])
        if source == np.inf:
            self.lb = float(self.ub)
            return level
        self.lb = max(self.lb, source + total)
        seq = gr.best_path(self.p, level.nodes, level.values, level.head)
        if sorted(seq.tolist()) == list(range(self.n)):
            self.offer(seq)
            self.lb = max(self.lb, float(ls.seq_cost(self.p, self.d, self.w, seq)))
        else:
            self.offer(ls.repair(seq, self.n, self.d))
        return level


def warm(opts: Mapping[str, int]) -> None:
    """Call every compiled entry point once, so that a fork server holds them all loaded.

    A small instance is solved before any level is built; this drives the
    stages by hand instead (with ``opts``, the options of ``smtt-ssdp``).
    """
    p, d, w = (np.array(x, dtype=np.int64) for x in ((3, 2, 4, 1, 5, 2), (4, 3, 9, 2, 6, 5),
                                                     (2, 1, 3, 1, 2, 4)))
    search = Search(p, d, w, lambda: False, 1 << 26, opts)
    search.offer(search.best, 1)
    search.base = search._multipliers()
    search.offer(ls.repair(lr.path(p, search.f, search.pred), search.n, d))
    first = search._level(search.base, None)
    level = search._level(search.base, Level([0], first.nodes, first.values, first.head,
                                             first.table, first.ctl))
    level.grow()
