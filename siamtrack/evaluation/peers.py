"""Trackers to benchmark, named on the command line: siamtrack itself and OpenCV's trackers as peers.

All of them are ``got10k.trackers.Tracker`` objects, so the toolkit's one tracking loop runs each of them
on exactly the same frames (PIL RGB images, which every tracker here converts to BGR).

Spec forms: ``siamtrack`` (``--weights``/``--config``), ``siamtrack=PATH`` (another weights file),
``cv:NAME`` for a tracker of the installed OpenCV (``cv:MIL``, ``cv:KCF``, ``cv:CSRT``...), and
``cv:Nano`` / ``cv:Nano=DIR`` for NanoTrack with the ONNX files in ``DIR`` (default
``../shared/peers/nanotrack_v2``, from the working directory or beside the repository checkout).
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

DEFAULT_NANO_DIR = Path("../shared/peers/nanotrack_v2")
NANO_FILES = {"backbone": "nanotrack_backbone_sim.onnx", "neckhead": "nanotrack_head_sim.onnx"}


def opencv_trackers() -> list[str]:
    """Names of the single-object trackers the installed OpenCV provides (``cv2.Tracker<Name>``)."""
    return sorted(n[len("Tracker"):] for n in dir(cv2)
                  if n.startswith("Tracker") and len(n) > len("Tracker") and "_" not in n)


def _nano_factory(model_dir: Path) -> Callable[[], Any]:
    paths = {key: model_dir / name for key, name in NANO_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise SiamtrackError(f"cv:Nano needs {' and '.join(NANO_FILES.values())} in {model_dir}; "
                             f"missing {', '.join(missing)} (pass cv:Nano=DIR)")
    params = cv2.TrackerNano_Params()
    params.backbone, params.neckhead = str(paths["backbone"]), str(paths["neckhead"])
    return lambda: cv2.TrackerNano.create(params)


class OpenCVTracker(Tracker):
    """An OpenCV tracker behind the got10k ``Tracker`` interface.

    Frames may be PIL images (RGB, as the got10k loop gives them) or BGR arrays; OpenCV gets BGR.
    When OpenCV reports a lost target, the last box is repeated (a box is needed on every frame).
    MIL samples at random and is not reproducible from run to run (KCF, CSRT and Nano are).
    """

    def __init__(self, kind: str, model_dir: str | Path | None = None) -> None:
        available = opencv_trackers()
        if kind not in available:
            raise SiamtrackError(f"OpenCV {cv2.__version__} installed here has no tracker '{kind}' "
                                 f"(it has: {', '.join(available)})")
        if kind == "Nano":
            self._create = _nano_factory(resources.resolve(model_dir or DEFAULT_NANO_DIR))
            name = "cv-Nano" if model_dir is None else f"cv-Nano-{Path(model_dir).name}"
        elif model_dir is not None:
            raise SiamtrackError(f"cv:{kind} takes no model path (only cv:Nano=DIR does)")
        else:
            self._create = getattr(cv2, f"Tracker{kind}").create
            name = f"cv-{kind}"
        super().__init__(name=name, is_deterministic=kind != "MIL")
        self._check_creates(kind)
        self._tracker: Any = None
        self._box = np.zeros(4)

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

    def update(self, image: Any) -> np.ndarray:
        """The target's box (x, y, w, h) in the next frame."""
        found, box = self._tracker.update(to_bgr(image))
        if found:
            self._box = np.asarray(box, dtype=np.float64)
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
                         f"(OpenCV here has {', '.join(opencv_trackers())}) or cv:Nano=DIR")


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
