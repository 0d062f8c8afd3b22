"""What a training run leaves in its output folder: resume checkpoints, shipped weights, metrics.

Resume checkpoints are ``ckpt_<epochs done>_<steps into the next epoch>.pth`` (name order is
progress order); weights files (``best.pth``, ``last.pth``) use the shipping format
``{"model", "config", "meta"}`` that :func:`siamtrack.load_tracker` reads.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamtrack.checkpoints import save_atomic

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


def append_metrics(out_dir: Path, record: dict[str, Any]) -> None:
    """One line of ``metrics.jsonl`` per epoch."""
    with (out_dir / METRICS_FILE).open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def truncate_metrics(out_dir: Path, epochs_done: int) -> None:
    """Drop metrics lines of epochs beyond ``epochs_done`` (left by a run stopped before its checkpoint)."""
    path = out_dir / METRICS_FILE
    if path.is_file():
        lines = [line for line in path.read_text().splitlines()
                 if line.strip() and json.loads(line)["epoch"] <= epochs_done]
        path.write_text("".join(line + "\n" for line in lines))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
