"""Training pairs: a mix of video, still-image and synthetic sources as one torch ``Dataset``.

Items are keyed ``(epoch, i)``; pair ``i`` of epoch ``e`` is drawn from its own random generator
seeded by ``(seed, e, i)``: the same pairs come out whatever the number of DataLoader workers or
processes, and a resumed run sees exactly the pairs an uninterrupted one would. Keys carry the
epoch so that persistent DataLoader workers need no state from the main process.
"""
from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from siamtrack.config import Config
from siamtrack.data.datasets import (BoxLimits, NegativePairs, PairSample, StillPairs, VideoPairs,
                                     open_got10k_split, open_still_sets)
from siamtrack.data.synthetic import SyntheticPairs
from siamtrack.data.transforms import PairTransform
from siamtrack.errors import SiamtrackError

log = logging.getLogger(__name__)


class PairSource(Protocol):
    """Anything that draws a :class:`PairSample` from a random generator."""

    def sample(self, rng: np.random.Generator) -> PairSample: ...


class PairDataset(Dataset):
    """``pairs_per_epoch`` pairs per epoch drawn from ``sources`` in the proportions of ``mix``.

    ``dataset[(epoch, i)]`` is ``(z, x, box)``: uint8 CHW tensors of the exemplar (127 px) and search
    crop, and the target's box in the search crop (see :class:`PairTransform`).
    """

    def __init__(self, sources: Mapping[str, PairSource], mix: Mapping[str, float], transform: PairTransform,
                 length: int, seed: int = 0) -> None:
        kinds = [k for k in sources if mix.get(k, 0) > 0]
        if not kinds:
            raise SiamtrackError("no pair source left with a positive share in data.mix")
        weights = np.array([float(mix[k]) for k in kinds])
        self.kinds, self.weights = kinds, weights / weights.sum()
        self.sources = dict(sources)
        self.transform = transform
        self.length = int(length)
        self.seed = seed

    def __len__(self) -> int:
        """Pairs per epoch."""
        return self.length

    def sample(self, key: tuple[int, int]) -> PairSample:
        """The uncropped pair behind item ``(epoch, i)``."""
        return self._draw(key)[0]

    def _draw(self, key: tuple[int, int]) -> tuple[PairSample, np.random.Generator]:
        epoch, index = key
        rng = np.random.default_rng((self.seed, epoch, index))
        kind = self.kinds[rng.choice(len(self.kinds), p=self.weights)]
        return self.sources[kind].sample(rng), rng

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sample, rng = self._draw(key)
        return self.transform(sample, rng)


class PairSampler(DistributedSampler):
    """This process's share of an epoch's pairs, as ``(epoch, i)`` keys; the first ``skip`` are left out.

    ``set_epoch(e)`` picks the epoch, ``skip`` lets a resumed run start mid-epoch. The pairs are
    already random, so they are taken in order (rank ``r`` of ``n`` gets ``r, r + n, ...``).
    """

    def __init__(self, dataset: PairDataset, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=True)
        self.skip = 0

    def __iter__(self):
        return ((self.epoch, i) for i in itertools.islice(super().__iter__(), self.skip, None))

    def __len__(self) -> int:
        return max(super().__len__() - self.skip, 0)


def data_roots(roots: str | Path | Sequence[str | Path]) -> list[Path]:
    """One GOT-10k-layout root or several, as a list of paths."""
    return [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]


def open_videos(roots: Sequence[Path], cfg: Config) -> VideoPairs:
    """The video pairs of the ``train/`` splits of ``roots``, shared out by ``cfg.data.root_weights``."""
    limits, parts = BoxLimits.from_config(cfg.data), []
    for root in roots:
        train = root / "train"
        if not (train / "list.txt").is_file():
            raise SiamtrackError(f"--data {root} is not a GOT-10k-layout root: no {train}/list.txt")
        parts.append(VideoPairs(open_got10k_split(train), limits, cfg.data.max_frame_gap))
        log.info("video: %d usable sequences in %s", len(parts[-1]), train)
    if len(parts) == 1:
        return parts[0]
    names = [s.name for part in parts for s in part.sequences]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        log.warning("sequence name(s) in more than one data root: %s (the same footage twice?)", ", ".join(clashes[:10]))
    return VideoPairs.combine(parts, cfg.data.root_weights)


def build_sources(cfg: Config, roots: str | Path | Sequence[str | Path]) -> dict[str, PairSource]:
    """The pair sources ``cfg.data.mix`` asks for; video from the ``train/`` splits of ``roots`` (GOT-10k layout).

    A missing still-image set, or a synthetic source without photographs to cut from, is a
    warning: the mix is renormalised over the sources that remain. Negative pairs draw their
    objects from the video sequences and the still-image boxes together.
    """
    data = cfg.data
    data.validate()
    if data.mix.get("negative", 0) > 0 and cfg.model.head != "box":
        raise SiamtrackError(f"data.mix 'negative' needs a head that reads the target's box from each pair "
                             f"(model.head 'box'); '{cfg.model.head}' assumes the target in the middle of every crop")
    wanted = {kind for kind, share in data.mix.items() if share > 0}
    limits = BoxLimits.from_config(data)
    sources: dict[str, PairSource] = {}
    videos = None
    if wanted & {"video", "negative"}:
        videos = open_videos(data_roots(roots), cfg)
        if "video" in wanted:
            sources["video"] = videos
    boxes = open_still_sets(data.stills, limits) if wanted & {"stills", "synthetic", "negative"} else []
    if wanted & {"stills", "synthetic"} and not boxes:
        log.warning("no still-image set found (data.stills = %s): still and synthetic pairs disabled "
                    "(point data.stills at images/ + boxes.tsv folders to use them)", data.stills)
    if boxes and "stills" in wanted:
        sources["stills"] = StillPairs(boxes)
    if boxes and "synthetic" in wanted:
        sources["synthetic"] = SyntheticPairs(boxes, limits, data.synthetic_gap, data.synthetic_distractors)
    if "negative" in wanted:
        sources["negative"] = NegativePairs(videos, boxes, data.negative_same_class)
    return sources


def build_pair_dataset(cfg: Config, roots: str | Path | Sequence[str | Path]) -> PairDataset:
    """The training pairs of a run: sources from ``cfg.data`` and ``roots``, crops as the tracker cuts them."""
    return PairDataset(build_sources(cfg, roots), cfg.data.mix, PairTransform.from_config(cfg.data, cfg.tracker),
                       cfg.data.pairs_per_epoch, cfg.train.seed)
