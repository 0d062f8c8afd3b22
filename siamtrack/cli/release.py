"""Ship a trained network with the tracker loop it should run: a weights file for ``load_tracker``.

    siamtrack release --weights runs/efficientnet_box_stage5/best.pth --config configs/efficientnet_box.yaml \\
        --out weights/efficientnet_box.pth

The weights file keeps the network and the training record of ``--weights`` and takes its tracker
section from ``--config`` (e.g. loop parameters tuned after training). Bad input: one
``error: ...`` line, exit code 2.
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a weights file: a trained network with the tracker loop of a config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack release``."""
    parser.add_argument("--weights", required=True,
                        help="trained weights: a run's best.pth / last.pth, a checkpoint ckpt_*.pth, or a shipped name")
    parser.add_argument("--config", required=True, help="config YAML whose tracker section the file will run "
                                                        "(its model section must be the checkpoint's)")
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (atomically)")


def run(args: argparse.Namespace) -> int:
    """Write the file and say where it went."""
    from siamtrack.loading import release_weights

    print(f"wrote {release_weights(args.weights, args.config, args.out)}")
    return 0
