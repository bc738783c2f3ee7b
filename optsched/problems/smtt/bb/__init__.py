"""``smtt-bb``: Lawler's decomposition, memorised (``docs/methods/smtt-bb.md``)."""
