"""SiameseNet: one backbone shared by exemplar and search image, then the correlation head."""
from __future__ import annotations

import torch
from torch import nn

from siamtrack.config import ModelConfig
from siamtrack.models.backbones import build_backbone
from siamtrack.models.heads import XCorrHead


class SiameseNet(nn.Module):
    """Fully-convolutional Siamese network (SiamFC).

    Args:
        backbone: embeds BGR float images (0-255, NCHW); total stride 8.
        head: scores exemplar embeddings against search embeddings.
    """

    def __init__(self, backbone: nn.Module, head: XCorrHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Feature maps of a batch of images (exemplars or search regions alike)."""
        return self.backbone(images)

    def score(self, z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor:
        """Score maps of search embeddings against exemplar embeddings (see :class:`XCorrHead`)."""
        return self.head(z_feat, x_feat)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Score map for exemplar images ``z`` against search images ``x``: (N, 1, 17, 17)."""
        return self.score(self.embed(z), self.embed(x))


def build_model(cfg: ModelConfig) -> SiameseNet:
    """The network a :class:`ModelConfig` describes, freshly initialised."""
    return SiameseNet(build_backbone(cfg.backbone), XCorrHead(cfg.out_scale))
