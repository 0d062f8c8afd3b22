#!/usr/bin/env python
"""``siamtrack test`` from a checkout, without installing it (see ``siamtrack test --help``)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from siamtrack.cli import shim  # noqa: E402

if __name__ == "__main__":
    shim("test")
