"""Where the tracker's translation invariance comes from (see docs/how-it-works.md).

Shared, unpadded convolutions with total stride 8 make the score map translation-*equivariant*:
shifting the search image by 8k pixels shifts the 17x17 map by exactly k cells. Pooling alone only
gives approximate invariance. Padding (EfficientNet-Lite0) breaks exactness near the crop's border.
"""
from __future__ import annotations

import importlib.util

import pytest
import torch
from torch.nn import functional as F

from siamtrack.config import ModelConfig
from siamtrack.models import build_model
from siamtrack.models.efficientnet import WEIGHTS_PACKAGE, EfficientNetLite0

STRIDE = 8


@pytest.fixture(scope="module")
def net_and_scores():
    """Score map of a crop of a wide random search strip, by crop offset (untrained AlexNet, eval mode)."""
    torch.manual_seed(0)
    net = build_model(ModelConfig(backbone="alexnet")).eval()
    generator = torch.Generator().manual_seed(1)
    wide = torch.rand(1, 3, 255 + 3 * STRIDE, 255 + 2 * STRIDE, generator=generator) * 255
    with torch.inference_mode():
        kernel = net.embed(wide[:, :, 64:191, 64:191])

    def scores(dy: int, dx: int) -> torch.Tensor:
        with torch.inference_mode():
            return net.score(kernel, net.embed(wide[:, :, dy:dy + 255, dx:dx + 255]))[0, 0]

    return scores


@pytest.mark.parametrize("shift_y, shift_x", [(0, 1), (0, 2), (1, 0), (3, 2)])
def test_shift_by_8k_pixels_shifts_the_score_map_by_k_cells(net_and_scores, shift_y: int, shift_x: int) -> None:
    reference = net_and_scores(0, 0)
    shifted = net_and_scores(STRIDE * shift_y, STRIDE * shift_x)
    # Cropping the search window 8k px further on moves the content k cells back in the map.
    size = reference.shape[-1]
    torch.testing.assert_close(shifted[:size - shift_y, :size - shift_x], reference[shift_y:, shift_x:],
                               rtol=1e-4, atol=1e-4)
    assert not torch.allclose(shifted, reference, rtol=1e-4, atol=1e-4)


def test_shift_by_a_fraction_of_the_stride_is_not_a_whole_cell_shift(net_and_scores) -> None:
    reference = net_and_scores(0, 0)
    shifted = net_and_scores(0, STRIDE // 2)
    for cells in range(3):
        assert not torch.allclose(shifted[:, :17 - cells], reference[:, cells:], rtol=1e-4, atol=1e-4)


def test_max_pooling_alone_is_only_approximately_invariant() -> None:
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(1, 1, 41, 43, generator=generator)
    pooled = F.max_pool2d(image[..., :41], 3, 2)
    by_stride = F.max_pool2d(image[..., 2:], 3, 2)  # content moved by the pooling stride
    by_one_pixel = F.max_pool2d(image[..., 1:42], 3, 2)  # content moved by one pixel
    assert torch.equal(by_stride[..., :-1], pooled[..., 1:])
    assert not torch.equal(by_one_pixel, pooled)
    assert not torch.equal(by_one_pixel[..., :-1], pooled[..., 1:])


def border_reach(backbone: torch.nn.Module, shift_cells: int = 2, seed: int = 3) -> list[float]:
    """How far into the feature map padding reaches: for cells at distance ``d`` (in cells) from the
    nearest border of either crop, the largest change of their features when the crop moves by
    ``shift_cells`` whole cells over a wide random image, relative to the features' spread (index ``d``)."""
    stride = int(backbone.stride)
    generator = torch.Generator().manual_seed(seed)
    wide = torch.rand(1, 3, 255, 255 + stride * shift_cells, generator=generator) * 255
    with torch.inference_mode():
        first = backbone(wide[..., :255])[0]
        moved = backbone(wide[..., stride * shift_cells:])[0]
    # Column j of ``moved`` sees what column j + shift_cells of ``first`` saw.
    a, b = first[:, :, shift_cells:], moved[:, :, :moved.shape[-1] - shift_cells]
    error = ((a - b).abs().amax(dim=0) / first.std()).numpy()
    rows, cols = error.shape
    row_distance = torch.minimum(torch.arange(rows), rows - 1 - torch.arange(rows))[:, None]
    col = torch.arange(cols)
    # Distance to the nearest border of either crop (column c of the overlap is c + shift in ``first``).
    col_distance = torch.minimum(torch.minimum(col + shift_cells, cols + shift_cells - 1 - (col + shift_cells)),
                                 torch.minimum(col, cols - 1 - col))[None, :]
    distance = torch.minimum(row_distance, col_distance).numpy()
    return [float(error[distance == d].max()) for d in range(int(distance.max()) + 1)]


def test_alexnet_features_are_exactly_equivariant_up_to_the_border() -> None:
    torch.manual_seed(0)
    reach = border_reach(build_model(ModelConfig(backbone="alexnet")).backbone.eval())
    assert max(reach) < 1e-4, reach  # no padding: not even border cells see where the crop ends


@pytest.mark.skipif(importlib.util.find_spec(WEIGHTS_PACKAGE) is None, reason="EfficientNet-Lite0 weights not installed")
def test_padding_breaks_efficientnet_equivariance_near_the_border_only() -> None:
    backbone = EfficientNetLite0()
    backbone.load_pretrained()
    reach = border_reach(backbone.eval())
    print("EfficientNet-Lite0 relative feature change by distance from the border (cells):",
          ", ".join(f"{d}: {r:.3f}" for d, r in enumerate(reach)))
    assert reach[0] > 0.5  # border cells see the zero padding
    assert reach[0] > 5 * reach[-1]  # it fades towards the middle ...
    assert reach[-1] > 1e-3  # ... but never vanishes: every cell's receptive field reaches a border
