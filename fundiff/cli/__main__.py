"""``python -m fundiff.cli`` runs the command line, as ``fundiff`` does."""

import sys

from fundiff.cli import main

if __name__ == "__main__":
    sys.exit(main())
