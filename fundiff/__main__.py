"""``python -m fundiff`` runs the command line."""

import sys

from fundiff.cli import main

sys.exit(main())
