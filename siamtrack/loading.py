"""From files to a ready tracker: weights + config + device -> the tracker loop the config names; and
a trained checkpoint + the loop to ship it with -> a weights file (what ``siamtrack release`` writes)."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from siamtrack import resources
from siamtrack.checkpoints import load_checkpoint, load_weights, save_atomic
from siamtrack.config import Config, config_from_dict, load_config, stored_model
from siamtrack.errors import SiamtrackError
from siamtrack.models.siamese import SiameseNet, build_model
from siamtrack.tracking.builder import build_tracker
from siamtrack.tracking.tracker import SiameseTracker

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``'auto'`` -> CUDA when present, else CPU; asking for absent CUDA is an error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SiamtrackError("--device cuda was asked for, but PyTorch sees no CUDA GPU on this machine")
    return device


def load_model(weights: str | Path | None = None, config: str | Path | Config | None = None) -> tuple[SiameseNet, Config]:
    """The trained network, in inference mode (BatchNorm on its running statistics), and the config to
    run it with.

    ``weights=None`` means the shipped default, a bare name such as ``siamfc_fast`` that shipped file;
    ``config=None`` means the config stored with the weights (else ``configs/siamfc_alexnet.yaml``).
    Never returns random weights.
    """
    path = resources.default_weights() if weights is None else resources.find(weights, resources.WEIGHTS, ".pth")
    if weights is None and not path.is_file():
        raise SiamtrackError(f"no trained weights at {path}: train some with siamtrack train "
                             "or pass weights=... / --weights PATH")
    state = load_checkpoint(path)
    if isinstance(config, Config):
        cfg = config
    elif config is not None:
        cfg = load_config(config)
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


def load_tracker(weights: str | Path | None = None, config: str | Path | Config | None = None,
                 device: str | torch.device | None = None) -> SiameseTracker:
    """A tracker with trained weights (the loop its config names), ready for ``init(frame, box)`` / ``update(frame)``."""
    net, cfg = load_model(weights, config)
    return build_tracker(net, cfg.tracker, resolve_device(device))


def release_weights(checkpoint: str | Path, config: str | Path, out: str | Path) -> Path:
    """Write ``out``: the network of ``checkpoint`` with the tracker loop of ``config`` stored beside it.

    Training stores the loop its validation ran; a loop tuned afterwards (or a new default) goes
    into the shipped file this way, so that ``load_tracker(out)`` runs it. The training record
    (data, train sections, meta) is kept; ``meta['tracker']`` names the config the loop came from.
    The config's model must be the checkpoint's.
    """
    state = load_checkpoint(checkpoint)
    cfg = load_config(config)
    wanted, stored = cfg.to_dict(), state.get("config")
    if stored is not None and stored_model(stored.get("model", {})) != cfg.model:
        raise SiamtrackError(f"{config} describes model {wanted['model']}, but {checkpoint} holds "
                             f"{stored.get('model')}")
    values = {**(stored or wanted), "tracker": wanted["tracker"]}
    config_from_dict(values)  # every stored section still valid
    load_weights(build_model(cfg.model), state["model"], checkpoint, cfg.model.backbone)  # the network fits
    meta = {**state.get("meta", {}), "tracker": str(config)}
    save_atomic({"model": state["model"], "config": values, "meta": meta}, out)
    return Path(out)
