"""Pre-cropped copies of training data, in the same layouts, for machines that can carry little.

As in the original SiamFC, every frame is cut to a square search region around its target (the
exemplar context region scaled to 127 px inside a 255 px crop), so a copy is a small fraction of
the source. The copy keeps the GOT-10k layout (frames, groundtruth.txt, labels, meta_info.ini) and
the stills layout (images/ + boxes.tsv), so the training pipeline reads it like the original.
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.tracking.geometry import context_size, crop_square

LABEL_FILES = ("absence.label", "cover.label", "cut_by_image.label")


def _curate_crop(image: np.ndarray, box: np.ndarray, out_size: int, exemplar_size: int,
                 context: float) -> tuple[np.ndarray, np.ndarray]:
    """Crop centred on ``box`` whose context region becomes ``exemplar_size`` px; box in crop pixels."""
    center = box[:2] + box[2:] / 2
    z_size = float(context_size(box[2:], context))
    x_size = z_size * out_size / exemplar_size
    crop = crop_square(image, center, x_size, out_size, image.reshape(-1, 3).mean(axis=0))
    scale = out_size / x_size
    wh = box[2:] * scale
    return crop, np.concatenate([out_size / 2 - wh / 2, wh])


def curate_got10k_subset(src: Path, dst: Path, frame_step: int = 1, out_size: int = 255,
                         exemplar_size: int = 127, context: float = 0.5, quality: int = 85) -> int:
    """Curate every sequence of a GOT-10k-layout subset folder (with ``list.txt``); returns frames written."""
    if not (src / "list.txt").is_file():
        raise SiamtrackError(f"{src} is not a GOT-10k-layout subset (no list.txt)")
    names = (src / "list.txt").read_text().split()
    dst.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in tqdm(names, desc=f"curate {src.name}"):
        seq_src, seq_dst = src / name, dst / name
        frames = sorted(seq_src.glob("*.jpg"))
        boxes = np.loadtxt(seq_src / "groundtruth.txt", delimiter=",", ndmin=2)
        if len(boxes) != len(frames):
            raise SiamtrackError(f"{seq_src / 'groundtruth.txt'} has {len(boxes)} boxes for {len(frames)} frames")
        keep = np.arange(0, len(frames), frame_step)
        seq_dst.mkdir(parents=True, exist_ok=True)
        out_boxes, last_valid = [], None
        for out_index, i in enumerate(keep, start=1):
            box = boxes[i]
            valid = box[2] > 0 and box[3] > 0
            if valid:
                last_valid = box
            anchor = box if valid else last_valid
            if anchor is None:
                anchor = np.array([0.0, 0.0, 1.0, 1.0])
            crop, crop_box = _curate_crop(read_image(frames[i]), anchor, out_size, exemplar_size, context)
            cv2.imwrite(str(seq_dst / f"{out_index:08d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
            out_boxes.append(crop_box if valid else np.zeros(4))
            written += 1
        np.savetxt(seq_dst / "groundtruth.txt", np.array(out_boxes), fmt="%.4f", delimiter=",")
        for label in LABEL_FILES:
            if (seq_src / label).exists():
                values = np.loadtxt(seq_src / label, dtype=np.int64, ndmin=1)
                np.savetxt(seq_dst / label, values[keep], fmt="%d")
        if (seq_src / "meta_info.ini").exists():
            shutil.copy(seq_src / "meta_info.ini", seq_dst / "meta_info.ini")
    (dst / "list.txt").write_text("\n".join(names) + "\n")
    return written


def curate_stills(src: Path, dst: Path, out_size: int = 255, exemplar_size: int = 127,
                  context: float = 0.5, quality: int = 85, min_side: float = 16.0) -> int:
    """Curate a stills set (``images/`` + ``boxes.tsv``): one crop per box; returns crops written.

    Boxes with a side under ``min_side`` px are left out: blown up to exemplar size they are blur.
    """
    if not (src / "boxes.tsv").is_file():
        raise SiamtrackError(f"{src} is not a stills set (no boxes.tsv)")
    with open(src / "boxes.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    (dst / "images").mkdir(parents=True, exist_ok=True)
    out_rows = []
    cache: dict[str, np.ndarray] = {}
    for k, row in enumerate(tqdm(rows, desc=f"curate {src.name}")):
        box = np.array([float(row[c]) for c in ("x", "y", "w", "h")])
        if min(box[2], box[3]) < min_side:
            continue
        if row["image"] not in cache:
            cache = {row["image"]: read_image(src / "images" / row["image"])}
        crop, crop_box = _curate_crop(cache[row["image"]], box, out_size, exemplar_size, context)
        name = f"{Path(row['image']).stem}_{k:05d}.jpg"
        cv2.imwrite(str(dst / "images" / name), crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out_rows.append([name, row["class"], *(f"{v:.2f}" for v in crop_box)])
    with open(dst / "boxes.tsv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["image", "class", "x", "y", "w", "h"])
        writer.writerows(out_rows)
    return len(out_rows)
