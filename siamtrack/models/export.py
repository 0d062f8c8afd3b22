"""Deployment forms of a trained SiameseNet: crops-in embedder and ONNX graphs of backbone and head.

The embedder takes the crops exactly as OpenCV makes them (uint8, NHWC, BGR), so the conversion to
float NCHW happens inside the network: in PyTorch a free view (channels-last strides), in ONNX two
graph nodes that ONNX Runtime fuses with the first convolution's input packing.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from siamtrack.errors import SiamtrackError
from siamtrack.models.fusion import fold_batchnorm
from siamtrack.models.heads import DepthwiseBoxHead
from siamtrack.models.siamese import SiameseNet

BACKBONE_FILE = "backbone.onnx"
HEAD_FILE = "head.onnx"
WEIGHTS_HASH_FILE = "weights.sha256"  # beside the graphs: the digest of the weights they were exported from
ONNX_OPSET = 17


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of ``net``'s state dict (names, dtypes, shapes and values): the same for every file that
    holds this network (a released weights file, ``best.pth``, the checkpoint it came from)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{value.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_weights_digest(folder: Path) -> str | None:
    """The digest :func:`export_onnx` stored in ``folder`` (``None`` if there is none)."""
    try:
        text = (folder / WEIGHTS_HASH_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    words = text.split()
    return words[0] if words else None


class CropEmbedder(nn.Module):
    """Backbone fed with uint8 ``(N, H, W, 3)`` BGR crops; BatchNorm folded in (inference only)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = fold_batchnorm(backbone)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Feature maps of the crops: ``(N, C, h, w)``."""
        images = crops.permute(0, 3, 1, 2).float()
        if getattr(self.backbone, "memory_format", torch.channels_last) != torch.channels_last:
            images = images.contiguous(memory_format=self.backbone.memory_format)
        return self.backbone(images)


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], input_names: list[str],
            dynamic_axes: dict[str, dict[int, str]], output_names: Sequence[str] = ("out",)) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of one that needs the onnxscript
        # package; it still produces the same graph for this plain CNN, without the extra dependency.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The head's divisibility check is a Python branch; the single-exemplar graph never needs it.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # The SAME padding's sizes are recorded as constants (checked by to_onnx's padding plan).
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(module.eval(), args, buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=input_names, output_names=list(output_names), dynamic_axes=dynamic_axes)
    return buffer.getvalue()


def to_onnx(net: SiameseNet, exemplar_size: int = 127, instance_size: int = 255,
            other_sizes: Sequence[int] = ()) -> tuple[bytes, bytes]:
    """Serialised ONNX models ``(backbone, head)`` of ``net``.

    backbone: ``crops`` uint8 ``(N, H, W, 3)`` -> features ``(N, C, h, w)``, batch and size dynamic.
    head: ``z`` ``(1, C, hz, wz)`` (one exemplar), ``x`` ``(K, C, hx, wx)`` -> scores ``(K, 1, ho, wo)``
    (xcorr head), or ``logits`` ``(K, 1 or 2, ho, wo)`` and ``ltrb`` ``(K, 4, ho, wo)`` (box head); ONNX
    convolutions have a fixed group count, so several targets are scored one call each. A backbone
    with input-dependent ("SAME") padding is traced with one padding: every crop size the tracker
    uses (``exemplar_size``, ``instance_size``, ``other_sizes``) must pad alike.
    """
    plan = getattr(net.backbone, "padding_plan", None)
    sizes = sorted({exemplar_size, instance_size, *other_sizes})
    if plan is not None and len({plan(s) for s in sizes}) > 1:
        raise SiamtrackError(f"crop sizes {sizes} pad differently in backbone {type(net.backbone).__name__}, so one "
                             "ONNX graph cannot serve them all: use sizes of one residue modulo its stride "
                             "(e.g. 127, 255, 383) or backend 'torch'")
    net = copy.deepcopy(net).cpu().eval()
    embedder = CropEmbedder(net.backbone)
    with torch.no_grad():  # not inference mode: the features are traced into the head's graph
        z_feat = embedder(torch.zeros(1, exemplar_size, exemplar_size, 3, dtype=torch.uint8))
        x_feat = embedder(torch.zeros(2, instance_size, instance_size, 3, dtype=torch.uint8))
    backbone = _export(embedder, (torch.zeros(1, instance_size, instance_size, 3, dtype=torch.uint8),),
                       ["crops"], {"crops": {0: "n", 1: "height", 2: "width"}, "out": {0: "n"}})
    outputs = ("logits", "ltrb") if isinstance(net.head, DepthwiseBoxHead) else ("out",)
    head = _export(net.head, (z_feat, x_feat), ["z", "x"],
                   {"x": {0: "k", 2: "hx", 3: "wx"}, **{name: {0: "k"} for name in outputs}}, outputs)
    return backbone, head


def export_onnx(net: SiameseNet, out_dir: str | Path, exemplar_size: int = 127, instance_size: int = 255,
                calibration: Iterable[np.ndarray] | None = None, source: str = "") -> list[Path]:
    """Write ``backbone.onnx``, ``head.onnx`` and ``weights.sha256`` (:func:`weights_digest` of ``net``,
    then ``source``, the weights' name) into ``out_dir``; return their paths.

    The ONNX Runtime backend runs the graphs only for weights of that digest. With ``calibration``
    (batches of uint8 crops) the backbone is quantised to int8 (:func:`quantize_int8`). The folder is
    made, and each file written whole (temporary file, then rename), only once the graphs are built;
    the digest goes last, so graphs cut short by a crash never pass for those of the weights.
    """
    out_dir = Path(out_dir)
    backbone, head = to_onnx(net, exemplar_size, instance_size)
    if calibration is not None:
        backbone = quantize_int8(backbone, calibration)
    paths = [out_dir / BACKBONE_FILE, out_dir / HEAD_FILE, out_dir / WEIGHTS_HASH_FILE]
    digest = f"{weights_digest(net)}  {source}".rstrip() + "\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths[-1].unlink(missing_ok=True)
        for path, content in zip(paths, (backbone, head, digest.encode())):
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_bytes(content)
            temporary.replace(path)
    except OSError as exc:
        raise SiamtrackError(f"cannot write the ONNX graphs into {out_dir}: {exc.strerror or exc}") from None
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
