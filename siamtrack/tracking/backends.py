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
from siamtrack.models.export import BACKBONE_FILE, HEAD_FILE, CropEmbedder, to_onnx
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


# On a CPU, batches of more crop pixels than one SiamFC pyramid (3 x 255 x 255) ran about 20% slower
# per crop (activations no longer fit in cache; docs/speed.md), so larger batches go in chunks.
CPU_BATCH_PIXELS = 3 * 255 * 255


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
        self.batch_pixels = CPU_BATCH_PIXELS if device.type == "cpu" else None
        if device.type == "cpu":
            # Denormal floats (from near-zero weights times small activations) are many times slower on
            # x86 CPUs, and made the trained box model crawl on PyTorch: flush them to zero.
            torch.set_flush_denormal(True)
        if device.type == "cuda":
            # Fixed crop sizes: let cuDNN pick its fastest convolution algorithm once per shape.
            torch.backends.cudnn.benchmark = True

    def embed(self, crops: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(crops).to(self.device, non_blocking=True)
        if self.batch_pixels is None:
            return self.embedder(batch)
        chunk = max(1, self.batch_pixels // (crops.shape[1] * crops.shape[2]))
        return torch.cat([self.embedder(part) for part in batch.split(chunk)])

    def score(self, kernels: torch.Tensor, crops: np.ndarray) -> torch.Tensor:
        return self.head(kernels, self.embed(crops))


class OnnxBackend:
    """ONNX Runtime inference of the graphs :func:`siamtrack.models.export.to_onnx` writes.

    The graphs come from ``onnx_dir`` (see ``siamtrack export``; a relative path is found by
    :func:`siamtrack.resources.resolve`: the working directory, else the shipped ``weights/...``),
    and then replace ``net``'s weights;
    when ``onnx_dir`` is empty they are exported from ``net`` in memory. Runs on the CPU with as
    many threads as PyTorch is set to use.
    """

    def __init__(self, net: SiameseNet, cfg: TrackerConfig) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise SiamtrackError("backend 'onnx' needs the onnxruntime package: pip install onnxruntime") from None
        self.device = torch.device("cpu")
        if cfg.onnx_dir:
            folder = resources.resolve(cfg.onnx_dir)
            paths = [folder / BACKBONE_FILE, folder / HEAD_FILE]
            missing = [str(p) for p in paths if not p.is_file()]
            if missing:
                raise SiamtrackError(f"onnx_dir {folder} lacks {', '.join(missing)}: "
                                     "write them with siamtrack export")
            models = [p.read_bytes() for p in paths]
        else:
            models = to_onnx(net, cfg.exemplar_size, cfg.instance_size, cfg.search_sizes)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Between two frames the tracker crops and post-processes on the same cores; ONNX Runtime's
        # spin-waiting workers would take them away (2x slower on 2 cores, docs/speed.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.backbone, self.head = (onnxruntime.InferenceSession(m, options, providers=["CPUExecutionProvider"])
                                    for m in models)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return self.backbone.run(None, {"crops": np.ascontiguousarray(crops)})[0]

    def score(self, kernels: np.ndarray, crops: np.ndarray) -> torch.Tensor | tuple[torch.Tensor, ...]:
        features = self.embed(crops)
        num_targets = len(kernels)
        per_target = features.reshape(-1, num_targets, *features.shape[1:])
        # The ONNX head scores one exemplar per call (ONNX convolutions have a fixed group count).
        runs = [self.head.run(None, {"z": kernels[t:t + 1], "x": np.ascontiguousarray(per_target[:, t])})
                for t in range(num_targets)]
        outputs = tuple(torch.from_numpy(np.stack(maps, axis=1).reshape(-1, *maps[0].shape[1:]))
                        for maps in zip(*runs))
        return outputs if len(outputs) > 1 else outputs[0]


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
