"""Pair sampling: usable frames only, within the frame gap, crops centred on the target, sources mixed."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from siamtrack.config import Config
from siamtrack.data.datasets import (BoxLimits, NegativePairs, PairSample, StillBox, VideoPairs, load_sequence,
                                     open_got10k_split, sample_frame_pair, usable_boxes)
from siamtrack.data.pairs import PairDataset, PairSampler, build_sources
from siamtrack.data.synthetic import demo_sequence, save_got10k_split
from siamtrack.data.transforms import PairTransform, part_of_object
from siamtrack.errors import SiamtrackError
from siamtrack.training.loss import BalancedLoss, logistic_labels


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """GOT-10k-layout root: a clip with frames 3-5 absent, and a clip absent throughout."""
    root = tmp_path_factory.mktemp("got10k")
    frames, boxes = demo_sequence(num_frames=10)
    holes = boxes.copy()
    holes[3:6] = np.nan
    gone = np.full_like(boxes, np.nan)
    save_got10k_split(root / "train", {"holes": (frames, holes), "gone": (frames[:4], gone[:4])})
    return root


def test_frame_pairs_are_usable_and_within_the_gap() -> None:
    rng = np.random.default_rng(0)
    usable = np.array([0, 1, 2, 50, 51, 120, 300])
    for _ in range(500):
        z, x = sample_frame_pair(usable, 10, rng)
        assert z in usable and x in usable and abs(z - x) <= 10
    assert {sample_frame_pair(np.array([7]), 10, rng) for _ in range(5)} == {(7, 7)}


def test_unusable_boxes_are_filtered() -> None:
    boxes = np.array([[10, 10, 50, 50],      # good
                      [10, 10, 5, 50],       # too thin
                      [10, 10, 300, 40],     # too elongated
                      [0, 10, 50, 50],       # touches the border (no cut label)
                      [np.nan, 0, 0, 0],     # no box
                      [10, 10, 190, 50]])    # wider than 0.9 of the image
    assert usable_boxes(boxes, (200, 200), BoxLimits()).tolist() == [True, False, False, False, False, False]
    meta = {"absence": np.array([1, 0, 0, 0, 0, 0]), "cover": np.full(6, 8), "cut_by_image": np.zeros(6)}
    assert not usable_boxes(boxes, (200, 200), BoxLimits(), meta)[0]
    assert usable_boxes(boxes, (200, 200), BoxLimits(), meta)[3], "a cut_by_image label overrides the border rule"
    meta["absence"][0], meta["cover"][0] = 0, 1
    assert not usable_boxes(boxes, (200, 200), BoxLimits(), meta)[0]


def test_video_pairs_skip_absent_frames_and_wholly_absent_sequences(tiny_root, caplog) -> None:
    with caplog.at_level(logging.INFO):
        pairs = VideoPairs(open_got10k_split(tiny_root / "train"), BoxLimits(), max_gap=2)
    assert [s.name for s in pairs.sequences] == ["holes"]
    assert "gone" in caplog.text
    usable = pairs.sequences[0].usable.tolist()
    assert usable == [0, 1, 2, 6, 7, 8, 9]
    rng = np.random.default_rng(1)
    for _ in range(30):
        sample = pairs.sample(rng)
        assert np.all(np.isfinite(sample.z_box)) and np.all(sample.x_box[2:] > 0)


def test_groundtruth_of_the_wrong_length_names_the_file(tmp_path) -> None:
    frames, boxes = demo_sequence(num_frames=4)
    save_got10k_split(tmp_path / "train", {"short": (frames, boxes)})
    gt = tmp_path / "train" / "short" / "groundtruth.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(SiamtrackError, match="short/groundtruth.txt"):
        load_sequence(open_got10k_split(tmp_path / "train"), 0, BoxLimits())


def test_crops_put_the_target_at_the_centre_at_the_tracker_scale() -> None:
    frames, boxes = demo_sequence(num_frames=1)
    image = np.zeros_like(frames[0])
    x, y, w, h = boxes[0].astype(int)
    image[y:y + h, x:x + w] = 255
    transform = PairTransform(max_stretch=0.0, search_stretch=0.0, max_shift=0, color_jitter=0.0, gray_prob=0.0,
                              blur_prob=0.0)
    z, xs, _ = transform(PairSample(image, boxes[0], image, boxes[0], "video"), np.random.default_rng(0))
    assert z.shape == (3, 127, 127) and xs.shape == (3, 239, 239) and z.dtype == torch.uint8
    white_z = (z[0] > 128).nonzero().float()
    white_x = (xs[0] > 128).nonzero().float()
    np.testing.assert_allclose(white_z.mean(0).numpy(), [63, 63], atol=1.0)
    np.testing.assert_allclose(white_x.mean(0).numpy(), [119, 119], atol=1.0)
    # Same scale in both crops, as the tracker cuts them: the box spans the same pixels.
    assert abs(len(white_z) - len(white_x)) / len(white_z) < 0.05


def test_pair_dataset_is_deterministic_per_epoch_and_index(tiny_root) -> None:
    cfg = Config()
    cfg.data.mix = {"video": 1.0}
    dataset = PairDataset(build_sources(cfg, tiny_root), cfg.data.mix, PairTransform(), length=4)
    z1, x1, box1 = dataset[(0, 2)]
    z2, x2, box2 = dataset[(0, 2)]
    z3, _, _ = dataset[(1, 2)]
    assert torch.equal(z1, z2) and torch.equal(x1, x2) and torch.equal(box1, box2) and not torch.equal(z1, z3)


def test_missing_still_sets_warn_and_leave_the_other_sources(tiny_root, caplog) -> None:
    cfg = Config()
    cfg.data.mix = {"video": 0.5, "stills": 0.3, "synthetic": 0.2}
    cfg.data.stills = ["/nonexistent/stills"]
    with caplog.at_level(logging.WARNING):
        sources = build_sources(cfg, tiny_root)
    assert set(sources) == {"video"} and "/nonexistent/stills" in caplog.text
    cfg.data.mix = {"video": 1.0, "imagenet": 1.0}
    with pytest.raises(SiamtrackError, match="imagenet"):
        build_sources(cfg, tiny_root)


def test_negative_pairs_show_another_object_of_the_same_class_when_there_is_one(tmp_path) -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), image)
    stills = [StillBox(str(path), label, (10.0 * i, 5.0, 20.0, 20.0)) for i, label in enumerate("aabc")]
    rng = np.random.default_rng(0)
    pairs = NegativePairs(None, stills, same_class=1.0)
    for _ in range(50):
        sample = pairs.sample(rng)
        z, x = int(sample.z_box[0] // 10), int(sample.x_box[0] // 10)
        assert sample.kind == "negative" and z != x
        assert (stills[z].label == stills[x].label) == (stills[z].label == "a")  # b and c have no look-alike
    _, _, box = PairTransform(search_size=255)(sample, rng)
    assert torch.isnan(box).all()  # the search crop holds no target
    with pytest.raises(SiamtrackError, match="at least two objects"):
        NegativePairs(None, stills[:1])


def test_negative_pairs_need_the_box_head_and_two_objects(tiny_root) -> None:
    cfg = Config()
    cfg.data.mix = {"video": 0.8, "negative": 0.2}
    with pytest.raises(SiamtrackError, match="negative.*box"):
        build_sources(cfg, tiny_root)
    cfg.model.head, cfg.data.stills = "box", []
    with pytest.raises(SiamtrackError, match="at least two objects"):  # one usable sequence, no stills
        build_sources(cfg, tiny_root)
    cfg.data.mix = {"video": 1.0, "negative": 0.0}
    assert set(build_sources(cfg, tiny_root)) == {"video"}


def test_sampler_shares_an_epoch_between_ranks_and_resumes_mid_epoch(tiny_root) -> None:
    cfg = Config()
    cfg.data.mix = {"video": 1.0}
    dataset = PairDataset(build_sources(cfg, tiny_root), cfg.data.mix, PairTransform(), length=10)
    ranks = [PairSampler(dataset, 2, r) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(3)
    keys = [list(s) for s in ranks]
    assert sorted(k for part in keys for k in part) == [(3, i) for i in range(10)]
    ranks[0].skip = 2
    assert list(ranks[0]) == keys[0][2:] and len(ranks[0]) == 3


def test_balanced_loss_labels_and_values() -> None:
    labels = logistic_labels((15, 15), radius_px=16, stride=8)
    assert labels.sum() == 13 and labels[7, 7] == 1 and labels[7, 10] == 0
    loss = BalancedLoss(16, 8)
    assert loss(torch.zeros(2, 1, 15, 15)).item() == pytest.approx(np.log(2), rel=1e-5)
    perfect = (labels * 20 - 10).expand(2, 1, 15, 15)
    assert loss(perfect).item() < 1e-3
    # Positives and negatives weigh the same: all-negative logits cost half of the positives' error.
    assert loss(torch.full((1, 1, 15, 15), -10.0)).item() == pytest.approx(5.0, rel=1e-3)


class ListDataset:
    """A got10k-style dataset object that is not GOT-10k: items ``(img_files, anno[, meta])``."""

    def __init__(self, items: list, names: list[str]) -> None:
        self.items, self.seq_names = items, names

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def test_any_got10k_style_dataset_gives_pairs_with_lasot_labels(tiny_root) -> None:
    files = sorted(str(p) for p in (tiny_root / "train" / "holes").glob("*.jpg"))
    _, boxes = demo_sequence(num_frames=10)
    out_of_view = np.zeros(10)
    out_of_view[:8] = 1
    lasot_like = ListDataset([(files, boxes, {"full_occlusion": np.zeros(10), "out_of_view": out_of_view})], ["seq"])
    assert VideoPairs(lasot_like, BoxLimits(), max_gap=5).sequences[0].usable.tolist() == [8, 9]
    otb_like = ListDataset([(files, boxes)], ["seq"])
    assert len(VideoPairs(otb_like, BoxLimits(), max_gap=5).sequences[0].usable) == 10
    with pytest.raises(SiamtrackError, match="short_seq"):
        VideoPairs(ListDataset([(files[:9], boxes)], ["short_seq"]), BoxLimits(), max_gap=5)


def test_search_stretch_spreads_the_target_size_in_the_search_crop_only() -> None:
    """A box regressor needs targets of many sizes in the search crop, while the exemplar keeps the tracker's scale."""
    image = np.full((300, 400, 3), 255, np.uint8)
    box = np.array([150.0, 100.0, 60.0, 40.0])
    transform = PairTransform(search_size=255, max_stretch=0.0, search_stretch=0.4, max_shift=0)
    rng = np.random.default_rng(0)
    sample = PairSample(image, box, image, box, "video")
    sides = np.array([np.sqrt(np.prod(b[2:].numpy() - b[:2].numpy())) for b in (transform(sample, rng)[2] for _ in range(200))])
    at_tracker_scale = float(np.sqrt(60 * 40)) * 127 / float(np.sqrt((60 + 50) * (40 + 50)))
    ratios = sides / at_tracker_scale
    assert ratios.min() < 0.65 and ratios.max() > 1.35 and np.all((ratios > 0.599) & (ratios < 1.401))


def test_aspect_stretch_changes_the_targets_aspect_ratio_in_the_search_crop_and_the_box_follows() -> None:
    """Turning objects change their aspect ratio: the regressor sees it changed between exemplar and search crop."""
    image = np.zeros((300, 400, 3), np.uint8)
    box = np.array([150.0, 100.0, 60.0, 40.0])
    image[100:140, 150:210] = 255
    transform = PairTransform(search_size=255, max_stretch=0.0, search_stretch=0.0, max_shift=0, color_jitter=0.0,
                              gray_prob=0.0, blur_prob=0.0, aspect_stretch=0.3)
    rng = np.random.default_rng(0)
    sample = PairSample(image, box, image, box, "video")
    changes = []
    for _ in range(100):
        z, x, in_crop = transform(sample, rng)
        width, height = (in_crop[2:] - in_crop[:2]).numpy()
        changes.append(width / height / 1.5)
        rows, cols = (x[0] > 128).nonzero(as_tuple=True)  # the white target, where the box says it is
        assert abs(int(cols.max() - cols.min() + 1) - width) < 2 and abs(int(rows.max() - rows.min() + 1) - height) < 2
        assert np.sqrt(width * height) == pytest.approx(float(np.sqrt(60 * 40)) * 127 / float(np.sqrt(110 * 90)), rel=1e-6)  # the tracker scale
    changes = np.array(changes)
    assert changes.min() < 0.8 and changes.max() > 1.25 and np.all((changes > 1 / 1.3 - 1e-9) & (changes < 1.3 + 1e-9))
    exemplar = (z[0] > 128).nonzero().float()
    assert (exemplar[:, 1].max() - exemplar[:, 1].min()) / (exemplar[:, 0].max() - exemplar[:, 0].min()) == pytest.approx(1.5, rel=0.06)


def test_search_crop_box_follows_shift_and_stretch() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    box = np.array([150.0, 100.0, 60.0, 40.0])
    transform = PairTransform(search_size=255, max_stretch=0.0, max_shift=0, color_jitter=0.0, gray_prob=0.0,
                              blur_prob=0.0)
    crop, in_crop = transform.crop(image, box, 255, 1.25, np.array([20.0, -10.0]), 1)
    scale = 255 / (float(np.sqrt((60 + 50) * (40 + 50))) * 255 / 127 / 1.25)  # crop px per image px
    centre = (in_crop[:2] + in_crop[2:]) / 2
    np.testing.assert_allclose(centre, [127.5 - 20, 127.5 + 10], atol=1e-9)  # the crop moved by +20, -10 px
    np.testing.assert_allclose(in_crop[2:] - in_crop[:2], [60 * scale, 40 * scale], atol=1e-9)


def test_a_part_of_the_object_is_the_same_part_in_both_frames() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    sample = PairSample(image, np.array([100.0, 50.0, 80.0, 40.0]), image, np.array([200.0, 150.0, 160.0, 80.0]), "video")
    rng = np.random.default_rng(0)
    for _ in range(50):
        part = part_of_object(sample, rng)
        for whole, piece in ((sample.z_box, part.z_box), (sample.x_box, part.x_box)):
            assert np.all(piece[:2] >= whole[:2]) and np.all(piece[:2] + piece[2:] <= whole[:2] + whole[2:] + 1e-9)
            assert np.all(piece[2:] >= 0.5 * whole[2:] - 1e-9) and np.all(piece[2:] <= 0.9 * whole[2:] + 1e-9)
        relative = [(p[:2] - w[:2]) / w[2:] for w, p in ((sample.z_box, part.z_box), (sample.x_box, part.x_box))]
        np.testing.assert_allclose(relative[0], relative[1])  # the same part of the object in both frames
