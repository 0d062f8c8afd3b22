"""Deployment forms of a trained SiameseNet: crops-in embedder and ONNX graphs of backbone and head.

The embedder takes the crops exactly as OpenCV makes them (uint8, NHWC, BGR), so the conversion to
float NCHW happens inside the network: in PyTorch a free view (channels-last strides), in ONNX two
graph nodes that ONNX Runtime fuses with the first convolution's input packing.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from siamtrack.models.fusion import fold_batchnorm
from siamtrack.models.siamese import SiameseNet

BACKBONE_FILE = "backbone.onnx"
HEAD_FILE = "head.onnx"
ONNX_OPSET = 17


class CropEmbedder(nn.Module):
    """Backbone fed with uint8 ``(N, H, W, 3)`` BGR crops; BatchNorm folded in (inference only)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = fold_batchnorm(backbone)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Feature maps of the crops: ``(N, C, h, w)``."""
        return self.backbone(crops.permute(0, 3, 1, 2).float())


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], input_names: list[str],
            dynamic_axes: dict[str, dict[int, str]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of one that needs the onnxscript
        # package; it still produces the same graph for this plain CNN, without the extra dependency.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The head's divisibility check is a Python branch; the single-exemplar graph never needs it.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=input_names, output_names=["out"], dynamic_axes=dynamic_axes)
    return buffer.getvalue()


def to_onnx(net: SiameseNet, exemplar_size: int = 127, instance_size: int = 255) -> tuple[bytes, bytes]:
    """Serialised ONNX models ``(backbone, head)`` of ``net``.

    backbone: ``crops`` uint8 ``(N, H, W, 3)`` -> features ``(N, C, h, w)``, batch and size dynamic.
    head: ``z`` ``(1, C, hz, wz)`` (one exemplar), ``x`` ``(K, C, hx, wx)`` -> scores ``(K, 1, ho, wo)``;
    ONNX convolutions have a fixed group count, so several targets are scored one call each.
    """
    net = copy.deepcopy(net).cpu().eval()
    embedder = CropEmbedder(net.backbone)
    with torch.inference_mode():
        z_feat = embedder(torch.zeros(1, exemplar_size, exemplar_size, 3, dtype=torch.uint8))
        x_feat = embedder(torch.zeros(2, instance_size, instance_size, 3, dtype=torch.uint8))
    backbone = _export(embedder, (torch.zeros(1, instance_size, instance_size, 3, dtype=torch.uint8),),
                       ["crops"], {"crops": {0: "n", 1: "height", 2: "width"}, "out": {0: "n"}})
    head = _export(net.head, (z_feat, x_feat), ["z", "x"],
                   {"x": {0: "k", 2: "hx", 3: "wx"}, "out": {0: "k"}})
    return backbone, head


def export_onnx(net: SiameseNet, out_dir: str | Path, exemplar_size: int = 127, instance_size: int = 255,
                calibration: Iterable[np.ndarray] | None = None) -> list[Path]:
    """Write ``backbone.onnx`` and ``head.onnx`` of ``net`` into ``out_dir``; return their paths.

    With ``calibration`` (batches of uint8 crops) the backbone is quantised to int8 (:func:`quantize_int8`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    backbone, head = to_onnx(net, exemplar_size, instance_size)
    if calibration is not None:
        backbone = quantize_int8(backbone, calibration)
    paths = [out_dir / BACKBONE_FILE, out_dir / HEAD_FILE]
    for path, model in zip(paths, (backbone, head)):
        path.write_bytes(model)
    return paths


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Silence the quantiser's root-logger warnings (the uint8 input is left unquantised on purpose)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def quantize_int8(backbone: bytes, calibration: Iterable[np.ndarray]) -> bytes:
    """Static int8 quantisation of a backbone graph from :func:`to_onnx`, calibrated on real crops.

    Per-channel int8 weights, uint8 activations, ranges from the min/max over ``calibration``
    (batches of uint8 crops as the tracker makes them). Weights use 7 bits (``reduce_range``) so
    the AVX2 int8 kernels of CPUs without VNNI cannot saturate their 16-bit sums.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {"crops": np.ascontiguousarray(batch)}

    with tempfile.TemporaryDirectory() as folder, _quiet_root_logger():
        out = Path(folder) / "backbone_int8.onnx"
        quantize_static(onnx.load_from_string(backbone), out, Reader(), quant_format=QuantFormat.QOperator,
                        per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        return out.read_bytes()
