"""Tracking speed on a real clip: the optimised trackers against the plain reference and peers, in one run.

Frames per second of ``tracker.update`` (decode excluded) and of decode + update, as medians of
several timed passes after warm-up; GFLOP per frame counted by PyTorch and the achieved GFLOP/s
set against a float32 matrix product timed on the same device in the same run; and a check that
the fp32 paths give the reference's boxes. The machine may be shared: only numbers measured in the
same run are compared, and the load average is reported beside them.
"""
from __future__ import annotations

import csv
import dataclasses
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from siamtrack.config import Config, TrackerConfig, load_config
from siamtrack.data.sources import open_source
from siamtrack.errors import SiamtrackError
from siamtrack.loading import load_model
from siamtrack.models.export import export_onnx
from siamtrack.models.siamese import SiameseNet, build_model
from siamtrack.tracking.calibration import calibration_crops
from siamtrack.tracking.reference import ReferenceSiamFC
from siamtrack.tracking.builder import build_tracker

log = logging.getLogger(__name__)

BOX_TOLERANCE_PX = 0.5


@dataclass
class Clip:
    """Decoded frames of a demo clip and its first box."""

    path: Path
    frames: list[np.ndarray]
    box: np.ndarray


@dataclass
class Mode:
    """One way of tracking to time: a network, its tracker settings, and whether it is the reference;
    or, for a peer (``peer`` set), an OpenCV tracker made by that factory, one per target."""

    name: str
    backbone: str
    net: SiameseNet | None
    cfg: TrackerConfig | None
    trained: bool
    reference: bool = False
    engine: str = "torch"
    peer: Callable[[], Any] | None = None


@dataclass
class Row:
    """Timings of one mode at one number of targets."""

    mode: str
    engine: str
    backbone: str
    search: str
    targets: int
    fps: float
    cpu_ms: float | None = None
    fps_with_decode: float | None = None
    estimated: bool = False
    gflop_per_frame: float | None = None
    speedup: float | None = None
    cost_vs_single: float | None = None
    redetect_fraction: float | None = None
    trained: bool = False

    @property
    def gflops(self) -> float | None:
        """Achieved GFLOP/s of the update."""
        return None if self.gflop_per_frame is None else self.gflop_per_frame * self.fps


@dataclass
class Report:
    """Everything one benchmark run measured."""

    device: str
    threads: int
    load_average: tuple[float, float, float] | None
    clip: str
    frame_size: tuple[int, int]
    frames: int
    runs: int
    matmul_gflops: float
    decode_fps: float
    tf32: bool | None = None
    rows: list[Row] = field(default_factory=list)
    box_checks: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        values = dataclasses.asdict(self)
        for row, row_dict in zip(self.rows, values["rows"]):
            row_dict["gflops"] = row.gflops
        return values


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_clip(demo_dir: str | Path, name: str | None = None, max_frames: int = 30) -> Clip:
    """The first ``max_frames`` frames of a clip listed in ``demo_dir/first_boxes.tsv`` (default: the first)."""
    demo_dir = Path(demo_dir)
    table = demo_dir / "first_boxes.tsv"
    if not table.is_file():
        raise SiamtrackError(f"no first_boxes.tsv in {demo_dir}")
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    chosen = [r for r in rows if name in (None, r["clip"], Path(r["clip"]).stem)]
    known = ", ".join(r["clip"] for r in rows)
    if not chosen and name is None:
        raise SiamtrackError(f"{table} lists no clip")
    if not chosen:
        if Path(name).is_file() or (demo_dir / name).is_file():
            raise SiamtrackError(f"clip {name} has no first box in {table}: add a row (clip, x, y, w, h) "
                                 f"to time it (clips there: {known})")
        raise SiamtrackError(f"clip {name}: no such file, here or in {demo_dir} (the clips of {table}: {known})")
    row = chosen[0]
    path = demo_dir / row["clip"]
    if not path.is_file():
        raise SiamtrackError(f"clip {path} is listed in {table} but the file is missing")
    with open_source(path) as source:
        frames = [frame for _, frame in zip(range(max_frames), source)]
    if len(frames) < 2:
        raise SiamtrackError(f"{path} has fewer than two frames")
    return Clip(path, frames, np.array([float(row[k]) for k in "xywh"]))


def spread_boxes(box: np.ndarray, count: int, frame_shape: Sequence[int]) -> list[np.ndarray]:
    """``count`` distinct targets of the box's size: copies shifted over a grid, kept in the frame."""
    height, width = frame_shape[:2]
    side = int(np.ceil(np.sqrt(count)))
    boxes = []
    for i in range(count):
        dx, dy = (i % side - (side - 1) / 2) * box[2] / 2, (i // side - (side - 1) / 2) * box[3] / 2
        x = float(np.clip(box[0] + dx, 0, max(width - box[2], 0)))
        y = float(np.clip(box[1] + dy, 0, max(height - box[3], 0)))
        boxes.append(np.array([x, y, box[2], box[3]]))
    return boxes


class _Independent:
    """N single-target trackers run one after another: the plain way to follow N targets."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def init(self, frame: np.ndarray, boxes: list[np.ndarray]) -> None:
        self.trackers = [self.make() for _ in boxes]
        for tracker, box in zip(self.trackers, boxes):
            tracker.init(frame, box)

    def update(self, frame: np.ndarray) -> np.ndarray:
        return np.stack([tracker.update(frame) for tracker in self.trackers])


def _tracker(mode: Mode, device: torch.device) -> Any:
    if mode.peer is not None:
        return _Independent(mode.peer)
    if mode.reference:
        return _Independent(lambda: ReferenceSiamFC(mode.net, mode.cfg, device))
    return build_tracker(mode.net, mode.cfg, device)


@dataclass
class _Timing:
    fps: float
    cpu_ms: float
    boxes: np.ndarray
    redetected: float


def _time_updates(tracker: Any, clip: Clip, boxes: list[np.ndarray], runs: int, warmup: int) -> _Timing:
    """Median fps and process CPU time (all threads) per ``update`` over ``runs`` passes, with the
    last pass's boxes and the fraction of target-frames it searched at the re-detection size."""
    tracker.init(clip.frames[0], boxes)
    for frame in clip.frames[1:1 + warmup]:
        tracker.update(frame)
    rates, cpu, redetected = [], [], []
    for _ in range(runs):
        tracker.init(clip.frames[0], boxes)
        tracked, wide, start, cpu_start = [], 0, time.perf_counter(), time.process_time()
        for frame in clip.frames[1:]:
            tracked.append(tracker.update(frame))
            crop_sizes = getattr(tracker, "crop_sizes", None)
            if crop_sizes is not None:
                wide += int(np.sum(crop_sizes > tracker.cfg.instance_size))
        rates.append((len(clip.frames) - 1) / (time.perf_counter() - start))
        cpu.append((time.process_time() - cpu_start) / (len(clip.frames) - 1) * 1000)
        redetected.append(wide / ((len(clip.frames) - 1) * len(boxes)))
    return _Timing(float(np.median(rates)), float(np.median(cpu)), np.array(tracked).reshape(len(tracked), -1, 4),
                   redetected[-1])


def _time_with_decode(tracker: Any, clip: Clip, box: np.ndarray, runs: int) -> float:
    """Median fps of decoding the clip and updating on each frame (the first frame only starts tracking)."""
    rates = []
    for _ in range(runs):
        with open_source(clip.path) as source:
            frames = iter(source)
            tracker.init(next(frames), [box])
            start, count = time.perf_counter(), 0
            for _, frame in zip(range(len(clip.frames) - 1), frames):
                tracker.update(frame)
                count += 1
            rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def _decode_fps(clip: Clip, runs: int) -> float:
    rates = []
    for _ in range(runs):
        with open_source(clip.path) as source:
            start = time.perf_counter()
            count = sum(1 for _, _ in zip(range(len(clip.frames)), source))
            rates.append(count / (time.perf_counter() - start))
    return float(np.median(rates))


def _gflop_per_frame(mode: Mode, device: torch.device, clip: Clip, boxes: list[np.ndarray]) -> float | None:
    """Floating-point operations PyTorch counts in one update (ONNX modes: those of the same graph; peers: unknown)."""
    if mode.peer is not None:
        return None
    if mode.reference:
        tracker = _tracker(mode, device)
    else:
        tracker = build_tracker(mode.net, dataclasses.replace(mode.cfg, backend="torch"), device)
    tracker.init(clip.frames[0], boxes)
    with FlopCounterMode(display=False) as counter:
        tracker.update(clip.frames[1])
    return counter.get_total_flops() / 1e9


def matmul_gflops(device: torch.device, size: int | None = None, repeats: int = 10) -> float:
    """Achieved float32 GFLOP/s of a square matrix product: the device's practical peak.

    ``size`` defaults to 1024 on a CPU and 4096 on a GPU (big enough to hide launch latency).
    """
    size = size or (4096 if device.type == "cuda" else 1024)
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return 2 * size ** 3 / float(np.median(times)) / 1e9


def _search_label(cfg: TrackerConfig | None) -> str:
    if cfg is None:
        return "-"
    label = f"{cfg.scale_num if cfg.loop == 'siamfc' else 1}x{cfg.instance_size}"
    if cfg.redetect_instance_size:
        label += f"/{cfg.redetect_instance_size}"
    return label


def benchmark(modes: list[Mode], clip: Clip, device: torch.device, targets: Sequence[int] = (1, 4, 16),
              runs: int = 3, warmup: int = 3, reference_targets: int = 1) -> Report:
    """Time every mode at every number of targets on ``clip``; check fp32 boxes against the reference.

    The reference is timed up to ``reference_targets`` targets; beyond, its time is N times its
    single-target time (it is N independent trackers), marked as estimated.
    """
    targets = sorted(set(targets) | {1})
    modes = sorted(modes, key=lambda m: not m.reference)  # its boxes and times are the yardstick
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    name = cpu_name() if device.type != "cuda" else f"{torch.cuda.get_device_name(device)} (host {cpu_name()})"
    report = Report(f"{device.type}: {name}",
                    torch.get_num_threads(), load, clip.path.name, clip.frames[0].shape[1::-1],
                    len(clip.frames), runs, matmul_gflops(device), _decode_fps(clip, runs),
                    torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None)
    reference_fps: dict[int, float] = {}
    reference_boxes = None
    for mode in modes:
        for count in targets:
            boxes = spread_boxes(clip.box, count, clip.frames[0].shape)
            row = Row(mode.name, mode.engine, mode.backbone, _search_label(mode.cfg), count, 0.0, trained=mode.trained)
            if mode.reference and count > reference_targets:
                row.fps, row.estimated = reference_fps[1] / count, True
            else:
                tracker = _tracker(mode, device)
                timing = _time_updates(tracker, clip, boxes, runs, warmup)
                row.fps, row.cpu_ms, tracked = timing.fps, timing.cpu_ms, timing.boxes
                row.redetect_fraction = timing.redetected if mode.cfg and mode.cfg.redetect_instance_size else None
                row.gflop_per_frame = _gflop_per_frame(mode, device, clip, boxes)
                if count == 1:
                    row.fps_with_decode = _time_with_decode(tracker, clip, clip.box, runs)
                    if mode.reference:
                        reference_boxes = tracked
                    elif reference_boxes is not None and _same_network(mode, modes):
                        report.box_checks[mode.name] = float(np.abs(tracked - reference_boxes).max())
            if mode.reference:
                reference_fps[count] = row.fps
            elif count in reference_fps:
                row.speedup = row.fps / reference_fps[count]
            single = next((r for r in report.rows if r.mode == mode.name and r.targets == 1), None)
            if single is not None and count > 1 and not row.estimated:
                row.cost_vs_single = single.fps / (row.fps * count)
            report.rows.append(row)
            log.info("%s (%s, %s targets): %s%.2f fps", mode.name, mode.engine, count,
                     "~" if row.estimated else "", row.fps)
    return report


def _same_network(mode: Mode, modes: list[Mode]) -> bool:
    """Whether ``mode`` computes what the reference computes (same weights, same fp32 settings)."""
    reference = next((m for m in modes if m.reference), None)
    return reference is not None and mode.net is reference.net and mode.cfg is not None and \
        dataclasses.replace(mode.cfg, backend="torch", onnx_dir="") == reference.cfg


def format_report(report: Report) -> str:
    """A compact text table of the report."""
    load = "n/a" if report.load_average is None else " ".join(f"{v:.1f}" for v in report.load_average)
    lines = [
        f"device {report.device}; {report.threads} CPU threads; load average (1/5/15 min) {load} on "
        f"{os.cpu_count()} cores",
        f"clip: {report.clip} {report.frame_size[0]}x{report.frame_size[1]}, {report.frames} frames, "
        f"median of {report.runs} runs after warm-up; decode alone {report.decode_fps:.0f} fps",
        f"fp32 square matmul on this device, same run: {report.matmul_gflops:.0f} GFLOP/s",
    ]
    if report.tf32 is not None:
        tf32 = "on" if report.tf32 else "off (strict fp32)"
        lines.append(f"CUDA TF32 tensor cores for convolutions and matmul: {tf32}")
    if not all(r.trained for r in report.rows):
        lines.append("weights: untrained where marked '*' (speed only; boxes are not meaningful for accuracy)")
    header = (f"{'mode':<11} {'engine':<8} {'backbone':<18} {'search':<9} {'N':>3} {'fps':>7} {'fps+dec':>7} "
              f"{'ms/frame':>8} {'cpu-ms':>7} {'x ref':>6} {'N-cost':>6} {'GFLOP/f':>7} {'GFLOP/s':>7} "
              f"{'%mm':>4} {'wide':>4}")
    lines += [header, "-" * len(header)]
    for r in report.rows:
        def opt(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)
        fps = f"{'~' if r.estimated else ''}{r.fps:.2f}"
        peak = None if r.gflops is None or r.estimated else 100 * r.gflops / report.matmul_gflops
        lines.append(
            f"{r.mode + ('' if r.trained else '*'):<11} {r.engine:<8} {r.backbone:<18} {r.search:<9} {r.targets:>3} "
            f"{fps:>7} {opt(r.fps_with_decode, '.2f'):>7} {1000 / r.fps:>8.1f} {opt(r.cpu_ms, '.1f'):>7} "
            f"{opt(r.speedup, '.1f'):>6} "
            f"{opt(r.cost_vs_single, '.2f'):>6} {opt(r.gflop_per_frame, '.2f'):>7} "
            f"{opt(None if r.estimated else r.gflops, '.0f'):>7} {opt(peak, '.0f'):>4} "
            f"{opt(r.redetect_fraction, '.0%'):>4}")
    lines.append("cpu-ms: process CPU time per frame, all threads (on a loaded machine, wall time can exceed "
                 "cpu-ms / threads); N-cost: time for N targets in one tracker / N x its 1-target time (below 1: "
                 "batching pays); ~: estimated as N x the 1-target reference; wide: target-frames searched at the "
                 "re-detection size")
    for name, diff in report.box_checks.items():
        verdict = "PASS" if diff < BOX_TOLERANCE_PX else "FAIL"
        lines.append(f"boxes {name} vs reference (fp32, 1 target, {report.frames - 1} frames): "
                     f"max |diff| {diff:.2e} px -> {verdict} (< {BOX_TOLERANCE_PX} px)")
    return "\n".join(lines)


def build_modes(names: Sequence[str], default: tuple[SiameseNet, Config, bool],
                fast: tuple[SiameseNet, Config, bool], clip: Clip, workdir: str | Path,
                box: tuple[SiameseNet, Config, bool] | None = None) -> list[Mode]:
    """The modes to time: reference, default and onnx share the default network; the fast ones have
    their own; ``box`` (ONNX Runtime) and ``box-torch`` the EfficientNet box model, ``box-siamese`` the
    same without the online target model and motion prior (what they cost); ``nano`` and
    ``vit`` are OpenCV's NanoTrack v2 and VitTrack on the same frames (models in ../shared/peers).

    Each of ``default``, ``fast`` and ``box`` is ``(net, config, trained)``. ``fast-int8`` quantises the fast
    backbone into ``workdir``, calibrated on the clip's own frames around its first box (enough
    for timing; for accuracy export with ``siamtrack export --int8``).
    """
    def mode(name: str, spec: tuple[SiameseNet, Config, bool], **changes: Any) -> Mode:
        net, cfg, trained = spec
        reference = changes.pop("reference", False)
        engine = changes.pop("engine", None)
        tracker_cfg = dataclasses.replace(cfg.tracker, **changes)
        engine = engine or ("ort" if tracker_cfg.backend == "onnx" else "torch")
        return Mode(name, cfg.model.backbone, net, tracker_cfg, trained, reference, engine)

    def int8() -> Mode:
        net, cfg, _ = fast
        folder = Path(workdir) / "fast_int8"
        sequence = (clip.frames, np.repeat(clip.box[None], len(clip.frames), axis=0))
        export_onnx(net, folder, cfg.tracker.exemplar_size, cfg.tracker.instance_size,
                    calibration_crops([sequence], cfg.tracker, frames_per_sequence=len(clip.frames)))
        return mode("fast-int8", fast, backend="onnx", onnx_dir=str(folder), engine="ort-int8")

    def peer(kind: str) -> Mode:
        from siamtrack.evaluation.peers import OpenCVTracker

        return Mode(kind.lower(), f"cv:{kind}", None, None, True, engine="opencv",
                    peer=lambda: OpenCVTracker(kind))

    def box_mode(name: str, **changes: Any) -> Mode:
        if box is None:
            raise SiamtrackError(f"mode {name} needs the box model (--box-weights / --box-config)")
        return mode(name, box, **changes)

    known = {"reference": lambda: mode("reference", default, reference=True),
             "default": lambda: mode("default", default),
             "onnx": lambda: mode("onnx", default, backend="onnx", onnx_dir=""),
             "fast": lambda: mode("fast", fast),
             "fast-torch": lambda: mode("fast-torch", fast, backend="torch"),
             "fast-int8": int8,
             "box": lambda: box_mode("box", backend="onnx", onnx_dir=""),
             "box-siamese": lambda: box_mode("box-siamese", backend="onnx", onnx_dir="", online_weight=0.0,
                                             motion_rate=0.0),
             "box-torch": lambda: box_mode("box-torch", backend="torch"),
             "nano": lambda: peer("Nano"),
             "vit": lambda: peer("Vit")}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SiamtrackError(f"unknown mode(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[n]() for n in names]


def network(weights: str | Path | None, config: str | Path | None) -> tuple[SiameseNet, Config, bool]:
    """``(net, config, trained)``: the weights given, else an untrained network (fine for speed)."""
    if weights is not None:
        net, cfg = load_model(weights, config)
        return net, cfg, True
    cfg = load_config(config)
    torch.manual_seed(0)
    return build_model(cfg.model), cfg, False
