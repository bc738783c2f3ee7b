"""Simulated top-k routing: per-layer popularity, successors, cliques, group limits.

The token-level half of :mod:`.generate`: :func:`draw_routing` draws a model's
routing structure, :func:`routes` sends tokens through it (vectorised over
tokens), and :func:`count_rows` with :func:`transition_keys` and
:func:`pair_keys` turn the routes into the instance's sparse counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

RETRIES = 4
"""Draws of a token's repeated expert before it takes the next free one."""
_CHUNK = 1 << 22
"""Pairs counted at once (bounds the memory of the counting)."""
_DENSE = 1 << 22
"""Largest key space counted with a dense bincount (else np.unique)."""


@dataclass(frozen=True)
class Routing:
    """The random model behind the routes of one instance."""

    popularity: Floats
    """``[layers, experts]``: each layer's Zipf shares (each row sums to 1)."""
    exponents: Floats
    """``[layers]``: each layer's Zipf exponent."""
    successor: Ints
    """``[layers - 1, experts]``: expert ``e`` of layer ``l``'s preferred expert at ``l + 1``."""
    members: Ints
    """``[layers, cliques, size]``: each layer's cliques of experts, -1 past a clique's end."""
    clique: Ints
    """``[layers, experts]``: the clique of each expert."""
    position: Ints
    """``[layers, experts]``: each expert's place in its clique's row of ``members``."""
    top_k: int
    groups: int = 1
    """Groups of ``experts / groups`` consecutive experts."""
    group_limit: int = 0
    """Groups a token's experts may come from per layer (0: no limit)."""


def draw_routing(rng: np.random.Generator, layers: int, experts: int, top_k: int,
                 zipf_min: float, zipf_max: float, groups: int = 1,
                 group_limit: int = 0) -> Routing:
    """Popularity, successors and cliques of every layer, drawn from ``rng``.

    ``groups`` and ``group_limit`` are only recorded (they draw nothing here);
    a limit not below ``groups`` is no limit.
    """
    exponents = rng.uniform(zipf_min, zipf_max, layers)
    popularity = np.empty((layers, experts))
    ranks = np.arange(1, experts + 1, dtype=np.float64)
    for layer in range(layers):
        shares = ranks ** -exponents[layer]
        popularity[layer, rng.permutation(experts)] = shares / shares.sum()
    successor = np.array([_draw(rng, popularity[layer + 1], experts)
                          for layer in range(layers - 1)], np.int64).reshape(-1, experts)
    size_ = min(experts, max(2, 2 * top_k))
    cliques = max(1, experts // size_)  # of size_ to 2 * size_ - 1 experts
    members = np.full((layers, cliques, -(-experts // cliques)), -1, np.int64)
    clique = np.empty((layers, experts), np.int64)
    position = np.empty((layers, experts), np.int64)
    spot = np.arange(experts)
    for layer in range(layers):
        order = rng.permutation(experts)
        clique[layer, order] = spot % cliques
        position[layer, order] = spot // cliques
        members[layer, spot % cliques, spot // cliques] = order
    limit = group_limit if 0 < group_limit < groups else 0
    return Routing(popularity, exponents, successor, members, clique, position, top_k, groups,
                   limit)


def routes(rng: np.random.Generator, routing: Routing, tokens: int, affinity: float,
           coupling: float) -> Iterator[Ints]:
    """Per layer, ``[tokens, top_k]``: each token's distinct experts (its i-th in column i).

    With a group limit each token's experts lie in at most ``group_limit`` of
    the ``groups`` groups (chosen per layer, see the module's docstring).
    """
    layers, k = len(routing.popularity), routing.top_k
    everyone = np.arange(tokens)
    previous: Ints | None = None
    for layer in range(layers):
        p = routing.popularity[layer]
        grouped = (_Grouped(rng, p, routing.groups, routing.group_limit, tokens)
                   if routing.group_limit else None)
        draw: _Plain | _Grouped = grouped or _Plain(p)
        members = routing.members[layer]
        weights = np.where(members >= 0, p[np.maximum(members, 0)], 0.0)
        chosen = np.empty((tokens, k), np.int64)
        for i in range(k):
            column = draw(rng, everyone)
            if i and coupling > 0:
                picked = np.flatnonzero(rng.random(tokens) < coupling)
                mates, found = _from_clique(rng, routing, layer, weights, chosen[picked, :i],
                                            grouped, picked)
                column[picked[found]] = mates[found]
            if previous is not None and affinity > 0:
                picked = np.flatnonzero(rng.random(tokens) < affinity)
                successors = routing.successor[layer - 1, previous[picked, i]]
                if grouped is not None:
                    inside = grouped.allows(picked, successors)
                    picked, successors = picked[inside], successors[inside]
                column[picked] = successors
            chosen[:, i] = column
            if i:
                _distinct(rng, chosen, i, draw)
        yield chosen
        previous = chosen


class _Plain:
    """Draws from a layer's whole popularity (no group limit)."""

    def __init__(self, p: Floats) -> None:
        self.sampler = _Sampler(p)
        self.experts = len(p)

    def __call__(self, rng: np.random.Generator, rows: Ints) -> Ints:
        """An expert for each token of ``rows``."""
        return self.sampler(rng, len(rows))

    def next_free(self, rows: Ints, start: Ints, step: int) -> Ints:
        """The expert ``step`` places after ``start`` (cyclically, in index order)."""
        out: Ints = (start + step) % self.experts
        return out


class _Grouped:
    """Each token's ``limit`` groups of one layer, and draws restricted to them.

    The groups are drawn by their popularity mass without replacement, all
    tokens at once (an exponential race: the ``limit`` groups of the smallest
    ``Exp(1) / mass`` are a successive draw without replacement). The per-token
    arrays are ``[limit, tokens]``, a token's groups ascending.
    """

    def __init__(self, rng: np.random.Generator, p: Floats, groups: int, limit: int,
                 tokens: int) -> None:
        self.groups, self.size, self.tokens = groups, len(p) // groups, tokens
        self.sampler = _Sampler(p)
        mass = p.reshape(groups, self.size).sum(axis=1)
        mine = np.empty((tokens, limit), np.int64)
        step = max(1, _CHUNK // groups)
        for start in range(0, tokens, step):
            race = rng.standard_exponential((min(step, tokens - start), groups)) / mass
            mine[start:start + step] = np.sort(
                np.argpartition(race, limit - 1, axis=1)[:, :limit], axis=1)
        allowed = np.zeros((tokens, groups), bool)
        allowed[np.arange(tokens)[:, None], mine] = True
        self.allowed = allowed.ravel()  # token t, group g at t * groups + g
        self.open: Ints = np.ascontiguousarray(mine.T)
        ends = self.sampler.cdf[self.size - 1::self.size]  # each group's end on the CDF
        cum = mass[mine].cumsum(axis=1)  # a token's groups' masses, summed
        self.cum: Floats = np.ascontiguousarray(cum.T)
        self.shift: Floats = np.ascontiguousarray((ends[mine] - cum).T)  # onto the CDF

    def __call__(self, rng: np.random.Generator, rows: Ints) -> Ints:
        """An expert for each token of ``rows``, by popularity among its groups' experts.

        A point ``u`` of ``[0, mass of the token's groups)`` falls in one of its
        groups; shifted onto the layer's CDF it falls on an expert of that group
        (clipped to it against rounding).
        """
        cum = self.cum if len(rows) == self.tokens else self.cum[:, rows]  # all: in order
        u = rng.random(len(rows)) * cum[-1]
        at = np.zeros(len(rows), np.int64)
        for bound in cum[:-1]:
            at += bound <= u
        first = self.open[at, rows] * self.size
        out: Ints = np.clip(self.sampler.locate(u + self.shift[at, rows]), first,
                            first + self.size - 1)
        return out

    def allows(self, rows: Ints, experts: Ints) -> npt.NDArray[np.bool_]:
        """Whether each expert lies in a group of its token (``rows`` broadcasts)."""
        out: npt.NDArray[np.bool_] = self.allowed[rows * self.groups + experts // self.size]
        return out

    def next_free(self, rows: Ints, start: Ints, step: int) -> Ints:
        """The expert ``step`` places after ``start`` among its token's groups' experts.

        Cyclically, in index order (the token's groups' experts in a row).
        """
        mine = self.open[:, rows]
        rank = (mine < start // self.size).sum(axis=0)
        spot = (rank * self.size + start % self.size + step) % (len(mine) * self.size)
        out: Ints = mine[spot // self.size, np.arange(len(rows))] * self.size + \
            spot % self.size
        return out


def _from_clique(rng: np.random.Generator, routing: Routing, layer: int, weights: Floats,
                 taken: Ints, grouped: _Grouped | None = None, tokens: Ints | None = None
                 ) -> tuple[Ints, npt.NDArray[np.bool_]]:
    """Per row of ``taken``, an expert of its first expert's clique not in the row; and found.

    ``found`` says whether the row had one. Drawn by popularity (``weights``:
    each clique's members' shares, 0 past its end); a clique has more than
    ``top_k`` experts, so one is free. With ``grouped`` (and ``tokens``, the
    token of each row) only the members in the token's groups count, and a row
    may find none.
    """
    clique = routing.clique[layer]
    mine = clique[taken[:, 0]]
    w = weights[mine]
    rows = np.arange(len(taken))
    for j in range(taken.shape[1]):
        there = clique[taken[:, j]] == mine
        w[rows[there], routing.position[layer, taken[there, j]]] = 0.0
    if grouped is not None and tokens is not None:
        w *= grouped.allows(tokens[:, None], np.maximum(routing.members[layer, mine], 0))
    cdf = w.cumsum(axis=1)
    at = np.minimum((cdf <= rng.random(len(taken))[:, None] * cdf[:, -1:]).sum(axis=1),
                    w.shape[1] - 1)
    off = w[rows, at] == 0  # only when rounding put the draw past the last free member
    at[off] = w[off].argmax(axis=1)
    out: Ints = routing.members[layer, mine, at]
    return out, cdf[:, -1] > 0


class _Sampler:
    """Draws experts from shares ``p`` by inversion, a guide table finding the bucket."""

    def __init__(self, p: Floats) -> None:
        self.cdf = np.cumsum(p)
        self.total = float(self.cdf[-1])
        self.buckets = 4 * len(p)
        self.guide = np.searchsorted(self.cdf, np.arange(self.buckets + 1) / self.buckets
                                     * self.total, side="right")
        self.padded = np.append(self.cdf, np.inf)
        self.last = len(p) - 1

    def __call__(self, rng: np.random.Generator, n: int) -> Ints:
        """``n`` experts."""
        return self.locate(rng.random(n) * self.total)

    def locate(self, u: Floats) -> Ints:
        """The expert of each point ``u`` of ``[0, total)``: the first whose CDF exceeds it."""
        at = self.guide[np.minimum((u * (self.buckets / self.total)).astype(np.int64),
                                   self.buckets)]
        for _ in range(3):  # most buckets hold an expert boundary or two
            ahead = self.padded[at] <= u
            if not ahead.any():
                break
            at += ahead
        else:
            slow = np.flatnonzero(self.padded[at] <= u)
            at[slow] = np.searchsorted(self.cdf, u[slow], side="right")
        return np.minimum(at, self.last).astype(np.int64)


def _draw(rng: np.random.Generator, p: Floats, n: int) -> Ints:
    """``n`` experts drawn from the shares ``p``."""
    return _Sampler(p)(rng, n)


def _distinct(rng: np.random.Generator, chosen: Ints, i: int, draw: _Plain | _Grouped
              ) -> None:
    """Make column ``i`` differ from columns ``0..i-1`` of every row (in place)."""
    dup = np.flatnonzero((chosen[:, :i] == chosen[:, i:i + 1]).any(axis=1))
    for _ in range(RETRIES):
        if not len(dup):
            return
        chosen[dup, i] = draw(rng, dup)
        dup = dup[(chosen[dup, :i] == chosen[dup, i:i + 1]).any(axis=1)]
    if not len(dup):
        return
    start, taken = chosen[dup, i], chosen[dup, :i]
    todo = np.ones(len(dup), bool)
    out = start.copy()
    for step in range(1, i + 1):  # i experts taken, start among them: one of the next i is free
        nxt = draw.next_free(dup, start, step)
        free = todo & ~(taken == nxt[:, None]).any(axis=1)
        out[free] = nxt[free]
        todo &= ~free
    chosen[dup, i] = out


def transition_keys(before: Ints, after: Ints, experts: int) -> Iterator[Ints]:
    """``e * experts + f`` for every pair of a token's experts at ``l`` and ``l + 1``."""
    step = max(1, _CHUNK // before.shape[1] ** 2)
    for start in range(0, len(before), step):
        a, b = before[start:start + step], after[start:start + step]
        yield (a[:, :, None] * experts + b[:, None, :]).ravel()


def pair_keys(chosen: Ints, experts: int) -> Iterator[Ints]:
    """``e * experts + f`` (``e < f``) for every pair of a token's experts in one layer."""
    first, second = np.triu_indices(chosen.shape[1], 1)
    if not len(first):
        return
    ordered = np.sort(chosen, axis=1)  # distinct: column i < column j holds the smaller
    step = max(1, _CHUNK // len(first))
    for start in range(0, len(ordered), step):
        part = ordered[start:start + step]
        yield (part[:, first] * experts + part[:, second]).ravel()


def count_rows(layer: int, chunks: Iterable[Ints], experts: int) -> Ints:
    """Rows ``(layer, e, f, count)`` of the keys' counts, in key order."""
    space = experts * experts
    if space <= _DENSE:
        total = np.zeros(space, np.int64)
        for keys in chunks:
            total += np.bincount(keys, minlength=space)
        keys = np.flatnonzero(total)
        counts = total[keys]
    else:
        parts = [np.unique(keys, return_counts=True) for keys in chunks]
        if not parts:
            return np.zeros((0, 4), np.int64)
        keys, where = np.unique(np.concatenate([u for u, _ in parts]), return_inverse=True)
        counts = np.zeros(len(keys), np.int64)
        np.add.at(counts, where, np.concatenate([c for _, c in parts]))
    return np.column_stack([np.full(len(keys), layer, np.int64), keys // experts,
                            keys % experts, counts]).astype(np.int64)
