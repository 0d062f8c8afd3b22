"""Where the tracker's translation invariance comes from (see docs/how-it-works.md).

Shared, unpadded convolutions with total stride 8 make the score map translation-*equivariant*:
shifting the search image by 8k pixels shifts the 17x17 map by exactly k cells. Pooling alone only
gives approximate invariance.
"""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from siamtrack.config import ModelConfig
from siamtrack.models import build_model

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
