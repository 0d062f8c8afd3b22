"""Weights and checkpoints on disk: atomic writes, clear errors on unreadable files."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from siamtrack.errors import SiamtrackError


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """Load a checkpoint or weights file written by siamtrack (a dict with at least ``model``).

    ``weights_only=False`` is for the trainer's own resume files, which also hold RNG states.
    """
    path = Path(path)
    if not path.is_file():
        raise SiamtrackError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as exc:  # torch raises many types for corrupt files
        reason = str(exc).splitlines()[0] if isinstance(exc, (RuntimeError, EOFError, OSError)) and str(exc) else \
            "not a PyTorch weights file, or a damaged one"
        raise SiamtrackError(f"cannot read weights file {path}: {reason}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise SiamtrackError(f"{path} is not a siamtrack weights file (no 'model' entry)")
    return state
