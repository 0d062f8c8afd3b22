"""The fast paths compute what the plain SiamFC computes: same boxes, same network outputs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from siamtrack.config import ModelConfig, TrackerConfig, load_config
from siamtrack.data.images import read_image
from siamtrack.errors import SiamtrackError
from siamtrack.models import build_model
from siamtrack.models.export import export_onnx
from siamtrack.models.fusion import fold_batchnorm
from siamtrack.tracking.calibration import calibration_crops
from siamtrack.tracking.reference import ReferenceSiamFC
from siamtrack.tracking.siamfc import SiamFCTracker, bicubic_matrix

NUM_FRAMES = 4
BOX_TOLERANCE_PX = 0.5


def randomised_net(backbone: str = "alexnet_half", seed: int = 0) -> nn.Module:
    """An untrained network whose BatchNorms hold non-trivial statistics (so folding them matters)."""
    torch.manual_seed(seed)
    net = build_model(ModelConfig(backbone=backbone))
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The first frames of a real GOT-10k-mini validation sequence and its first box."""
    root = shared_data / "got10k-mini" / "val"
    name = (root / "list.txt").read_text().split()[0]
    frames = [read_image(p) for p in sorted((root / name).glob("*.jpg"))[:NUM_FRAMES]]
    box = np.loadtxt(root / name / "groundtruth.txt", delimiter=",")[0]
    return frames, box


def other_boxes(box: np.ndarray, frame_shape: tuple[int, ...]) -> list[np.ndarray]:
    """The box and two shifted copies that stay inside the frame: three distinct targets."""
    height, width = frame_shape[:2]
    boxes = []
    for dx, dy in ((0, 0), (-0.3 * box[2], 0.2 * box[3]), (25, -15)):
        x = np.clip(box[0] + dx, 0, width - box[2])
        y = np.clip(box[1] + dy, 0, height - box[3])
        boxes.append(np.array([x, y, box[2], box[3]]))
    return boxes


def track(tracker, frames: list[np.ndarray], box) -> np.ndarray:
    tracker.init(frames[0], box)
    return np.array([tracker.update(frame) for frame in frames[1:]])


def test_bicubic_matrix_equals_interpolate() -> None:
    maps = torch.randn(3, 2, 17, 17, dtype=torch.float64)
    upsample = bicubic_matrix(17, 16)
    expected = F.interpolate(maps, scale_factor=16, mode="bicubic", align_corners=False)
    torch.testing.assert_close(upsample @ maps @ upsample.T, expected)


def test_folding_batchnorm_preserves_outputs() -> None:
    net = randomised_net()
    images = torch.rand(2, 3, 127, 127) * 255
    folded = fold_batchnorm(net.backbone)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.backbone.modules()), "the original must stay as it was"
    with torch.inference_mode():
        torch.testing.assert_close(folded(images), net.backbone(images), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("backbone", ["alexnet_half", "pixels"])
def test_batched_scales_give_the_reference_boxes(clip, backbone: str) -> None:
    frames, box = clip
    net = randomised_net(backbone)
    reference = track(ReferenceSiamFC(net, TrackerConfig()), frames, box)
    batched = track(SiamFCTracker(net, TrackerConfig()), frames, box)
    np.testing.assert_allclose(batched, reference, atol=BOX_TOLERANCE_PX, rtol=0)


def test_many_targets_give_the_single_target_boxes(clip) -> None:
    frames, box = clip
    net = randomised_net()
    boxes = other_boxes(box, frames[0].shape)
    together = track(SiamFCTracker(net, TrackerConfig()), frames, boxes)
    assert together.shape == (NUM_FRAMES - 1, len(boxes), 4)
    for t, single_box in enumerate(boxes):
        alone = track(SiamFCTracker(net, TrackerConfig()), frames, single_box)
        np.testing.assert_allclose(together[:, t], alone, atol=BOX_TOLERANCE_PX, rtol=0)


def test_redetection_searches_lost_targets_wider_and_alone(clip) -> None:
    """A lost target gets the wider crop while the others keep theirs, as if tracked alone."""
    frames, box = clip
    net = randomised_net()
    cfg = TrackerConfig(redetect_below=0.5, redetect_instance_size=303)
    boxes = other_boxes(box, frames[0].shape)
    lost = [False, True, False]

    def first_update(targets, lost_flags) -> tuple[SiamFCTracker, np.ndarray, np.ndarray]:
        tracker = SiamFCTracker(net, cfg)
        tracker.init(frames[0], targets)
        tracker.scores = np.where(lost_flags, 0.0, 1.0)
        x_size = tracker.x_size.copy()
        return tracker, x_size, tracker.update(frames[1])

    together, x_size, boxes_together = first_update(boxes, lost)
    widening = together.search_side / (together.scale_factors[together.best_scale] * x_size)
    np.testing.assert_allclose(widening, [1, 303 / 255, 1])
    assert [r.shape[0] for r in together.response] == [together.grids[s].upscale_size for s in (255, 303, 255)]
    for t, single_box in enumerate(boxes):
        _, _, alone = first_update([single_box], [lost[t]])
        np.testing.assert_allclose(boxes_together[t], alone[0], atol=BOX_TOLERANCE_PX, rtol=0)


def test_onnx_backend_tracks_like_torch(clip, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the ONNX backend cannot run")
    frames, box = clip
    net = randomised_net()
    boxes = other_boxes(box, frames[0].shape)
    expected = track(SiamFCTracker(net, TrackerConfig()), frames, boxes)
    export_onnx(net, tmp_path)
    cfg = TrackerConfig(backend="onnx", onnx_dir=str(tmp_path))
    np.testing.assert_allclose(track(SiamFCTracker(net, cfg), frames, boxes), expected, atol=BOX_TOLERANCE_PX, rtol=0)


def test_backend_misconfiguration_is_a_clear_error(tmp_path: Path) -> None:
    net = build_model(ModelConfig(backbone="pixels"))
    with pytest.raises(SiamtrackError, match="'tracker.backend' must be a known backend .*got 'tensorrt'"):
        SiamFCTracker(net, TrackerConfig(backend="tensorrt"))
    with pytest.raises(SiamtrackError, match="siamtrack export"):
        SiamFCTracker(net, TrackerConfig(backend="onnx", onnx_dir=str(tmp_path)))
    with pytest.raises(SiamtrackError, match="redetect_instance_size"):
        SiamFCTracker(net, TrackerConfig(redetect_instance_size=127))


def test_int8_backbone_approximates_fp32(shared_data: Path, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: no int8 graphs to run")
    from got10k.datasets import GOT10k

    net = randomised_net()
    cfg = TrackerConfig(instance_size=191)
    dataset = GOT10k(str(shared_data / "got10k-mini"), subset="val")
    crops = list(calibration_crops([dataset[0], dataset[1]], cfg, frames_per_sequence=2))
    fp32_path, *_ = export_onnx(net, tmp_path / "fp32")
    int8_path, *_ = export_onnx(net, tmp_path / "int8", calibration=crops[:-1])
    search = crops[-1]  # held out of the calibration
    fp32, int8 = (ort.InferenceSession(str(p)).run(None, {"crops": search})[0] for p in (fp32_path, int8_path))
    assert int8_path.stat().st_size < fp32_path.stat().st_size / 2
    assert np.abs(int8 - fp32).mean() < 0.1 * np.abs(fp32).mean()


def test_fast_config_builds_a_working_tracker(clip) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the fast config runs on it")
    frames, box = clip
    cfg = load_config("siamfc_fast")
    tracker = SiamFCTracker(randomised_net(cfg.model.backbone), cfg.tracker)
    boxes = track(tracker, frames, [box, box])
    assert boxes.shape == (NUM_FRAMES - 1, 2, 4) and np.isfinite(boxes).all()
    assert dataclasses.asdict(cfg.tracker) != dataclasses.asdict(TrackerConfig())


MEMORY_PROBE = """
import resource, sys
import numpy as np
import siamtrack

tracker = siamtrack.load_tracker("siamfc_fast", device="cpu")  # its config: ONNX Runtime
assert type(tracker.backend).__name__ == "OnnxBackend"
rng = np.random.default_rng(0)
frame = rng.integers(0, 255, (144, 256, 3), dtype=np.uint8)
boxes = np.concatenate([rng.uniform(0, [216, 104], (int(sys.argv[1]), 2)), np.full((int(sys.argv[1]), 2), 40.0)], 1)
tracker.init(frame, boxes[:1])
tracker.update(frame)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracker.init(frame, boxes)
tracker.update(frame)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_many_targets_on_onnx_runtime_keep_memory_flat() -> None:
    """40 targets (120 search crops a frame) on the ONNX Runtime path: the backbone runs in chunks of
    CPU_BATCH_PIXELS, so peak resident memory grows by features, not by a whole batch's activations
    (unchunked: about 11 MB a target, 460 MB here). Measured in a fresh process: ru_maxrss is a peak."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    import subprocess
    import sys

    targets = 40
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(targets)], capture_output=True, text=True,
                            timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    growth_mb = float(result.stdout.split()[-1])
    assert growth_mb < 150, f"peak RSS grew by {growth_mb:.0f} MB for {targets} targets"
