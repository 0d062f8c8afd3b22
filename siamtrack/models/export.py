"""Deployment forms of a trained SiameseNet: crops-in embedder and ONNX graphs of backbone and head.

The embedder takes the crops exactly as OpenCV makes them (uint8, NHWC, BGR), so the conversion to
float NCHW happens inside the network: in PyTorch a free view (channels-last strides), in ONNX two
graph nodes that ONNX Runtime fuses with the first convolution's input packing.
"""
from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

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


def export_onnx(net: SiameseNet, out_dir: str | Path, exemplar_size: int = 127,
                instance_size: int = 255) -> list[Path]:
    """Write ``backbone.onnx`` and ``head.onnx`` of ``net`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / BACKBONE_FILE, out_dir / HEAD_FILE]
    for path, model in zip(paths, to_onnx(net, exemplar_size, instance_size)):
        path.write_bytes(model)
    return paths
