"""Draw the learning curve of a training run: loss and validation AUC/precision per epoch.

    siamtrack plot-training runs/x                   # writes runs/x/learning_curve.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "draw the learning curve of a training run (PNG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack plot-training``."""
    parser.add_argument("metrics", type=Path, help="metrics.jsonl written by siamtrack train (or its run folder)")
    parser.add_argument("--out", type=Path, help="PNG to write (default: learning_curve.png beside the metrics)")


def run(args: argparse.Namespace) -> int:
    """Draw the curve and print where it went."""
    from siamtrack.training.plots import plot_learning_curve

    metrics = args.metrics / "metrics.jsonl" if args.metrics.is_dir() else args.metrics
    print(plot_learning_curve(metrics, args.out or metrics.with_name("learning_curve.png")))
    return 0
