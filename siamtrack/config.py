"""Typed configuration: YAML files in ``configs/`` become these dataclasses.

Every section is a frozen-free dataclass with defaults equal to the SiamFC paper's values; a YAML
file only states what it changes. Unknown keys are rejected with their full name so that a typo
never silently falls back to a default.

Values are checked when a config is built, so that a bad one stops the run before any work:
every float must be finite, each section's ``RULES`` table says what else a field must be (a rule
per field name: add one beside a new field), and each section's ``validate()`` adds the checks
that involve several fields. Messages name the key in full (``tracker.exemplar_size``).
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import yaml

from siamtrack import resources
from siamtrack.errors import SiamtrackError

SOURCE_KINDS = ("video", "stills", "synthetic", "negative")  # the pair sources data.mix shares out


@dataclass(frozen=True)
class Rule:
    """What a config value must be: ``test(value)`` holds, described as ``requirement`` (a string,
    or a function giving it, for descriptions that need an import)."""

    requirement: str | Callable[[], str]
    test: Callable[[Any], bool]

    def check(self, value: Any, name: str) -> None:
        """Raise :class:`SiamtrackError` naming ``name`` unless ``value`` passes."""
        try:
            ok = bool(self.test(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            requirement = self.requirement() if callable(self.requirement) else self.requirement
            raise SiamtrackError(f"config: '{name}' must be {requirement}, got {value!r}")


def at_least(low: float) -> Rule:
    return Rule(f">= {low}", lambda v: v >= low)


def above(low: float) -> Rule:
    return Rule(f"> {low}", lambda v: v > low)


def between(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Rule:
    """``low <= v <= high``; an open end excludes its bound."""
    text = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    return Rule(f"in {text}", lambda v: (v > low if low_open else v >= low) and (v < high if high_open else v <= high))


def registered(module: str, registry: str, what: str) -> Rule:
    """A name in the registry ``module.registry`` (imported when checked: the backbones need torch)."""
    def names() -> Any:
        return getattr(importlib.import_module(module), registry)

    return Rule(lambda: f"a known {what} ({', '.join(names())})", lambda v: isinstance(v, str) and v in names())


POSITIVE = above(0)
NON_NEGATIVE = at_least(0)
PROBABILITY = between(0, 1)
FRACTION = between(0, 1, high_open=True)
CROP_SIZE = between(1, 1024)  # pixels: past that a crop batch no longer fits in memory


class Section:
    """A config section: ``RULES`` per field, cross-field checks in :meth:`validate`."""

    SECTION: ClassVar[str] = ""
    RULES: ClassVar[dict[str, Rule]] = {}

    def validate(self) -> None:
        """Check every field: floats finite, then its rule; subclasses add checks across fields."""
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            name = f"{self.SECTION}.{item.name}"
            if isinstance(value, float) and not math.isfinite(value):
                raise SiamtrackError(f"config: '{name}' must be a finite number, got {value!r}")
            if item.name in self.RULES:
                self.RULES[item.name].check(value, name)

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise SiamtrackError(f"config: {message}")


@dataclass
class ModelConfig(Section):
    """The Siamese network: backbone (see ``models.backbones.BACKBONES``) and head (``xcorr``: SiamFC's
    score map; ``box``: depthwise correlation with classification and box maps)."""

    SECTION: ClassVar[str] = "model"
    RULES: ClassVar[dict[str, Rule]] = {
        "backbone": registered("siamtrack.models.backbones", "BACKBONES", "backbone"),
        "out_scale": POSITIVE,
        "head": registered("siamtrack.models.siamese", "HEADS", "head"),
        "channels": between(1, 4096),
        "template_cells": between(1, 64),
    }

    backbone: str = "alexnet"
    out_scale: float = 0.001  # xcorr head: score map = out_scale * xcorr + bias
    head: str = "xcorr"
    channels: int = 96  # box head: width of the neck and towers
    template_cells: int = 5  # box head: side of the exemplar-feature centre used as the kernel
    quality: bool = False  # box head: also predict each cell's box IoU (SiamFC++'s quality branch)


@dataclass
class TrackerConfig(Section):
    """Tracking hyper-parameters; defaults are SiamFC-3s's (Bertinetto et al. 2016, siamfc-pytorch values).

    ``loop`` names the tracker loop (``tracking.builder.LOOPS``): ``siamfc`` (scale pyramid) for the
    xcorr head, ``box`` (one search, boxes from the map) for the box head.
    """

    SECTION: ClassVar[str] = "tracker"
    RULES: ClassVar[dict[str, Rule]] = {
        "loop": registered("siamtrack.tracking.builder", "LOOPS", "tracker loop"),
        "exemplar_size": CROP_SIZE, "instance_size": CROP_SIZE, "context": NON_NEGATIVE,
        "scale_num": between(1, 15), "scale_step": between(0, 2, low_open=True),
        "scale_penalty": between(0, 1, low_open=True), "scale_lr": PROBABILITY,
        "response_up": between(1, 64), "window_influence": PROBABILITY,
        "min_scale": POSITIVE, "max_scale": POSITIVE, "penalty_k": NON_NEGATIVE, "size_lr": PROBABILITY,
        "box_scale": between(0.5, 2),
        "redetect_below": PROBABILITY, "redetect_instance_size": between(0, 1024),
        "template_rate": PROBABILITY, "template_every": between(1, 10000), "template_min_score": PROBABILITY,
        "online_weight": PROBABILITY, "online_dims": between(1, 1024), "online_cells": between(1, 64), "online_lambda": POSITIVE,
        "online_rate": PROBABILITY, "online_anchor": PROBABILITY, "online_min_score": PROBABILITY,
        "online_sigma": POSITIVE, "online_distractor_weight": NON_NEGATIVE, "online_shift": between(0, 0.5),
        "online_veto": PROBABILITY, "jump_distance": POSITIVE,
        "motion_rate": PROBABILITY, "motion_damping": PROBABILITY, "motion_max_step": between(0, 1),
        "backend": registered("siamtrack.tracking.backends", "BACKENDS", "backend"),
        "present_below": PROBABILITY, "present_above": PROBABILITY, "global_accept": PROBABILITY,
        "global_every": between(0, 10000), "global_max_tiles": between(1, 4096),
    }

    loop: str = "siamfc"
    exemplar_size: int = 127
    instance_size: int = 255
    context: float = 0.5
    scale_num: int = 3
    scale_step: float = 1.0375
    scale_penalty: float = 0.9745
    scale_lr: float = 0.59
    response_up: int = 16
    window_influence: float = 0.176
    min_scale: float = 0.2
    max_scale: float = 5.0
    # Box loop: penalty on changes of scale and aspect ratio (SiamRPN's k), and the size update rate.
    penalty_k: float = 0.1
    size_lr: float = 0.35
    # Box loop: the regressed sides times this (a calibration measured on train; 1 leaves them as they are).
    box_scale: float = 1.0
    # Re-detection: a target whose score falls under redetect_below is searched, next frame, in a
    # crop of redetect_instance_size pixels (same resolution, wider region); 0 turns it off.
    redetect_below: float = 0.0
    redetect_instance_size: int = 0
    # Template memory: every template_every frames in which a target scores at least
    # template_min_score, its kernel becomes (1 - template_rate) x the first frame's + template_rate x
    # this frame's exemplar (always anchored to the first: drift cannot accumulate); 0 keeps the first.
    template_rate: float = 0.0
    template_every: int = 10
    template_min_score: float = 0.8
    # Online target model (box loop, tracking/target_model.py): a ridge-regression filter over the search
    # features, fitted on the first frame (and shifted copies of it) and on confident frames, this video's
    # distractors as weighted negatives. The Siamese probability is multiplied by
    # (1 - online_weight + online_weight x the online response) before the cell choice (0: off): the
    # online model can lower a look-alike's peak, never raise the background. A move of more than jump_distance target sizes from the expected centre is
    # vetoed when the online response there is under online_veto (re-detection crops then stay put).
    online_weight: float = 0.0
    online_dims: int = 16  # PCA channels of the features the filter sees
    online_cells: int = 3  # side of the filter, in feature cells (centred like the Siamese kernel)
    online_lambda: float = 0.1  # ridge, relative to the features' mean energy
    online_rate: float = 0.1  # weight of each confident frame in the running statistics
    online_anchor: float = 0.3  # share of the first frame's statistics, kept for good
    online_min_score: float = 0.6  # frames scored at least this teach the filter
    online_sigma: float = 0.25  # width of the Gaussian label, times the target's size
    online_distractor_weight: float = 4.0  # extra weight of cells where the Siamese map peaks off target
    online_shift: float = 0.15  # first-frame copies shifted by this fraction of the search side
    online_veto: float = 0.2
    jump_distance: float = 1.0
    # Motion prior (tracking/motion.py): search where the target is expected, its last centre plus
    # motion_damping x its velocity (an average of its steps at motion_rate, capped at motion_max_step
    # search sides per frame); motion_rate 0: search around the last centre.
    motion_rate: float = 0.0
    motion_damping: float = 0.8
    motion_max_step: float = 0.25
    # Inference engine: "torch" (PyTorch, any device), "onnx" (ONNX Runtime, CPU) or "auto" (ONNX Runtime
    # on a CPU when installed, else PyTorch); onnx_dir holds
    # the graphs siamtrack export writes (empty: exported from the weights when the tracker starts).
    backend: str = "torch"
    onnx_dir: str = ""
    # Long-term mode (tracking/redetect.py). A target turns absent when its score falls under
    # present_below and present again when it reaches present_above (hysteresis: no flicker in
    # between); while absent its box is held and no template is learnt from it, and every
    # global_every frames (0: never) the whole frame is searched, at most global_max_tiles crops
    # per search, at the target's last size and its first-frame size; the best peak is taken
    # only when its score reaches global_accept. Off: every frame's peak is taken, as a short-term tracker does.
    longterm: bool = False
    present_below: float = 0.3
    present_above: float = 0.6
    global_every: int = 5
    global_accept: float = 0.75
    global_max_tiles: int = 64

    def validate(self) -> None:
        super().validate()
        self._require(self.present_below <= self.present_above,
                      f"'tracker.present_below' ({self.present_below}) must not exceed "
                      f"'tracker.present_above' ({self.present_above})")
        self._require(self.global_accept >= self.present_above,
                      f"'tracker.global_accept' ({self.global_accept}) must be at least "
                      f"'tracker.present_above' ({self.present_above}): a whole-frame peak needs more evidence")
        self._require(not (self.longterm and self.global_every and self.loop != "box"),
                      f"'tracker.global_every' ({self.global_every}) searches the whole frame with the box loop "
                      f"only: set it to 0 for 'tracker.loop' '{self.loop}' (presence still works)")
        self._require(self.instance_size > self.exemplar_size,
                      f"'tracker.instance_size' ({self.instance_size}) must be larger than "
                      f"'tracker.exemplar_size' ({self.exemplar_size})")
        self._require(self.min_scale <= self.max_scale,
                      f"'tracker.min_scale' ({self.min_scale}) must not exceed 'tracker.max_scale' ({self.max_scale})")
        self._require(self.redetect_instance_size == 0 or self.redetect_instance_size >= self.instance_size,
                      f"'tracker.redetect_instance_size' ({self.redetect_instance_size}) must be 0 "
                      f"or at least 'tracker.instance_size' ({self.instance_size})")

    @property
    def search_sizes(self) -> list[int]:
        """Every search-crop size the tracker uses: ``instance_size``, and the re-detection size if set."""
        return sorted({self.instance_size, self.redetect_instance_size or self.instance_size})


@dataclass
class DataConfig(Section):
    """Training pairs: where they come from and how they are sampled and augmented."""

    SECTION: ClassVar[str] = "data"
    RULES: ClassVar[dict[str, Rule]] = {
        "max_frame_gap": NON_NEGATIVE, "pairs_per_epoch": at_least(1), "val_max_frames": NON_NEGATIVE,
        "search_size": CROP_SIZE, "max_stretch": FRACTION, "search_stretch": FRACTION, "max_shift": NON_NEGATIVE,
        "still_stretch": FRACTION, "color_jitter": PROBABILITY, "gray_prob": PROBABILITY,
        "blur_prob": PROBABILITY, "part_prob": PROBABILITY, "aspect_stretch": NON_NEGATIVE, "min_box_size": NON_NEGATIVE, "max_aspect": at_least(1),
        "max_box_fraction": between(0, 1, low_open=True), "min_cover": between(0, 8),
        "synthetic_gap": NON_NEGATIVE, "synthetic_distractors": NON_NEGATIVE, "negative_same_class": PROBABILITY,
        "stills": Rule("a list of folder paths", lambda v: all(isinstance(p, str) for p in v)),
        "roots": Rule("a list of folder paths", lambda v: all(isinstance(p, str) for p in v)),
        "val_roots": Rule("a list of folder paths", lambda v: all(isinstance(p, str) for p in v)),
        "root_weights": Rule("a list of numbers >= 0, not all 0",
                             lambda v: all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
                                           and w >= 0 for w in v) and (not v or sum(v) > 0)),
    }
    # Keys of older files (stored in released weights) and how they read today.
    RENAMED: ClassVar[dict[str, tuple[str, Callable[[Any], Any]]]] = {"val_root": ("val_roots", lambda v: [v])}

    max_frame_gap: int = 100  # exemplar and search frame of a video at most this many frames apart
    mix: dict = field(default_factory=lambda: {"video": 0.6, "stills": 0.2, "synthetic": 0.2})  # share of each pair source
    stills: list = field(default_factory=lambda: ["../shared/data/stills/coco128",
                                                  "../shared/data/stills/imagenet_vid_frames"])  # images/ + boxes.tsv sets (defaults: the data beside a checkout)
    pairs_per_epoch: int = 9000  # pairs drawn per epoch, over all sources
    roots: list = field(default_factory=list)  # GOT-10k-layout roots to train on when `siamtrack train` has no --data
    root_weights: list = field(default_factory=list)  # share of the video pairs per root, in root order ([]: every sequence alike)
    val_roots: list = field(default_factory=list)  # GOT-10k-layout splits (.../val) to validate on ([]: each data root's val/)
    val_max_frames: int = 100  # frames tracked per validation sequence (0: all)
    search_size: int = 239  # side of the training search crop (255 - 2 * 8 as siamfc-pytorch: 15x15 scores)
    max_stretch: float = 0.05  # random scale change of the exemplar crop, +- this fraction
    search_stretch: float = 0.05  # random scale change of a video pair's search crop (box heads: the sizes they learn)
    max_shift: int = 4  # random shift of the search crop, +- pixels (below the stride of 8)
    still_stretch: float = 0.15  # stronger scale change between the two crops of a still image
    color_jitter: float = 0.1  # random per-channel gain, +- this fraction
    gray_prob: float = 0.1  # chance a pair is turned grayscale
    blur_prob: float = 0.1  # chance the search crop of a pair is blurred
    part_prob: float = 0.0  # chance a pair's target is a random part of the object (both frames alike; box head)
    aspect_stretch: float = 0.0  # search crop's width/height ratio scaled by up to (1 + this) either way (box head)
    min_box_size: float = 10.0  # boxes with a side below this (pixels) are unusable
    max_aspect: float = 4.0  # boxes more elongated than this are unusable
    max_box_fraction: float = 0.9  # boxes wider/taller than this fraction of the image are unusable
    min_cover: int = 3  # GOT-10k cover.label level (0-8, 8 = fully visible) below which a frame is unusable
    synthetic_gap: int = 20  # frames between the two rendered frames of a synthetic pair, at most
    synthetic_distractors: int = 3  # same-kind distractors per synthetic scene, at most
    negative_same_class: float = 0.5  # chance a negative pair's search object shares the exemplar's class (box head)

    def validate(self) -> None:
        super().validate()
        self._require(not self.root_weights or len(self.root_weights) == len(self.roots),
                      f"'data.root_weights' must give one weight per entry of 'data.roots' ({len(self.roots)}), "
                      f"got {len(self.root_weights)}")
        unknown = sorted(map(str, set(self.mix) - set(SOURCE_KINDS)))
        self._require(not unknown, f"'data.mix' has unknown source(s) {unknown} (known: {', '.join(SOURCE_KINDS)})")
        shares = list(self.mix.values())
        self._require(all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                          for v in shares) and sum(shares) > 0,
                      f"'data.mix' shares must be numbers >= 0, not all 0, got {self.mix}")


@dataclass
class TrainConfig(Section):
    """Optimisation schedule (SiamFC: SGD, lr 1e-2 -> 1e-5 exponentially) and run settings."""

    SECTION: ClassVar[str] = "train"
    RULES: ClassVar[dict[str, Rule]] = {
        "epochs": at_least(1), "batch_size": at_least(1), "lr_initial": POSITIVE, "lr_final": POSITIVE,
        "momentum": FRACTION, "weight_decay": NON_NEGATIVE, "pos_radius": POSITIVE,
        "pos_ellipse": between(0, 1, low_open=True), "box_weight": NON_NEGATIVE, "quality_weight": NON_NEGATIVE,
        "optimizer": Rule("sgd or adamw", lambda v: v in ("sgd", "adamw")),
        "freeze_backbone_epochs": NON_NEGATIVE, "backbone_stages": NON_NEGATIVE,
        "backbone_lr_scale": NON_NEGATIVE, "seed": NON_NEGATIVE,
        "workers": NON_NEGATIVE, "val_every": NON_NEGATIVE, "keep_checkpoints": at_least(1),
        "checkpoint_every": NON_NEGATIVE,
    }

    epochs: int = 50
    batch_size: int = 8
    lr_initial: float = 1e-2
    lr_final: float = 1e-5
    momentum: float = 0.9
    weight_decay: float = 5e-4
    pos_radius: float = 16.0  # score cells within this L1 distance (pixels) of the centre are positives
    pos_ellipse: float = 0.5  # box head: positives within this fraction of the box's half-sides of its centre
    box_weight: float = 2.0  # box head: weight of the GIoU loss beside the focal loss
    quality_weight: float = 1.0  # box head with model.quality: weight of the IoU-prediction loss
    optimizer: str = "sgd"  # sgd (SiamFC) or adamw
    freeze_backbone_epochs: int = 0  # epochs at the start that train only the head (pretrained backbones)
    backbone_stages: int = 0  # after the freeze, how many last stages of the backbone train (0: all of it)
    backbone_lr_scale: float = 1.0  # learning rate of the backbone relative to the head's (SiamRPN++: 0.1)
    seed: int = 0  # seeds the weights and every pair (pair i of epoch e is the same for any worker count)
    workers: int = 4  # DataLoader worker processes per rank
    val_every: int = 1  # validate by tracking every this many epochs (0: never)
    bf16: bool = True  # bfloat16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # channels-last memory format on CUDA (ignored on CPU)
    keep_checkpoints: int = 2  # resume checkpoints kept in --out (older ones are deleted)
    init_weights: str = ""  # weights file to start from instead of random init (fine-tuning); "" = random
    checkpoint_every: int = 100  # also save a resume checkpoint every this many steps (0: at epoch ends only)
    frozen: list = field(default_factory=list)  # submodules that never train, e.g. [head.neck, head.cls_tower, head.cls]


@dataclass
class Config:
    """The whole configuration of a run: model, tracker, data and training."""

    model: ModelConfig = field(default_factory=ModelConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for checkpoints and YAML dumps)."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Check every section (after changing values in code, e.g. from command-line options)."""
        for section in (self.model, self.tracker, self.data, self.train):
            section.validate()


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, recursing into nested dataclasses."""
    if not isinstance(values, Mapping):
        raise SiamtrackError(f"config: '{where or 'top level'}' must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    renamed = getattr(cls, "RENAMED", {})
    for key, value in values.items():
        if key in renamed and key not in fields:
            key, value = renamed[key][0], renamed[key][1](value)
        name = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise SiamtrackError(f"config: unknown key '{name}' (known: {', '.join(fields)})")
        default = fields[key].default_factory() if fields[key].default_factory is not dataclasses.MISSING else fields[key].default
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value or {}, name)
        else:
            kwargs[key] = _coerce(value, default, name)
    built = cls(**kwargs)
    if isinstance(built, Section):
        built.validate()
    return built


def _coerce(value: Any, default: Any, name: str) -> Any:
    """Check a leaf value against its default's type (ints may stand for floats; YAML '1e-2' too)."""
    if default is None:
        return value
    if isinstance(default, (list, dict)):
        kind, wanted = (list, "a list") if isinstance(default, list) else (Mapping, "a mapping")
        if not isinstance(value, kind):
            raise SiamtrackError(f"config: '{name}' must be {wanted}, got {value!r}")
        return list(value) if isinstance(default, list) else dict(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SiamtrackError(f"config: '{name}' must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        try:
            number = float(value) if isinstance(default, float) else value
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or (isinstance(default, int) and not isinstance(value, int)):
            kind = "an integer" if isinstance(default, int) else "a number"
            raise SiamtrackError(f"config: '{name}' must be {kind}, got {value!r}")
        return number
    if isinstance(default, str) and not isinstance(value, str):
        raise SiamtrackError(f"config: '{name}' must be a string, got {value!r}")
    return value


def config_from_dict(values: Mapping[str, Any]) -> Config:
    """Build a :class:`Config` from a nested dict (e.g. one stored in a checkpoint); checks every value."""
    return _build(Config, values, "")


def stored_model(values: Mapping[str, Any]) -> ModelConfig:
    """The :class:`ModelConfig` of a checkpoint's ``config['model']``, with defaults for keys added since
    it was written (so that two files of one network compare equal whatever their age)."""
    return _build(ModelConfig, values, "model")


def load_config(path: str | Path | None = None) -> Config:
    """Read a YAML config; ``None`` means the shipped ``configs/siamfc_alexnet.yaml``.

    A bare name such as ``siamfc_fast`` means that shipped config; other paths are found by
    :func:`siamtrack.resources.find` (working directory first). A file may start from another with
    ``base: <path relative to it>``: its sections' keys then replace the base's, key by key.
    """
    path = resources.default_config() if path is None else resources.find(path, resources.CONFIGS, ".yaml")
    return config_from_dict(_read_with_bases(path, ()))


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The values of a YAML config, merged over those of its ``base`` chain."""
    values = _read_yaml(path)
    base = values.pop("base", None)
    if base is None:
        return values
    if not isinstance(base, str):
        raise SiamtrackError(f"config file {path}: 'base' must be a path to another config, got {base!r}")
    base_path, chain = path.parent / base, seen + (path.resolve(),)
    if base_path.resolve() in chain:
        raise SiamtrackError(f"config file {path}: 'base: {base}' leads back to itself")
    merged = _read_with_bases(base_path, chain)
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SiamtrackError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise SiamtrackError(f"config file {path} is not a text file (a YAML config was expected; "
                             "weights go to --weights)") from None
    except OSError as exc:
        raise SiamtrackError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SiamtrackError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(values, dict):
        raise SiamtrackError(f"config file {path}: the top level must be a mapping of sections, "
                             f"got {type(values).__name__}")
    return values
