"""Shared fixtures: where the real data lies, and small trackers/weights that need no training.

Hypothesis profiles: ``ci`` (the default: few examples, the fuzz suite within a minute) and
``long`` (``pytest tests/test_fuzz.py --hypothesis-profile=long``, or ``HYPOTHESIS_PROFILE=long``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from siamtrack.checkpoints import save_atomic
from siamtrack.config import Config, ModelConfig, TrackerConfig
from siamtrack.models import build_model
from siamtrack.tracking.siamfc import SiamFCTracker

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

_FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=50, **_FUZZ)
settings.register_profile("long", max_examples=2000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
