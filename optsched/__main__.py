"""``python -m optsched``: the same as the ``optsched`` command."""

from optsched.cli.main import main

main()
