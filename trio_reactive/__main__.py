"""``python -m trio_reactive``: the command line of :mod:`trio_reactive.cli`."""

import sys

from .cli import main

sys.exit(main())
