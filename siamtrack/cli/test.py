"""Benchmark siamtrack and peer trackers on a tracking dataset folder, offline, one pass per sequence.

    siamtrack test --dataset got10k --root ../shared/data/got10k-mini --trackers cv:CSRT,cv:Nano
    siamtrack test --dataset otb --root data/OTB100 --trackers siamtrack,cv:CSRT --weights w.pth
    siamtrack test --dataset folder --root my_sequences --trackers siamtrack,cv:MIL
    torchrun --nproc_per_node=4 -m siamtrack test --dataset lasot --root data/LaSOT --trackers siamtrack

Trackers: siamtrack (--weights/--config), siamtrack=WEIGHTS, cv:NAME (an OpenCV tracker: MIL, KCF, CSRT...),
cv:Nano[=DIR] (NanoTrack ONNX files; default ../shared/peers/nanotrack_v2), cv:Vit[=DIR] (VitTrack; default
../shared/peers/vittrack). summary.md also says how well each tracker's score separates tracked from lost frames.
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

from siamtrack.evaluation.layouts import DATASETS

HELP = "benchmark siamtrack and OpenCV peers on a tracking dataset (OTB, VOT, GOT-10k, LaSOT...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack test``."""
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, type=Path, help="the dataset folder (nothing is downloaded)")
    parser.add_argument("--version", help="otb: 2013|2015|tb50|tb100; vot: 2013..2019|LT2018|LT2019; got10k: val; "
                                          "uav123: UAV123|UAV20L; nfs: 30|240; lasot: test|train")
    parser.add_argument("--trackers", default="siamtrack", help="comma-separated tracker specs (default: siamtrack)")
    parser.add_argument("--weights", help="siamtrack weights file or shipped name (default: the shipped weights)")
    parser.add_argument("--config", help="config YAML or the name of a shipped config (default: the one stored "
                                         "with the weights)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--report-dir", type=Path, default=Path("benchmark"), help="output folder (default: benchmark)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the summary table (rank 0 under torchrun)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from siamtrack.evaluation.benchmark import run_benchmark

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
