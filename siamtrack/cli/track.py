"""Track one or more targets through a video, an image folder, a glob pattern or a camera.

    siamtrack track clip.mp4 --box 450,380,250,168 --out-video out/clip.mp4 --out-boxes out/clip.txt
    siamtrack track 'frames/*.jpg' --box 10,20,50,40 --box 200,80,30,30 --out-boxes boxes.txt
    siamtrack track 0 --select --show                 # camera 0, box drawn with the mouse
    siamtrack track --demo                            # synthetic clip with ground truth, no input needed

Boxes file: one line per frame, ``x,y,w,h,score`` per target, targets one after another on the line;
the first line holds the given boxes with score 1. Bad input: one ``error: ...`` line, exit code 2.
Stopped by a signal (Ctrl-C, SIGTERM from ``timeout``/``docker stop``/Slurm, SIGHUP from a closed
terminal): the video is finished so it plays, the boxes file holds every frame tracked, and the
exit code is 128 + the signal's number.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

HELP = "track targets through a video, image folder, glob or camera"
DEMO_VIDEO = Path("out/demo.mp4")
DEMO_BOXES = Path("out/demo_boxes.txt")


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack track``."""
    parser.add_argument("source", nargs="?",
                        help="video file, stream URL (rtsp://...), image folder, quoted glob pattern, or camera index")
    parser.add_argument("--box", action="append", default=[], metavar="X,Y,W,H",
                        help="target box on the first frame, in pixels; repeat it to track several targets "
                             "(write --box=-5,10,40,30 when x starts with a minus sign)")
    parser.add_argument("--select", action="store_true", help="draw the box with the mouse on the first frame")
    parser.add_argument("--out-video", type=Path, metavar="PATH",
                        help="write the annotated frames to this video (.mp4 or .avi)")
    parser.add_argument("--out-boxes", type=Path, metavar="PATH",
                        help="write one line x,y,w,h,score per frame (per target)")
    parser.add_argument("--weights", type=Path, metavar="PATH",
                        help="weights file, or the name of shipped weights (default: efficientnet_box)")
    parser.add_argument("--config", help="config YAML or the name of a shipped config (default: the one stored "
                                         "with the weights)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the network runs (auto: CUDA when present)")
    parser.add_argument("--show", action="store_true", help="display the tracking live (q or Esc stops)")
    parser.add_argument("--show-response", action="store_true",
                        help="overlay the score map on the search region in the shown/written frames")
    parser.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (the first included)")
    parser.add_argument("--demo", action="store_true",
                        help=f"track a synthetic clip with known ground truth and print the mean IoU "
                             f"(outputs default to {DEMO_VIDEO} and {DEMO_BOXES})")


def validate(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of arguments, if anything."""
    if args.demo and (args.source or args.box or args.select):
        return "--demo brings its own clip and box: give no SOURCE, --box or --select"
    if not args.demo and not args.source:
        return "SOURCE is required (or use --demo)"
    if not args.demo and bool(args.box) == args.select:
        return "give the target with --box X,Y,W,H (one or more) or --select"
    return None


def run(args: argparse.Namespace) -> int:
    """Track, write the outputs, print a summary."""
    # Our own error messages replace FFmpeg's and OpenCV's stderr noise about undecodable files.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    from siamtrack.tracking.video import stop_signals_unwind

    try:
        with stop_signals_unwind():
            track(args)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            print(f"interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    return 0


def track(args: argparse.Namespace) -> None:
    """The work of :func:`run`."""
    # Imported only after argument parsing, and the model only after the input was checked, so
    # that usage errors and bad input are reported without waiting for torch to load.
    from siamtrack.data.sources import FrameList, open_source
    from siamtrack.evaluation.metrics import iou
    from siamtrack.tracking.tracker import validate_box
    from siamtrack.tracking.video import RunOutputs, parse_box, track_source
    from siamtrack.visualization import select_box

    if args.demo:
        from siamtrack.data.synthetic import demo_sequence

        frames, ground_truth = demo_sequence()
        source = FrameList(frames, name="synthetic demo clip")
        boxes = [ground_truth[0]]
        args.out_video = args.out_video or DEMO_VIDEO
        args.out_boxes = args.out_boxes or DEMO_BOXES
    else:
        boxes = [parse_box(text) for text in args.box]
        source = open_source(args.source)
    with source:
        first = source.first_frame()
        # Outputs are claimed (checked, locked) before the box is drawn and the model loads, and
        # emptied only once tracking starts.
        with RunOutputs(args.out_boxes, args.out_video, inputs=source.inputs, frame_shape=first.shape) as outputs:
            boxes = [select_box(first)] if args.select else [validate_box(box, first.shape) for box in boxes]
            from siamtrack.loading import load_tracker
            tracker = load_tracker(weights=args.weights, config=args.config, device=args.device)
            result = track_source(tracker, source, boxes, outputs=outputs, show=args.show,
                                  show_response=args.show_response, max_frames=args.max_frames)
    print(result.summary())
    for label, path in (("boxes", args.out_boxes), ("video", args.out_video)):
        if path is not None:
            print(f"{label}: {path}")
    if args.demo:
        overlaps = iou(result.boxes[1:, 0], ground_truth[1:len(result.boxes)])
        print(f"mean IoU against the ground truth over {len(overlaps)} tracked frames: {overlaps.mean():.3f}")
