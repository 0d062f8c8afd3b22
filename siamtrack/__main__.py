"""``python -m siamtrack ...``: the ``siamtrack`` command (see :mod:`siamtrack.cli`)."""
import sys

from siamtrack.cli import main

if __name__ == "__main__":
    sys.exit(main())
