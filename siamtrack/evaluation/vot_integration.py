"""siamtrack inside the VOT toolkit (vot-toolkit 0.9, TraX protocol), offline.

``python -m siamtrack.evaluation.vot_integration`` is the TraX server that ``vot evaluate`` starts for
the tracker entry of ``configs/vot/trackers.ini`` (protocol ``traxpython``); it reads the weights, config
and device from the environment variables ``SIAMTRACK_WEIGHTS``, ``SIAMTRACK_CONFIG`` and
``SIAMTRACK_DEVICE`` (each optional: shipped weights, their config, the best device).

``python -m siamtrack.evaluation.vot_integration --make-workspace DIR --sequences FOLDER`` builds a VOT
workspace from sequences in OTB or GOT-10k layout (frames linked, not copied) with a one-pass stack
that names no dataset, so the toolkit never tries to download one. vot-toolkit is an optional extra:
``pip install --no-deps -r requirements-vot.txt`` (tested pins; see docs/benchmarks.md for why ``--no-deps``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence as Seq

import cv2
import numpy as np

from siamtrack import resources
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation.datasets import ExperimentFolder, load_sequence

TRACKER_ID = "siamtrack"
STACK = """title: siamtrack local one-pass stack (no dataset download)
experiments:
  baseline:
    type: unsupervised
    repetitions: 1
    analyses:
      - type: average_accuracy
        name: accuracy
        burnin: 1
      - type: average_success_plot
        name: success
"""


def serve(tracker) -> None:
    """Answer TraX requests (rectangle regions, image paths) with ``tracker`` until the client quits."""
    from trax import Image, Region, Server, TraxStatus
    from trax.region import Rectangle

    with Server([Region.RECTANGLE], [Image.PATH]) as server:
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
                break
            frame = read_image(request.image["color"].path())
            if request.type == TraxStatus.INITIALIZE:
                box = request.objects[0][0].bounds()  # (x, y, w, h) of the rectangle
                tracker.init(frame, box)
            else:
                box = tracker.update(frame)
            region = Rectangle.create(*(float(v) for v in box))
            server.status([(region, {"confidence": float(tracker.score)})])


def trackers_ini(package_root: Path | None = None, weights: str | None = None, config: str | None = None,
                 device: str | None = None) -> str:
    """A trackers.ini entry that runs siamtrack through TraX, importing it from ``package_root`` (the folder
    holding the ``siamtrack`` package: a checkout or ``site-packages``; default: the running one)."""
    package_root = resources.package_root() if package_root is None else package_root
    lines = [f"[{TRACKER_ID}]", "label = siamtrack", "protocol = traxpython",
             "command = siamtrack.evaluation.vot_integration", f"paths = {package_root}"]
    for name, value in (("WEIGHTS", weights), ("CONFIG", config), ("DEVICE", device)):
        if value:
            lines.append(f"env_SIAMTRACK_{name} = {Path(value).resolve() if name == 'WEIGHTS' else value}")
    return "\n".join(lines) + "\n"


def _link_frames(frames: Seq[str], color_dir: Path) -> None:
    color_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        target = color_dir / f"{i:08d}.jpg"
        if Path(frame).suffix.lower() in (".jpg", ".jpeg"):
            target.symlink_to(Path(frame).resolve())
        else:
            cv2.imwrite(str(target), read_image(frame))


def make_workspace(sequences_root: str | Path, workspace: str | Path, weights: str | None = None,
                   config: str | None = None, device: str | None = None, max_sequences: int | None = None,
                   max_frames: int | None = None) -> Path:
    """Build a VOT workspace at ``workspace`` from the sequences under ``sequences_root``.

    Frames become ``sequences/<seq>/color/%08d.jpg`` links; frames without ground truth get a NaN
    rectangle, which the toolkit reads as 'unknown'. ``max_sequences``/``max_frames`` make a small one.
    """
    workspace = Path(workspace)
    if (workspace / "config.yaml").exists():
        raise SiamtrackError(f"{workspace} already holds a VOT workspace")
    experiment = ExperimentFolder(str(sequences_root), result_dir=str(workspace / "unused"))
    sequences_dir = workspace / "sequences"
    names = []
    for index in range(len(experiment.dataset)):
        if max_sequences is not None and len(names) >= max_sequences:
            break
        seq = load_sequence(experiment, index)
        if seq is None:
            continue
        frames, boxes = seq.frames[:max_frames], seq.boxes[:max_frames]
        _link_frames(frames, sequences_dir / seq.name / "color")
        np.savetxt(sequences_dir / seq.name / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
        height, width = read_image(frames[0]).shape[:2]
        (sequences_dir / seq.name / "sequence").write_text(
            f"channels.color=color/%08d.jpg\nfps=30\nformat=default\nname={seq.name}\n"
            f"width={width}\nheight={height}\nlength={len(frames)}\n")
        names.append(seq.name)
    if not names:
        raise SiamtrackError(f"no usable sequence under {sequences_root}")
    (sequences_dir / "list.txt").write_text("\n".join(names) + "\n")
    (workspace / "stack.yaml").write_text(STACK)
    (workspace / "trackers.ini").write_text(trackers_ini(None, weights, config, device))
    (workspace / "config.yaml").write_text("registry:\n- ./trackers.ini\nstack: stack.yaml\n")
    (workspace / "results").mkdir(exist_ok=True)
    return workspace


def _tracker_from_environment():
    from siamtrack.loading import load_tracker
    return load_tracker(os.environ.get("SIAMTRACK_WEIGHTS") or None, os.environ.get("SIAMTRACK_CONFIG") or None,
                        os.environ.get("SIAMTRACK_DEVICE") or None)


def main(argv: list[str] | None = None) -> int:
    """No arguments: the TraX server. ``--make-workspace``: build a workspace (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make-workspace", type=Path, metavar="DIR", help="build a VOT workspace here")
    parser.add_argument("--sequences", type=Path, help="folder of sequences (OTB or GOT-10k layout)")
    parser.add_argument("--weights", help="siamtrack weights for the workspace's trackers.ini")
    parser.add_argument("--config", help="config for the workspace's trackers.ini")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device for the workspace's trackers.ini")
    parser.add_argument("--max-sequences", type=int)
    parser.add_argument("--max-frames", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        if args.make_workspace is None:
            serve(_tracker_from_environment())
            return 0
        if args.sequences is None:
            parser.error("--make-workspace needs --sequences FOLDER")
        path = make_workspace(args.sequences, args.make_workspace, args.weights, args.config, args.device,
                              args.max_sequences, args.max_frames)
    except SiamtrackError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"VOT workspace: {path}\nrun: vot evaluate --workspace {path} {TRACKER_ID} && "
          f"vot analysis --workspace {path} {TRACKER_ID}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
