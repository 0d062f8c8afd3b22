"""Tracking speed on a real clip: reference vs default vs fast mode vs ONNX Runtime vs the box model
vs NanoTrack / VitTrack, 1/4/16 targets.

    siamtrack bench --threads 2                       # CPU, untrained networks (speed only)
    siamtrack bench --device cuda --json out/speed_gpu.json
    siamtrack bench --weights siamfc_alexnet --fast-weights siamfc_fast    # the shipped weights
    siamtrack bench --threads 2 --targets 1 --modes reference box nano vit --box-weights efficientnet_box

Times ``tracker.update`` (decode excluded, and included) as the median of several passes after
warm-up, the plain reference in the same run; checks that the fp32 paths give the reference's boxes
(< 0.5 px); counts GFLOP per frame and sets the achieved GFLOP/s against a matmul timed in the same
run. Bad input: one ``error: ...`` line, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
from pathlib import Path

HELP = "time the tracker on a real clip (reference, SiamFC modes, the box model, NanoTrack/VitTrack)"
MODES = ("reference", "default", "onnx", "fast", "fast-torch", "fast-int8", "box", "box-siamese", "box-torch", "nano",
         "vit")
CPU_MODES = ["reference", "default", "onnx", "fast", "fast-torch", "fast-int8", "box", "box-torch", "nano"]
GPU_MODES = ["reference", "default", "fast-torch", "box-torch"]
DEMO_DIR = Path("../shared/data/demo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack bench``."""
    parser.add_argument("--demo-dir", type=Path, default=DEMO_DIR,
                        help=f"folder of clips with first_boxes.tsv (default: {DEMO_DIR}, from here or "
                             "beside the repository checkout)")
    parser.add_argument("--clip", help="clip name from first_boxes.tsv (default: its first row)")
    parser.add_argument("--frames", type=int, default=30, help="frames per timed pass, the first included")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates before timing")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch, ONNX Runtime and OpenCV")
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 4, 16], help="numbers of targets to time")
    parser.add_argument("--modes", nargs="+", choices=MODES,
                        help=f"what to time (default on CPU: {' '.join(CPU_MODES)}; on CUDA: {' '.join(GPU_MODES)}); "
                             "fast = configs/siamfc_fast.yaml (ONNX Runtime), fast-torch = the same on PyTorch, "
                             "fast-int8 = with an int8 backbone calibrated on the clip, box = the EfficientNet box "
                             "model (ONNX Runtime), box-siamese = the same without online model and motion, "
                             "box-torch = the box model on PyTorch, nano / vit = OpenCV's "
                             "NanoTrack v2 / VitTrack")
    parser.add_argument("--reference-targets", type=int, default=1,
                        help="time the reference up to this many targets; above, N x its 1-target time")
    parser.add_argument("--config", help="config of reference/default/onnx (default: configs/siamfc_alexnet.yaml)")
    parser.add_argument("--weights", help="weights for reference/default/onnx (default: untrained)")
    parser.add_argument("--fast-config", default="siamfc_fast", help="config of the fast modes")
    parser.add_argument("--fast-weights", help="weights for the fast modes (default: untrained)")
    parser.add_argument("--box-config", default="efficientnet_box", help="config of the box modes")
    parser.add_argument("--box-weights", help="weights for the box modes (default: untrained)")
    parser.add_argument("--tf32", action="store_true",
                        help="on CUDA, let convolutions use TF32 tensor cores (PyTorch's default; not fp32 exact)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")


def validate(args: argparse.Namespace) -> str | None:
    """What is wrong with the numbers given, if anything."""
    if args.frames < 2 or args.runs < 1 or args.warmup < 0 or min(args.targets) < 1 or args.threads is not None \
            and args.threads < 1:
        return "--frames must be >= 2, --runs, --targets and --threads >= 1, --warmup >= 0"
    return None


def write_json(path: Path, values: dict) -> None:
    """Write ``values`` to ``path`` whole (a temporary file beside it, then a rename)."""
    from siamtrack.errors import SiamtrackError

    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(json.dumps(values, indent=2))
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SiamtrackError(f"cannot write --json {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Time the modes and print the table (and write --json)."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    import cv2
    import torch

    from siamtrack import resources
    from siamtrack.loading import resolve_device
    from siamtrack.speed import benchmark, build_modes, format_report, load_clip, network
    from siamtrack.tracking.video import check_outputs

    logging.basicConfig(level=logging.INFO, format="  measured %(message)s")
    check_outputs({"--json": args.json})  # a path that cannot be written fails now, not after the timing
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    device = resolve_device(args.device)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    names = args.modes or (GPU_MODES if device.type == "cuda" else CPU_MODES)
    clip = load_clip(resources.resolve(args.demo_dir), args.clip, args.frames)
    with tempfile.TemporaryDirectory() as workdir:
        box = network(args.box_weights, args.box_config) if any(n.startswith("box") for n in names) else None
        modes = build_modes(names, network(args.weights, args.config),
                            network(args.fast_weights, args.fast_config), clip, workdir, box)
        if device.type == "cuda":  # ONNX Runtime (CPU build) and OpenCV's trackers would not run on the GPU
            modes = [m for m in modes if m.cfg is not None and m.cfg.backend == "torch"]
        report = benchmark(modes, clip, device, args.targets, args.runs, args.warmup, args.reference_targets)
    print(format_report(report))
    if args.json:
        write_json(args.json, report.to_dict())
    return 0
