"""Config files: ``base:`` chains (a training recipe states only what it changes) and their errors."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from siamtrack import load_model
from siamtrack.config import load_config
from siamtrack.errors import SiamtrackError

REPO = Path(__file__).resolve().parent.parent


def test_a_config_with_a_base_replaces_the_base_keys_it_states_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "base.yaml").write_text(
        "model: {backbone: alexnet_half}\ntracker: {scale_num: 5, window_influence: 0.3}\n"
        "data: {mix: {video: 0.6, stills: 0.2, synthetic: 0.2}}\n")
    (tmp_path / "recipe.yaml").write_text(
        "base: models/base.yaml\ntracker: {scale_num: 3}\ndata: {mix: {video: 1.0}}\ntrain: {epochs: 2}\n")
    cfg = load_config(tmp_path / "recipe.yaml")
    assert cfg.model.backbone == "alexnet_half"
    assert (cfg.tracker.scale_num, cfg.tracker.window_influence) == (3, 0.3)
    assert cfg.data.mix == {"video": 1.0}  # a value that is itself a mapping is replaced whole
    assert cfg.train.epochs == 2


@pytest.mark.parametrize("recipe", sorted((REPO / "configs" / "training").glob("cpu_efficientnet_box*.yaml")))
def test_box_training_recipes_train_the_shipped_box_model_and_loop(recipe: Path) -> None:
    shipped, trained = load_config(REPO / "configs" / "efficientnet_box.yaml"), load_config(recipe)
    # The quality branch came in the tenth stage; the stages before it trained the same network without it.
    stage = int(recipe.stem.rsplit("stage", 1)[1]) if "stage" in recipe.stem else 1
    assert trained.model.quality == (stage >= 10)
    assert dataclasses.replace(trained.model, quality=True) == shipped.model
    # Validation ran the loop before it was tuned on train; everything else is the shipped loop.
    tuned = ("penalty_k", "window_influence", "box_scale", "template_rate")
    assert tuple(getattr(trained.tracker, name) for name in tuned) == (0.1, 0.4, 1.0, 0.0)
    assert dataclasses.replace(trained.tracker, **{n: getattr(shipped.tracker, n) for n in tuned}) == shipped.tracker


def test_shipped_box_weights_run_the_loop_of_their_config_file() -> None:
    _, stored = load_model(REPO / "weights" / "efficientnet_box.pth")
    shipped = load_config(REPO / "configs" / "efficientnet_box.yaml")
    assert stored.model == shipped.model and stored.tracker == shipped.tracker


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"}, "leads back to itself"),
    ({"a.yaml": "base: missing.yaml\n"}, "config file not found"),
    ({"a.yaml": "base: [b.yaml]\n"}, "'base' must be a path to another config"),
    ({"a.yaml": "base: b.yaml\n", "b.yaml": "- a list\n"}, "the top level must be a mapping"),
])
def test_bad_base_chains_are_an_error_naming_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SiamtrackError, match=message):
        load_config(tmp_path / "a.yaml")
