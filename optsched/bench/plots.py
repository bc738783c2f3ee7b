"""Plots of result rows: gap against time per solver, and a performance profile of gaps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optsched.bench.report import gap, references, row_time, solved
from optsched.plotting import pyplot


def _gaps(rows: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Solver -> (time, gap) of each verified solved row with a reference."""
    refs = references(rows)
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        ref = refs.get((row["family"], row["instance"]))
        if ref is not None and solved(row):
            out[row["solver"]].append((row_time(row), max(0.0, gap(row["objective"], ref))))
    return out


def plot(rows: Sequence[dict[str, Any]], out: Path, title: str) -> list[Path]:
    """Write ``gap-vs-time.png`` and ``profile.png`` into ``out``; return their paths."""
    plt = pyplot("--plots")
    data = _gaps(rows)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for solver, points in sorted(data.items()):
        ax.scatter([t for t, _ in points], [100 * g for _, g in points], s=10, label=solver,
                   alpha=0.7)
    ax.set(xscale="log", xlabel="time per instance (s)", ylabel="gap to reference (%)",
           title=f"{title}: gap against time")
    ax.set_yscale("symlog", linthresh=0.1)  # gaps span 0.01 % to thousands of %
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    first = out / "gap-vs-time.png"
    fig.savefig(first, dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    taus = [0.0, *[10 ** (k / 10) for k in range(-40, 11)]]
    for solver, points in sorted(data.items()):
        gaps = sorted(100 * g for _, g in points)
        ax.step(taus, [sum(g <= tau + 1e-12 for g in gaps) / len(gaps) for tau in taus],
                where="post", label=solver)
    ax.set(xscale="symlog", xlabel="gap tau (%)", ylabel="share of instances with gap <= tau",
           title=f"{title}: performance profile", ylim=(0, 1.02))
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    second = out / "profile.png"
    fig.savefig(second, dpi=120)
    plt.close(fig)
    return [first, second]
