"""The network's shapes and the batched correlation head (what the tracker loop relies on)."""
from __future__ import annotations

import pytest
import torch

from siamtrack.config import ModelConfig
from siamtrack.models import XCorrHead, build_model


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return build_model(ModelConfig(backbone="alexnet")).eval()


def test_alexnet_feature_and_score_shapes(alexnet) -> None:
    with torch.inference_mode():
        z = alexnet.embed(torch.rand(2, 3, 127, 127) * 255)
        x = alexnet.embed(torch.rand(2, 3, 255, 255) * 255)
        scores = alexnet.score(z, x)
    assert z.shape == (2, 256, 6, 6)
    assert x.shape == (2, 256, 22, 22)
    assert scores.shape == (2, 1, 17, 17)


@pytest.mark.parametrize("backbone", ["alexnet_half", "pixels"])
def test_every_backbone_gives_a_17x17_score_map(backbone: str) -> None:
    net = build_model(ModelConfig(backbone=backbone)).eval()
    with torch.inference_mode():
        scores = net(torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255)
    assert scores.shape == (1, 1, 17, 17)


def test_batched_head_equals_one_exemplar_at_a_time() -> None:
    torch.manual_seed(1)
    head = XCorrHead(out_scale=0.001)
    with torch.no_grad():
        head.bias.fill_(0.3)
    num_exemplars, per_exemplar = 3, 2
    z = torch.randn(num_exemplars, 8, 6, 6)
    x = torch.randn(per_exemplar * num_exemplars, 8, 22, 22)  # ordered (k, nz)
    batched = head(z, x)
    assert batched.shape == (per_exemplar * num_exemplars, 1, 17, 17)
    for i in range(per_exemplar):
        for j in range(num_exemplars):
            single = head(z[j:j + 1], x[i * num_exemplars + j:i * num_exemplars + j + 1])
            torch.testing.assert_close(batched[i * num_exemplars + j:i * num_exemplars + j + 1], single)


def test_head_rejects_search_maps_that_do_not_split_over_exemplars() -> None:
    with pytest.raises(ValueError):
        XCorrHead()(torch.randn(2, 4, 6, 6), torch.randn(3, 4, 22, 22))
