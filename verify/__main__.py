"""``python -m verify`` runs the ``backprop`` command."""

import sys

from verify.cli import main

sys.exit(main())
