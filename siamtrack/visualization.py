"""What a user sees: boxes and scores drawn on frames, the score map as a heat map, windows.

Nothing here changes tracking; it only reads the tracker's public state.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from siamtrack.errors import SiamtrackError

if TYPE_CHECKING:
    from siamtrack.tracking.tracker import SiameseTracker

# BGR colours, one per target (cycled when there are more targets).
PALETTE = ((0, 255, 0), (0, 128, 255), (255, 0, 255), (255, 255, 0), (0, 0, 255), (255, 128, 0))
QUIT_KEYS = (ord("q"), 27)  # q or Esc close a window
ABSENT_COLOR = (128, 128, 128)  # gray: a target the tracker reports absent (long-term mode)


def has_display() -> bool:
    """Whether a window can be opened (on Linux: an X11 or Wayland display is set)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _require_display(what: str, instead: str = "") -> None:
    if not has_display():
        raise SiamtrackError(f"{what} needs a display, and none is set (no DISPLAY or WAYLAND_DISPLAY){instead}")


def select_box(frame: np.ndarray, window: str = "select the target, then press Enter") -> np.ndarray:
    """Let the user drag a box on ``frame``; return it as ``(x, y, w, h)``."""
    _require_display("selecting a box with the mouse (--select)", "; pass --box x,y,w,h instead")
    try:
        box = cv2.selectROI(window, frame, showCrosshair=True, fromCenter=False)
        cv2.destroyWindow(window)
    except cv2.error as exc:
        raise SiamtrackError(f"cannot open a window to select a box ({str(exc).strip().splitlines()[-1]}); "
                             "pass --box x,y,w,h instead") from None
    if box[2] <= 0 or box[3] <= 0:
        raise SiamtrackError("no box was selected")
    return np.asarray(box, dtype=np.float64)


class Window:
    """An OpenCV window that shows frames as they are tracked; q or Esc asks to stop."""

    def __init__(self, name: str = "siamtrack") -> None:
        _require_display("--show")
        self.name = name
        try:
            cv2.namedWindow(name, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise SiamtrackError(f"cannot open a window ({str(exc).strip().splitlines()[-1]})") from None

    def show(self, frame: np.ndarray) -> bool:
        """Display ``frame``; False once the user pressed q or Esc."""
        cv2.imshow(self.name, frame)
        return (cv2.waitKey(1) & 0xFF) not in QUIT_KEYS

    def close(self) -> None:
        """Close the window."""
        cv2.destroyWindow(self.name)


def draw_tracks(frame: np.ndarray, boxes: np.ndarray, scores: Sequence[float], frame_index: int,
                present: Sequence[bool] | None = None) -> np.ndarray:
    """A copy of ``frame`` with each ``(x, y, w, h)`` box, its score, and the frame number; a target
    not ``present`` (long-term mode) gets a thin gray box at its last-seen place, labelled "absent"."""
    canvas = frame.copy()
    thickness = max(1, round(max(frame.shape[:2]) / 400))
    font_scale = 0.4 * thickness
    shown = np.ones(len(np.atleast_2d(boxes)), dtype=bool) if present is None else np.atleast_1d(present)
    for target, (box, score, seen) in enumerate(zip(np.atleast_2d(boxes), np.atleast_1d(scores), shown)):
        color = PALETTE[target % len(PALETTE)] if seen else ABSENT_COLOR
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness if seen else 1)
        label = f"#{target} {score:.2f}" if len(np.atleast_2d(boxes)) > 1 else f"{score:.2f}"
        label = label if seen else f"{label} absent"
        cv2.putText(canvas, label, (x, max(y - 4 * thickness, 12 * thickness)), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, color, thickness, cv2.LINE_AA)
    cv2.putText(canvas, f"frame {frame_index}", (8, 20 * thickness), cv2.FONT_HERSHEY_SIMPLEX,
                font_scale * 1.2, (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas


class SearchRegions:
    """Where the next ``tracker.update`` searches: the centres it starts from, captured before it runs.

    After the update the tracker has moved its centres, but its ``response`` and ``search_side``
    still describe the regions around the previous ones.
    """

    def __init__(self, tracker: SiameseTracker) -> None:
        self.tracker = tracker
        self.center = tracker.center.copy()

    def response_to_image(self, target: int) -> np.ndarray:
        """2x3 affine map from a cell ``(col, row)`` of ``target``'s upsampled response to the image
        position (continuous ``x, y``) that the cell scores as the target's centre."""
        tracker = self.tracker
        pixels_per_crop_pixel = tracker.search_side[target] / int(tracker.crop_sizes[target])
        cell, first = (v * pixels_per_crop_pixel for v in tracker.response_cells(target))
        origin = self.center[target] + first
        return np.array([[cell, 0.0, origin[0]], [0.0, cell, origin[1]]])


def draw_response(frame: np.ndarray, regions: SearchRegions, alpha: float = 0.45) -> np.ndarray:
    """Blend each target's upsampled score map (``tracker.response``) over ``frame`` as a heat map.

    Each cell is warped to the image position it scores (:meth:`SearchRegions.response_to_image`);
    the whole search region is outlined.
    """
    tracker = regions.tracker
    if tracker.response is None:
        return frame
    canvas = frame.copy()
    height, width = frame.shape[:2]
    for target, (response, center) in enumerate(zip(tracker.response, regions.center)):
        matrix = regions.response_to_image(target)
        matrix[:, 2] -= 0.5  # continuous -> pixel-index coordinates
        # Only the square the map covers (rounded to whole pixels) is warped and blended.
        corner = matrix[:, 2] - matrix[0, 0] / 2
        left, top = np.clip(np.round(corner), 0, [width, height]).astype(int)
        right, bottom = np.clip(np.round(corner + response.shape[0] * matrix[0, 0]), 0, [width, height]).astype(int)
        if right > left and bottom > top:
            matrix[:, 2] -= (left, top)
            levels = cv2.normalize(response, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
            heat = cv2.warpAffine(cv2.applyColorMap(levels, cv2.COLORMAP_JET), matrix, (right - left, bottom - top),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            region = canvas[top:bottom, left:right]
            canvas[top:bottom, left:right] = cv2.addWeighted(region, 1 - alpha, heat, alpha, 0)
        half_side = tracker.search_side[target] / 2
        top_left = tuple(int(v) for v in np.round(center - half_side))
        bottom_right = tuple(int(v) for v in np.round(center + half_side))
        cv2.rectangle(canvas, top_left, bottom_right, PALETTE[target % len(PALETTE)], 1)
    return canvas
