#!/usr/bin/env python
"""Score variants of a tracker loop on training sequences, to tune loop settings without touching val.

    tools/score_loop_variants.py --split ../shared/data/got10k-mini/train \
        --variant '{}' --variant '{"online_weight": 0.5}'
    tools/score_loop_variants.py --split ~/data/extra/train --max-frames 150 --variant '{}' --variant '{"motion_rate": 0.3}'

Each variant is a JSON object of tracker settings changed from the weights' own loop. The sequences of
the GOT-10k splits are tracked as the per-epoch validation tracks them (from the first valid box, at
most ``--max-frames`` frames, :mod:`siamtrack.training.validation`) and scored like got10k (success
AUC, first frame excluded). Prints each variant's mean AUC with its 90 % bootstrap interval over
sequences, and its paired difference to the first variant; ``--json`` keeps the per-sequence scores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from siamtrack.errors import SiamtrackError, reports_errors  # noqa: E402


def parse_variant(text: str) -> dict:
    """A JSON object of tracker settings."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SiamtrackError(f"--variant {text!r} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SiamtrackError(f"--variant {text!r} must be a JSON object of tracker settings")
    return value


@reports_errors
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", action="append", required=True, help="GOT-10k split folder (repeatable)")
    parser.add_argument("--variant", action="append", type=parse_variant, required=True,
                        help="JSON tracker settings (repeatable; the first is the reference)")
    parser.add_argument("--max-frames", type=int, default=0, help="frames per sequence (0: all)")
    parser.add_argument("--weights", help="weights file or shipped name (default: the shipped default)")
    parser.add_argument("--json", type=Path, help="write per-sequence scores here")
    args = parser.parse_args()

    import dataclasses

    import numpy as np
    import torch

    from siamtrack import load_model
    from siamtrack.evaluation.metrics import bootstrap_interval, paired_difference, sequence_scores
    from siamtrack.tracking.builder import build_tracker
    from siamtrack.training.validation import ValidationSet, track_sequence

    net, cfg = load_model(args.weights)
    sequences = ValidationSet.open_many(args.split, args.max_frames).sequences
    results = []
    for variant in args.variant:
        try:
            tracker_cfg = dataclasses.replace(cfg.tracker, **variant)
        except TypeError as exc:
            raise SiamtrackError(f"--variant {variant}: {exc}") from None
        tracker = build_tracker(net, tracker_cfg, torch.device("cpu"))
        aucs = {s.name: sequence_scores(track_sequence(tracker, s), s.boxes)["auc"] for s in sequences}
        results.append({"variant": variant, "per_sequence": aucs})
        values = np.array(list(aucs.values()))
        low, high = bootstrap_interval(values)
        line = f"{json.dumps(variant)}: AUC {values.mean():.4f} [{low:.3f}, {high:.3f}]"
        if len(results) > 1:
            reference = np.array(list(results[0]["per_sequence"].values()))
            diff = paired_difference(values, reference)
            line += f", minus the first {diff['difference']:+.4f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
