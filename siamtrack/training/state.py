"""What a training run leaves in its output folder: resume checkpoints, shipped weights, metrics.

Resume checkpoints are ``ckpt_<epochs done>_<steps into the next epoch>.pth`` (name order is
progress order); weights files (``best.pth``, ``last.pth``) use the shipping format
``{"model", "config", "meta"}`` that :func:`siamtrack.load_tracker` reads.
"""
from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from siamtrack.checkpoints import load_checkpoint, save_atomic
from siamtrack.config import Config, config_from_dict
from siamtrack.errors import SiamtrackError

log = logging.getLogger(__name__)

_MISSING = object()
CHECKPOINT_PATTERN = re.compile(r"ckpt_(\d+)_(\d+)\.pth")
METRICS_FILE = "metrics.jsonl"


def checkpoint_path(out_dir: Path, epoch: int, step: int) -> Path:
    """Resume checkpoint after ``epoch`` complete epochs and ``step`` steps of the next one."""
    return out_dir / f"ckpt_{epoch:03d}_{step:06d}.pth"


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Resume checkpoints in ``out_dir``, oldest progress first."""
    found = [(tuple(int(g) for g in m.groups()), p) for p in out_dir.glob("ckpt_*.pth")
             if (m := CHECKPOINT_PATTERN.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


class DamagedCheckpoint(SiamtrackError):
    """A resume checkpoint that cannot be read or lacks part of the training state."""


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "step", "rng", "config", "progress")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A resume checkpoint with every entry the trainer needs; :class:`DamagedCheckpoint` otherwise."""
    try:
        saved = load_checkpoint(path)
    except SiamtrackError as exc:
        raise DamagedCheckpoint(str(exc)) from None
    missing = [key for key in CHECKPOINT_KEYS if key not in saved]
    if missing or not isinstance(saved["progress"], dict) or not isinstance(saved["config"], dict):
        raise DamagedCheckpoint(f"{path} lacks {', '.join(missing) or 'a readable progress or config entry'}")
    return saved


# What a resumed run may change without --allow-config-change: how long to train (the learning-rate
# schedule then spans the new number of epochs) and run settings that do not change what is learnt.
# ``train.init_weights`` only matters at the start: a resumed run takes its weights from the checkpoint.
# The tracker section only steers validation's tracking loop (new loop features add keys and defaults
# there), not what the network learns: it may change too, logged.
RESUME_FREE_KEYS = ("train.epochs", "train.workers", "train.keep_checkpoints", "train.checkpoint_every",
                    "train.init_weights")
RESUME_FREE_SECTIONS = ("tracker.",)


def resume_free(key: str) -> bool:
    """Whether a resumed run may change config ``key`` without --allow-config-change."""
    return key in RESUME_FREE_KEYS or key.startswith(RESUME_FREE_SECTIONS)


def config_changes(stored: Mapping[str, Any], current: Config) -> list[tuple[str, Any, Any]]:
    """``(key, checkpoint's value, current value)`` for each key of ``current`` that differs from the
    config ``stored`` in a checkpoint (read with today's defaults and renamed keys where it can be)."""
    try:
        stored = config_from_dict(stored).to_dict()
    except SiamtrackError:
        pass
    changes = []
    for section, values in current.to_dict().items():
        old_section = stored.get(section) if isinstance(stored.get(section), Mapping) else {}
        for key, value in values.items():
            if old_section.get(key, _MISSING) != value:
                changes.append((f"{section}.{key}", old_section.get(key, "(absent)"), value))
    return changes


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    """``key old -> new`` for each change, on one line (long values shortened)."""
    def short(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    return "; ".join(f"{key} {short(old)} -> {short(new)}" for key, old, new in changes)


def prune_checkpoints(out_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` most advanced resume checkpoints."""
    for path in list_checkpoints(out_dir)[:-max(keep, 1)]:
        path.unlink(missing_ok=True)


def rng_states() -> dict[str, Any]:
    """Every random generator's state: python, numpy, torch CPU and CUDA."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put back what :func:`rng_states` captured."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_weights(path: Path, model: torch.nn.Module, config: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write trained weights in the shipping format (contiguous tensors, plain-python meta)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_atomic({"model": state, "config": config, "meta": meta}, path)


def epoch_outputs(best: bool) -> tuple[str, ...]:
    """What an epoch end writes after its checkpoint: the metrics line, ``last.pth``, and ``best.pth``
    when this epoch is the best so far."""
    return ("metrics", "last.pth", "best.pth") if best else ("metrics", "last.pth")


def missing_epoch_outputs(out_dir: Path, epoch: int, best: bool) -> tuple[str, ...]:
    """Which of :func:`epoch_outputs` do not hold epoch ``epoch`` (a run killed right after its checkpoint)."""
    missing = []
    if not any(record.get("epoch") == epoch for record in _readable_records(out_dir / METRICS_FILE)):
        missing.append("metrics")
    for name in epoch_outputs(best)[1:]:
        try:
            meta = load_checkpoint(out_dir / name).get("meta", {})
        except SiamtrackError:
            meta = {}
        if meta.get("epoch") != epoch or meta.get("interrupted"):
            missing.append(name)
    return tuple(missing)


def append_metrics(out_dir: Path, record: dict[str, Any]) -> None:
    """One line of ``metrics.jsonl`` per epoch, flushed to disk."""
    path = out_dir / METRICS_FILE
    try:
        with path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
    except OSError as exc:
        raise SiamtrackError(f"cannot write {path}: {exc.strerror or exc}") from None


def _readable_records(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file; a line cut short by a crash is left out with a warning."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            record = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            record = None
            log.warning("%s line %d is cut short (a crash while writing it): dropped", path, number)
        if isinstance(record, dict):
            records.append(record)
    return records


def truncate_metrics(out_dir: Path, epochs_done: int) -> None:
    """Drop metrics lines of epochs beyond ``epochs_done`` (left by a run stopped before its checkpoint)."""
    path = out_dir / METRICS_FILE
    if path.is_file():
        records = [r for r in _readable_records(path) if r.get("epoch", 0) <= epochs_done]
        path.write_text("".join(json.dumps(r) + "\n" for r in records))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
