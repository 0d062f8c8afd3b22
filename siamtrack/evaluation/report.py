"""Benchmark outputs: a markdown table, a JSON file of every score, success and precision plots (PNG)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from siamtrack.evaluation.metrics import PRECISION_THRESHOLD_PX, PRECISION_THRESHOLDS_PX, SUCCESS_THRESHOLDS

CONVENTION = ("One-pass evaluation. Success AUC = mean success rate over 21 IoU thresholds (0, 0.05, ..., 1); "
              "P@20 = share of frames whose centre error is at most 20 px; NP = share of frames whose centre "
              "error, divided by the ground-truth width and height, is at most 0.2. Each is computed per "
              "sequence, then averaged over sequences. The first frame (the given box) is scored (OTB "
              "convention); frames without ground truth (NaN, zero size, or marked absent) are not. "
              "fps = frames / total init+update seconds, JPEG decoding included.")


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def markdown(scores: dict, title: str, skipped: Sequence[str] = (), toolkit: dict | None = None) -> str:
    """The overall table (one row per tracker, best AUC first) and a per-sequence AUC / P@20 table."""
    names = sorted(scores, key=lambda n: -np.nan_to_num(scores[n]["overall"]["auc"], nan=-1))
    lines = [f"# Benchmark: {title}", "", CONVENTION, "",
             "| tracker | AUC | P@20 | NP | fps | sequences | frames scored |" + (" AO | SR |" if toolkit else ""),
             "|---|---|---|---|---|---|---|" + ("---|---|" if toolkit else "")]
    for name in names:
        o = scores[name]["overall"]
        row = (f"| {name} | {_fmt(o['auc'])} | {_fmt(o['precision'])} | {_fmt(o['norm_precision'])} "
               f"| {_fmt(o['fps'], 1)} | {o['sequences']} | {o['frames']} |")
        if toolkit:
            row += f" {_fmt(toolkit[name]['ao'])} | {_fmt(toolkit[name]['sr'])} |"
        lines.append(row)
    if toolkit:
        lines += ["", "AO / SR: GOT-10k's official average overlap and success rate (IoU > 0.5), computed by the "
                  "got10k toolkit itself from the result files (first frame and absent frames not scored, "
                  "frames pooled over sequences)."]
    lines += ["", "## Confidence: does the score know when the tracker is lost?", "",
              "Frames pooled over sequences (first frame and frames without ground truth left out). AUROC: the "
              "chance that a frame with IoU > 0.5 scores higher than one with IoU < 0.1 (0.5: the score says "
              "nothing; '-': the tracker reports no score).", "",
              "| tracker | AUROC | mean score, IoU > 0.5 | mean score, IoU < 0.1 | frames > 0.5 | frames < 0.1 |",
              "|---|---|---|---|---|---|"]
    for name in names:
        c = scores[name].get("confidence")
        if c:
            lines.append(f"| {name} | {_fmt(c['auroc'])} | {_fmt(c['tracked_score'])} | {_fmt(c['lost_score'])} "
                         f"| {c['tracked_frames']} | {c['lost_frames']} |")
    if skipped:
        lines += ["", f"Skipped (missing or inconsistent files): {', '.join(skipped)}"]
    lines += ["", "## Per sequence (AUC / P@20)", "",
              "| sequence | frames | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for seq in scores[names[0]]["sequences"]:
        cells = [f"{_fmt(scores[n]['sequences'][seq]['auc'])} / {_fmt(scores[n]['sequences'][seq]['precision'])}"
                 for n in names]
        lines.append(f"| {seq} | {scores[names[0]]['sequences'][seq]['frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(scores: dict, path: Path, kind: str) -> None:
    """Success (``kind='success'``) or precision plot with one curve per tracker, legend ordered by score."""
    key, metric, x = (("success_curve", "auc", SUCCESS_THRESHOLDS) if kind == "success"
                      else ("precision_curve", "precision", PRECISION_THRESHOLDS_PX))
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    ranked = sorted(scores, key=lambda n: -np.nan_to_num(scores[n]["overall"][metric], nan=-1))
    for name in ranked:
        curve = scores[name]["overall"][key]
        if curve is not None:
            ax.plot(x, curve, label=f"{name} [{_fmt(scores[name]['overall'][metric])}]")
    if kind == "success":
        ax.set(xlabel="Overlap threshold", ylabel="Success rate", title="Success plot (one pass)", xlim=(0, 1))
    else:
        ax.axvline(PRECISION_THRESHOLD_PX, color="gray", linewidth=0.8, linestyle=":")
        ax.set(xlabel="Location error threshold (px)", ylabel="Precision", title="Precision plot (one pass)",
               xlim=(0, x[-1]))
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.4)
    ax.legend(loc="lower left" if kind == "success" else "lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_report(report_dir: Path, scores: dict, title: str, skipped: Sequence[str] = (),
                 toolkit: dict | None = None, result_dir: str | None = None) -> dict[str, Path]:
    """Write ``summary.md``, ``scores.json``, ``success_plot.png`` and ``precision_plot.png``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"summary": report_dir / "summary.md", "scores": report_dir / "scores.json",
             "success_plot": report_dir / "success_plot.png", "precision_plot": report_dir / "precision_plot.png"}
    paths["summary"].write_text(markdown(scores, title, skipped, toolkit))
    document = {"title": title, "convention": CONVENTION, "result_dir": result_dir, "skipped": list(skipped),
                "got10k_toolkit": toolkit, "trackers": scores}
    paths["scores"].write_text(json.dumps(_jsonable(document), indent=1))
    plot_curves(scores, paths["success_plot"], "success")
    plot_curves(scores, paths["precision_plot"], "precision")
    return paths
