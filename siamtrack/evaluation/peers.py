"""Trackers to benchmark, named on the command line: siamtrack itself and OpenCV's trackers as peers.

All of them are ``got10k.trackers.Tracker`` objects, so the toolkit's one tracking loop runs each of them
on exactly the same frames: BGR arrays read by ``siamtrack.data.images.read_image``, as ``siamtrack track``
reads them (PIL images are accepted too).

Spec forms: ``siamtrack`` (``--weights``/``--config``), ``siamtrack=PATH`` (another weights file),
``cv:NAME`` for a tracker of the installed OpenCV (``cv:MIL``, ``cv:KCF``, ``cv:CSRT``...), and the
OpenCV trackers that run a model: ``cv:Nano`` / ``cv:Nano=DIR`` (NanoTrack, the ONNX files in ``DIR``,
default ``../shared/peers/nanotrack_v2``) and ``cv:Vit`` / ``cv:Vit=DIR`` (VitTrack, default
``../shared/peers/vittrack``); default folders from the working directory or beside the repository checkout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from got10k.trackers import Tracker

from siamtrack import resources
from siamtrack.data.images import to_bgr
from siamtrack.errors import SiamtrackError
from siamtrack.loading import load_tracker
from siamtrack.tracking.files import track_files

PEERS_DIR = Path("../shared/peers")
# OpenCV trackers that need model files: default folder under PEERS_DIR, files (params field -> file name).
MODEL_PEERS = {
    "Nano": ("nanotrack_v2", {"backbone": "nanotrack_backbone_sim.onnx", "neckhead": "nanotrack_head_sim.onnx"}),
    "Vit": ("vittrack", {"net": "object_tracking_vittrack_2023sep.onnx"}),
}


def opencv_trackers() -> list[str]:
    """Names of the single-object trackers the installed OpenCV provides (``cv2.Tracker<Name>``)."""
    return sorted(n[len("Tracker"):] for n in dir(cv2)
                  if n.startswith("Tracker") and len(n) > len("Tracker") and "_" not in n)


def _model_factory(kind: str, model_dir: Path) -> Callable[[], Any]:
    """``cv2.Tracker<kind>.create`` with its params pointing at the model files in ``model_dir``."""
    files = MODEL_PEERS[kind][1]
    paths = {key: model_dir / name for key, name in files.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SiamtrackError(f"cv:{kind} needs {' and '.join(files.values())} in {model_dir}; "
                             f"missing {', '.join(missing)} (pass cv:{kind}=DIR)")
    params = getattr(cv2, f"Tracker{kind}_Params")()
    for key, path in paths.items():
        setattr(params, key, str(path))
    create = getattr(cv2, f"Tracker{kind}").create
    return lambda: create(params)


class OpenCVTracker(Tracker):
    """An OpenCV tracker behind the got10k ``Tracker`` interface.

    Frames may be PIL images (RGB, as the got10k loop gives them) or BGR arrays; OpenCV gets BGR.
    When OpenCV reports a lost target, the last box is repeated (a box is needed on every frame).
    MIL samples at random and is not reproducible from run to run (KCF, CSRT, Nano and Vit are).
    """

    def __init__(self, kind: str, model_dir: str | Path | None = None) -> None:
        available = opencv_trackers()
        if kind not in available:
            raise SiamtrackError(f"OpenCV {cv2.__version__} installed here has no tracker '{kind}' "
                                 f"(it has: {', '.join(available)})")
        self.model_files: list[Path] = []
        if kind in MODEL_PEERS:
            resolved = resources.resolve(model_dir or PEERS_DIR / MODEL_PEERS[kind][0])
            self._create = _model_factory(kind, resolved)
            self.model_files = [Path(resolved) / file for file in MODEL_PEERS[kind][1].values()]
            name = f"cv-{kind}" if model_dir is None else f"cv-{kind}-{Path(model_dir).name}"
        elif model_dir is not None:
            raise SiamtrackError(f"cv:{kind} takes no model path (only {', '.join(f'cv:{k}=DIR' for k in MODEL_PEERS)} do)")
        else:
            self._create = getattr(cv2, f"Tracker{kind}").create
            name = f"cv-{kind}"
        super().__init__(name=name, is_deterministic=kind != "MIL")
        self.kind = kind
        self._check_creates(kind)
        self._tracker: Any = None
        self._box = np.zeros(4)
        self.score = float("nan")

    def _check_creates(self, kind: str) -> None:
        try:
            self._create()
        except cv2.error as exc:
            raise SiamtrackError(f"OpenCV cannot create tracker '{kind}' without its model files "
                                 f"({str(exc).strip().splitlines()[-1][:120]})") from None

    def init(self, image: Any, box: Sequence[float]) -> None:
        """Start a fresh OpenCV tracker on ``box`` (x, y, w, h; rounded to whole pixels as OpenCV needs)."""
        x, y, w, h = (int(round(v)) for v in box)
        self._tracker = self._create()
        self._tracker.init(to_bgr(image), (x, y, max(w, 1), max(h, 1)))
        self._box = np.asarray(box, dtype=np.float64)

    def track(self, img_files: Sequence[str], box: Sequence[float],
              visualize: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """got10k's one-pass loop with frames read as ``siamtrack track`` reads them (see :func:`track_files`)."""
        return track_files(self, img_files, box, visualize)

    def update(self, image: Any) -> np.ndarray:
        """The target's box (x, y, w, h) in the next frame; :attr:`score` is the tracker's own
        confidence where it has one (Nano, Vit), else NaN."""
        found, box = self._tracker.update(to_bgr(image))
        if found:
            self._box = np.asarray(box, dtype=np.float64)
        # Only the model trackers compute one; CSRT's getTrackingScore() answers -1 on every frame.
        self.score = float(self._tracker.getTrackingScore()) if self.kind in MODEL_PEERS else float("nan")
        return self._box.copy()


def build_tracker(spec: str, weights: str | None = None, config: str | None = None,
                  device: Any = None) -> Tracker:
    """The tracker a command-line spec names (see the module docstring for the forms)."""
    name, _, arg = spec.strip().partition("=")
    if name == "siamtrack":
        tracker = load_tracker(arg or weights, config, device)
        tracker.name = f"siamtrack-{Path(arg).stem}" if arg else "siamtrack"
        return tracker
    if name.startswith("cv:") and len(name) > 3:
        return OpenCVTracker(name[3:], arg or None)
    raise SiamtrackError(f"unknown tracker {spec!r}: use siamtrack, siamtrack=WEIGHTS, cv:NAME "
                         f"(OpenCV here has {', '.join(opencv_trackers())}), cv:Nano=DIR or cv:Vit=DIR")


def build_trackers(specs: Sequence[str], weights: str | None = None, config: str | None = None,
                   device: Any = None) -> list[Tracker]:
    """One tracker per spec; their names (result folders) must differ."""
    trackers = [build_tracker(s, weights, config, device) for s in specs if s.strip()]
    if not trackers:
        raise SiamtrackError("no tracker given: pass --trackers siamtrack,cv:CSRT,...")
    names = [t.name for t in trackers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SiamtrackError(f"tracker named twice: {', '.join(duplicates)}")
    return trackers
