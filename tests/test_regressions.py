"""Every bad input that once ended in a traceback, a hang or silent nonsense (issue 10 and what the
fuzz suite found since), kept as an explicit test: now a clear error, or a sane result."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from siamtrack import load_model
from siamtrack.checkpoints import save_atomic
from siamtrack.config import Config, ModelConfig, TrackerConfig, load_config
from siamtrack.data.images import to_bgr
from siamtrack.errors import SiamtrackError
from siamtrack.models import build_model
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.geometry import cosine_window

REPO = Path(__file__).resolve().parent.parent
FRAME = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize("tracker, message", [
    ({"exemplar_size": 0}, "'tracker.exemplar_size' must be in [1, 1024], got 0"),
    ({"instance_size": -255}, "'tracker.instance_size' must be in [1, 1024], got -255"),
    ({"scale_step": 0}, "'tracker.scale_step' must be in (0, 2], got 0.0"),
    ({"response_up": 0}, "'tracker.response_up' must be in [1, 64], got 0"),
    ({"window_influence": ".nan"}, "'tracker.window_influence' must be a finite number, got nan"),
    ({"scale_lr": 1.5}, "'tracker.scale_lr' must be in [0, 1], got 1.5"),
    ({"exemplar_size": 255}, "'tracker.instance_size' (255) must be larger than 'tracker.exemplar_size' (255)"),
    ({"redetect_instance_size": 100}, "'tracker.redetect_instance_size' (100) must be 0 or at least"),
    ({"backend": "tensorflow"}, "'tracker.backend' must be a known backend (torch, onnx"),
])
def test_out_of_range_config_values_name_the_key(tmp_path, tracker, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"tracker": tracker}).replace("'.nan'", ".nan"))
    with pytest.raises(SiamtrackError) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_a_binary_file_given_as_config_is_a_config_error() -> None:
    with pytest.raises(SiamtrackError, match="is not a text file"):
        load_config(REPO / "weights" / "siamfc_fast.pth")


def test_a_tracker_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(SiamtrackError, match="scale_step"):
        build_tracker(build_model(ModelConfig(backbone="pixels")), TrackerConfig(scale_step=0.0))


@pytest.mark.parametrize("model, message", [
    ("a string", "'model' entry is a str, not a state dict"),
    ({"backbone.conv1.weight": "text"}, "is a str, not a tensor"),
    ({"head.bias": torch.tensor([float("nan")])}, "holds NaN or infinite values"),
    ({"head.bias": torch.zeros(1), "extra": torch.zeros(2)}, "Unexpected key(s)"),
])
def test_weights_whose_model_entry_is_unusable_are_an_error_naming_the_file(tmp_path, model, message) -> None:
    path = tmp_path / "odd.pth"
    save_atomic({"model": model, "config": Config(model=ModelConfig(backbone="pixels")).to_dict()}, path)
    with pytest.raises(SiamtrackError, match="odd.pth") as caught:
        load_model(path)
    assert message in str(caught.value)


def test_load_model_gives_a_network_in_inference_mode() -> None:
    """In training mode BatchNorm normalises by the batch's own statistics, so one crop's features would
    depend on the crops beside it (the box model's size test once measured it that way)."""
    net, _ = load_model("siamfc_fast")
    crops = torch.rand(3, 3, 127, 127, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        torch.testing.assert_close(net.backbone(crops[:1]), net.backbone(crops)[:1], atol=1e-4, rtol=1e-4)


def test_weights_with_an_unusable_stored_config_name_the_file(tmp_path) -> None:
    path = tmp_path / "bad_config.pth"
    cfg = Config(model=ModelConfig(backbone="pixels")).to_dict()
    cfg["tracker"]["exemplar_size"] = 0
    save_atomic({"model": build_model(ModelConfig(backbone="pixels")).state_dict(), "config": cfg}, path)
    with pytest.raises(SiamtrackError, match="bad_config.pth hold an unusable config.*exemplar_size"):
        load_model(path)


def test_update_before_init_says_so(pixel_tracker) -> None:
    with pytest.raises(SiamtrackError, match=r"update\(\) was called before init\(\)"):
        pixel_tracker.update(FRAME)


def test_a_torch_tensor_frame_is_tracked_like_the_array(pixel_tracker) -> None:
    pixel_tracker.init(torch.from_numpy(FRAME), (40, 30, 30, 20))
    from_tensor = pixel_tracker.update(torch.from_numpy(FRAME))
    pixel_tracker.init(FRAME, (40, 30, 30, 20))
    np.testing.assert_array_equal(from_tensor, pixel_tracker.update(FRAME))
    with pytest.raises(SiamtrackError, match="channels-first"):
        pixel_tracker.update(torch.from_numpy(FRAME).permute(2, 0, 1))


def test_unsupported_frame_types_list_what_works(pixel_tracker) -> None:
    with pytest.raises(SiamtrackError, match="numpy array.*PIL image.*torch.Tensor"):
        pixel_tracker.init("frame.png", (1, 1, 5, 5))


@pytest.mark.parametrize("box, message", [
    ((0, 0, 1e200, 1e200), "too large to track"),
    ((0, 0, 1e154, 1e154), "too large to track"),
    ((0, 0, 17000, 10), "too large to track"),
    ((5, 5, 1e-300, 5), "too small to track"),
])
def test_absurd_boxes_are_an_error(pixel_tracker, box, message) -> None:
    with pytest.raises(SiamtrackError, match=message):
        pixel_tracker.init(FRAME, box)


def test_twelve_bit_frames_in_a_sixteen_bit_container_keep_their_contrast() -> None:
    twelve_bit = (FRAME.astype(np.uint16) << 4) | 0xF  # 0..4095
    np.testing.assert_array_equal(to_bgr(twelve_bit), FRAME)
    np.testing.assert_array_equal(to_bgr(FRAME.astype(np.uint16) * 257), FRAME)


def test_found_by_fuzzing_a_two_cell_window_is_flat_not_nan() -> None:
    for size in (1, 2, 3):
        window = cosine_window(size)
        assert np.all(np.isfinite(window)) and window.sum() == pytest.approx(1.0)


def test_found_by_fuzzing_a_state_dict_mismatch_keeps_its_details(tmp_path) -> None:
    path = tmp_path / "empty_model.pth"
    save_atomic({"model": {}, "config": Config(model=ModelConfig(backbone="pixels")).to_dict()}, path)
    with pytest.raises(SiamtrackError, match="Missing key"):
        load_model(path)


def test_the_cli_in_its_own_process_reports_these_as_one_line(tmp_path) -> None:
    """A few of the cases above as a user meets them: a separate process, exit code 2, no traceback."""
    clip = tmp_path / "clip"
    clip.mkdir()
    import cv2
    for index in range(3):
        cv2.imwrite(str(clip / f"{index}.png"), FRAME)
    (tmp_path / "folder").mkdir()
    cases = {
        "binary config": ["--box", "10,10,20,20", "--config", str(REPO / "weights" / "siamfc_fast.pth")],
        "boxes into a folder": ["--box", "10,10,20,20", "--out-boxes", str(tmp_path / "folder")],
        "box too large": ["--box", "0,0,1e200,1e200"],
    }

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "tools" / "track.py"), str(clip), "--device", "cpu", *args],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(cases, pool.map(run, cases.values())))
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, name
