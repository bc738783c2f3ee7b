"""Cheap lower bounds of the peak."""

from __future__ import annotations

import numpy as np

from optsched.problems.memalloc.instance import MemallocInstance


def live_peak(instance: MemallocInstance) -> int:
    """The most bytes live at one step (gaps respected): every packing's floor.

    At any step the live pieces occupy disjoint address ranges below the
    peak, so their sizes add up to at most the peak.
    """
    arrays = instance.arrays
    steps = np.concatenate([arrays.piece_t0, arrays.piece_t1])
    change = np.concatenate([arrays.piece_height, -arrays.piece_height])
    order = np.lexsort((change, steps))  # at one step, the ends (negative) first
    return int(max(0, np.cumsum(change[order]).max()))


def lower_bound(instance: MemallocInstance) -> int:
    """The live peak, the largest buffer, and the top of any pinned buffer."""
    pinned = max((b.offset + b.size for b in instance.buffers if b.offset is not None),
                 default=0)
    return max(live_peak(instance), max(b.size for b in instance.buffers), pinned)
