"""The learning curve of a run, or of consecutive runs each started from the one before, drawn from
their ``metrics.jsonl`` files."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from siamtrack.errors import SiamtrackError
from siamtrack.training.state import read_metrics

REQUIRED = {"epoch", "loss", "wall_time"}  # what every epoch's record holds
Stage = tuple[Path, int | None]  # a metrics.jsonl and the last epoch of it that the next run started from


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SiamtrackError(f"metrics file not found: {path}")
    try:
        records = read_metrics(path)
    except json.JSONDecodeError as exc:
        raise SiamtrackError(f"{path} is not a metrics.jsonl of siamtrack train: {exc}") from None
    if any(not isinstance(r, dict) or not REQUIRED <= set(r) for r in records):
        raise SiamtrackError(f"{path} is not a metrics.jsonl of siamtrack train: records lack epoch, loss or wall_time")
    if not records:
        raise SiamtrackError(f"{path} holds no epoch yet")
    return records


def join_stages(stages: Sequence[Stage]) -> tuple[list[dict[str, Any]], list[int]]:
    """Stages of training as one run: each stage's records up to its given last epoch, epochs numbered
    on, pairs seen and wall time added up; and the joined epoch each stage after the first starts at."""
    joined: list[dict[str, Any]] = []
    starts: list[int] = []
    for index, (path, last_epoch) in enumerate(stages):
        records = _records(Path(path))
        if last_epoch is not None:
            records = [r for r in records if r["epoch"] <= last_epoch]
            if not records or records[-1]["epoch"] != last_epoch:
                raise SiamtrackError(f"{path} has no epoch {last_epoch}")
        epoch0 = joined[-1]["epoch"] if joined else 0
        pairs0 = joined[-1].get("pairs_seen", 0) if joined else 0
        time0 = joined[-1]["wall_time"] if joined else 0.0
        if index:
            starts.append(epoch0 + 1)
        joined += [{**r, "epoch": epoch0 + r["epoch"], "pairs_seen": pairs0 + r.get("pairs_seen", 0),
                    "wall_time": time0 + r["wall_time"]} for r in records]
    return joined, starts


def plot_learning_curve(metrics_path: str | Path | Sequence[Stage], out_path: str | Path) -> Path:
    """Training loss (left axis) and validation AUC / precision@20 (right axis) against epochs, as a PNG.

    ``metrics_path`` is one run's ``metrics.jsonl``, or stages ``(metrics.jsonl, last epoch or None)``
    joined by :func:`join_stages`, a dotted line where each later stage starts.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [(Path(metrics_path), None)] if isinstance(metrics_path, (str, Path)) else list(metrics_path)
    records, starts = join_stages(stages)
    out_path = Path(out_path)
    epochs = [r["epoch"] for r in records]
    figure, loss_axis = plt.subplots(figsize=(7, 4), dpi=120)
    loss_axis.plot(epochs, [r["loss"] for r in records], color="tab:blue", marker="o", ms=3, label="training loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss (the head's loss)", color="tab:blue")
    for start in starts:
        loss_axis.axvline(start - 0.5, color="gray", linestyle=":")
    validated = [r for r in records if r.get("val_auc") is not None]
    if validated:
        score_axis = loss_axis.twinx()
        score_axis.plot([r["epoch"] for r in validated], [r["val_auc"] for r in validated], color="tab:red",
                        marker="s", ms=3, label="val success AUC")
        score_axis.plot([r["epoch"] for r in validated], [r["val_precision"] for r in validated], color="tab:orange",
                        marker="^", ms=3, label="val precision@20")
        score_axis.set_ylabel("validation score")
        score_axis.set_ylim(0, 1)
        score_axis.legend(loc="upper right")
    loss_axis.legend(loc="upper left")
    pairs = records[-1].get("pairs_seen", 0)
    runs = f" in {len(stages)} stages" if len(stages) > 1 else ""
    loss_axis.set_title(f"Training{runs}: {len(records)} epochs, {pairs:,} pairs, {records[-1]['wall_time']:.0f} s")
    figure.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path)
    plt.close(figure)
    return out_path
