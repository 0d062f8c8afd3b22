#!/usr/bin/env python
"""Resident memory over a long run: a demo clip looped (forwards, then backwards, so the target never
jumps) to 10,000 frames, tracked through the Python API and through tools/track.py with --out-video.

    tools/bench_memory.py --weights weights/siamfc_fast.pth                 # both, 10,000 frames
    tools/bench_memory.py --modes api --frames 2000 --every 500              # a quick look

Prints the resident set size (RSS) every ``--every`` frames and the growth from the first sample to
the last: it must stay flat. The CLI run is watched from outside: its boxes file is flushed frame by
frame, so its line count says which frame the process has reached when its RSS is read.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from siamtrack.errors import SiamtrackError, reports_errors  # noqa: E402

DEFAULT_CLIP = REPO.parent / "shared" / "data" / "demo" / "tennis.mp4"
DEFAULT_BOX = "305,112,165,248"  # the tennis player (demo/first_boxes.tsv)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of process ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SiamtrackError(f"no VmRSS for process {pid}")


def looped_order(count: int, frames: int) -> list[int]:
    """Frame indices 0..n-1, n-2..1, 0.. (a ping-pong loop) of length ``frames``."""
    cycle = list(range(count)) + list(range(count - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(frames)]


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    if len(frames) < 2:
        raise SiamtrackError(f"{path}: need a video of at least two frames")
    return frames, fps


def report(label: str, samples: list[tuple[int, float]]) -> None:
    """The growth from the first sample to the last."""
    if len(samples) > 1:
        growth = samples[-1][1] - samples[0][1]
        print(f"{label}: RSS grew {growth:+.1f} MB from frame {samples[0][0]} to frame {samples[-1][0]} "
              f"({samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB)", flush=True)


def bench_api(args: argparse.Namespace, clip: list[np.ndarray]) -> None:
    from siamtrack import load_tracker

    tracker = load_tracker(weights=args.weights, config=args.config, device="cpu")
    order = looped_order(len(clip), args.frames)
    tracker.init(clip[order[0]], [float(v) for v in args.box.split(",")])
    samples = []
    for index, frame in enumerate(order[1:], 2):
        box = tracker.update(clip[frame])
        if not np.all(np.isfinite(box)):
            raise SiamtrackError(f"api: non-finite box at frame {index}")
        if index % args.every == 0:
            samples.append((index, rss_mb()))
            print(f"api frame {index:6d}: RSS {samples[-1][1]:8.1f} MB", flush=True)
    report("api", samples)


def bench_cli(args: argparse.Namespace, clip: list[np.ndarray], fps: float) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    video = args.out / "looped.mp4"
    height, width = clip[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in looped_order(len(clip), args.frames):
        writer.write(clip[frame])
    writer.release()
    boxes = args.out / "boxes.txt"
    command = [sys.executable, str(REPO / "tools" / "track.py"), str(video), "--box", args.box, "--device", "cpu",
               "--out-video", str(args.out / "tracked.mp4"), "--out-boxes", str(boxes)]
    command += ["--weights", str(args.weights)] if args.weights else []
    command += ["--config", str(args.config)] if args.config else []
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[int, float]] = []
    next_mark = args.every
    while process.poll() is None:
        time.sleep(0.2)
        lines = boxes.read_bytes().count(b"\n") if boxes.is_file() else 0
        if lines >= next_mark:
            try:
                samples.append((lines, rss_mb(process.pid)))
            except (OSError, SiamtrackError):
                break
            print(f"cli frame {lines:6d}: RSS {samples[-1][1]:8.1f} MB", flush=True)
            next_mark = (lines // args.every + 1) * args.every
    stderr = process.communicate()[1]
    if process.returncode != 0:
        raise SiamtrackError(f"tools/track.py exited with {process.returncode}: {stderr.strip()[-500:]}")
    report("cli", samples)


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="video to loop (default: demo tennis.mp4)")
    parser.add_argument("--box", default=DEFAULT_BOX, help="x,y,w,h of the target on the clip's first frame")
    parser.add_argument("--frames", type=int, default=10000, help="frames to track (default 10,000)")
    parser.add_argument("--every", type=int, default=1000, help="report RSS every this many frames")
    parser.add_argument("--weights", type=Path, help="weights (default: the shipped default)")
    parser.add_argument("--config", help="config (default: the one stored with the weights)")
    parser.add_argument("--modes", nargs="+", choices=("api", "cli"), default=["api", "cli"])
    parser.add_argument("--out", type=Path, default=Path("out/bench_memory"), help="looped video and CLI outputs")
    args = parser.parse_args(argv)
    clip, fps = read_clip(args.clip)
    print(f"{args.clip.name}: {len(clip)} frames looped to {args.frames}", flush=True)
    if "api" in args.modes:
        bench_api(args, clip)
    if "cli" in args.modes:
        bench_cli(args, clip, fps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
