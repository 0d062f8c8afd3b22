"""Draw the learning curve of a training run: loss and validation AUC/precision per epoch.

    siamtrack plot-training runs/x                   # writes runs/x/learning_curve.png
    siamtrack plot-training runs/a:8 runs/b:4 runs/c --out curve.png
                                                     # stages joined: b started from a's epoch 8, c from b's 4
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

HELP = "draw the learning curve of a training run, or of stages of training joined end to end (PNG)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack plot-training``."""
    parser.add_argument("metrics", nargs="+",
                        help="metrics.jsonl written by siamtrack train (or its run folder); several: stages of "
                             "training in order, each started from the one before; PATH:EPOCH keeps the "
                             "epochs up to EPOCH (the one the next stage started from)")
    parser.add_argument("--out", type=Path, help="PNG to write (default: learning_curve.png beside the last metrics; "
                                                 "also .pdf, .svg, .jpg)")


def _stage(text: str) -> tuple[Path, int | None]:
    match = re.fullmatch(r"(.+):(\d+)", text)
    path, last_epoch = (Path(match[1]), int(match[2])) if match else (Path(text), None)
    return (path / "metrics.jsonl" if path.is_dir() else path), last_epoch


def run(args: argparse.Namespace) -> int:
    """Check the output, draw the curve and print where it went."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from siamtrack.errors import SiamtrackError
    from siamtrack.tracking.video import check_outputs
    from siamtrack.training.plots import plot_learning_curve

    stages = [_stage(text) for text in args.metrics]
    out = args.out or stages[-1][0].with_name("learning_curve.png")
    kinds = FigureCanvasAgg.get_supported_filetypes()
    if out.suffix and out.suffix[1:].lower() not in kinds:
        raise SiamtrackError(f"--out {out}: cannot draw a '{out.suffix}' file (give .png, .pdf, .svg or .jpg)")
    check_outputs({"--out": out}, inputs=[path for path, _ in stages])  # before the work, not after it
    print(plot_learning_curve(stages, out))
    return 0
