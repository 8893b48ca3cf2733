"""``python -m memlyze``: the same as the ``memlyze`` command."""

import sys

from memlyze.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
