"""``--resume`` with another config than the checkpoint's (issue 27 item 4), into a folder without a
run, and a from-scratch backbone frozen for the whole run (item 17): refused with the reason, or,
when the user says so, continued with the change logged and in effect."""
from __future__ import annotations

import logging

import pytest

from siamtrack.config import config_from_dict
from siamtrack.errors import SiamtrackError
from siamtrack.training.trainer import Trainer, train
from test_training import TINY, train_cli, tiny_config, tiny_root  # noqa: F401  (fixtures)

ONE_EPOCH = {**TINY, "train": {**TINY["train"], "epochs": 1}}


def with_train(**changes) -> dict:
    return {**ONE_EPOCH, "train": {**ONE_EPOCH["train"], **changes}}


@pytest.fixture(scope="module")
def finished_run(tiny_root, tmp_path_factory):  # noqa: F811
    """A run of one epoch (its checkpoint ckpt_001_000000.pth), to resume in several ways."""
    out = tmp_path_factory.mktemp("run")
    train(config_from_dict(ONE_EPOCH), tiny_root, out, device="cpu", progress=False)
    return out


def test_resume_with_a_changed_config_is_refused_with_the_changed_keys(tiny_root, finished_run) -> None:  # noqa: F811
    cfg = config_from_dict(with_train(lr_initial=0.5, batch_size=1))
    with pytest.raises(SiamtrackError) as caught:
        Trainer(cfg, tiny_root, finished_run, resume=True, device="cpu", progress=False)
    message = str(caught.value)
    assert "train.lr_initial 0.01 -> 0.5" in message and "train.batch_size 2 -> 1" in message
    assert "--allow-config-change" in message


def test_allowed_config_change_is_logged_and_takes_effect(tiny_root, finished_run, caplog) -> None:  # noqa: F811
    cfg = config_from_dict(with_train(epochs=2, lr_initial=0.5, lr_final=0.05))
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(cfg, tiny_root, finished_run, resume=True, device="cpu", progress=False,
                          allow_config_change=True)
    assert "changed config: train.epochs 1 -> 2; train.lr_initial 0.01 -> 0.5" in caplog.text
    assert trainer.epoch == 1
    # epoch 2 of 2 runs at lr_final of the new config, not at the checkpoint's 0.01 schedule
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    assert trainer.scheduler.base_lrs[0] == pytest.approx(0.5)


def test_more_epochs_need_no_option_and_stretch_the_schedule(tiny_root, finished_run, caplog) -> None:  # noqa: F811
    cfg = config_from_dict(with_train(epochs=3))
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(cfg, tiny_root, finished_run, resume=True, device="cpu", progress=False)
    assert "train.epochs 1 -> 3" in caplog.text
    lr_initial, lr_final = cfg.train.lr_initial, cfg.train.lr_final
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lr_initial * (lr_final / lr_initial) ** 0.5)


def test_a_changed_tracker_section_only_steers_validation_and_needs_no_option(tiny_root, finished_run,  # noqa: F811
                                                                            caplog) -> None:
    values = {**ONE_EPOCH, "tracker": {"window_influence": 0.3}}
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(config_from_dict(values), tiny_root, finished_run, resume=True, device="cpu", progress=False)
    assert trainer.epoch == 1 and "tracker.window_influence 0.176 -> 0.3" in caplog.text


def test_resume_into_a_folder_without_a_run_says_so(tiny_root, tmp_path, capsys, tiny_config) -> None:  # noqa: F811
    assert train_cli("--config", str(tiny_config), "--data", str(tiny_root), "--out", str(tmp_path / "typo"),
                     "--resume", "--no-progress") == 2
    error = capsys.readouterr().err
    assert "--resume:" in error and "does not exist, so there is no run to continue" in error
    assert not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SiamtrackError, match="holds no checkpoint"):
        Trainer(config_from_dict(ONE_EPOCH), tiny_root, tmp_path / "empty", resume=True, device="cpu", progress=False)


def test_a_random_backbone_frozen_for_every_epoch_is_refused(tiny_root, tmp_path) -> None:  # noqa: F811
    with pytest.raises(SiamtrackError, match="'train.freeze_backbone_epochs' \\(1\\) >= 'train.epochs' \\(1\\)"):
        Trainer(config_from_dict(with_train(freeze_backbone_epochs=1)), tiny_root, tmp_path, device="cpu",
                progress=False)


def test_the_command_lists_the_changed_keys_and_takes_the_option_only_with_resume(tiny_root, tiny_config,  # noqa: F811
                                                                                   finished_run, capsys) -> None:
    assert train_cli("--config", str(tiny_config), "--data", str(tiny_root), "--out", str(finished_run),
                     "--resume", "--batch-size", "1", "--no-progress") == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --resume: the config differs") and "train.batch_size 2 -> 1" in error
    with pytest.raises(SystemExit):
        train_cli("--data", str(tiny_root), "--allow-config-change")
    assert "--allow-config-change goes with --resume" in capsys.readouterr().err
