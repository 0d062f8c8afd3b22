"""Shared fixtures: where the real data lies, and small trackers/weights that need no training."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from siamtrack.checkpoints import save_atomic
from siamtrack.config import Config, ModelConfig, TrackerConfig
from siamtrack.models import build_model
from siamtrack.tracking.siamfc import SiamFCTracker

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (read-only real footage)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture
def pixel_tracker() -> SiamFCTracker:
    """A parameter-free template matcher: the SiamFC loop over mean-pooled pixels."""
    return SiamFCTracker(build_model(ModelConfig(backbone="pixels")), TrackerConfig())


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file of an untrained AlexNet SiamFC, for plumbing tests (not for accuracy)."""
    torch.manual_seed(0)
    cfg = Config()
    path = tmp_path_factory.mktemp("weights") / "random_alexnet.pth"
    save_atomic({"model": build_model(cfg.model).state_dict(), "config": cfg.to_dict()}, path)
    return path
