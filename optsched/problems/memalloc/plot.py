"""The memory map of a solution: buffers as time x address rectangles, peak and bound marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optsched.plotting import pyplot
from optsched.problems.memalloc.bounds import lower_bound
from optsched.problems.memalloc.instance import MemallocInstance
from optsched.problems.memalloc.solution import MemallocSolution


def memory_map(instance: MemallocInstance, solution: MemallocSolution, path: Path) -> None:
    """Draw every live piece at its offset; lines at the peak, the lower bound, the capacity."""
    plt = pyplot("plot")
    from matplotlib.collections import PolyCollection

    a = instance.arrays
    offsets = np.array(solution.in_order(instance), np.int64)
    base = offsets[a.piece_buffer]
    x0, x1 = a.piece_t0.astype(float), a.piece_t1.astype(float)
    y0, y1 = (base + a.piece_w0).astype(float), (base + a.piece_w1).astype(float)
    boxes = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1),
                      np.stack([x0, y1], 1)], 1)
    colours = plt.get_cmap("tab20")(a.piece_buffer % 20)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    ax.add_collection(PolyCollection(list(boxes), facecolors=colours, edgecolors="black",
                                     linewidths=0.2 if len(boxes) < 2000 else 0))
    peak = int((offsets + a.size).max())
    bound = lower_bound(instance)
    lines = [(peak, "tab:red", "-", f"peak {peak}"), (bound, "tab:green", ":",
                                                        f"lower bound {bound}")]
    if instance.capacity is not None:
        lines.append((instance.capacity, "black", "--", f"capacity {instance.capacity}"))
    for value, colour, style, label in lines:
        ax.axhline(value, color=colour, linestyle=style, linewidth=1, label=label)
    ax.set_xlim(float(a.lower.min()), float(a.upper.max()))
    ax.set_ylim(0, max(peak, instance.capacity or 0) * 1.04)
    gap = 100 * (peak - bound) / max(bound, 1)
    ax.set(xlabel="step", ylabel="address (bytes)",
           title=f"{instance.name or 'memalloc'}: {instance.n} buffers, peak {gap:+.4g} % "
                 "of the lower bound")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
