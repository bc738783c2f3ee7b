"""Tiny instances of every family for the conformance suite (exact optimum within seconds)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from optsched.problems.smtt.generate import generate as smtt_generate

from .problems.pods import examples as pods_examples


def _smtt() -> list[Any]:
    return [*smtt_generate(n=6, tf=0.6, rdd=0.4, count=2, seed=11),
            *smtt_generate(n=6, tf=0.4, rdd=0.8, weighted=True, count=2, seed=12)]


def _pods() -> list[Any]:
    return [pods_examples.fragmented(), pods_examples.running()]


SAMPLES: dict[str, Callable[[], list[Any]]] = {"smtt": _smtt, "pods": _pods}
"""Family name -> tiny instances. A family without an entry fails the conformance suite."""
