"""A short run of the fuzz suite: every reader of every family, mutated inputs, no failure.

The long run is ``benchmarks/fuzz/run.py`` (figures in ``benchmarks/fuzz/README.md``).
"""

from __future__ import annotations

from .fuzz.harness import Case, cases, run, summary
from .fuzz.seeds import seeds

BAD = ("traceback", "hang", "memory", "escape")


def test_mutated_inputs_never_break_the_command_line() -> None:
    """Six mutants per seed: each is rejected in one line or handled; nothing worse."""
    outcomes = run(cases(seeds(), per_seed=6, seed=2026))
    failures = [f"{o.case.seed.reader} {o.verdict}: {o.detail}" for o in outcomes
                if o.verdict in BAD]
    assert not failures, "\n".join(failures[:20])
    readers = summary(outcomes)
    assert {"smtt-json", "smtt-txt", "pods-json", "pods-yaml", "suite"} <= set(readers)
    assert all(c["rejected"] + c["accepted"] == sum(c.values()) for c in readers.values())


def test_every_seed_is_accepted_as_it_is() -> None:
    """The mutations start from inputs the readers take (else they would test nothing)."""
    outcomes = run([Case(s, s.text, 0) for s in seeds()])
    assert [(o.case.seed.reader, o.verdict, o.detail) for o in outcomes
            if o.verdict != "accepted"] == []
