#!/usr/bin/env python
"""Build long-term "cut-away" clips from GOT-10k-layout sequences: the target leaves, then comes back elsewhere.

    python tools/make_cutaway.py --root ../shared/data/got10k-mini/val --out data/cutaway
    python tools/make_cutaway.py --root ../shared/data/got10k-mini/val --root ~/data/extra/val --out data/cutaway
    siamtrack test --dataset got10k --root data/cutaway --trackers siamtrack,cv:Nano    # scores them (long-term too)

Each clip is made from a sequence A of a root (in its list.txt order) and another sequence B:

1. A's frames 1..n: the target is tracked as usual;
2. ``cut`` frames of B (50-150; scaled to A's frame size): A's target is absent;
3. A again from a later frame r to its end (at most MAX_REST frames): the target is back, elsewhere.

n (20 to 100, at most half of A) and r (at least MIN_GAP frames after n, MIN_REST before A's end)
are the pair whose target centres lie farthest apart, in units of ``sqrt(w h)`` of the target at
frame n; a sequence whose target never moves FAR such units away is skipped (its return would be
found by the local search alone). The widest local search of the default tracker (its 383 px
re-detection crop) scores about 2.5 sqrt(w h) either side of the last position; FAR = 4 puts the
return beyond it with room for a target that grew before the cut. ``cut`` is drawn from numpy's
``RandomState(seed + i)`` for the i-th sequence of all roots; B is the next sequence in the list
(wrapping) with at least ``cut`` frames. Same inputs and seed, same clips, byte for byte.

Writes ``OUT/val/<A>_cutaway/``: 00000001.jpg..., groundtruth.txt (``0,0,0,0`` where the target is
absent, as GOT-10k writes it), absence.label (1 = absent), cover.label (0 where absent, else A's
own or 8), cut_by_image.label, meta_info.ini (which frames came from where), and ``OUT/val/list.txt``.
A's frames are copied as they are; each clip is written to a temporary folder and renamed into place.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from siamtrack.errors import SiamtrackError, reports_errors  # noqa: E402

MIN_FIRST, MAX_FIRST = 20, 100  # frames of A before the cut
MIN_GAP, MIN_REST, MAX_REST = 10, 20, 100  # frames of A skipped at least / kept after the return
CUT_FRAMES = (50, 150)  # frames of B, both ends included
FAR = 4.0  # the return lies at least this many sqrt(w h) from where the target was last seen
JPEG_QUALITY = 95


@dataclass
class Source:
    """One GOT-10k-layout sequence: frame files, boxes and absence flags."""

    name: str
    frames: list[Path]
    boxes: np.ndarray
    absent: np.ndarray
    cover: np.ndarray

    @classmethod
    def read(cls, folder: Path) -> Source:
        frames = sorted(folder.glob("*.jpg"))
        try:
            boxes = np.loadtxt(folder / "groundtruth.txt", delimiter=",", ndmin=2)
        except (OSError, ValueError) as exc:
            raise SiamtrackError(f"sequence {folder}: unreadable groundtruth.txt ({exc})") from None
        if not frames or len(frames) != len(boxes):
            raise SiamtrackError(f"sequence {folder}: {len(frames)} .jpg frames but {len(boxes)} boxes")
        labels = {name: np.loadtxt(folder / name, ndmin=1) if (folder / name).is_file() else None
                  for name in ("absence.label", "cover.label")}
        absent = (labels["absence.label"] == 1) if labels["absence.label"] is not None else np.zeros(len(boxes), bool)
        absent |= ~(np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0))
        cover = labels["cover.label"] if labels["cover.label"] is not None else np.where(absent, 0, 8)
        return cls(folder.name, frames, boxes, absent, cover.astype(int))


def read_root(root: Path) -> list[Source]:
    """The sequences of a GOT-10k-layout split, in its list.txt order (else by name)."""
    if not root.is_dir():
        raise SiamtrackError(f"--root {root} is not a folder")
    listing = root / "list.txt"
    names = listing.read_text().split() if listing.is_file() else sorted(p.name for p in root.iterdir() if p.is_dir())
    if not names:
        raise SiamtrackError(f"--root {root} holds no sequences")
    return [Source.read(root / name) for name in names]


def farthest_return(seq: Source) -> tuple[float, int, int]:
    """``(distance, n, r)``: the last frame count n before the cut and the frame r it resumes at, whose
    target centres are farthest apart (in ``sqrt(w h)`` of the target at frame n - 1); distance 0 if none."""
    centres = seq.boxes[:, :2] + seq.boxes[:, 2:] / 2
    best = (0.0, 0, 0)
    for n in range(MIN_FIRST, min(MAX_FIRST, len(seq.frames) // 2) + 1):
        if seq.absent[n - 1]:
            continue
        later = np.arange(n + MIN_GAP, len(seq.frames) - MIN_REST)
        later = later[~seq.absent[later]]
        if not len(later):
            continue
        distance = np.linalg.norm(centres[later] - centres[n - 1], axis=1) / np.sqrt(np.prod(seq.boxes[n - 1, 2:]))
        if distance.max() > best[0]:
            best = (float(distance.max()), n, int(later[distance.argmax()]))
    return best


def _write_frame(source: Path, target: Path, size: tuple[int, int]) -> None:
    """Copy ``source`` to ``target``, re-encoded at ``size`` (width, height) when it differs."""
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise SiamtrackError(f"cannot decode frame {source}")
    if image.shape[1::-1] == size:
        shutil.copyfile(source, target)
    elif not cv2.imwrite(str(target), cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                         [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise SiamtrackError(f"cannot write {target}")


def write_clip(a: Source, b: Source, n: int, cut: int, r: int, folder: Path) -> None:
    """Write the clip A[:n] + B[:cut] + A[r:r + MAX_REST] into ``folder`` (GOT-10k layout)."""
    rest = np.arange(r, min(len(a.frames), r + MAX_REST))
    parts = [(a.frames[i], a.boxes[i], a.absent[i], a.cover[i]) for i in range(n)]
    parts += [(b.frames[i], np.zeros(4), True, 0) for i in range(cut)]
    parts += [(a.frames[i], a.boxes[i], a.absent[i], a.cover[i]) for i in rest]
    size = cv2.imread(str(a.frames[0]), cv2.IMREAD_COLOR).shape[1::-1]
    folder.mkdir(parents=True)
    for index, (frame, _, _, _) in enumerate(parts, start=1):
        _write_frame(frame, folder / f"{index:08d}.jpg", size)
    boxes = np.array([np.zeros(4) if absent else box for _, box, absent, _ in parts])
    np.savetxt(folder / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
    absent = np.array([int(absent) for _, _, absent, _ in parts])
    np.savetxt(folder / "absence.label", absent, fmt="%d")
    np.savetxt(folder / "cover.label", np.array([0 if gone else cover for _, _, gone, cover in parts]), fmt="%d")
    np.savetxt(folder / "cut_by_image.label", np.zeros(len(parts), dtype=int), fmt="%d")
    (folder / "meta_info.ini").write_text(
        "[METAINFO]\n"
        f"url: cut-away clip (siamtrack tools/make_cutaway.py) of {a.name} and {b.name}\n"
        f"begin_frame: 1\nend_frame: {len(parts)}\nresolution: ({size[0]}, {size[1]})\n"
        f"cutaway: frames 1-{n} = {a.name} 1-{n}; {n + 1}-{n + cut} = {b.name} 1-{cut} (target absent); "
        f"{n + cut + 1}-{len(parts)} = {a.name} {r + 1}-{rest[-1] + 1}\n")


def make_cutaways(roots: list[Path], out: Path, seed: int = 0) -> list[str]:
    """Write every cut-away clip the sequences of ``roots`` allow under ``out/val``; their names."""
    sequences = [seq for root in roots for seq in read_root(root)]
    if len(sequences) < 2:
        raise SiamtrackError("cut-away clips need at least two sequences in --root")
    split = out / "val"
    split.mkdir(parents=True, exist_ok=True)
    names = []
    for index, a in enumerate(sequences):
        distance, n, r = farthest_return(a)
        if distance < FAR:
            print(f"skipped {a.name}: its target moves at most {distance:.1f} x sqrt(w h) from where a cut could start")
            continue
        cut = int(np.random.RandomState(seed + index).randint(CUT_FRAMES[0], CUT_FRAMES[1] + 1))
        others = sequences[index + 1:] + sequences[:index]
        b = next((s for s in others if len(s.frames) >= cut), max(others, key=lambda s: len(s.frames)))
        cut = min(cut, len(b.frames))
        name = f"{a.name}_cutaway"
        staging = split / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        write_clip(a, b, n, cut, r, staging)
        shutil.rmtree(split / name, ignore_errors=True)
        staging.rename(split / name)
        names.append(name)
        print(f"{name}: {a.name} 1-{n}, {b.name} 1-{cut} (absent), {a.name} from {r + 1} "
              f"({distance:.1f} x sqrt(w h) away)")
    listing = split / "list.txt.tmp"
    listing.write_text("".join(f"{name}\n" for name in names))
    os.replace(listing, split / "list.txt")
    return names


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, action="append", required=True,
                        help="a GOT-10k-layout split (a folder of sequences); repeat for several")
    parser.add_argument("--out", type=Path, required=True, help="output folder (clips go to OUT/val)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cut lengths (default 0)")
    args = parser.parse_args(argv)
    names = make_cutaways(args.root, args.out, args.seed)
    print(f"{len(names)} clips in {args.out / 'val'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
