#!/usr/bin/env python
"""Benchmark siamtrack and peer trackers on a tracking dataset folder, offline, one pass per sequence.

    tools/test.py --dataset got10k --root ../shared/data/got10k-mini --trackers cv:CSRT,cv:Nano
    tools/test.py --dataset otb --root data/OTB100 --trackers siamtrack,cv:CSRT --weights w.pth
    tools/test.py --dataset folder --root my_sequences --trackers siamtrack,cv:MIL
    torchrun --nproc_per_node=4 tools/test.py --dataset lasot --root data/LaSOT --trackers siamtrack

Trackers: siamtrack (--weights/--config), siamtrack=WEIGHTS, cv:NAME (an OpenCV tracker: MIL, KCF, CSRT...),
cv:Nano[=DIR] (NanoTrack ONNX files; default ../shared/peers/nanotrack_v2).
Writes to --report-dir: summary.md (table), scores.json, success_plot.png, precision_plot.png and
results/ (got10k result layout). The first frame is scored (OTB convention); see docs/benchmarks.md.
Bad input: one ``error: ...`` line, exit code 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from siamtrack.errors import reports_errors  # noqa: E402
from siamtrack.evaluation.benchmark import run_benchmark  # noqa: E402
from siamtrack.evaluation.datasets import DATASETS  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, type=Path, help="the dataset folder (nothing is downloaded)")
    parser.add_argument("--version", help="otb: 2013|2015|tb50|tb100; vot: 2013..2019|LT2018|LT2019; got10k: val; "
                                          "uav123: UAV123|UAV20L; nfs: 30|240; lasot: test|train")
    parser.add_argument("--trackers", default="siamtrack", help="comma-separated tracker specs (default: siamtrack)")
    parser.add_argument("--weights", help="siamtrack weights file (default: the shipped weights)")
    parser.add_argument("--config", help="config YAML or name in configs/ (default: the one stored with the weights)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--report-dir", type=Path, default=Path("benchmark"), help="output folder (default: benchmark)")
    return parser.parse_args(argv)


@reports_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        scores = run_benchmark(args.dataset, args.root, args.trackers.split(","), version=args.version,
                               weights=args.weights, config=args.config, device=args.device,
                               report_dir=args.report_dir)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if scores is not None:
        print((args.report_dir / "summary.md").read_text().split("\n## ")[0])
        print(f"report: {args.report_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
