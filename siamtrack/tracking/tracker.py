"""What every siamtrack tracker is: ``init(frame, box)`` / ``update(frame)`` over one or many targets.

The base class owns everything the loops share: frame conversion, box checks, the exemplar
kernels (one batched pass for all targets), the search-region bookkeeping, ``score`` and the
score maps of the last frame for ``--show-response``, and ``present`` (long-term mode's
present/absent decision and whole-frame search: :mod:`siamtrack.tracking.redetect`). Loops
(``siamfc``: the scale pyramid; ``boxes``: the box head's single search) implement
:meth:`SiameseTracker._search`. It is also a
``got10k.trackers.Tracker``, so the got10k experiments run any loop as it is.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from got10k.trackers import Tracker

from siamtrack.config import TrackerConfig
from siamtrack.data.images import FrameFormat, to_bgr
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet
from siamtrack.tracking.backends import build_backend
from siamtrack.tracking.files import track_files
from siamtrack.tracking.geometry import context_size, crop_square, cxcywh_to_xywh
from siamtrack.tracking.redetect import Presence

Box = Sequence[float]
MAX_BOX_FRAMES = 100  # a box side may be at most this many times the frame's longer side
MIN_BOX_SIDE = 0.01  # pixels: smaller sides are not boxes in pixels (normalised coordinates?)


def validate_box(box: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Check one ``(x, y, w, h)`` box against a frame; raise :class:`SiamtrackError` if unusable."""
    try:
        values = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SiamtrackError(f"box {box!r} is not four numbers x,y,w,h") from None
    if values.size != 4:
        raise SiamtrackError(f"box {box!r} must have four numbers x,y,w,h, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise SiamtrackError(f"box {tuple(values.tolist())} contains NaN or infinity")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise SiamtrackError(f"box {tuple(values.tolist())} has width or height <= 0")
    height, width = frame_shape[:2]
    if max(w, h) > MAX_BOX_FRAMES * max(width, height):
        raise SiamtrackError(f"box {tuple(values.tolist())} is more than {MAX_BOX_FRAMES} times the size of the "
                             f"{width}x{height} frame: too large to track (boxes are x,y,w,h in pixels)")
    if min(w, h) < MIN_BOX_SIDE:
        raise SiamtrackError(f"box {tuple(values.tolist())} has a side under {MIN_BOX_SIDE} pixel: too small to "
                             "track (boxes are x,y,w,h in pixels, not fractions of the frame)")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise SiamtrackError(f"box {tuple(values.tolist())} lies wholly outside the {width}x{height} frame")
    return values


class SiameseTracker(Tracker):
    """A Siamese tracker over one or many targets; subclasses implement one frame's search.

    Args:
        net: the Siamese network (its weights are used as they are; the tracker sets eval mode).
        cfg: tracking hyper-parameters, inference backend included.
        device: where the network runs.
        name: the name got10k reports results under.
    """

    def __init__(self, net: SiameseNet, cfg: TrackerConfig, device: torch.device | str = "cpu",
                 name: str = "siamtrack") -> None:
        super().__init__(name=name, is_deterministic=True)
        cfg.validate()
        self.cfg = cfg
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.backend = build_backend(self.net, cfg, self.device)
        self.score: float | np.ndarray = 0.0
        self._responses: list[torch.Tensor] = []
        self._response_cache: np.ndarray | list[np.ndarray] | None = None
        self._single = True
        self._started = False

    @property
    def present(self) -> bool | np.ndarray:
        """Whether each target is in the picture: a bool, or an ``(N,)`` array for many targets.

        Decided in long-term mode (``tracker.longterm``, :mod:`siamtrack.tracking.redetect`) from the
        score with hysteresis; always True otherwise. False before :meth:`init`.
        """
        if not self._started:
            return False
        return bool(self.presence.present[0]) if self._single else self.presence.present.copy()

    @property
    def response(self) -> np.ndarray | list[np.ndarray] | None:
        """Score maps of each target in the last frame, as :meth:`response_cells` places them.

        ``(N, U, U)``; a list of per-target maps in the frames where re-detection searched some
        targets at a larger size than others. Copied from the device only when asked for.
        """
        if self._response_cache is None and self._responses:
            maps = [r.cpu().numpy() for r in self._responses]
            same = len({m.shape for m in maps}) == 1
            self._response_cache = np.stack(maps) if same else maps
        return self._response_cache

    def response_cells(self, target: int) -> tuple[float, float]:
        """``(cell, first)`` of ``target``'s last response: the side of one cell and the position of
        cell 0's centre from the search crop's centre, both in search-crop pixels."""
        raise NotImplementedError

    @torch.inference_mode()
    def init(self, image: Any, box: Box | Sequence[Box]) -> None:
        """Start tracking ``box`` (or a list of boxes) on ``image`` (BGR ndarray, PIL image, HxWx3 tensor)."""
        self._started = False
        # 16-bit and float frames keep the value scale of the first frame of their dtype (a hot pixel
        # or a dark frame later does not rescale the video).
        self.frame_format = FrameFormat("the tracked video")
        frame = to_bgr(image, self.frame_format)
        boxes = np.asarray(box, dtype=object)
        self._single = boxes.ndim == 1 or (boxes.ndim == 0)
        box_list = [box] if self._single else list(box)
        if not box_list:
            raise SiamtrackError("no box given")
        xywh = np.stack([validate_box(b, frame.shape) for b in box_list])
        self.center = xywh[:, :2] + xywh[:, 2:] / 2
        self.target_size = xywh[:, 2:].copy()
        self.avg_color = frame.reshape(-1, 3).mean(axis=0)
        z_size = context_size(self.target_size, self.cfg.context)
        self.x_size = z_size * self.cfg.instance_size / self.cfg.exemplar_size
        self.x_size_limits = np.stack([self.cfg.min_scale * self.x_size, self.cfg.max_scale * self.x_size])
        self.image_size = np.array(frame.shape[1::-1], dtype=np.float64)
        crops = np.stack([crop_square(frame, c, s, self.cfg.exemplar_size, self.avg_color)
                          for c, s in zip(self.center, z_size)])
        self.kernel = self.backend.embed(crops)
        self.first_kernel = self.kernel
        self.since_template = np.zeros(len(box_list), dtype=int)
        num_targets = len(box_list)
        self.scores = np.ones(num_targets)
        self.score = 1.0 if self._single else self.scores.copy()
        self.search_side = self.x_size.copy()
        self.crop_sizes = np.full(num_targets, self.cfg.instance_size)
        self._responses, self._response_cache = [], None
        self.presence = Presence(self.target_size)
        self._start(frame, num_targets)
        self._started = True

    def _start(self, frame: np.ndarray, num_targets: int) -> None:
        """Per-target state of a loop, set when tracking starts on ``frame``."""

    def _kernels(self, targets: np.ndarray) -> Any:
        """The exemplar kernels of ``targets`` (all of them without copying when every target is searched)."""
        return self.kernel if len(targets) == len(self.center) else self.kernel[targets]

    def _crop_sizes(self) -> np.ndarray:
        """Search-crop size of each target this frame: wider for those lost in the last one."""
        sizes = np.full(len(self.center), self.cfg.instance_size)
        if self.cfg.redetect_instance_size:
            sizes[self.scores < self.cfg.redetect_below] = self.cfg.redetect_instance_size
        return sizes

    def track(self, img_files: Sequence[str], box: Box, visualize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """got10k's one-pass loop over image files (boxes, per-frame seconds), with frames read as
        ``siamtrack track`` reads them (16-bit grayscale included): see :func:`track_files`."""
        return track_files(self, img_files, box, visualize)

    @torch.inference_mode()
    def update(self, image: Any) -> np.ndarray:
        """Locate the target(s) in the next frame: ``(x, y, w, h)`` or an ``(N, 4)`` array."""
        if not self._started:
            raise SiamtrackError("update() was called before init(): start with tracker.init(first_frame, box)")
        frame = to_bgr(image, self.frame_format)
        width, height = int(self.image_size[0]), int(self.image_size[1])
        if frame.shape[:2] != (height, width):
            raise SiamtrackError(f"update(): the frame is {frame.shape[1]}x{frame.shape[0]}, but tracking started on "
                                 f"a {width}x{height} frame: give frames of one size (resize them to {width}x{height}), "
                                 "or call init() again to start on the new size")
        self.crop_sizes = self._crop_sizes()
        held = self.presence.hold(self) if self.cfg.longterm else None
        responses: list[torch.Tensor | None] = [None] * len(self.center)
        for crop_size in np.unique(self.crop_sizes):
            targets = np.flatnonzero(self.crop_sizes == crop_size)
            for t, response in zip(targets, self._search(frame, targets, int(crop_size))):
                responses[t] = response
        self._responses, self._response_cache = responses, None
        self.center = np.clip(self.center, 0, self.image_size)
        if held is not None:
            self.presence.step(self, frame, held)
        if self.cfg.template_rate > 0:
            self._refresh_templates(frame)
        boxes = cxcywh_to_xywh(np.concatenate([self.center, self.target_size], axis=1))
        if self._single:
            self.score = float(self.scores[0])
            return boxes[0]
        self.score = self.scores.copy()
        return boxes

    def _refresh_templates(self, frame: np.ndarray) -> None:
        """Blend this frame's exemplar into the kernels of confidently tracked, present targets (``template_rate``)."""
        cfg = self.cfg
        self.since_template += 1
        confident = (self.scores >= cfg.template_min_score) & self.presence.present
        targets = np.flatnonzero((self.since_template >= cfg.template_every) & confident)
        if not len(targets):
            return
        z_size = context_size(self.target_size[targets], cfg.context)
        crops = np.stack([crop_square(frame, self.center[t], s, cfg.exemplar_size, self.avg_color)
                          for t, s in zip(targets, z_size)])
        if self.kernel is self.first_kernel:
            self.kernel = self.kernel.copy() if isinstance(self.kernel, np.ndarray) else self.kernel.clone()
        self.kernel[targets] = (1 - cfg.template_rate) * self.first_kernel[targets] + cfg.template_rate * self.backend.embed(crops)
        self.since_template[targets] = 0

    def _search(self, frame: np.ndarray, targets: np.ndarray, crop_size: int) -> torch.Tensor:
        """Search ``targets`` in ``crop_size`` px crops of ``frame``; move their centres and sizes,
        set their scores and search sides; return their score maps ``(len(targets), U, U)``."""
        raise NotImplementedError
