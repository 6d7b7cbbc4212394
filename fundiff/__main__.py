"""``python -m fundiff`` runs the command line."""

import sys

from fundiff.cli import main

if __name__ == "__main__":
    sys.exit(main())
