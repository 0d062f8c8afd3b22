"""The learning curve of a run, drawn from its ``metrics.jsonl``."""
from __future__ import annotations

import json
from pathlib import Path

from siamtrack.errors import SiamtrackError
from siamtrack.training.state import read_metrics


def plot_learning_curve(metrics_path: str | Path, out_path: str | Path) -> Path:
    """Training loss (left axis) and validation AUC / precision@20 (right axis) against epochs, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics_path, out_path = Path(metrics_path), Path(out_path)
    if not metrics_path.is_file():
        raise SiamtrackError(f"metrics file not found: {metrics_path}")
    try:
        records = read_metrics(metrics_path)
    except (json.JSONDecodeError, KeyError) as exc:
        raise SiamtrackError(f"{metrics_path} is not a metrics.jsonl of siamtrack train: {exc}") from None
    if not records:
        raise SiamtrackError(f"{metrics_path} holds no epoch yet")
    epochs = [r["epoch"] for r in records]
    figure, loss_axis = plt.subplots(figsize=(7, 4), dpi=120)
    loss_axis.plot(epochs, [r["loss"] for r in records], color="tab:blue", marker="o", ms=3, label="training loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss (the head's loss)", color="tab:blue")
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
    loss_axis.set_title(f"Training: {len(records)} epochs, {pairs:,} pairs, {records[-1]['wall_time']:.0f} s")
    figure.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path)
    plt.close(figure)
    return out_path
