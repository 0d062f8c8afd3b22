"""Weights, configs and the Python API on inputs a new user gives (issue 27): training checkpoints
are weights, names resolve everywhere, mismatches and misuse are one clear :class:`SiamtrackError`
naming what is wrong, ONNX graphs run only with the weights they came from, and the tools check
their outputs before the work."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from siamtrack import load_model, load_tracker, resources
from siamtrack.checkpoints import load_checkpoint, save_atomic
from siamtrack.cli import main
from siamtrack.config import Config, ModelConfig, TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.loading import release_weights
from siamtrack.models import build_model
from siamtrack.models.export import WEIGHTS_HASH_FILE, export_onnx
from siamtrack.tracking.builder import build_tracker
from siamtrack.training import state

PIXELS = Config(model=ModelConfig(backbone="pixels"))  # a parameter-free network: instant to build and export


def training_checkpoint(path: Path, cfg: Config) -> Path:
    """A resume checkpoint as the trainer writes it: optimizer, scheduler, numpy/python/torch RNG states."""
    torch.manual_seed(0)
    net = build_model(cfg.model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)
    net(torch.rand(1, 3, 127, 127), torch.rand(1, 3, 255, 255)).sum().backward()
    optimizer.step()
    scheduler.step()
    save_atomic({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "epoch": 1, "step": 0, "rng": state.rng_states(), "config": cfg.to_dict(),
                 "progress": {"pairs_seen": 8, "best_auc": -float("inf"), "best_epoch": 0, "record": None,
                              "loss_sums": [0.5], "wall_time": 1.0}}, path)
    return path


class RunsCode:
    """What a malicious weights file would hold: unpickling it calls ``os.system``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ----------------------------------------------------------------- item 5: checkpoints are weights
def test_a_training_checkpoint_is_weights_for_tracking_release_and_fine_tuning(tmp_path) -> None:
    checkpoint = training_checkpoint(tmp_path / "ckpt_001_000000.pth", Config())
    net, cfg = load_model(checkpoint)
    assert cfg.model.backbone == "alexnet"
    saved = load_checkpoint(checkpoint)
    assert isinstance(saved["rng"]["numpy"][1], np.ndarray)  # the numpy state, read without running code
    tracker = load_tracker(checkpoint, device="cpu")
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker.init(frame, (50, 40, 30, 20))
    assert np.isfinite(tracker.update(frame)).all()

    out = release_weights(checkpoint, resources.default_config(), tmp_path / "released.pth")
    released = load_checkpoint(out)
    assert set(released) == {"model", "config", "meta"} and released["meta"]["epoch"] == 1
    assert all(torch.equal(released["model"][k], v) for k, v in saved["model"].items())


def test_loading_weights_never_runs_code_from_the_file(tmp_path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"model": {}, "config": RunsCode(marker)}, path)
    with pytest.raises(SiamtrackError, match="cannot read weights file"):
        load_model(path)
    assert not marker.exists()


def test_init_weights_takes_shipped_names_and_checkpoints_like_weights(tmp_path, monkeypatch) -> None:
    """``train --init-weights efficientnet_box`` means the shipped file, as ``--weights`` does."""
    from siamtrack.training import trainer

    given = []
    monkeypatch.setattr(trainer, "train", lambda cfg, *args, **kwargs: given.append(cfg) or trainer.TrainResult())
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--init-weights",
                 "efficientnet_box", "--no-progress"]) == 0
    assert Path(given[0].train.init_weights) == resources.weights_dir() / "efficientnet_box.pth"


# ----------------------------------------------------------------- item 6: config and weights of two models
def test_a_config_of_another_model_says_which_model_each_describes() -> None:
    with pytest.raises(SiamtrackError) as caught:
        load_model("efficientnet_box", "siamfc_alexnet")
    message = str(caught.value)
    assert "describes model 'alexnet' with the 'xcorr' head" in message
    assert "hold model 'efficientnet_lite0' with the 'box' head" in message
    assert "missing" not in message.lower() and len(message) < 500


# ----------------------------------------------------------------- item 9 and 17: API misuse
@pytest.mark.parametrize("kwargs, message", [
    ({"weights": 3}, "weights must be a file path or the name of shipped weights, got 3 (int)"),
    ({"weights": ["siamfc_fast"]}, "weights must be a file path"),
    ({"weights": ""}, "weights is empty: give a weights file, a shipped name ("),
    ({"weights": "siamfc_fast", "config": 42}, "config must be a YAML file, the name of a shipped config, a dict"),
    ({"weights": "siamfc_fast", "device": "tpu"}, "device 'tpu' is not a device name: give 'auto', 'cpu', 'cuda'"),
    ({"weights": "siamfc_fast", "device": 0}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (a string or "
                                              "torch.device), got 0 (int)"),
    ({"weights": "siamfc_fast", "device": "meta"}, "device 'meta': siamtrack runs on 'auto', 'cpu'"),
])
def test_api_misuse_is_an_error_naming_the_parameter(kwargs, message) -> None:
    with pytest.raises(SiamtrackError) as caught:
        load_tracker(**kwargs)
    assert message in str(caught.value)


def test_a_config_may_be_given_as_a_dict() -> None:
    values = {"model": {"backbone": "alexnet_half"}, "tracker": {"instance_size": 223, "window_influence": 0.2}}
    tracker = load_tracker("siamfc_fast", values, device="cpu")
    assert tracker.cfg.instance_size == 223 and tracker.cfg.window_influence == 0.2
    with pytest.raises(SiamtrackError, match="unknown key 'tracker.windw'"):
        load_tracker("siamfc_fast", {"tracker": {"windw": 1}}, device="cpu")


@pytest.mark.parametrize("files, box, message", [
    ("frames", (1, 1, 5, 5), "img_files must be a list of image files"),
    ([], (1, 1, 5, 5), "img_files is empty"),
    (["missing.jpg"], (1, 1, 5, 5), "cannot read image missing.jpg"),
    (["frame.png"], [(1, 1, 5, 5), (2, 2, 5, 5)], "box must be one x,y,w,h box"),
])
def test_the_got10k_track_face_refuses_bad_arguments_clearly(pixel_tracker, tmp_path, monkeypatch, files, box,
                                                             message) -> None:
    import cv2

    monkeypatch.chdir(tmp_path)
    cv2.imwrite("frame.png", np.full((40, 40, 3), 128, np.uint8))
    with pytest.raises(SiamtrackError, match=message):
        pixel_tracker.track(files, box)


# ----------------------------------------------------------------- item 3: ONNX graphs of other weights
def onnx_config(folder: Path) -> TrackerConfig:
    return TrackerConfig(backend="onnx", onnx_dir=str(folder))


def test_onnx_graphs_run_only_with_the_weights_they_were_exported_from(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net, other = build_model(ModelConfig(backbone="alexnet_half")), build_model(ModelConfig(backbone="alexnet_half"))
    folder = tmp_path / "graphs"
    paths = export_onnx(net, folder, source="mine.pth")
    assert (folder / WEIGHTS_HASH_FILE) in paths and "mine.pth" in (folder / WEIGHTS_HASH_FILE).read_text()
    build_tracker(net, onnx_config(folder))  # its own graphs: fine
    with pytest.raises(SiamtrackError, match="were exported from other weights than the ones given"):
        build_tracker(other, onnx_config(folder))
    (folder / WEIGHTS_HASH_FILE).unlink()
    with pytest.raises(SiamtrackError, match=f"has no {WEIGHTS_HASH_FILE}"):
        build_tracker(net, onnx_config(folder))


def test_the_shipped_int8_graphs_belong_to_the_shipped_fast_weights(random_weights) -> None:
    pytest.importorskip("onnxruntime")
    tracker = load_tracker("siamfc_fast", "siamfc_fast_int8", device="cpu")
    assert tracker.cfg.backend == "onnx"
    with pytest.raises(SiamtrackError, match="describes model 'alexnet_half'"):
        load_tracker(random_weights, "siamfc_fast_int8", device="cpu")  # another model: refused before the graphs


# ----------------------------------------------------------------- items 15 and 17: tools check first
def test_export_checks_its_output_and_calibration_count_before_any_work(tmp_path, capsys) -> None:
    out = tmp_path / "graphs"
    with pytest.raises(SystemExit) as usage:
        main(["export", "--weights", "siamfc_fast", "--int8", "--calibration-sequences", "0", "--out", str(out)])
    assert usage.value.code == 2
    assert "--calibration-sequences must be >= 1" in capsys.readouterr().err
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    assert main(["export", "--weights", "siamfc_fast", "--out", str(tmp_path / "file")]) == 2
    assert "is a file: give a folder" in capsys.readouterr().err
    assert main(["export", "--weights", "siamfc_fast", "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "file, not a folder" in capsys.readouterr().err


def test_export_writes_graphs_that_track_with_its_weights(tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "graphs"
    assert main(["export", "--weights", "siamfc_fast", "--out", str(out)]) == 0
    assert "siamfc_fast" in (out / WEIGHTS_HASH_FILE).read_text()
    config = {"model": {"backbone": "alexnet_half"}, "tracker": {"backend": "onnx", "onnx_dir": str(out)}}
    assert load_tracker("siamfc_fast", config, device="cpu").cfg.onnx_dir == str(out)


def test_bench_and_plot_training_check_outputs_first(tmp_path, capsys, shared_data) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["bench", "--json", str(tmp_path / "file" / "out.json"), "--modes", "reference"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["bench", "--clip", "missing.mp4", "--modes", "reference"]) == 2
    assert "clip missing.mp4: no such file" in capsys.readouterr().err
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text('{"epoch": 1, "loss": 1.0, "wall_time": 2.0}\n')
    assert main(["plot-training", str(metrics), "--out", str(tmp_path / "file" / "curve.png")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    odd_name = tmp_path / "metrics.png"
    odd_name.write_text(metrics.read_text())
    assert main(["plot-training", str(odd_name), "--out", str(odd_name)]) == 2
    assert "is the input itself" in capsys.readouterr().err
    assert main(["plot-training", str(metrics), "--out", str(tmp_path / "curve.txt")]) == 2
    assert "cannot draw a '.txt' file" in capsys.readouterr().err


# ----------------------------------------------------------------- item 11: frames the API must refuse
def test_a_frame_of_another_size_than_the_tracked_one_is_refused_with_both_sizes(pixel_tracker) -> None:
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    pixel_tracker.init(frame, (50, 40, 30, 20))
    with pytest.raises(SiamtrackError, match="the frame is 320x240, but tracking started on a 160x120 frame"):
        pixel_tracker.update(np.zeros((240, 320, 3), np.uint8))
    assert np.isfinite(pixel_tracker.update(frame)).all()  # the right size still tracks


def test_imagenet_normalised_float_frames_are_refused_saying_which_ranges_work(pixel_tracker) -> None:
    rgb = np.random.default_rng(0).random((120, 160, 3), dtype=np.float32)
    normalised = (rgb - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    with pytest.raises(SiamtrackError, match=r"\[0, 1\] or \[0, 255\]"):
        pixel_tracker.init(normalised, (50, 40, 30, 20))
    pixel_tracker.init(rgb, (50, 40, 30, 20))  # the same frame in [0, 1] is taken
    with pytest.raises(SiamtrackError, match=r"\[0, 1\] or \[0, 255\]"):
        pixel_tracker.update(torch.from_numpy(normalised))


def test_an_empty_weights_option_is_not_read_as_the_current_folder(tmp_path, capsys) -> None:
    assert main(["export", "--weights", "", "--out", str(tmp_path / "graphs")]) == 2
    assert "weights is empty" in capsys.readouterr().err
    with pytest.raises(SiamtrackError, match="is a folder \\(an empty --weights '' reads as '.'\\)"):
        load_model(Path(""))


def test_export_into_a_place_that_cannot_hold_files_fails_first_and_leaves_nothing(tmp_path, capsys) -> None:
    assert main(["export", "--weights", "siamfc_fast", "--out", "/proc/siamtrack_graphs"]) == 2
    assert "cannot write --out /proc/siamtrack_graphs" in capsys.readouterr().err
    out = tmp_path / "new" / "graphs"
    from siamtrack.cli.export import check_out_folder

    check_out_folder(out)
    assert not (tmp_path / "new").exists()  # checked, and nothing left behind
