"""Long-term mode (issue 26): present/absent with hysteresis, whole-frame re-detection, the VOT-LT
measures, and the cut-away clips of tools/make_cutaway.py."""
from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import siamtrack
from siamtrack.config import TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.evaluation.longterm import longterm_measures, markdown_lines, reacquisition_frames, thresholds
from siamtrack.evaluation.metrics import iou
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.redetect import Presence, tile_centres
from siamtrack.visualization import ABSENT_COLOR, draw_tracks

REPO_ROOT = Path(__file__).resolve().parent.parent

# A constructed cut-away clip (320x240 frames): the ball of VOT_ball (frames 192-201), then 8 frames of
# OTB_Dog1 (no ball), then VOT_ball from frame 88, where the ball is 3.4 x sqrt(w h) (140 px) from where
# it was: beyond the score map of the widest local search.
BALL_START, BALL_FIRST, DOG_CUT, BALL_RETURN, BALL_REST = 192, 10, 8, 88, 8


@pytest.fixture(scope="module")
def cutaway_clip(shared_data: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames and ground truth (NaN where the ball is absent) of the constructed clip."""
    ball, dog = shared_data / "got10k-mini/val/VOT_ball", shared_data / "got10k-mini/val/OTB_Dog1"
    boxes = np.loadtxt(ball / "groundtruth.txt", delimiter=",")
    first, back = range(BALL_START, BALL_START + BALL_FIRST), range(BALL_RETURN, BALL_RETURN + BALL_REST)
    frames = [cv2.imread(str(ball / f"{i + 1:08d}.jpg")) for i in first]
    frames += [cv2.imread(str(dog / f"{i + 1:08d}.jpg")) for i in range(DOG_CUT)]
    frames += [cv2.imread(str(ball / f"{i + 1:08d}.jpg")) for i in back]
    gt = np.concatenate([boxes[list(first)], np.full((DOG_CUT, 4), np.nan), boxes[list(back)]])
    return frames, gt


@pytest.fixture(scope="module")
def shipped_tracker():
    """The shipped weights and config, on its default backend (ONNX Runtime on a CPU), built once."""
    net, cfg = siamtrack.load_model()
    return build_tracker(net, cfg.tracker, "cpu")


def longterm_tracker(tracker, **changes):
    """``tracker`` switched to long-term mode with ``changes`` (the config is read every frame)."""
    tracker.cfg = dataclasses.replace(tracker.cfg, **{"longterm": True, "present_below": 0.3, "present_above": 0.6,
                                                      "global_every": 5, "global_accept": 0.75, **changes})
    tracker.cfg.validate()
    return tracker


def count_search_crops(tracker) -> list[int]:
    """Make ``tracker``'s backend count the search crops it embeds, per call, into the returned list."""
    calls, embed = [], tracker.backend.embed

    def counted(crops):
        if crops.shape[1] > tracker.cfg.exemplar_size:
            calls.append(len(crops))
        return embed(crops)

    tracker.backend.embed = counted
    return calls


def run_clip(tracker, frames, gt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame of the clip: ``tracker.present``, its box and its score."""
    tracker.init(frames[0], gt[0])
    present, boxes, scores = [True], [gt[0]], [1.0]
    for frame in frames[1:]:
        boxes.append(tracker.update(frame))
        present.append(tracker.present)
        scores.append(tracker.score)
    return np.array(present), np.array(boxes), np.array(scores)


def test_target_reported_absent_then_found_again_elsewhere(shipped_tracker, cutaway_clip) -> None:
    frames, gt = cutaway_clip
    tracker = longterm_tracker(shipped_tracker, global_every=3)
    present, boxes, scores = run_clip(tracker, frames, gt)
    assert present[:BALL_FIRST].all()
    gone, back = np.flatnonzero(~present)[0], BALL_FIRST + DOG_CUT
    assert gone <= BALL_FIRST + 1, "the cut is noticed within a frame"
    assert not present[gone:back].any(), "no flicker while the ball is away"
    assert (scores[gone:back] >= tracker.cfg.present_below).any(), "though some scores there would flip one threshold"
    # While absent the box stays where the ball was last seen.
    assert np.allclose(boxes[gone:back], boxes[gone - 1])
    found = back + np.flatnonzero(present[back:])[0]
    assert found - back <= 3, "found again by the whole-frame search within global_every frames"
    overlaps = iou(boxes[found:], gt[found:])
    assert overlaps[0] > 0.5 and overlaps.mean() > 0.5, "and tracked from there"
    # The local search alone does not reach it.
    present, _, _ = run_clip(longterm_tracker(shipped_tracker, global_every=0), frames, gt)
    assert not present[back:back + 4].any()


def test_no_extra_network_calls_while_present(shipped_tracker, cutaway_clip) -> None:
    frames, gt = cutaway_clip
    calls = {}
    for longterm in (False, True):
        tracker = longterm_tracker(shipped_tracker, longterm=longterm)
        tracker.init(frames[0], gt[0])
        calls[longterm] = count_search_crops(tracker)
        for frame in frames[1:BALL_FIRST]:
            tracker.update(frame)
            assert tracker.present
        del tracker.backend.embed
    assert calls[True] == calls[False] and len(calls[True]) >= BALL_FIRST - 1


def test_whole_frame_search_runs_only_on_due_absent_frames(shipped_tracker, cutaway_clip) -> None:
    frames, gt = cutaway_clip
    tracker = longterm_tracker(shipped_tracker, global_every=4, global_accept=1.0, present_above=1.0)
    tracker.init(frames[0], gt[0])
    tiles = []
    tracker.score_tiles = lambda frame, target, centres, *rest: (tiles.append(len(centres)), (0.0, None, None))[1]
    try:
        for frame in frames[1:BALL_FIRST + DOG_CUT]:
            tracker.update(frame)
    finally:
        del tracker.score_tiles
    assert not tracker.present
    assert len(tiles) == 2, "absent for 7-8 frames: whole-frame searches on its 1st and 5th"
    assert 1 < max(tiles) <= tracker.cfg.global_max_tiles


def test_presence_hysteresis_and_held_box_per_target() -> None:
    cfg = TrackerConfig(loop="box", longterm=True, present_below=0.3, present_above=0.6, global_every=0)
    tracker = SimpleNamespace(cfg=cfg, scores=np.ones(2), center=np.zeros((2, 2)), target_size=np.ones((2, 2)),
                              x_size=np.ones(2), image_size=np.array([100.0, 100.0]))
    presence = Presence(tracker.target_size)
    scores = [(0.9, 0.9), (0.4, 0.2), (0.2, 0.9), (0.4, 0.5), (0.55, 0.25), (0.7, 0.5), (0.4, 0.6), (0.25, 0.9)]
    flags = []
    for step, pair in enumerate(scores):
        held = presence.hold(tracker)
        tracker.center[:] = step  # the local search moved the boxes
        tracker.scores[:] = pair
        presence.step(tracker, np.zeros((100, 100, 3), np.uint8), held)
        flags.append(presence.present.tolist())
        assert np.all(tracker.center[:, 0] == np.where(presence.present, step, held.center[:, 0]))
    assert [f[0] for f in flags] == [True, True, False, False, False, True, True, False]
    assert [f[1] for f in flags] == [True, False, True, True, False, False, True, True]


def test_tiles_cover_the_frame() -> None:
    centres = tile_centres(np.array([500.0, 200.0]), span=120.0)
    assert len(centres) == 5 * 2
    assert centres[:, 0].min() - 60 <= 0 and centres[:, 0].max() + 60 >= 500
    assert centres[:, 1].min() - 60 <= 0 and centres[:, 1].max() + 60 >= 200


@pytest.mark.parametrize("changes, key", [({"present_below": 0.7, "present_above": 0.5}, "present_below"),
                                          ({"global_accept": 0.5, "present_above": 0.6}, "global_accept"),
                                          ({"longterm": True, "loop": "siamfc"}, "global_every")])
def test_bad_longterm_settings_are_refused(changes: dict, key: str) -> None:
    with pytest.raises(SiamtrackError, match=f"tracker.{key}"):
        TrackerConfig(**changes).validate()


def test_absent_target_drawn_gray() -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    canvas = draw_tracks(frame, np.array([[10, 10, 30, 30]]), [0.1], 3, present=[False])
    assert tuple(canvas[10, 25]) == ABSENT_COLOR


# VOT-LT measures on inputs whose answers are known. Ten frames of a 10x10 box at (0, 0); the first
# frame (the given box) is never scored; frames 4-6 the target is absent.
GT = np.tile([0.0, 0.0, 10.0, 10.0], (10, 1))
GT[4:7] = np.nan
VISIBLE, ABSENT = 6, 3  # of the nine scored frames


def test_perfect_longterm_tracker_scores_one() -> None:
    pred = np.where(np.isnan(GT), 50.0, GT)
    confidence = np.where(np.isnan(GT[:, 0]), 0.1, 0.9)
    m = longterm_measures([pred], [GT], [confidence])
    assert (m["precision"], m["recall"], m["fscore"], m["absence"]) == (1.0, 1.0, 1.0, 1.0)
    assert m["absent_frames"] == ABSENT and m["returns"] == 1 and m["reacquire_median"] == 0


def test_tracker_without_confidence_is_always_present() -> None:
    pred = np.where(np.isnan(GT), 50.0, GT)
    m = longterm_measures([pred], [GT], [np.full(10, np.nan)])
    assert m["precision"] == pytest.approx(VISIBLE / (VISIBLE + ABSENT))
    assert m["recall"] == 1.0
    assert m["fscore"] == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))
    assert m["absence"] == 0.0


def test_partial_overlap_and_late_reacquisition() -> None:
    pred = GT + [5.0, 0.0, 0.0, 0.0]  # IoU 50 / 150 = 1/3 where visible
    pred[7:9] = [[60.0, 60.0, 10.0, 10.0]]  # after the return, missed for two frames
    pred[np.isnan(GT[:, 0])] = 50.0
    confidence = np.full(10, 0.8)
    m = longterm_measures([pred], [GT], [confidence])
    reported_visible = VISIBLE - 2
    assert m["recall"] == pytest.approx(reported_visible / 3 / VISIBLE)
    assert m["precision"] == pytest.approx(reported_visible / 3 / 9)
    assert reacquisition_frames(pred, GT, confidence, 0.5) == [2.0]
    assert reacquisition_frames(pred, GT, confidence, 0.9) == [float("inf")], "nothing reported at 0.9"


def test_thresholds_follow_the_vot_toolkit() -> None:
    assert list(thresholds([np.array([0.2, np.nan, 0.9]), np.array([0.5])])) == [np.inf, 0.9, 0.5, 0.2, -np.inf]
    many = thresholds([np.linspace(0, 1, 1001)])
    assert len(many) == 100 and np.all(np.diff(many) <= 0)


def test_report_has_a_longterm_table() -> None:
    pred = np.where(np.isnan(GT), 50.0, GT)
    scores = {"a": {"longterm": longterm_measures([pred], [GT], [np.full(10, np.nan)])}}
    lines = markdown_lines(scores, ["a"])
    assert any(line.startswith("| a | 0.800 | 0.667 | 1.000 |") for line in lines)


def load_make_cutaway():
    spec = importlib.util.spec_from_file_location("make_cutaway", REPO_ROOT / "tools" / "make_cutaway.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_make_cutaway_is_deterministic_and_in_got10k_layout(shared_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("DTB70_Surfing06", "DAVIS_kite-surf"):
        (root / name).symlink_to(shared_data / "got10k-mini/val" / name)
    (root / "list.txt").write_text("DTB70_Surfing06\nDAVIS_kite-surf\n")
    tool = load_make_cutaway()
    assert tool.make_cutaways([root], tmp_path / "a") == ["DTB70_Surfing06_cutaway"], "kite-surf's target stays put"
    tool.make_cutaways([root], tmp_path / "b")
    clip_a, clip_b = tmp_path / "a/val/DTB70_Surfing06_cutaway", tmp_path / "b/val/DTB70_Surfing06_cutaway"
    files = sorted(p.name for p in clip_a.iterdir())
    assert files == sorted(p.name for p in clip_b.iterdir())
    assert all((clip_a / f).read_bytes() == (clip_b / f).read_bytes() for f in files)
    assert (tmp_path / "a/val/list.txt").read_text() == "DTB70_Surfing06_cutaway\n"
    gt = np.loadtxt(clip_a / "groundtruth.txt", delimiter=",")
    absent = np.loadtxt(clip_a / "absence.label").astype(bool)
    assert len(gt) == len(absent) == len([f for f in files if f.endswith(".jpg")])
    start, end = np.flatnonzero(absent)[[0, -1]]
    assert absent[start:end + 1].all() and 50 <= end + 1 - start <= 150
    assert np.all(gt[absent] == 0)
    before, after = gt[start - 1], gt[end + 1]
    moved = np.linalg.norm((after[:2] + after[2:] / 2) - (before[:2] + before[2:] / 2))
    assert moved >= tool.FAR * np.sqrt(before[2] * before[3])
    assert cv2.imread(str(clip_a / f"{start + 1:08d}.jpg")).shape == cv2.imread(str(clip_a / "00000001.jpg")).shape


def test_present_is_an_array_for_many_targets_and_works_in_the_siamfc_loop(pixel_tracker) -> None:
    pixel_tracker.cfg = dataclasses.replace(pixel_tracker.cfg, longterm=True, global_every=0)
    pixel_tracker.cfg.validate()
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    assert pixel_tracker.present is False, "not before init"
    pixel_tracker.init(frame, [(20, 20, 30, 30), (90, 50, 30, 30)])
    pixel_tracker.update(frame)
    assert pixel_tracker.present.dtype == bool and pixel_tracker.present.tolist() == [True, True]
