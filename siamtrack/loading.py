"""From files to a ready tracker: weights + config + device -> the tracker loop the config names; and
a trained checkpoint + the loop to ship it with -> a weights file (what ``siamtrack release`` writes)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from siamtrack import resources
from siamtrack.checkpoints import load_checkpoint, load_weights, save_atomic
from siamtrack.config import Config, ModelConfig, config_from_dict, load_config, stored_model
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet, build_model
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)

DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"
ConfigLike = str | Path | Config | Mapping[str, Any]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``'auto'`` -> CUDA when present, else CPU; asking for absent CUDA is an error, and so
    is anything but a CPU or CUDA device (the ones siamtrack runs on)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise SiamtrackError(f"device must be {DEVICES} (a string or torch.device), got {device!r} "
                             f"({type(device).__name__})")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise SiamtrackError(f"device '{device}' is not a device name: give {DEVICES}") from None
    if device.type not in ("cpu", "cuda"):
        raise SiamtrackError(f"device '{device}': siamtrack runs on {DEVICES}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SiamtrackError("--device cuda was asked for, but PyTorch sees no CUDA GPU on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise SiamtrackError(f"device '{device}': this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def find_weights(weights: str | os.PathLike | None) -> Path:
    """The weights file ``weights`` names: a path, or a shipped name such as ``siamfc_fast``;
    ``None`` means the shipped default. Whatever else is given is a :class:`SiamtrackError`."""
    if weights is None:
        path = resources.default_weights()
        if not path.is_file():
            raise SiamtrackError(f"no trained weights at {path}: train some with siamtrack train "
                                 "or pass weights=... / --weights PATH")
        return path
    if not isinstance(weights, (str, os.PathLike)):
        raise SiamtrackError(f"weights must be a file path or the name of shipped weights, got {weights!r} "
                             f"({type(weights).__name__})")
    if not str(weights).strip():
        shipped = ", ".join(sorted(p.stem for p in resources.weights_dir().glob("*.pth")))
        raise SiamtrackError(f"weights is empty: give a weights file, a shipped name ({shipped}), "
                             "or leave it out for the default")
    path = resources.find(weights, resources.WEIGHTS, ".pth")
    if path.is_dir():
        empty = " (an empty --weights '' reads as '.')" if str(weights) == "." else ""
        raise SiamtrackError(f"weights {path} is a folder{empty}: give a weights file (.pth, e.g. a run's "
                             "best.pth) or a shipped name")
    return path


def _read_config(config: ConfigLike) -> Config:
    """A config given as a :class:`Config`, a nested dict of sections, a YAML path or a shipped name."""
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(config)
    if isinstance(config, (str, os.PathLike)) and str(config).strip():
        return load_config(config)
    raise SiamtrackError(f"config must be a YAML file, the name of a shipped config, a dict of sections or a "
                         f"Config, got {config!r} ({type(config).__name__})")


def model_mismatch(wanted: ModelConfig, held: ModelConfig, config: str, weights: str) -> str:
    """The message for weights of one model run with a config of another: what each describes, and
    the keys in which they differ."""
    def kind(model: ModelConfig) -> str:
        return f"'{model.backbone}' with the '{model.head}' head"

    differences = ", ".join(f"model.{key}: {getattr(wanted, key)!r} vs {getattr(held, key)!r}"
                            for key in wanted.__dataclass_fields__ if getattr(wanted, key) != getattr(held, key))
    return (f"the config {config} describes model {kind(wanted)}; the weights {weights} hold model {kind(held)} "
            f"({differences}): give a config of the weights' model, or none to use the one stored with the weights")


def _held_model(state: Mapping[str, Any]) -> ModelConfig | None:
    """The model a weights file says it holds (``None`` for files without a readable config)."""
    stored = state.get("config")
    if not isinstance(stored, Mapping) or not isinstance(stored.get("model"), Mapping):
        return None
    try:
        return stored_model(stored["model"])
    except SiamtrackError:
        return None


def load_model(weights: str | os.PathLike | None = None, config: ConfigLike | None = None) -> tuple[SiameseNet, Config]:
    """The trained network, in inference mode (BatchNorm on its running statistics), and the config to
    run it with.

    ``weights``: a weights file (``siamtrack release``, ``best.pth``), a training checkpoint
    (``ckpt_*.pth``) or a shipped name such as ``siamfc_fast``; ``None`` means the shipped default.
    ``config``: a YAML file, a shipped name, a dict of sections or a :class:`Config`; ``None`` means
    the config stored with the weights (else ``configs/siamfc_alexnet.yaml``). A config of another
    model than the weights hold is an error that says so. Never returns random weights.
    """
    path = find_weights(weights)
    state = load_checkpoint(path)
    if config is not None:
        cfg = _read_config(config)
        held = _held_model(state)
        if held is not None and held != cfg.model:
            name = config if isinstance(config, (str, os.PathLike)) else "given"
            raise SiamtrackError(model_mismatch(cfg.model, held, str(name), str(path)))
    elif "config" in state:
        try:
            cfg = config_from_dict(state["config"])
        except SiamtrackError as exc:
            raise SiamtrackError(f"weights {path} hold an unusable config: {exc}") from None
    else:
        cfg = load_config()
    net = build_model(cfg.model)
    load_weights(net, state["model"], path, cfg.model.backbone)
    return net.eval(), cfg


def load_tracker(weights: str | os.PathLike | None = None, config: ConfigLike | None = None,
                 device: str | torch.device | None = None) -> SiameseTracker:
    """A tracker with trained weights (the loop its config names), ready for ``init(frame, box)`` / ``update(frame)``.

    ``weights`` and ``config`` as :func:`load_model` takes them; ``device``: ``'auto'`` (``None``),
    ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    """
    device = resolve_device(device)  # before the weights load: a wrong device fails at once
    net, cfg = load_model(weights, config)
    return build_tracker(net, cfg.tracker, device)


def release_weights(checkpoint: str | Path, config: str | Path, out: str | Path) -> Path:
    """Write ``out``: the network of ``checkpoint`` (weights, a training checkpoint or a shipped name)
    with the tracker loop of ``config`` stored beside it.

    Training stores the loop its validation ran; a loop tuned afterwards (or a new default) goes
    into the shipped file this way, so that ``load_tracker(out)`` runs it. The training record
    (data, train sections, meta) is kept; ``meta['tracker']`` names the config the loop came from.
    The config's model must be the checkpoint's.
    """
    path = find_weights(checkpoint)
    state = load_checkpoint(path)
    cfg = load_config(config)
    wanted, stored = cfg.to_dict(), state.get("config")
    held = _held_model(state)
    if held is not None and held != cfg.model:
        raise SiamtrackError(model_mismatch(cfg.model, held, str(config), str(path)))
    values = {**(stored or wanted), "tracker": wanted["tracker"]}
    config_from_dict(values)  # every stored section still valid
    load_weights(build_model(cfg.model), state["model"], path, cfg.model.backbone)  # the network fits
    progress = {key: state[key] for key in ("epoch", "step") if key in state}  # a training checkpoint's
    meta = {**state.get("meta", progress), "tracker": str(config)}
    save_atomic({"model": state["model"], "config": values, "meta": meta}, out)
    return Path(out)
