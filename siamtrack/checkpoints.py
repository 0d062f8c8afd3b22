"""Weights and checkpoints on disk: atomic writes, clear errors on unreadable files."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from siamtrack.errors import SiamtrackError


TEMPORARY_SUFFIX = ".tmp"  # save_atomic writes ``.<name>.<random>.tmp`` beside the target first


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename: never a half-written file.

    A failed write (full disk, no permission) raises :class:`SiamtrackError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise SiamtrackError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write as a RuntimeError
        Path(tmp).unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise SiamtrackError(f"cannot write {path}: {reason}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partial_writes(folder: str | Path) -> list[Path]:
    """Delete the temporary files of :func:`save_atomic` calls that were interrupted; returns them."""
    leftovers = sorted(Path(folder).glob(f".*{TEMPORARY_SUFFIX}"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _safe_globals() -> list[Any]:
    """The types beside tensors that ``torch.load(weights_only=True)`` must build for a training
    checkpoint: the numpy arrays of its saved random states (numpy's array constructor, the array and
    dtype types, under numpy 1's and numpy 2's module names). None of them runs code of the file's choosing."""
    try:
        from numpy._core.multiarray import _reconstruct as reconstruct
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct as reconstruct
    allowed: list[Any] = [np.ndarray, np.dtype, (reconstruct, "numpy.core.multiarray._reconstruct"),
                          (reconstruct, "numpy._core.multiarray._reconstruct")]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles a dtype with its class
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in ("UInt32DType", "Int64DType", "Float64DType")]
    return allowed


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a weights file or a training checkpoint written by siamtrack (a dict with at least ``model``).

    Always ``torch.load(weights_only=True)``: a file can hold tensors, plain Python values and the
    numpy random states of :func:`_safe_globals`, never objects whose loading would run code.
    """
    path = Path(path)
    if not path.is_file():
        raise SiamtrackError(f"weights file not found: {path}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        reason = str(exc).splitlines()[0] if isinstance(exc, (RuntimeError, EOFError, OSError)) and str(exc) else \
            "not a PyTorch weights file, or a damaged one"
        raise SiamtrackError(f"cannot read weights file {path}: {reason}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise SiamtrackError(f"{path} is not a siamtrack weights file (no 'model' entry)")
    if not isinstance(state["model"], Mapping):
        raise SiamtrackError(f"{path} is not a siamtrack weights file: its 'model' entry is a "
                             f"{type(state['model']).__name__}, not a state dict of tensors")
    return state


def load_weights(net: torch.nn.Module, weights: Mapping[str, Any], path: str | Path, model_name: str) -> None:
    """Put the state dict ``weights`` (read from ``path``) into ``net``, or raise :class:`SiamtrackError`.

    Whatever ``load_state_dict`` rejects (missing or unexpected keys, other shapes, values that
    are not tensors) and tensors holding NaN or infinity are errors naming the file.
    """
    for key, value in weights.items():
        if not isinstance(value, torch.Tensor):
            raise SiamtrackError(f"weights {path} do not fit the '{model_name}' model: "
                                 f"entry '{key}' is a {type(value).__name__}, not a tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise SiamtrackError(f"weights {path} are damaged: '{key}' holds NaN or infinite values")
    try:
        net.load_state_dict(weights)
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise SiamtrackError(f"weights {path} do not fit the '{model_name}' model: "
                             f"{detail if len(detail) <= 300 else detail[:297] + '...'}") from None
