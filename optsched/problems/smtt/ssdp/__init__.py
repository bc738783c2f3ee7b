"""``smtt-ssdp``: successive sublimation dynamic programming (``docs/methods/smtt-ssdp.md``)."""
