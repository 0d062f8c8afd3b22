#!/usr/bin/env python3
"""Draw the learning curve of a training run: loss and validation AUC/precision per epoch."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siamtrack.errors import reports_errors
from siamtrack.training.plots import plot_learning_curve


@reports_errors
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("metrics", type=Path, help="metrics.jsonl written by tools/train.py (or its run folder)")
    parser.add_argument("--out", type=Path, help="PNG to write (default: learning_curve.png beside the metrics)")
    args = parser.parse_args()
    metrics = args.metrics / "metrics.jsonl" if args.metrics.is_dir() else args.metrics
    out = plot_learning_curve(metrics, args.out or metrics.with_name("learning_curve.png"))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
