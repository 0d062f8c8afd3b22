"""Inference backends of the tracker: the network as PyTorch or as ONNX Runtime runs it.

A backend turns uint8 crops into exemplar features (once per target) and search crops into score
maps (every frame). Both take the crops as OpenCV makes them, ``(B, H, W, 3)`` uint8 BGR, so the
only host-to-device copy per frame is the crops themselves, a quarter of their float size.
"""
from __future__ import annotations

import importlib.util
import logging
from typing import Any, Protocol

import numpy as np
import torch

from siamtrack import resources
from siamtrack.config import TrackerConfig
from siamtrack.errors import SiamtrackError
from siamtrack.models.export import (BACKBONE_FILE, HEAD_FILE, WEIGHTS_HASH_FILE, CropEmbedder, read_weights_digest,
                                     to_onnx, weights_digest)
from siamtrack.models.siamese import SiameseNet

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "auto")


class Backend(Protocol):
    """What the tracker needs from an inference engine."""

    device: torch.device

    def embed(self, crops: np.ndarray) -> Any:
        """Features of ``(B, H, W, 3)`` uint8 crops (exemplars), in the backend's own array type."""

    def score(self, kernels: Any, crops: np.ndarray) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The head's outputs (float32 on :attr:`device`; score maps ``(B, 1, r, r)`` first) for search
        crops ordered (scale, target) against ``kernels`` (one per target, as :meth:`embed` returned them)."""

    def score_features(self, kernels: Any, features: Any) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """:meth:`score` of search crops already embedded (``features`` as :meth:`embed` returned them),
        for loops that also use the features (the online target model)."""


# On a CPU, batches of more crop pixels than one SiamFC pyramid (3 x 255 x 255) ran about 20% slower
# per crop (activations no longer fit in cache; docs/speed.md), so larger batches go in chunks; the
# chunks also keep the activations' memory flat in the number of targets.
CPU_BATCH_PIXELS = 3 * 255 * 255


def chunk_size(crops: np.ndarray) -> int:
    """How many of these ``(B, H, W, 3)`` crops make one CPU batch (:data:`CPU_BATCH_PIXELS`)."""
    return max(1, CPU_BATCH_PIXELS // (crops.shape[1] * crops.shape[2]))


class TorchBackend:
    """PyTorch inference: BatchNorm folded into the convolutions, uint8 crops in, channels-last.

    Channels-last (NHWC) is the layout oneDNN's CPU convolutions and cuDNN's tensor-core kernels
    prefer (on a CPU 1.6x faster than NCHW for AlexNet, whose NCHW max-pooling is slow), and it
    makes the uint8 NHWC crops a free view instead of a transposing copy.
    """

    def __init__(self, net: SiameseNet, device: torch.device) -> None:
        self.device = device
        memory_format = getattr(net.backbone, "memory_format", torch.channels_last)
        self.embedder = CropEmbedder(net.backbone).to(device).to(memory_format=memory_format)
        self.head = net.head
        self.chunked = device.type == "cpu"
        if device.type == "cpu":
            # Denormal floats (from near-zero weights times small activations) are many times slower on
            # x86 CPUs, and made the trained box model crawl on PyTorch: flush them to zero.
            torch.set_flush_denormal(True)
        if device.type == "cuda":
            # Fixed crop sizes: let cuDNN pick its fastest convolution algorithm once per shape.
            torch.backends.cudnn.benchmark = True

    def embed(self, crops: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(crops).to(self.device, non_blocking=True)
        if not self.chunked:
            return self.embedder(batch)
        return torch.cat([self.embedder(part) for part in batch.split(chunk_size(crops))])

    def score(self, kernels: torch.Tensor, crops: np.ndarray) -> torch.Tensor:
        return self.score_features(kernels, self.embed(crops))

    def score_features(self, kernels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.head(kernels, features)


class OnnxBackend:
    """ONNX Runtime inference of the graphs :func:`siamtrack.models.export.to_onnx` writes.

    The graphs come from ``onnx_dir`` (see ``siamtrack export``; a relative path is found by
    :func:`siamtrack.resources.resolve`: the working directory, else the shipped ``weights/...``),
    and run only when the weights digest stored beside them is ``net``'s: graphs of other weights
    are an error, never silently run in their place. When ``onnx_dir`` is empty they are exported
    from ``net`` in memory. Runs on the CPU with as many threads as PyTorch is set to use, crops in
    chunks of :data:`CPU_BATCH_PIXELS` as the PyTorch backend does.
    """

    def __init__(self, net: SiameseNet, cfg: TrackerConfig) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise SiamtrackError("backend 'onnx' needs the onnxruntime package: pip install onnxruntime") from None
        self.device = torch.device("cpu")
        models = _exported_graphs(net, cfg.onnx_dir) if cfg.onnx_dir else \
            to_onnx(net, cfg.exemplar_size, cfg.instance_size, cfg.search_sizes)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Between two frames the tracker crops and post-processes on the same cores; ONNX Runtime's
        # spin-waiting workers would take them away (2x slower on 2 cores, docs/speed.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.backbone, self.head = (onnxruntime.InferenceSession(m, options, providers=["CPUExecutionProvider"])
                                    for m in models)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        chunk = chunk_size(crops)
        parts = [self.backbone.run(None, {"crops": np.ascontiguousarray(crops[start:start + chunk])})[0]
                 for start in range(0, len(crops), chunk)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def score(self, kernels: np.ndarray, crops: np.ndarray) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self.score_features(kernels, self.embed(crops))

    def score_features(self, kernels: np.ndarray, features: np.ndarray) -> torch.Tensor | tuple[torch.Tensor, ...]:
        num_targets = len(kernels)
        per_target = features.reshape(-1, num_targets, *features.shape[1:])
        # The ONNX head scores one exemplar per call (ONNX convolutions have a fixed group count).
        runs = [self.head.run(None, {"z": kernels[t:t + 1], "x": np.ascontiguousarray(per_target[:, t])})
                for t in range(num_targets)]
        outputs = tuple(torch.from_numpy(np.stack(maps, axis=1).reshape(-1, *maps[0].shape[1:]))
                        for maps in zip(*runs))
        return outputs if len(outputs) > 1 else outputs[0]


def _exported_graphs(net: SiameseNet, onnx_dir: str) -> list[bytes]:
    """The graphs ``siamtrack export`` wrote into ``onnx_dir``, if they were exported from ``net``'s weights."""
    folder = resources.resolve(onnx_dir)
    paths = [folder / BACKBONE_FILE, folder / HEAD_FILE]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SiamtrackError(f"tracker.onnx_dir {folder} lacks {', '.join(missing)}: write them with siamtrack export")
    stored = read_weights_digest(folder)
    if stored != weights_digest(net):
        why = (f"has no {WEIGHTS_HASH_FILE} saying which weights they came from" if stored is None
               else "were exported from other weights than the ones given (their weights hash differs)")
        raise SiamtrackError(f"the ONNX graphs in tracker.onnx_dir {folder} {why}: export these weights' graphs with "
                             f"siamtrack export --weights WEIGHTS --out DIR (add --int8 for int8) and set "
                             f"tracker.onnx_dir: DIR, or set tracker.onnx_dir: '' to export them when tracking starts")
    return [p.read_bytes() for p in paths]


def build_backend(net: SiameseNet, cfg: TrackerConfig, device: torch.device) -> Backend:
    """The inference backend ``cfg.backend`` names, for ``net`` on ``device``.

    ``auto``: ONNX Runtime on a CPU when it is installed (about 1.7x faster than PyTorch for the
    EfficientNet box model on 2 cores, README's Speed section), PyTorch on a GPU.
    """
    if cfg.backend == "auto":
        onnx = device.type == "cpu" and importlib.util.find_spec("onnxruntime") is not None
        return OnnxBackend(net, cfg) if onnx else TorchBackend(net, device)
    if cfg.backend == "torch":
        return TorchBackend(net, device)
    if cfg.backend == "onnx":
        if device.type != "cpu":
            log.warning("backend 'onnx' runs ONNX Runtime on the CPU; the network will not use %s "
                        "(set 'backend: torch' in the config to run it there)", device)
        return OnnxBackend(net, cfg)
    raise SiamtrackError(f"unknown tracker backend '{cfg.backend}' (known: {', '.join(BACKENDS)})")
