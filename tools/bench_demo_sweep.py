#!/usr/bin/env python
"""The demo's look-alike crossing over a sweep of ``tracker.box_scale``: is it held with margin?

    tools/bench_demo_sweep.py                                        # the shipped default, 0.95-1.02
    tools/bench_demo_sweep.py --set online_weight=0 --set motion_rate=0.3   # another loop, same network

The synthetic demo clip (``siamtrack track --demo``) has a textured target that passes a look-alike.
For each box scale it prints the mean IoU over the whole clip against its ground truth, as ``siamtrack
track --demo`` computes it. A loop that keeps the target only at some box scales is deciding the
crossing by rounding, not by what it knows of the target.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from siamtrack.errors import SiamtrackError, reports_errors  # noqa: E402

SCALES = (0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.01, 1.02)


def parse_setting(text: str) -> tuple[str, object]:
    """``key=value`` of the tracker section (the value read as YAML: numbers, booleans)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SiamtrackError(f"--set {text!r}: expected key=value (a tracker setting, e.g. online_weight=0.5)")
    return key.strip(), yaml.safe_load(value)


@reports_errors
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="weights file or shipped name (default: the shipped default)")
    parser.add_argument("--set", action="append", default=[], type=parse_setting, metavar="KEY=VALUE",
                        help="change a tracker setting (repeatable)")
    parser.add_argument("--scales", type=float, nargs="+", default=SCALES, help="box scales to try")
    args = parser.parse_args()

    import torch

    from siamtrack import load_model
    from siamtrack.data.synthetic import demo_sequence
    from siamtrack.evaluation.metrics import iou
    from siamtrack.tracking.builder import build_tracker

    net, cfg = load_model(args.weights)
    frames, truth = demo_sequence()
    results = []
    for scale in args.scales:
        tracker_cfg = dataclasses.replace(cfg.tracker, box_scale=scale, **dict(args.set))
        tracker = build_tracker(net, tracker_cfg, torch.device("cpu"))
        tracker.init(frames[0], truth[0])
        boxes = np.stack([truth[0]] + [tracker.update(frame) for frame in frames[1:]])
        results.append(float(iou(boxes[1:], truth[1:]).mean()))
        print(f"box_scale {scale:.2f}: mean IoU {results[-1]:.3f}", flush=True)
    print(f"lowest {min(results):.3f} (settings: {dict(args.set) or 'as shipped'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
