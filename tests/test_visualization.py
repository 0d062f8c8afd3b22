"""Overlays: the score map lands where it scores, drawing keeps the frame format, no-display errors."""
from __future__ import annotations

import numpy as np
import pytest

from siamtrack.config import ModelConfig, TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.models import build_model
from siamtrack.tracking.siamfc import SiamFCTracker
from siamtrack.visualization import SearchRegions, draw_response, draw_tracks, select_box

SHIFT = np.array([13.0, -7.0])


def two_frames() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured block on a smooth background, then the same block moved by SHIFT; and its box."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:240, 0:320]
    background = np.repeat((100 + 15 * np.sin(xx / 30.0) + 15 * np.cos(yy / 20.0))[..., None], 3, axis=2)
    block = rng.uniform(0, 255, (30, 40, 3))
    frames = []
    for x, y in ((140, 100), (140 + SHIFT[0], 100 + SHIFT[1])):
        frame = background.copy()
        frame[int(y):int(y) + 30, int(x):int(x) + 40] = block
        frames.append(frame.astype(np.uint8))
    return frames[0], frames[1], np.array([140.0, 100.0, 40.0, 30.0])


def test_response_peak_maps_to_the_tracked_centre() -> None:
    # No cosine window: the tracker's new centre is then exactly where its response peaks.
    tracker = SiamFCTracker(build_model(ModelConfig(backbone="pixels")), TrackerConfig(window_influence=0.0))
    first, second, box = two_frames()
    tracker.init(first, box)
    regions = SearchRegions(tracker)
    tracker.update(second)
    response = tracker.response[0]
    row, col = np.unravel_index(response.argmax(), response.shape)
    peak_position = regions.response_to_image(0) @ np.array([col, row, 1.0])
    np.testing.assert_allclose(peak_position, tracker.center[0], atol=1e-6)
    np.testing.assert_allclose(tracker.center[0] - regions.center[0], SHIFT, atol=2.0)

    overlay = draw_response(second, regions)
    assert overlay.shape == second.shape and overlay.dtype == np.uint8
    assert not np.array_equal(overlay, second)


def test_response_mapping_holds_when_targets_use_different_crop_sizes() -> None:
    # Re-detection searches a low-scoring target in a wider crop: its map is larger than the other's.
    cfg = TrackerConfig(window_influence=0.0, redetect_instance_size=351, redetect_below=0.5)
    tracker = SiamFCTracker(build_model(ModelConfig(backbone="pixels")), cfg)
    first, second, box = two_frames()
    tracker.init(first, [box, box + [60, 60, 0, 0]])
    tracker.scores[:] = [0.1, 0.9]  # as if the first target had been lost in the last frame
    regions = SearchRegions(tracker)
    tracker.update(second)
    assert [response.shape[0] for response in tracker.response] == [464, 272]
    for target, response in enumerate(tracker.response):
        row, col = np.unravel_index(response.argmax(), response.shape)
        peak_position = regions.response_to_image(target) @ np.array([col, row, 1.0])
        np.testing.assert_allclose(peak_position, tracker.center[target], atol=1e-6)
    assert draw_response(second, regions).shape == second.shape


def test_draw_tracks_draws_on_a_copy() -> None:
    frame = np.zeros((120, 160, 3), np.uint8)
    boxes = np.array([[10.0, 20.0, 30.0, 40.0], [-20.0, 100.0, 50.0, 50.0]])  # one partly outside
    canvas = draw_tracks(frame, boxes, [0.9, 0.1], frame_index=7)
    assert canvas.shape == frame.shape and canvas.dtype == np.uint8
    assert not frame.any() and canvas[20, 10:40].any()


def test_selecting_a_box_without_a_display_asks_for_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SiamtrackError, match="--box"):
        select_box(np.zeros((10, 10, 3), np.uint8))
