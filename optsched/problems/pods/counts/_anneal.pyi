"""The C extension of ``_anneal.c``: :func:`.pack_kernel.anneal`'s search, in C."""

from optsched.compiled import BoolArray, FloatArray, IntArray

def anneal(node: IntArray, klass: IntArray, load: IntArray, cap: IntArray, need: IntArray,
           weight: FloatArray, key: IntArray, kload: IntArray, eligible: BoolArray,
           ptr: IntArray, targets: IntArray, iterations: int, temperature: float,
           seed: int) -> tuple[int, int]: ...
