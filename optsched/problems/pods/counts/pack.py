"""Drop-and-pack: choose which pods stay pending, then pack the others by annealing.

The method and its measurements: ``docs/methods/pods-count-model.md`` ("Drop and
pack"). A small CP-SAT model over the classes' placed counts (the *master*,
:mod:`.master`) proposes the best placed vector that the nodes' summed capacities allow
and that beats the incumbent, leaving pending, among those of equal objective, the pods
that free the most capacity. Simulated annealing (:func:`.kernels.kernel`) then looks for
nodes for exactly those pods, starting from the incumbent's. A packing found is a new
incumbent; a proposal that could not be packed in its time is excluded (the master must
then place fewer pods of some class) and the next is tried. At the end the nodes the
annealing left within capacity are recombined (:mod:`.recombine`). Nothing here is a
bound: the result's bound is the exact solver's.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optsched.compiled import BoolArray, FloatArray, IntArray
from optsched.deadline import Deadline
from optsched.problems.pods.counts.kernels import kernel, ready
from optsched.problems.pods.counts.master import Master
from optsched.problems.pods.counts.objective import value
from optsched.problems.pods.counts.recombine import Patterns, suits
from optsched.problems.pods.counts.structure import Counts
from optsched.problems.pods.counts.symmetry import decode
from optsched.problems.pods.quantity import MAX_AMOUNT

CHUNK = 20_000
"""Moves per kernel call (about a millisecond): the deadline is checked between calls."""
HOT, COLD = 50.0, 2.0
"""Temperatures (a typical pod's request is 1,000): each proposal's annealing cools
geometrically from HOT to COLD over its time. Cooling over 20 calls (about 20 ms) and
again from HOT, as before, left 969-971 pods pending on the 10 default Alibaba snapshots
where this leaves 955-956 (drop-and-pack alone, 4 s, two lanes, seeds 0 and 1;
``docs/methods/pods-count-model.md``)."""
MAX_CELLS = 5_000_000
"""Most classes x nodes (the eligibility table) for which the search runs."""
SPEND = 0.1
"""Seconds the annealing has for the first proposal (a tenth of the time spent is added
for each later one)."""
NO_LIMIT_S = 10.0
"""Seconds the search takes when the solve has no time limit."""
RECOMBINE = 0.5
"""Share of the search's time left, after the lanes, to the recombination of the nodes
they saw (:mod:`.recombine`), where it applies."""


def floor(attempt: int, failed: int | None, incumbent: int) -> int | None:
    """The least objective of the next proposal (None: the best the master allows).

    The best until a proposal fails, and then every fourth attempt; otherwise a value
    halfway between the highest failure and the incumbent's (odd attempts) or the
    incumbent's less one: smaller improvements, which pack more easily. On the Alibaba
    snapshots the best proposal is the LP bound's, which never packed; a ladder that
    alternated only between it and the halfway value spent most of the time on it, and
    once the halfway value met the incumbent (a failure one below it) proposed nothing
    else (``docs/methods/pods-count-model.md``, "Drop and pack").
    """
    if failed is None or attempt % 4 == 0:
        return None
    if attempt % 2:
        return min(incumbent - 1, failed + max(1, (incumbent - failed) // 2))
    return incumbent - 1


class _Best:
    """The best counts the lanes have found, and their value (shared under a lock)."""

    def __init__(self, counts: Counts, x: IntArray, deadline: Deadline) -> None:
        self.counts, self.deadline = counts, deadline
        self.x, self.value = x, value(counts, x)
        self.lock = threading.Lock()

    def get(self) -> tuple[IntArray, int]:
        """The best counts and their value."""
        with self.lock:
            return self.x, self.value

    def offer(self, x: IntArray) -> None:
        """Keep ``x`` if its value is lower; report it to the deadline's listener."""
        found = value(self.counts, x)
        with self.lock:
            if found < self.value:
                self.x, self.value = x, found
                if self.deadline.listening:
                    self.deadline.report(decode(self.counts, x), found)


@dataclass
class _Pods:
    """The search's arrays for one proposal: a node per pod to place."""

    klass: IntArray
    node: IntArray
    load: IntArray
    kload: IntArray


class Packer:
    """The master and the annealing over one count structure."""

    def __init__(self, counts: Counts, seed: int) -> None:
        self.counts = counts
        self.seed = seed
        n_cls, n_nodes = len(counts.classes), len(counts.instance.nodes)
        self.pair_of = np.full((n_cls, n_nodes), -1, dtype=np.int64)
        self.pair_of[counts.pair_class, counts.pair_node] = np.arange(len(counts.pair_class))
        self.eligible: BoolArray = self.pair_of >= 0
        # class c may go to the nodes counts.pair_node[ptr[c]:ptr[c + 1]]
        self.ptr = np.searchsorted(counts.pair_class, np.arange(n_cls + 1)).astype(np.int64)
        keys = sorted({k.key for k in counts.classes if k.key is not None})
        self.key = np.array([-1 if k.key is None else keys.index(k.key)
                             for k in counts.classes], dtype=np.int64)
        self.n_keys = len(keys)
        need = counts.need
        mean = np.array([need[need[:, r] > 0, r].mean() if (need[:, r] > 0).any() else 1.0
                         for r in range(need.shape[1])], dtype=np.float64)
        self.weight: FloatArray = np.append(1000.0 / mean, 1000.0)
        self.master = Master(counts)
        self.cost = -np.array(self.master.weights, dtype=np.int64)
        self.size = (need / np.maximum(counts.capacity.max(axis=0), 1)).max(axis=1)
        self.moves = 0
        self.pending_node, self.cap, self.reach = self._pending_nodes()
        self.patterns = Patterns(counts, self.cost, self.pair_of) if suits(counts) else None

    def improve(self, x: IntArray, deadline: Deadline, share: float = 1.0,
                lanes: int = 1) -> IntArray:
        """Better counts than ``x`` found within ``share`` of the time ``deadline`` leaves.

        The kernel is loaded first (:func:`ready`), and only when the master has a
        proposal (the share is taken of what is left then); without a time limit the
        search takes :data:`NO_LIMIT_S`. ``lanes`` searches run side by side (threads:
        the annealing and CP-SAT release the interpreter), each with its own master,
        seeds and place on the ladder of proposals (:func:`floor`), all starting from the
        best counts any of them has found. Where the nodes' patterns are kept
        (:func:`.recombine.suits`), the lanes stop at :data:`RECOMBINE` of the time before
        the end and the best combination of the patterns they saw has the rest; when it
        gives up early (:data:`.recombine.PATIENCE`) the lanes go on. Returns ``x``
        itself when nothing better was found.
        """
        first = self.master.propose(self.master.value(x), deadline, None)
        if first is None or not ready(deadline):
            return x
        search = (Deadline(NO_LIMIT_S * share, deadline.stop, deadline.found)
                  if deadline.time_limit is None else deadline.part(share))
        best = _Best(self.counts, x, search)
        started = time.perf_counter()
        patterns = self.patterns
        masters = [self.master] + [Master(self.counts) for _ in range(1, lanes)]

        def run(until: Deadline, proposal: tuple[IntArray, int]) -> None:
            if lanes <= 1:
                self._lane(masters[0], 0, proposal, best, until, started)
                return
            with ThreadPoolExecutor(lanes) as pool:
                list(pool.map(lambda i: self._lane(masters[i], i, proposal, best, until,
                                                   started), range(lanes)))

        run(search if patterns is None else search.part(1 - RECOMBINE), first)
        current, _ = best.get()
        if patterns is not None and self.master.value(current) > first[1]:
            found = patterns.best(current, search, lanes, self.seed)
            if found is not None:
                best.offer(found)
            if (search.remaining() or 0.0) > 0.01:  # the recombination gave up early
                again = self.master.propose(self.master.value(best.get()[0]), search, None)
                if again is not None:
                    run(search, again)
        return best.x

    def _lane(self, master: Master, lane: int, proposal: tuple[IntArray, int] | None,
              best: _Best, search: Deadline, started: float) -> None:
        """One search: propose, pack, exclude, until the time is up or nothing is left."""
        failed: int | None = None  # the highest objective of a proposal not packed
        attempt = 0
        while proposal is not None and (left := search.remaining() or 0.0) > 0.01:
            target, level = proposal
            attempt += 1
            spend = SPEND + 0.1 * (time.perf_counter() - started)
            x, _ = best.get()
            found, packed = self._pack(x, target, Deadline(min(spend, left), search.stop),
                                       lane * 1_000_003 + attempt)
            master.exclude(target)
            if not packed:
                failed = level if failed is None else max(failed, level)
            best.offer(found)
            key = master.value(best.get()[0])
            if failed is not None and failed >= key:
                failed = None  # beaten since: that failure says nothing more
            low = floor(attempt + lane, failed, key)
            proposal = master.propose(key, search, low)
            if proposal is None and low is not None:
                proposal = master.propose(key, search, None)

    def _pack(self, x: IntArray, target: IntArray, deadline: Deadline, seed: int
              ) -> tuple[IntArray, bool]:
        """Counts placing ``target`` (and True), or the search's state mended by dropping pods."""
        anneal = kernel()
        counts = self.counts
        pods = self._with_pending(self._start(x, target), target)
        span = deadline.time_limit or SPEND
        step = 0
        while True:  # one call at least: the first may have waited for the kernel's import
            temperature = HOT * (COLD / HOT) ** min(1.0, deadline.elapsed() / span)
            bad, tried = anneal(
                pods.node, pods.klass, pods.load, self.cap, counts.need, self.weight,
                self.key, pods.kload, self.reach, self.ptr, counts.pair_node, CHUNK,
                temperature, (self.seed * 1_000_003 + seed * 7919 + step) % 2**31)
            self.moves += tried
            step += 1
            done = bad == 0 or deadline.expired()
            if self.patterns is not None and (done or self.patterns.every_call):
                self.patterns.add_state(pods.node, pods.klass, pods.load, pods.kload)
            if done:
                break
        n_nodes = len(counts.capacity)
        pods = _Pods(pods.klass, np.where(pods.node < n_nodes, pods.node, -1),
                     pods.load[:n_nodes], pods.kload[:n_nodes])
        if bad == 0:
            return self._counts(pods), True
        return (self._counts(pods) if self._mend(pods, target) else x), False

    def _pending_nodes(self) -> tuple[IntArray, IntArray, BoolArray]:
        """A node of unbounded capacity per objective weight, for the pods left pending.

        A class may be left pending in place of another of the same weight in the
        master's objective (an exchange that keeps the objective): its pending pods sit
        on that weight's node, which no class may move a pod to alone (it is in no
        class's list of nodes), but which a swap reaches. Classes with an anti-affinity
        key or a least number placed are not exchanged.

        Returns each class's pending node (-1: none), the capacities and the
        eligibility table of the nodes and then the pending nodes.
        """
        counts = self.counts
        n_cls, n_nodes = self.eligible.shape
        free = (self.key < 0) & (np.array(counts.min_placed) == 0)
        weights, of_class = np.unique(self.cost[free], return_inverse=True)
        pending_node = np.full(n_cls, -1, dtype=np.int64)
        pending_node[free] = n_nodes + of_class
        cap = np.vstack([counts.capacity, np.full((len(weights), counts.capacity.shape[1]),
                                                  MAX_AMOUNT, dtype=np.int64)])
        reach = np.zeros((n_cls, n_nodes + len(weights)), dtype=np.bool_)
        reach[:, :n_nodes] = self.eligible
        reach[np.flatnonzero(free), pending_node[free]] = True
        return pending_node, cap, reach

    def _with_pending(self, pods: _Pods, target: IntArray) -> _Pods:
        """``pods`` and, on their weight's pending node, the pods ``target`` leaves pending."""
        counts = self.counts
        left = np.where(self.pending_node >= 0, counts.sizes - target, 0)
        klass = np.repeat(np.arange(len(left)), left)
        node = self.pending_node[klass]
        load = np.zeros((len(self.cap), counts.need.shape[1]), dtype=np.int64)
        load[:len(pods.load)] = pods.load
        np.add.at(load, node, counts.need[klass])
        kload = np.zeros((len(self.cap), pods.kload.shape[1]), dtype=np.int64)
        kload[:len(pods.kload)] = pods.kload
        return _Pods(np.concatenate([pods.klass, klass]), np.concatenate([pods.node, node]),
                     load, kload)

    def _mend(self, pods: _Pods, target: IntArray) -> bool:
        """Make the search's state valid, placing what it can.

        On each overflowing node its cheapest pods that relieve it are left pending;
        then pending pods (the costliest first) go where they fit.

        Returns False when a node stays overflowing (its pods may not be left pending:
        running pods while evictions are off).
        """
        counts = self.counts
        cap = counts.capacity
        placed = np.bincount(pods.klass[pods.node >= 0], minlength=len(target))
        for n in np.flatnonzero((pods.load > cap).any(axis=1) | (pods.kload > 1).any(axis=1)):
            here = np.flatnonzero(pods.node == n)
            for i in here[np.lexsort((-self.size[pods.klass[here]],
                                      self.cost[pods.klass[here]]))].tolist():
                over = pods.load[n] > cap[n]
                if not over.any() and not (pods.kload[n] > 1).any():
                    break
                c = int(pods.klass[i])
                k = int(self.key[c])
                relieves = (counts.need[c][over] > 0).any() or (k >= 0 and pods.kload[n, k] > 1)
                if placed[c] <= counts.min_placed[c] or not relieves:
                    continue
                pods.load[n] -= counts.need[c]
                if k >= 0:
                    pods.kload[n, k] -= 1
                pods.node[i] = -1
                placed[c] -= 1
            if (pods.load[n] > cap[n]).any() or (pods.kload[n] > 1).any():
                return False
        short = counts.sizes - placed  # pending now, per class
        added: list[tuple[int, int]] = []  # (class, node) of pods beyond the search's
        for c in np.lexsort((self.size, -self.cost)).tolist():
            if short[c] <= 0:
                continue
            nodes = counts.pair_node[self.ptr[c]:self.ptr[c + 1]]
            k = int(self.key[c])
            fits = (counts.capacity[nodes] - pods.load[nodes] >= counts.need[c]).all(axis=1)
            if k >= 0:
                fits &= pods.kload[nodes, k] == 0
            free = np.flatnonzero((pods.klass == c) & (pods.node < 0)).tolist()
            for i in range(int(short[c])):  # only the chosen node's room changes
                hits = np.flatnonzero(fits)
                if not len(hits):
                    break
                spot = int(nodes[j := int(hits[0])])
                pods.load[spot] += counts.need[c]
                if k >= 0:
                    pods.kload[spot, k] += 1
                fits[j] = bool((counts.capacity[spot] - pods.load[spot] >= counts.need[c]).all()
                               and (k < 0 or pods.kload[spot, k] == 0))
                if i < len(free):
                    pods.node[free[i]] = spot
                else:
                    added.append((c, spot))
        if added:
            more = np.array(added, dtype=np.int64)
            pods.klass = np.concatenate([pods.klass, more[:, 0]])
            pods.node = np.concatenate([pods.node, more[:, 1]])
        return True

    def _start(self, x: IntArray, target: IntArray) -> _Pods:
        """The incumbent's nodes for the target's pods: extra pods where most room is left."""
        counts = self.counts
        n_nodes = len(counts.instance.nodes)
        load = np.zeros((n_nodes, counts.need.shape[1]), dtype=np.int64)
        np.add.at(load, counts.pair_node, counts.need[counts.pair_class] * x[:, None])
        scale = np.maximum(counts.capacity, 1).astype(np.float64)
        classes, nodes = [], []
        for c in range(len(counts.classes)):
            pairs = np.arange(self.ptr[c], self.ptr[c + 1])
            have = np.repeat(counts.pair_node[pairs], x[pairs])
            want = int(target[c])
            if want <= len(have):  # keep the home node's first, then the least loaded
                home = counts.classes[c].home
                fill = (load[have] / scale[have]).max(axis=1)
                order = np.lexsort((fill, have != home)) if home is not None else np.argsort(
                    fill, kind="stable")
                keep, drop = have[order[:want]], have[order[want:]]
                np.subtract.at(load, drop, counts.need[c])
            else:
                spots = counts.pair_node[pairs]
                room = ((counts.capacity[spots] - load[spots]) / scale[spots]).min(axis=1)
                extra = []
                for _ in range(want - len(have)):  # only the chosen node's room changes
                    j = int(np.argmax(room))
                    extra.append(n := int(spots[j]))
                    load[n] += counts.need[c]
                    room[j] = ((counts.capacity[n] - load[n]) / scale[n]).min()
                keep = np.concatenate([have, np.array(extra, dtype=np.int64)])
            classes.append(np.full(len(keep), c, dtype=np.int64))
            nodes.append(np.asarray(keep, dtype=np.int64))
        klass = np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)
        node = np.concatenate(nodes) if nodes else np.zeros(0, dtype=np.int64)
        kload = np.zeros((n_nodes, self.n_keys), dtype=np.int64)
        keyed = self.key[klass] >= 0
        np.add.at(kload, (node[keyed], self.key[klass[keyed]]), 1)
        return _Pods(klass, node, load, kload)

    def _counts(self, pods: _Pods) -> IntArray:
        """Per-pair counts of a packing, running pods sent home where their node has room."""
        counts = self.counts
        node, load, kload = pods.node, pods.load, pods.kload
        for i in range(len(node)):
            c = int(pods.klass[i])
            home = counts.classes[c].home
            if home is None or node[i] in (home, -1):
                continue
            need = counts.need[c]
            k = int(self.key[c])
            if np.all(load[home] + need <= counts.capacity[home]) and (
                    k < 0 or kload[home, k] == 0):
                load[node[i]] -= need
                load[home] += need
                if k >= 0:
                    kload[node[i], k] -= 1
                    kload[home, k] += 1
                node[i] = home
        x = np.zeros(len(counts.pair_class), dtype=np.int64)
        on = node >= 0
        np.add.at(x, self.pair_of[pods.klass[on], node[on]], 1)
        return x


def usable(counts: Counts) -> bool:
    """True when the search suits ``counts``: some pairs, an eligibility table of bounded size."""
    return len(counts.pair_class) > 0 and (
        len(counts.classes) * len(counts.instance.nodes) <= MAX_CELLS)
