"""Synthetic clips and pairs: exact ground truth, determinism, occlusion, targets at the crop centre."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from siamtrack.data.datasets import BoxLimits, PairSample, read_still_set
from siamtrack.data.synthetic import (Actor, Motion, Scene, Sprite, SyntheticPairs, demo_sequence, render,
                                      save_got10k_split)
from siamtrack.data.transforms import PairTransform

RED = (0, 0, 255)


def solid_sprite(width: int, height: int, colour: tuple[int, int, int]) -> Sprite:
    return Sprite(np.full((height, width, 3), colour, np.uint8), np.ones((height, width), np.float32))


def test_demo_sequence_is_deterministic_with_boxes_inside_the_frames() -> None:
    frames, boxes = demo_sequence(num_frames=12, seed=3)
    again, same_boxes = demo_sequence(num_frames=12, seed=3)
    assert len(frames) == 12 and boxes.shape == (12, 4)
    assert frames[0].shape == (360, 480, 3) and frames[0].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(frames, again)) and np.array_equal(boxes, same_boxes)
    assert not all(np.array_equal(a, b) for a, b in zip(frames, demo_sequence(12, seed=4)[0]))
    assert np.all(boxes[:, 2:] > 0)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 0] + boxes[:, 2] <= 480) and np.all(boxes[:, 1] + boxes[:, 3] <= 360)


def test_demo_target_moves_smoothly_and_changes_scale() -> None:
    _, boxes = demo_sequence(num_frames=80)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert steps.max() < 20 and steps.mean() > 2
    assert boxes[:, 2].max() / boxes[:, 2].min() > 1.4


def test_render_places_scales_and_boxes_the_target_exactly() -> None:
    background = np.zeros((100, 200, 3), np.uint8)
    target = Actor(solid_sprite(10, 6, RED), Motion(start=(50.0, 40.0), velocity=(2.0, 0.0), scale=2.0))
    frame = render(Scene(background, target), t=5)
    np.testing.assert_allclose(frame.box, [50, 34, 20, 12], atol=1)
    assert tuple(frame.image[40, 60]) == RED and frame.image[10, 10].sum() == 0
    assert frame.visibility == pytest.approx(1.0)


def test_a_distractor_in_front_hides_the_target_but_its_box_remains() -> None:
    background = np.zeros((100, 100, 3), np.uint8)
    target = Actor(solid_sprite(10, 10, RED), Motion(start=(50.0, 50.0)))
    occluder = Actor(solid_sprite(30, 30, (0, 255, 0)), Motion(start=(50.0, 50.0)), in_front=True)
    frame = render(Scene(background, target, (occluder,)), t=0)
    np.testing.assert_allclose(frame.box, [45, 45, 10, 10], atol=1)
    assert frame.visibility < 0.05 and tuple(frame.image[50, 50]) == (0, 255, 0)
    behind = render(Scene(background, target, (Actor(occluder.sprite, occluder.motion),)), t=0)
    assert behind.visibility == pytest.approx(1.0) and tuple(behind.image[50, 50]) == RED


def test_saved_split_reads_back_with_got10k_labels(tmp_path) -> None:
    from got10k.datasets import GOT10k

    frames, boxes = demo_sequence(num_frames=4)
    boxes[1] = np.nan
    save_got10k_split(tmp_path / "val", {"clip": (frames, boxes)})
    img_files, anno, meta = GOT10k(str(tmp_path), subset="val", return_meta=True)[0]
    assert len(img_files) == 4 and np.array_equal(anno[1], [0, 0, 0, 0])
    np.testing.assert_allclose(anno[0], boxes[0], atol=0.01)
    assert meta["absence"].tolist() == [0, 1, 0, 0]


@pytest.fixture(scope="module")
def coloured_stills(tmp_path_factory) -> list:
    """A still-image set: each photograph holds one rectangle of a unique saturated colour, all of class 'thing'."""
    folder = tmp_path_factory.mktemp("stills")
    (folder / "images").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        image = rng.integers(60, 140, (120, 160, 3)).astype(np.uint8)
        image[..., 2] = 0  # no red in backgrounds
        colour = (40 * i, 255 - 40 * i, 255)
        x, y = 30 + 10 * i, 30
        image[y:y + 40, x:x + 50] = colour
        cv2.imwrite(str(folder / "images" / f"{i}.png"), image)
        rows.append([f"{i}.png", "thing", x, y, 50, 40])
    with (folder / "boxes.tsv").open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["image", "class", "x", "y", "w", "h"])
        writer.writerows(rows)
    return read_still_set(folder, BoxLimits())


def test_synthetic_pairs_have_the_same_target_at_the_centre_of_both_crops(coloured_stills) -> None:
    pairs = SyntheticPairs(coloured_stills, BoxLimits(), max_gap=10, max_distractors=2, occlusion_prob=0.0)
    transform = PairTransform(color_jitter=0.0, gray_prob=0.0, blur_prob=0.0)
    for seed in range(8):
        sample = pairs.sample(np.random.default_rng(seed))
        assert isinstance(sample, PairSample) and sample.kind == "synthetic"
        z, x, _ = transform(sample, np.random.default_rng(seed))
        z_centre = z[:, 63, 63].numpy().astype(int)
        x_centre = x[:, 119, 119].numpy().astype(int)
        assert z_centre[2] > 200, "exemplar centre must be the (red-channel saturated) target"
        assert np.abs(z_centre - x_centre).max() <= 12, "search centre must show the same object"
