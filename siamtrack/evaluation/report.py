"""Benchmark outputs: a markdown table, a JSON file of every score, success and precision plots (PNG),
each written whole or not at all; and the check that the output folder can take them."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from siamtrack.errors import SiamtrackError
from siamtrack.evaluation.longterm import markdown_lines as longterm_lines
from siamtrack.evaluation.metrics import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, INTERVAL_LEVEL, PRECISION_THRESHOLD_PX,
                                          PRECISION_THRESHOLDS_PX, SUCCESS_THRESHOLDS)

CONVENTION = ("One-pass evaluation. Success AUC = mean success rate over 21 IoU thresholds (0, 0.05, ..., 1); "
              "P@20 = share of frames whose centre error is at most 20 px; NP = share of frames whose centre "
              "error, divided by the ground-truth width and height, is at most 0.2. Each is computed per "
              "sequence, then averaged over sequences. The first frame (the given box) is scored (OTB "
              "convention); frames without ground truth (NaN, zero size, or marked absent) are not. "
              "fps = frames / total seconds to read each frame and run init or update on it.")
BOOTSTRAP = {"level": INTERVAL_LEVEL, "resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "unit": "sequences"}


def check_report_dir(report_dir: Path) -> None:
    """Create ``report_dir`` if needed and make sure files can be written in it, before any tracking:
    a :class:`SiamtrackError` naming ``--report-dir`` and the reason otherwise."""
    where = f"--report-dir {report_dir}"
    for folder in (report_dir, *report_dir.parents):
        if folder.exists() and not folder.is_dir():
            raise SiamtrackError(f"cannot write {where}: {folder} is a file, not a folder")
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=report_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = f"{reason}: files cannot be created there"
        raise SiamtrackError(f"cannot write {where}: {reason}") from None


def _interval(value: float, interval: Sequence[float] | None, signed: bool = False) -> str:
    """``0.697 [0.640, 0.750]``: a value and its interval (signed: ``+0.010 [-0.020, +0.040]``)."""
    digits = "+.3f" if signed else ".3f"
    if value is None or not np.isfinite(value):
        return "-"
    if interval is None:
        return f"{value:{digits}}"
    return f"{value:{digits}} [{interval[0]:{digits}}, {interval[1]:{digits}}]"


def _difference(scores: dict, name: str, metric: str, reference: str) -> str:
    if name == reference:
        return "(reference)"
    versus = scores[name].get("versus", {}).get(metric)
    return _interval(versus["difference"], (versus["low"], versus["high"]), signed=True) if versus else "-"


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def markdown(scores: dict, title: str, skipped: Sequence[str] = (), toolkit: dict | None = None,
             reference: str | None = None) -> str:
    """The overall table (one row per tracker, best AUC first, with bootstrap intervals and the paired
    difference to ``reference``), the confidence table and a per-sequence AUC / P@20 table."""
    names = sorted(scores, key=lambda n: -np.nan_to_num(scores[n]["overall"]["auc"], nan=-1))
    level = f"{INTERVAL_LEVEL:.0%}".replace("%", " %")
    paired = f" AUC - {reference} | P@20 - {reference} |" if reference else ""
    lines = [f"# Benchmark: {title}", "", CONVENTION, "",
             f"| tracker | AUC [{level}] | P@20 [{level}] | NP | fps | sequences | frames scored |" + paired
             + (" AO | SR |" if toolkit else ""),
             "|---|---|---|---|---|---|---|" + ("---|---|" if reference else "") + ("---|---|" if toolkit else "")]
    for name in names:
        o = scores[name]["overall"]
        row = (f"| {name} | {_interval(o['auc'], o.get('auc_interval'))} "
               f"| {_interval(o['precision'], o.get('precision_interval'))} | {_fmt(o['norm_precision'])} "
               f"| {_fmt(o['fps'], 1)} | {o['sequences']} | {o['frames']} |")
        if reference:
            row += f" {_difference(scores, name, 'auc', reference)} | {_difference(scores, name, 'precision', reference)} |"
        if toolkit:
            row += f" {_fmt(toolkit[name]['ao'])} | {_fmt(toolkit[name]['sr'])} |"
        lines.append(row)
    sequences = scores[names[0]]["overall"]["sequences"]
    lines += ["", f"[a, b]: {level} bootstrap interval of the mean over sequences ({BOOTSTRAP_RESAMPLES:,} resamples "
              f"of the {sequences} sequences with replacement, seed {BOOTSTRAP_SEED}; frames are not resampled)."]
    if reference:
        lines += ["", f"AUC - {reference}, P@20 - {reference}: the mean per-sequence difference to {reference}, with its interval on the "
                  "same resamples (paired). An interval that excludes 0 says which is better on sequences like "
                  "these; overlapping intervals of the two trackers do not say they are level."]
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
    lines += longterm_lines(scores, names)
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
    fig.savefig(path, dpi=120, format="png")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(temporary path)`` in ``path``'s folder, then rename: never a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report_dir: Path, scores: dict, title: str, skipped: Sequence[str] = (),
                 toolkit: dict | None = None, result_dir: str | None = None,
                 reference: str | None = None) -> dict[str, Path]:
    """Write ``summary.md``, ``scores.json``, ``success_plot.png`` and ``precision_plot.png``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"summary": report_dir / "summary.md", "scores": report_dir / "scores.json",
             "success_plot": report_dir / "success_plot.png", "precision_plot": report_dir / "precision_plot.png"}
    document = {"title": title, "convention": CONVENTION, "bootstrap": {**BOOTSTRAP, "reference": reference},
                "result_dir": result_dir, "skipped": list(skipped), "got10k_toolkit": toolkit, "trackers": scores}
    try:
        _write_atomic(paths["summary"], lambda p: p.write_text(markdown(scores, title, skipped, toolkit, reference)))
        _write_atomic(paths["scores"], lambda p: p.write_text(json.dumps(_jsonable(document), indent=1)))
        _write_atomic(paths["success_plot"], lambda p: plot_curves(scores, p, "success"))
        _write_atomic(paths["precision_plot"], lambda p: plot_curves(scores, p, "precision"))
    except OSError as exc:
        raise SiamtrackError(f"cannot write the report in {report_dir}: {exc.strerror or exc}") from None
    return paths
