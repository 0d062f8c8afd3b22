"""Where training frames come from: video datasets and still-image sets, with their usable boxes.

A video dataset is any got10k dataset object: ``dataset[i]`` gives ``(img_files, anno)`` or, for
``GOT10k(root, subset, return_meta=True)``, ``(img_files, anno, meta)`` whose ``absence``, ``cover``
and ``cut_by_image`` labels say which frames show the target well. A still-image set is a folder
with ``images/`` and ``boxes.tsv`` (image, class, x, y, w, h).
"""
from __future__ import annotations

import copy
import csv
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from got10k.datasets import GOT10k
from PIL import Image

from siamtrack import resources
from siamtrack.config import DataConfig
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError

log = logging.getLogger(__name__)

GOT10K_SUBSETS = ("train", "val", "test")
LABELS = ("absence", "cover", "cut_by_image", "full_occlusion", "out_of_view")  # per-frame labels we read


@dataclass(frozen=True)
class BoxLimits:
    """What makes a box usable for training (see the ``DataConfig`` fields of the same names)."""

    min_box_size: float = 10.0
    max_aspect: float = 4.0
    max_box_fraction: float = 0.9
    min_cover: int = 3

    @classmethod
    def from_config(cls, cfg: DataConfig) -> "BoxLimits":
        return cls(cfg.min_box_size, cfg.max_aspect, cfg.max_box_fraction, cfg.min_cover)


@dataclass(frozen=True)
class PairSample:
    """Two frames of one target before cropping: exemplar image and box, search image and box.

    ``kind`` names the source (``video``, ``stills``, ``synthetic``, ``negative``); still pairs use one
    photograph twice; a ``negative`` pair's search box is another object's (the target is not there).
    """

    z_image: np.ndarray
    z_box: np.ndarray
    x_image: np.ndarray
    x_box: np.ndarray
    kind: str


def usable_boxes(boxes: np.ndarray, image_size: Sequence[float], limits: BoxLimits,
                 meta: dict[str, Any] | None = None, border_cuts: bool = True) -> np.ndarray:
    """Mask of the boxes ``(N, 4)`` good enough to train on.

    Rejects non-finite, tiny, very elongated and image-filling boxes; with GOT-10k labels in
    ``meta`` also absent, heavily covered and cut-by-image frames (LaSOT's ``full_occlusion`` and
    ``out_of_view`` count as absent). Without a ``cut_by_image`` label, and if ``border_cuts``, a
    box touching the image border counts as cut.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width, height = float(image_size[0]), float(image_size[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        w, h = boxes[:, 2], boxes[:, 3]
        ok = np.all(np.isfinite(boxes), axis=1) & (np.minimum(w, h) >= limits.min_box_size)
        ok &= np.maximum(w / h, h / w) <= limits.max_aspect
        ok &= (w <= limits.max_box_fraction * width) & (h <= limits.max_box_fraction * height)
        meta = meta or {}
        for absent in ("absence", "full_occlusion", "out_of_view"):
            if absent in meta:
                ok &= np.asarray(meta[absent]).reshape(-1) == 0
        if "cover" in meta:
            ok &= np.asarray(meta["cover"]).reshape(-1) >= limits.min_cover
        if "cut_by_image" in meta:
            ok &= np.asarray(meta["cut_by_image"]).reshape(-1) == 0
        elif border_cuts:
            ok &= (boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 0] + w < width) & (boxes[:, 1] + h < height)
    return ok


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file, from its header only."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError) as exc:
        raise SiamtrackError(f"cannot read image {path}: {exc}") from None


def open_got10k_split(folder: str | Path) -> GOT10k:
    """A GOT-10k split folder (``.../train`` or ``.../val`` holding ``list.txt``) as a got10k dataset with labels."""
    folder = Path(folder)
    if folder.name not in GOT10K_SUBSETS or not (folder / "list.txt").is_file():
        raise SiamtrackError(f"{folder} is not a GOT-10k split folder (train/, val/ or test/ with a list.txt)")
    return GOT10k(str(folder.parent), subset=folder.name, return_meta=folder.name != "test")


@dataclass(frozen=True)
class VideoSequence:
    """One sequence, as kept for sampling: frame paths (bytes, compact), boxes, usable frame indices,
    and the target's class when the dataset names it (GOT-10k's ``object_class``)."""

    name: str
    frames: np.ndarray
    boxes: np.ndarray
    usable: np.ndarray
    label: str = ""

    def frame(self, index: int) -> str:
        return os.fsdecode(self.frames[index])


def _sequence_label(dataset: Any, index: int) -> str:
    """The groundtruth file of sequence ``index`` if the dataset says (got10k datasets do), else its name."""
    for attribute in ("anno_files", "seq_names"):
        values = getattr(dataset, attribute, None)
        if values is not None and index < len(values):
            return str(values[index])
    return f"sequence {index}"


def load_sequence(dataset: Any, index: int, limits: BoxLimits) -> VideoSequence:
    """Read sequence ``index`` of a got10k dataset object and find its usable frames.

    Raises :class:`SiamtrackError` naming the groundtruth file when its length does not match the
    frames (or a label file's length does not match the groundtruth).
    """
    label = _sequence_label(dataset, index)
    try:
        item = dataset[index]
    except AssertionError:  # got10k asserts len(img_files) == len(anno)
        raise SiamtrackError(f"groundtruth file {label} does not have one box per frame") from None
    except (OSError, ValueError) as exc:
        raise SiamtrackError(f"cannot read groundtruth file {label}: {exc}") from None
    img_files, anno = item[0], np.asarray(item[1], dtype=np.float64).reshape(-1, 4)
    meta = item[2] if len(item) > 2 and isinstance(item[2], dict) else None
    if len(img_files) != len(anno):
        raise SiamtrackError(f"groundtruth file {label} has {len(anno)} boxes for {len(img_files)} frames")
    for name in LABELS:
        if meta is not None and name in meta and np.asarray(meta[name]).size != len(anno):
            raise SiamtrackError(f"the {name} labels beside {label} have {np.asarray(meta[name]).size} rows "
                                 f"for {len(anno)} boxes")
    usable = np.flatnonzero(usable_boxes(anno, image_size(img_files[0]), limits, meta)) if len(anno) else np.empty(0, int)
    name = Path(img_files[0]).parent.name if len(img_files) else label
    object_class = str(meta.get("object_class", "")) if meta is not None else ""
    return VideoSequence(name, np.array([os.fsencode(f) for f in img_files]), anno, usable, object_class)


def sample_frame_pair(usable: np.ndarray, max_gap: int, rng: np.random.Generator) -> tuple[int, int]:
    """Exemplar and search frame indices: both usable, at most ``max_gap`` frames apart (either order)."""
    z = int(rng.choice(usable))
    near = usable[np.abs(usable - z) <= max_gap]
    return z, int(rng.choice(near))


class VideoPairs:
    """Pairs of frames of one target from a video dataset (any got10k dataset object).

    Sequences without a usable frame (e.g. target absent throughout) are skipped with a log line.
    """

    kind = "video"

    def __init__(self, dataset: Any, limits: BoxLimits, max_gap: int) -> None:
        self.max_gap = max_gap
        sequences = [load_sequence(dataset, i, limits) for i in range(len(dataset))]
        self.sequences = [s for s in sequences if len(s.usable)]
        self.probabilities: np.ndarray | None = None  # per sequence; None: uniform
        skipped = [s.name for s in sequences if not len(s.usable)]
        if skipped:
            log.info("skipped %d sequence(s) without a usable frame: %s", len(skipped), ", ".join(skipped[:10]))
        if not self.sequences:
            raise SiamtrackError(f"no sequence of the {len(sequences)} in the video dataset has a usable frame")

    @classmethod
    def combine(cls, parts: Sequence["VideoPairs"], weights: Sequence[float] = ()) -> "VideoPairs":
        """The sequences of several datasets (e.g. GOT-10k, LaSOT and one's own footage) as one source.

        ``weights`` gives each part's share of the pairs (a part's sequences share it equally); empty
        means every sequence is equally likely, as if the parts were one dataset.
        """
        combined = copy.copy(parts[0])
        combined.sequences = [s for part in parts for s in part.sequences]
        combined.probabilities = None
        if len(weights):
            shares = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
            combined.probabilities = np.concatenate([np.full(len(part), share / len(part))
                                                     for part, share in zip(parts, shares)])
        return combined

    def __len__(self) -> int:
        return len(self.sequences)

    def sample(self, rng: np.random.Generator) -> PairSample:
        """A random pair: a sequence (uniformly, or by ``probabilities``), then two usable frames within ``max_gap``."""
        if self.probabilities is None:
            sequence = self.sequences[rng.integers(len(self.sequences))]
        else:
            sequence = self.sequences[rng.choice(len(self.sequences), p=self.probabilities)]
        z, x = sample_frame_pair(sequence.usable, self.max_gap, rng)
        return PairSample(read_image(sequence.frame(z)), sequence.boxes[z],
                          read_image(sequence.frame(x)), sequence.boxes[x], self.kind)

    def frame(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random usable frame of sequence ``index`` and its box."""
        sequence = self.sequences[index]
        frame = int(rng.choice(sequence.usable))
        return read_image(sequence.frame(frame)), sequence.boxes[frame]


@dataclass(frozen=True)
class StillBox:
    """One object in a photograph: image path, class name, box ``(x, y, w, h)``."""

    image: str
    label: str
    box: tuple[float, float, float, float]


def read_still_set(folder: str | Path, limits: BoxLimits) -> list[StillBox]:
    """The usable boxes of a still-image set (``images/`` + ``boxes.tsv``)."""
    folder = Path(folder)
    table = folder / "boxes.tsv"
    if not table.is_file() or not (folder / "images").is_dir():
        raise SiamtrackError(f"{folder} is not a still-image set (images/ and boxes.tsv)")
    try:
        with table.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        entries = [(str(folder / "images" / r["image"]), r["class"],
                    tuple(float(r[k]) for k in ("x", "y", "w", "h"))) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise SiamtrackError(f"{table}: expected columns image, class, x, y, w, h ({exc})") from None
    by_image: dict[str, list[tuple[str, tuple]]] = defaultdict(list)
    for path, label, box in entries:
        by_image[path].append((label, box))
    boxes = []
    for path, objects in by_image.items():
        if not Path(path).is_file():
            continue
        keep = usable_boxes(np.array([b for _, b in objects]), image_size(path), limits, border_cuts=False)
        boxes += [StillBox(path, label, box) for (label, box), ok in zip(objects, keep) if ok]
    return boxes


def open_still_sets(folders: Sequence[str | Path], limits: BoxLimits) -> list[StillBox]:
    """Usable boxes of every still-image set that exists; a missing set is a warning, not an error."""
    boxes: list[StillBox] = []
    for folder in folders:
        path = resources.resolve(folder)
        if not path.exists():
            log.warning("still-image set %s not found: skipped", path)
            continue
        found = read_still_set(path, limits)
        log.info("still-image set %s: %d usable boxes", path, len(found))
        boxes += found
    return boxes


@lru_cache(maxsize=16)
def cached_image(path: str) -> np.ndarray:
    """A photograph reused by several pairs (stills, synthetic scenes); a few kept per process."""
    image = read_image(path)
    image.flags.writeable = False
    return image


class StillPairs:
    """Two differently augmented crops of the same object in one photograph (as SiamRPN++ uses COCO/DET)."""

    kind = "stills"

    def __init__(self, boxes: list[StillBox]) -> None:
        if not boxes:
            raise SiamtrackError("no usable box in the still-image sets")
        self.boxes = boxes

    def __len__(self) -> int:
        return len(self.boxes)

    def sample(self, rng: np.random.Generator) -> PairSample:
        still = self.boxes[rng.integers(len(self.boxes))]
        image, box = cached_image(still.image), np.asarray(still.box)
        return PairSample(image, box, image, box, self.kind)


class NegativePairs:
    """An exemplar of one target and a search crop centred on another (SiamRPN++'s negative pairs).

    The other object is of the same class when one exists, with chance ``same_class`` (DaSiamRPN's
    semantic negatives: look-alikes the network must tell apart), else any. Objects are the video
    sequences (one target each) and the still-image boxes; the search crop holds no positive cell,
    so the pairs teach a low score where the target is not, whatever sits in the middle.
    """

    kind = "negative"

    def __init__(self, videos: VideoPairs | None, stills: list[StillBox], same_class: float = 0.5) -> None:
        self.videos, self.stills, self.same_class = videos, stills, same_class
        labels = [s.label for s in videos.sequences] if videos is not None else []
        self.labels = labels + [b.label for b in stills]
        if len(self.labels) < 2:
            raise SiamtrackError("negative pairs need at least two objects (sequences or still-image boxes)")
        by_label: dict[str, list[int]] = defaultdict(list)
        for i, label in enumerate(self.labels):
            by_label[label].append(i)
        self.by_label = dict(by_label)

    def __len__(self) -> int:
        return len(self.labels)

    def _object(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        videos = len(self.videos) if self.videos is not None else 0
        if index < videos:
            return self.videos.frame(index, rng)
        still = self.stills[index - videos]
        return cached_image(still.image), np.asarray(still.box)

    def sample(self, rng: np.random.Generator) -> PairSample:
        target = int(rng.integers(len(self.labels)))
        alike = [i for i in self.by_label[self.labels[target]] if i != target] if self.labels[target] else []
        if alike and rng.random() < self.same_class:
            other = alike[int(rng.integers(len(alike)))]
        else:
            other = int(rng.integers(len(self.labels) - 1))
            other += other >= target
        z_image, z_box = self._object(target, rng)
        x_image, x_box = self._object(other, rng)
        return PairSample(z_image, z_box, x_image, x_box, self.kind)
