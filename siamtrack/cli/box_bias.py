"""Measure a box head's size bias on sequences with ground truth: the ``tracker.box_scale`` that cancels it.

    siamtrack box-bias --weights weights/efficientnet_box.pth --root ../shared/data/got10k-mini/train

The search crop is cut around the true box (the tracker's size is right), and the box the head
reads off is compared with the truth; medians of log(predicted / true) per side. Measure it on
training sequences, not on the ones you benchmark on.
"""
from __future__ import annotations

import argparse

HELP = "measure a box head's size bias on sequences with ground truth (the tracker.box_scale that cancels it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack box-bias``."""
    parser.add_argument("--weights", required=True, help="weights file or checkpoint of a box-head model")
    parser.add_argument("--config", help="config YAML (default: the one stored with the weights)")
    parser.add_argument("--root", required=True, help="folder of sequences (OTB or GOT-10k layout)")
    parser.add_argument("--frames", type=int, default=20, help="frames measured per sequence (default 20)")


def validate(args: argparse.Namespace) -> str | None:
    """A usage problem, or None."""
    return "--frames must be at least 1" if args.frames < 1 else None


def run(args: argparse.Namespace) -> int:
    """Measure and print the medians and the box_scale that cancels them."""
    import torch

    from siamtrack.evaluation.box_bias import box_bias
    from siamtrack.evaluation.datasets import FolderDataset
    from siamtrack.loading import load_model

    torch.set_grad_enabled(False)
    net, cfg = load_model(args.weights, args.config)
    dataset = FolderDataset(args.root)
    bias = box_bias(net, cfg.tracker, (dataset[i] for i in range(len(dataset))), args.frames)
    print(f"{bias.frames} frames of {len(dataset)} sequences: median log(predicted / true) width "
          f"{bias.log_width:+.3f}, height {bias.log_height:+.3f}; box_scale {bias.box_scale:.3f} cancels it "
          f"(the config says {cfg.tracker.box_scale})")
    return 0
