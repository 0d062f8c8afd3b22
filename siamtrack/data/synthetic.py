"""Synthetic tracking clips with exact ground truth: one renderer for the demo and for training.

A scene is a background plus *actors*: sprites (a BGR texture and an alpha mask) that move along
smooth paths, scale and rotate. One actor is the target; the others are distractors of the same
kind, drawn behind it or in front of it (occlusion). The demo fills sprites with procedural
textures (no input files needed); training cuts them from real photographs
(:func:`photo_sprite`) and pastes them over other photographs.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from siamtrack.data.datasets import BoxLimits, PairSample, StillBox, cached_image, usable_boxes

DEMO_SIZE = (480, 360)  # width, height of the demo clip


@dataclass(frozen=True)
class Sprite:
    """An object to paste: ``texture`` (hxwx3 uint8 BGR) and ``alpha`` (hxw float32 in [0, 1])."""

    texture: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class Motion:
    """Smooth motion of one actor as a function of the frame index ``t``.

    Centre: ``start + velocity * t + sum_k amplitude_k * sin(freq_k * t + phase_k)`` (pixels);
    scale (output pixels per sprite pixel): ``scale * exp(scale_rate * t + scale_wobble * sin(scale_freq * t))``;
    rotation (degrees, counter-clockwise): ``angle + spin * t``.
    """

    start: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    amplitudes: tuple[tuple[float, float], ...] = ()
    freqs: tuple[float, ...] = ()
    phases: tuple[tuple[float, float], ...] = ()
    scale: float = 1.0
    scale_rate: float = 0.0
    scale_wobble: float = 0.0
    scale_freq: float = 0.0
    angle: float = 0.0
    spin: float = 0.0

    def at(self, t: float) -> tuple[np.ndarray, float, float]:
        """``(centre (2,), scale, angle)`` at frame ``t``."""
        centre = np.asarray(self.start, dtype=np.float64) + np.asarray(self.velocity) * t
        for amplitude, freq, phase in zip(self.amplitudes, self.freqs, self.phases):
            centre = centre + np.asarray(amplitude) * np.sin(freq * t + np.asarray(phase))
        scale = self.scale * np.exp(self.scale_rate * t + self.scale_wobble * np.sin(self.scale_freq * t))
        return centre, float(scale), self.angle + self.spin * t


@dataclass(frozen=True)
class Actor:
    """A sprite on its path; ``in_front`` distractors are drawn over the target (occluders)."""

    sprite: Sprite
    motion: Motion
    in_front: bool = False


@dataclass(frozen=True)
class Scene:
    """A background (HxWx3 uint8 BGR) with a target and its distractors."""

    background: np.ndarray
    target: Actor
    distractors: tuple[Actor, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RenderedFrame:
    """One frame: the image, the target's box ``(x, y, w, h)`` and its visible fraction (0-1)."""

    image: np.ndarray
    box: np.ndarray
    visibility: float


@dataclass(frozen=True)
class _Warped:
    """An actor drawn at one frame: its texture and alpha over the frame region at ``(x0, y0)``."""

    x0: int
    y0: int
    texture: np.ndarray
    alpha: np.ndarray


def _warp(actor: Actor, t: float, frame_size: tuple[int, int]) -> _Warped | None:
    """Scale, rotate and place ``actor`` for frame ``t``; ``None`` when it lies wholly outside the frame."""
    width, height = frame_size
    sprite_h, sprite_w = actor.sprite.alpha.shape
    centre, scale, angle = actor.motion.at(t)
    # OpenCV addresses pixel centres by integer coordinates; our centres are continuous (i + 0.5).
    pivot = (sprite_w / 2 - 0.5, sprite_h / 2 - 0.5)
    matrix = cv2.getRotationMatrix2D(pivot, angle, scale)
    matrix[:, 2] += centre - 0.5 - np.asarray(pivot)
    corners = np.array([[0, 0, 1], [sprite_w, 0, 1], [0, sprite_h, 1], [sprite_w, sprite_h, 1]], np.float64)
    mapped = corners @ matrix.T
    x0, y0 = np.maximum(np.floor(mapped.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(mapped.max(axis=0)).astype(int) + 2, (width, height))
    if x1 <= x0 or y1 <= y0:
        return None
    matrix[:, 2] -= (x0, y0)
    size = (int(x1 - x0), int(y1 - y0))
    texture = cv2.warpAffine(actor.sprite.texture, matrix, size, flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(actor.sprite.alpha, matrix, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return _Warped(int(x0), int(y0), texture, alpha)


def _blend(canvas: np.ndarray, warped: _Warped) -> None:
    """Alpha-blend a warped actor into the uint8 ``canvas`` in place."""
    height, width = warped.alpha.shape
    region = canvas[warped.y0:warped.y0 + height, warped.x0:warped.x0 + width]
    a = warped.alpha[..., None]
    region[:] = (region * (1 - a) + warped.texture * a + 0.5).astype(np.uint8)


def _overlap(cover: np.ndarray, target: _Warped, occluder: _Warped) -> None:
    """Accumulate in ``cover`` (over the target's region) the opacity ``occluder`` lays on it."""
    height, width = target.alpha.shape
    oh, ow = occluder.alpha.shape
    x0, y0 = max(target.x0, occluder.x0), max(target.y0, occluder.y0)
    x1, y1 = min(target.x0 + width, occluder.x0 + ow), min(target.y0 + height, occluder.y0 + oh)
    if x1 <= x0 or y1 <= y0:
        return
    alpha = occluder.alpha[y0 - occluder.y0:y1 - occluder.y0, x0 - occluder.x0:x1 - occluder.x0]
    part = cover[y0 - target.y0:y1 - target.y0, x0 - target.x0:x1 - target.x0]
    part[:] = part * (1 - alpha) + alpha


def render(scene: Scene, t: float) -> RenderedFrame:
    """Draw ``scene`` at frame ``t``: distractors behind, the target, then distractors in front.

    The box is the tight box of the target's mask (alpha > 0.5) clipped to the frame, whether or
    not a distractor hides part of it (as GOT-10k annotates occluded targets).
    """
    canvas = scene.background.copy()
    frame_size = (canvas.shape[1], canvas.shape[0])
    for actor in scene.distractors:
        if not actor.in_front and (warped := _warp(actor, t, frame_size)) is not None:
            _blend(canvas, warped)
    target = _warp(scene.target, t, frame_size)
    if target is not None:
        _blend(canvas, target)
    cover = np.zeros_like(target.alpha) if target is not None else None
    for actor in scene.distractors:
        if actor.in_front and (warped := _warp(actor, t, frame_size)) is not None:
            _blend(canvas, warped)
            if target is not None:
                _overlap(cover, target, warped)
    if target is None or not (target.alpha > 0.5).any():
        return RenderedFrame(canvas, np.full(4, np.nan), 0.0)
    x, y, w, h = cv2.boundingRect((target.alpha > 0.5).astype(np.uint8))
    visibility = float((target.alpha * (1 - cover)).sum() / max(target.alpha.sum(), 1e-6))
    return RenderedFrame(canvas, np.array([x + target.x0, y + target.y0, w, h], np.float64), visibility)


def render_clip(scene: Scene, num_frames: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames ``0 .. num_frames - 1`` of ``scene`` and the target's ``(N, 4)`` boxes."""
    rendered = [render(scene, t) for t in range(num_frames)]
    return [r.image for r in rendered], np.stack([r.box for r in rendered])


def save_got10k_split(folder: str | Path, clips: Mapping[str, tuple[Sequence[np.ndarray], np.ndarray]]) -> Path:
    """Write clips ``{name: (frames, boxes)}`` as a GOT-10k split folder (e.g. ``root/val``).

    Frames become ``00000001.jpg ...``; a NaN box is written ``0,0,0,0`` and labelled absent.
    The folder reads back with ``got10k.datasets.GOT10k(root, subset, return_meta=True)``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frames, boxes) in clips.items():
        sequence = folder / name
        sequence.mkdir(exist_ok=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(sequence / f"{i + 1:08d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        absent = ~np.all(np.isfinite(boxes), axis=1)
        np.savetxt(sequence / "groundtruth.txt", np.where(absent[:, None], 0, boxes), fmt="%.2f", delimiter=",")
        np.savetxt(sequence / "absence.label", absent.astype(int), fmt="%d")
        np.savetxt(sequence / "cover.label", np.where(absent, 0, 8), fmt="%d")
        np.savetxt(sequence / "cut_by_image.label", np.zeros(len(boxes), int), fmt="%d")
        height, width = frames[0].shape[:2]
        (sequence / "meta_info.ini").write_text(
            f"[METAINFO]\nobject_class: synthetic\nresolution: ({width}, {height})\nsource_dataset: siamtrack synthetic\n")
    (folder / "list.txt").write_text("".join(f"{name}\n" for name in clips))
    return folder


def soft_ellipse(width: int, height: int, feather: float = 2.0) -> np.ndarray:
    """Alpha mask of the ellipse inscribed in a ``width`` x ``height`` box, edges blurred by ``feather`` px."""
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2), (max(width // 2 - 1, 1), max(height // 2 - 1, 1)),
                0, 0, 360, 1.0, thickness=-1, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), feather) if feather > 0 else mask


def soft_rectangle(width: int, height: int, feather: float = 1.5) -> np.ndarray:
    """Alpha mask filling a ``width`` x ``height`` box, edges blurred by ``feather`` px."""
    mask = np.zeros((height, width), np.float32)
    margin = int(np.ceil(feather))
    mask[margin:height - margin, margin:width - margin] = 1.0
    return cv2.GaussianBlur(mask, (0, 0), feather) if feather > 0 else mask


def noise_texture(rng: np.random.Generator, width: int, height: int, palette: np.ndarray,
                  cell: int = 8) -> np.ndarray:
    """Procedural BGR texture: smooth random blend of the ``palette`` colours (K, 3) plus fine grain."""
    coarse = rng.random((max(height // cell, 2), max(width // cell, 2), len(palette))).astype(np.float32)
    weights = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    weights = weights.reshape(height, width, len(palette)) ** 4
    weights /= weights.sum(axis=2, keepdims=True) + 1e-6
    texture = weights @ palette.astype(np.float32)
    texture += rng.normal(0, 12, texture.shape).astype(np.float32)
    return np.clip(texture, 0, 255).astype(np.uint8)


def procedural_sprite(rng: np.random.Generator, width: int, height: int, palette: np.ndarray) -> Sprite:
    """An elliptical blob with a striped noise texture in the colours of ``palette``."""
    texture = noise_texture(rng, width, height, palette, cell=max(min(width, height) // 5, 2))
    stripes = (np.sin(np.arange(width) * (2 * np.pi / max(width / 4, 1)) + rng.uniform(0, 6.3)) > 0.3)
    texture[:, stripes] = (texture[:, stripes] * 0.45).astype(np.uint8)
    return Sprite(texture, soft_ellipse(width, height))


def photo_sprite(image: np.ndarray, box: np.ndarray, elliptical: bool) -> Sprite:
    """Cut the object in ``box`` (x, y, w, h) out of a photograph, with a soft elliptical or box mask."""
    height, width = image.shape[:2]
    x0, y0 = int(max(np.floor(box[0]), 0)), int(max(np.floor(box[1]), 0))
    x1 = int(min(np.ceil(box[0] + box[2]), width))
    y1 = int(min(np.ceil(box[1] + box[3]), height))
    texture = np.ascontiguousarray(image[y0:y1, x0:x1])
    w, h = x1 - x0, y1 - y0
    feather = max(min(w, h) / 40, 0.8)
    return Sprite(texture, soft_ellipse(w, h, feather) if elliptical else soft_rectangle(w, h, feather))


def demo_sequence(num_frames: int = 80, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A synthetic clip with exact ground truth, needing no input files.

    A textured blob moves on a smooth loop over a textured background, grows and shrinks, turns a
    little, and passes close by a similar-looking distractor half-way through the clip.
    Returns ``num_frames`` BGR uint8 frames (480x360) and the target's ``(N, 4)`` float boxes
    ``(x, y, w, h)``. The same seed gives the same clip.
    """
    rng = np.random.default_rng(seed)
    width, height = DEMO_SIZE
    background = noise_texture(rng, width, height, rng.uniform(40, 200, (4, 3)), cell=24)
    palette = np.array([[30, 60, 220], [40, 200, 250], [250, 250, 250]], np.float32)  # red, yellow, white (BGR)
    target = procedural_sprite(rng, 56, 42, palette)
    lookalike = procedural_sprite(rng, 56, 42, palette)
    omega = 2 * np.pi / max(num_frames, 2)
    target_motion = Motion(start=(width / 2, height / 2), amplitudes=((120.0, 0.0), (0.0, 60.0)),
                       freqs=(omega, 2 * omega), phases=((np.pi / 2, 0.0), (0.0, 0.0)),
                       scale=1.0, scale_wobble=0.35, scale_freq=omega, angle=0.0, spin=15.0 / max(num_frames, 1))
    # The distractor crosses the frame in a straight line, passing just below the target mid-clip.
    middle = num_frames / 2
    meet, meet_scale, _ = target_motion.at(middle)
    velocity = np.array([-300.0 / max(num_frames, 1), 0.0])
    start = meet + np.array([0.0, 42 * meet_scale * 1.4]) - velocity * middle
    distractor_motion = Motion(start=tuple(start), velocity=tuple(velocity), scale=meet_scale)
    scene = Scene(background, Actor(target, target_motion), (Actor(lookalike, distractor_motion),))
    return render_clip(scene, num_frames)


def _random_motion(rng: np.random.Generator, start: np.ndarray, scale: float, unit: float) -> Motion:
    """A smooth random path: drift, one wobble, slow scale change and spin; ``unit`` = frame's short side."""
    speed, heading = rng.uniform(0, 0.012 * unit), rng.uniform(0, 2 * np.pi)
    return Motion(start=(float(start[0]), float(start[1])),
                velocity=(speed * np.cos(heading), speed * np.sin(heading)),
                amplitudes=(tuple(rng.uniform(0, 0.04 * unit, 2)),), freqs=(rng.uniform(0.05, 0.3),),
                phases=(tuple(rng.uniform(0, 2 * np.pi, 2)),),
                scale=scale, scale_rate=rng.uniform(-0.015, 0.015), angle=rng.uniform(-20, 20),
                spin=rng.uniform(-1.5, 1.5))


class SyntheticPairs:
    """Pairs rendered from scenes of photo cut-outs moving over other photographs.

    The target is an object cut from one photograph (box from a still-image set); its distractors
    are objects of the same class from other photographs (hard negatives), or recoloured copies of
    the target when its class has no other box. They move, scale, turn, and sometimes pass in
    front of the target. Both frames of a pair come from one scene, ``1 .. max_gap`` frames apart.
    """

    kind = "synthetic"

    def __init__(self, boxes: list[StillBox], limits: BoxLimits, max_gap: int = 20,
                 max_distractors: int = 3, occlusion_prob: float = 0.35) -> None:
        self.boxes = boxes
        self.limits = limits
        self.max_gap = max(int(max_gap), 1)
        self.max_distractors = max_distractors
        self.occlusion_prob = occlusion_prob
        self.images = sorted({b.image for b in boxes})
        by_label: dict[str, list[int]] = defaultdict(list)
        for i, box in enumerate(boxes):
            by_label[box.label].append(i)
        self.by_label = dict(by_label)

    def __len__(self) -> int:
        return len(self.boxes)

    def _sprite(self, rng: np.random.Generator, still: StillBox) -> Sprite:
        return photo_sprite(cached_image(still.image), np.asarray(still.box), elliptical=bool(rng.random() < 0.5))

    def _lookalike(self, rng: np.random.Generator, sprite: Sprite) -> Sprite:
        gain = rng.uniform(0.7, 1.3, 3).astype(np.float32)
        texture = np.clip(sprite.texture * gain, 0, 255).astype(np.uint8)
        return Sprite(cv2.flip(texture, 1), cv2.flip(sprite.alpha, 1))

    def scene(self, rng: np.random.Generator, gap: int) -> Scene:
        """A random scene whose distractors come close to the target within ``gap`` frames."""
        target_index = int(rng.integers(len(self.boxes)))
        still = self.boxes[target_index]
        others = [i for i in self.images if i != still.image] or self.images
        background = cached_image(others[int(rng.integers(len(others)))])
        if rng.random() < 0.5:
            background = cv2.flip(background, 1)
        height, width = background.shape[:2]
        unit = float(min(width, height))
        sprite = self._sprite(rng, still)
        side = rng.uniform(0.12, 0.35) * unit
        scale = max(side / max(sprite.alpha.shape), 1.5 * self.limits.min_box_size / min(sprite.alpha.shape))
        start = rng.uniform(0.25, 0.75, 2) * (width, height)
        target = Actor(sprite, _random_motion(rng, start, scale, unit))
        same_kind = [i for i in self.by_label[still.label] if i != target_index]
        distractors = []
        for _ in range(int(rng.integers(1, self.max_distractors + 1))):
            other = (self._sprite(rng, self.boxes[same_kind[int(rng.integers(len(same_kind)))]])
                     if same_kind else self._lookalike(rng, sprite))
            other_scale = side * rng.uniform(0.8, 1.25) / max(other.alpha.shape)
            meet_time = rng.uniform(0, gap)
            meet, _, _ = target.motion.at(meet_time)
            heading = rng.uniform(0, 2 * np.pi)
            meet = meet + rng.uniform(0.6, 1.6) * side * np.array([np.cos(heading), np.sin(heading)])
            motion = _random_motion(rng, meet, other_scale, unit)
            motion = replace(motion, start=tuple(meet - np.asarray(motion.velocity) * meet_time))
            distractors.append(Actor(other, motion, in_front=bool(rng.random() < self.occlusion_prob)))
        return Scene(background, target, tuple(distractors))

    def _usable(self, frame: RenderedFrame, min_visibility: float) -> bool:
        size = frame.image.shape[1::-1]
        return frame.visibility >= min_visibility and bool(usable_boxes(frame.box[None], size, self.limits)[0])

    def sample(self, rng: np.random.Generator) -> PairSample:
        """Render a scene at frame 0 and a later frame; retry scenes whose target leaves or hides."""
        for _ in range(10):
            gap = int(rng.integers(1, self.max_gap + 1))
            scene = self.scene(rng, gap)
            first, later = render(scene, 0), render(scene, gap)
            if self._usable(first, 0.9) and self._usable(later, 0.5):
                break
        else:
            still = Motion(start=scene.target.motion.start, scale=scene.target.motion.scale)
            scene = Scene(scene.background, Actor(scene.target.sprite, still))
            first, later = render(scene, 0), render(scene, 0)
        if rng.random() < 0.5:
            first, later = later, first
        return PairSample(first.image, first.box, later.image, later.box, self.kind)
