"""A fuzz suite of the project's own: mutated inputs for every reader (see ``harness.py``)."""
