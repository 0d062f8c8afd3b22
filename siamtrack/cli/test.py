"""Benchmark siamtrack and peer trackers on a tracking dataset folder, offline, one pass per sequence.

    siamtrack test --dataset got10k --root ../shared/data/got10k-mini --trackers cv:CSRT,cv:Nano
    siamtrack test --dataset got10k --root ../shared/data/got10k-mini --root /data/extra --trackers siamtrack,cv:Nano
    siamtrack test --dataset otb --root data/OTB100 --trackers siamtrack,cv:CSRT --weights w.pth
    siamtrack test --dataset folder --root my_sequences --trackers siamtrack,cv:MIL
    torchrun --nproc_per_node=4 -m siamtrack test --dataset lasot --root data/LaSOT --trackers siamtrack

Trackers: siamtrack (--weights/--config), siamtrack=WEIGHTS, cv:NAME (an OpenCV tracker: MIL, KCF, CSRT...),
cv:Nano[=DIR] (NanoTrack ONNX files; default ../shared/peers/nanotrack_v2), cv:Vit[=DIR] (VitTrack; default
../shared/peers/vittrack). Every AUC and P@20 comes with its 90 % bootstrap interval over sequences, and
with the paired difference to NanoTrack (cv:Nano) when it runs, or to the tracker --reference names.
summary.md also says how well each tracker's score separates tracked from lost frames, and gives the
VOT-LT long-term measures (tracking precision, recall, F-score; siamtrack/evaluation/longterm.py).
--root may be given several times (folders of the same dataset kind): their sequences are pooled.
Writes to --report-dir (checked before tracking): results/ (got10k result layout, each run as soon as it
finishes; the same command run again reuses finished runs), then summary.md (table), scores.json,
success_plot.png and precision_plot.png. The first frame is scored (OTB convention); see docs/benchmarks.md.
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
    parser.add_argument("--root", required=True, type=Path, action="append",
                        help="the dataset folder (nothing is downloaded); repeat it to pool the sequences of "
                             "several folders of the same dataset kind (sequence names must differ)")
    parser.add_argument("--version", help="otb: 2013|2015|tb50|tb100; vot: 2013..2019|LT2018|LT2019; got10k: val; "
                                          "uav123: UAV123|UAV20L; nfs: 30|240; lasot: test|train")
    parser.add_argument("--trackers", default="siamtrack", help="comma-separated tracker specs (default: siamtrack)")
    parser.add_argument("--weights", help="siamtrack weights file or shipped name (default: the shipped weights)")
    parser.add_argument("--config", help="config YAML or the name of a shipped config (default: the one stored "
                                         "with the weights)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--reference", help="the tracker (spec or result name) every other is paired with: the "
                                            "difference of their AUC and P@20 with a bootstrap interval "
                                            "(default: cv:Nano when it runs)")
    parser.add_argument("--report-dir", type=Path, default=Path("benchmark"),
                        help="output folder (default: benchmark); finished runs found there are reused")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the summary table (rank 0 under torchrun)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from siamtrack.evaluation.benchmark import run_benchmark

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        scores = run_benchmark(args.dataset, args.root, args.trackers.split(","), version=args.version,
                               weights=args.weights, config=args.config, device=args.device,
                               report_dir=args.report_dir, reference=args.reference)
    except KeyboardInterrupt:
        print(f"interrupted: the finished runs are in {args.report_dir / 'results'}; the same command resumes",
              file=sys.stderr)
        return 130
    if scores is not None:
        print((args.report_dir / "summary.md").read_text().split("\n## ")[0])
        print(f"report: {args.report_dir}")
    return 0
