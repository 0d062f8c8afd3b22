"""Synthetic tracking clips with exact ground truth: one renderer for the demo and for training.

A scene is a background plus *actors*: sprites (a BGR texture and an alpha mask) that move along
smooth paths, scale and rotate. One actor is the target; the others are distractors of the same
kind, drawn behind it or in front of it (occlusion). The demo fills sprites with procedural
textures (no input files needed); training cuts them from real photographs
(:func:`photo_sprite`) and pastes them over other photographs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

DEMO_SIZE = (480, 360)  # width, height of the demo clip


@dataclass(frozen=True)
class Sprite:
    """An object to paste: ``texture`` (hxwx3 uint8 BGR) and ``alpha`` (hxw float32 in [0, 1])."""

    texture: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class Path:
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
    path: Path
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


def _paste(canvas: np.ndarray, cover: np.ndarray, actor: Actor, t: float) -> np.ndarray | None:
    """Alpha-blend ``actor`` at frame ``t`` into ``canvas`` (in place); returns its full-frame alpha.

    ``cover`` (HxW float32) accumulates the opacity drawn so far, for visibility; ``None`` means the
    actor lies wholly outside the frame.
    """
    height, width = canvas.shape[:2]
    sprite_h, sprite_w = actor.sprite.alpha.shape
    centre, scale, angle = actor.path.at(t)
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
    region = canvas[y0:y1, x0:x1]
    a = alpha[..., None]
    region[:] = (region * (1 - a) + texture * a).astype(np.float32)
    cover[y0:y1, x0:x1] = cover[y0:y1, x0:x1] * (1 - alpha) + alpha
    full = np.zeros((height, width), np.float32)
    full[y0:y1, x0:x1] = alpha
    return full


def render(scene: Scene, t: float) -> RenderedFrame:
    """Draw ``scene`` at frame ``t``: distractors behind, the target, then distractors in front.

    The box is the tight box of the target's mask (alpha > 0.5) clipped to the frame, whether or
    not a distractor hides part of it (as GOT-10k annotates occluded targets).
    """
    canvas = scene.background.astype(np.float32)
    cover = np.zeros(canvas.shape[:2], np.float32)
    for actor in scene.distractors:
        if not actor.in_front:
            _paste(canvas, cover, actor, t)
    target_alpha = _paste(canvas, np.zeros_like(cover), scene.target, t)
    front = np.zeros_like(cover)
    for actor in scene.distractors:
        if actor.in_front:
            _paste(canvas, front, actor, t)
    image = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
    if target_alpha is None or not (target_alpha > 0.5).any():
        return RenderedFrame(image, np.full(4, np.nan), 0.0)
    x, y, w, h = cv2.boundingRect((target_alpha > 0.5).astype(np.uint8))
    visibility = float((target_alpha * (1 - front)).sum() / max(target_alpha.sum(), 1e-6))
    return RenderedFrame(image, np.array([x, y, w, h], np.float64), visibility)


def render_clip(scene: Scene, num_frames: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames ``0 .. num_frames - 1`` of ``scene`` and the target's ``(N, 4)`` boxes."""
    rendered = [render(scene, t) for t in range(num_frames)]
    return [r.image for r in rendered], np.stack([r.box for r in rendered])


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
    target_path = Path(start=(width / 2, height / 2), amplitudes=((120.0, 0.0), (0.0, 60.0)),
                       freqs=(omega, 2 * omega), phases=((np.pi / 2, 0.0), (0.0, 0.0)),
                       scale=1.0, scale_wobble=0.35, scale_freq=omega, angle=0.0, spin=15.0 / max(num_frames, 1))
    # The distractor crosses the frame in a straight line, passing just below the target mid-clip.
    middle = num_frames / 2
    meet, meet_scale, _ = target_path.at(middle)
    velocity = np.array([-300.0 / max(num_frames, 1), 0.0])
    start = meet + np.array([0.0, 42 * meet_scale * 1.4]) - velocity * middle
    distractor_path = Path(start=tuple(start), velocity=tuple(velocity), scale=meet_scale)
    scene = Scene(background, Actor(target, target_path), (Actor(lookalike, distractor_path),))
    return render_clip(scene, num_frames)
