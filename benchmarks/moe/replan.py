"""Re-planning after a load shift: moved experts and the loss against planning from scratch.

For each seed: a generated instance is planned from scratch (``moe-lns``); its
loads, transitions and co-activation are then scaled per expert by a
log-normal factor (``--shift``, the standard deviation of its log); the new
loads are planned from scratch again and re-planned from the old placement
with ``max_moved``. The table gives, per seed, the old placement's cost on the
new loads, the scratch plan, the re-plan, its moved share and its loss.

    python benchmarks/moe/replan.py --seeds 1 2 3 --time-limit 60 --shift 0.3
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from optsched import SolveParams, solve
from optsched.problems.moe.evaluate import evaluate
from optsched.problems.moe.generate import generate
from optsched.problems.moe.instance import MoeInstance
from optsched.problems.moe.solution import MoeSolution


def shifted(instance: MoeInstance, sigma: float, seed: int) -> MoeInstance:
    """The instance with every expert's tokens scaled by ``exp(N(0, sigma))``."""
    factor = np.exp(np.random.default_rng(seed).normal(0, sigma, instance.load.shape))

    def scale(rows: np.ndarray, step: int) -> np.ndarray:
        out = rows.copy()
        if len(out):
            both = factor[out[:, 0], out[:, 1]] * factor[out[:, 0] + step, out[:, 2]]
            out[:, 3] = np.rint(out[:, 3] * np.sqrt(both))
        return out

    return replace(instance, load=np.rint(instance.load * factor).astype(np.int64),
                   transitions=scale(instance.transitions, 1),
                   coactivation=scale(instance.coactivation, 0))


def main() -> None:
    """Run the seeds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--shift", type=float, default=0.3)
    parser.add_argument("--max-moved", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    params = SolveParams(time_limit=args.time_limit, workers=args.workers)
    print("| seed | old placement on new loads | scratch | re-plan | moved | loss |")
    print("|---|---|---|---|---|---|")
    for seed in args.seeds:
        (instance,) = generate(layers=32, experts=64, top_k=2, nodes=2, gpus_per_node=4,
                               redundant=1, tokens=8192, expert_bytes=352321536,
                               token_bytes=8192, seed=seed)
        old = solve(instance, "moe-lns", params).solution
        assert isinstance(old, MoeSolution)
        new = shifted(instance, args.shift, seed)
        stale = evaluate(new, old).objective
        scratch = solve(new, "moe-lns", params).objective
        again = solve(replace(new, previous=np.array(old.phy2log), max_moved=args.max_moved),
                      "moe-lns", params)
        moved = again.stats["metrics"]["moved_share"]
        assert stale is not None and scratch is not None and again.objective is not None
        print(f"| {seed} | {stale:.1f} | {scratch:.1f} | {again.objective:.1f} | "
              f"{100 * moved:.1f} % | {100 * (again.objective / scratch - 1):+.2f} % |")


if __name__ == "__main__":
    main()
