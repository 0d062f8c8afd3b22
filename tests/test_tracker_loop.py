"""The tracker loop's geometry, with the parameter-free template matcher (no training involved).

A textured target translates and grows over a smooth, low-contrast background: a correct loop
follows it within a few pixels; a sign error, an x/y swap or a wrong scale update loses it.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from siamtrack.evaluation.metrics import center_error
from siamtrack.tracking.geometry import cxcywh_to_xywh

FRAME_SIZE = (400, 300)  # width, height
NUM_FRAMES = 24
START = np.array([90.0, 80.0, 60.0, 40.0])  # cx, cy, w, h
VELOCITY = np.array([6.0, 3.0])  # px/frame
GROWTH = 1.01  # per frame


def moving_target_clip() -> tuple[list[np.ndarray], np.ndarray]:
    """Frames (BGR uint8) and ground-truth (x, y, w, h) boxes of the translating, growing target."""
    rng = np.random.default_rng(0)
    width, height = FRAME_SIZE
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = 110 + 12 * np.sin(xx / 47.0) + 10 * np.cos(yy / 31.0 + xx / 90.0)
    background = np.repeat(background[..., None], 3, axis=2)
    texture = cv2.resize(rng.uniform(0, 255, (10, 15, 3)).astype(np.float32), (150, 100),
                         interpolation=cv2.INTER_NEAREST)
    frames, boxes = [], []
    for t in range(NUM_FRAMES):
        center = START[:2] + VELOCITY * t
        size = START[2:] * GROWTH ** t
        box = cxcywh_to_xywh(np.concatenate([center, size]))
        # Resample the texture into the box with sub-pixel accuracy: texture (u, v) -> image (x, y).
        scale = size / np.array([150.0, 100.0])
        matrix = np.array([[scale[0], 0.0, box[0] - 0.5 + scale[0] / 2],
                           [0.0, scale[1], box[1] - 0.5 + scale[1] / 2]])
        patch = cv2.warpAffine(texture, matrix, FRAME_SIZE, flags=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(np.ones((100, 150), np.float32), matrix, FRAME_SIZE, flags=cv2.INTER_LINEAR)
        frame = background * (1 - mask[..., None]) + patch * mask[..., None]
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        boxes.append(box)
    return frames, np.array(boxes)


@pytest.fixture(scope="module")
def clip() -> tuple[list[np.ndarray], np.ndarray]:
    return moving_target_clip()


def test_tracker_follows_a_translating_growing_target(pixel_tracker, clip) -> None:
    frames, truth = clip
    pixel_tracker.init(frames[0], truth[0])
    predicted = np.array([truth[0]] + [pixel_tracker.update(frame) for frame in frames[1:]])
    errors = center_error(predicted, truth)
    assert errors.mean() < 3.0, errors.round(1)
    assert errors.max() < 6.0, errors.round(1)
    # The box grows with the target (35% over the clip): width and height within 10% at the end.
    np.testing.assert_allclose(predicted[-1, 2:], truth[-1, 2:], rtol=0.1)
    assert predicted[-1, 2] > 1.1 * truth[0, 2]


def test_several_targets_are_tracked_in_one_pass_like_one_by_one(pixel_tracker, clip) -> None:
    frames, truth = clip
    other = np.array([250.0, 200.0, 50.0, 50.0])  # a patch of static background
    pixel_tracker.init(frames[0], [truth[0], other])
    together = np.array([pixel_tracker.update(frame) for frame in frames[1:6]])
    pixel_tracker.init(frames[0], truth[0])
    alone = np.array([pixel_tracker.update(frame) for frame in frames[1:6]])
    assert together.shape == (5, 2, 4)
    np.testing.assert_allclose(together[:, 0], alone, atol=1e-6)


def test_api_keeps_the_value_scale_of_the_first_16_bit_frame(pixel_tracker) -> None:
    """A 12-bit video with one hot pixel in a later frame: that frame is not darkened 16x (issue 27, item 16)."""
    frame = np.full((64, 64, 3), 2048, np.uint16)  # 12-bit data: mid-grey
    pixel_tracker.init(frame, (20, 20, 16, 16))
    hot = frame.copy()
    hot[0, 0] = 65535
    assert pixel_tracker.frame_format.convert(hot)[10, 10, 0] == pixel_tracker.frame_format.convert(frame)[10, 10, 0]
    pixel_tracker.update(hot)  # accepted, on the first frame's scale
