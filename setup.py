"""The one compiled extension; everything else is declared in pyproject.toml.

``optional=True``: without a C compiler the install goes on, and pods' packing search
runs its numba kernel instead (``optsched/problems/pods/counts/pack.py``).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("optsched.problems.pods.counts._anneal",
                             sources=["optsched/problems/pods/counts/_anneal.c"],
                             extra_compile_args=["-O2"], optional=True)])
