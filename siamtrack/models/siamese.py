"""SiameseNet: one backbone shared by exemplar and search image, then a correlation head."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from siamtrack.config import ModelConfig
from siamtrack.errors import SiamtrackError
from siamtrack.models.backbones import build_backbone
from siamtrack.models.heads import DepthwiseBoxHead, XCorrHead

HEADS = ("xcorr", "box")


class SiameseNet(nn.Module):
    """Fully-convolutional Siamese network (SiamFC, and SiamFC++-style with a box head).

    Args:
        backbone: embeds BGR float images (0-255, NCHW).
        head: scores exemplar embeddings against search embeddings: a score map (:class:`XCorrHead`)
            or a score map and a box map (:class:`DepthwiseBoxHead`).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Feature maps of a batch of images (exemplars or search regions alike)."""
        return self.backbone(images)

    def score(self, z_feat: torch.Tensor, x_feat: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The head's output for search embeddings against exemplar embeddings."""
        return self.head(z_feat, x_feat)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The head's output for exemplar images ``z`` against search images ``x``."""
        return self.score(self.embed(z), self.embed(x))

    def cell_offsets(self, exemplar_size: int, search_size: int) -> np.ndarray:
        """Per cell of the box head's maps (along either axis): where the target's centre lies, in
        search-crop pixels from the crop's centre, when that cell matches the exemplar.

        The kernel is centred at exemplar-feature cell ``c`` (pixel ``p_c``), so a match at output
        cell ``o`` puts the exemplar's centre at search pixel ``q_{o + k // 2} - (p_c - exemplar_size / 2)``.
        """
        head = self.head
        z_first, step, z_cells = self.backbone.feature_grid(exemplar_size)
        x_first, _, x_cells = self.backbone.feature_grid(search_size)
        kernel_centre = z_first + step * ((z_cells - 1) // 2) - exemplar_size / 2
        outputs = np.arange(x_cells - head.template_cells + 1)
        return x_first + step * (outputs + head.template_cells // 2) - kernel_centre - search_size / 2


def build_model(cfg: ModelConfig) -> SiameseNet:
    """The network a :class:`ModelConfig` describes, with the backbone's and head's own initialisation
    (training loads a pretrained backbone's ImageNet weights; shipped weights replace everything)."""
    backbone = build_backbone(cfg.backbone)
    if cfg.head == "xcorr":
        return SiameseNet(backbone, XCorrHead(cfg.out_scale))
    if cfg.head == "box":
        if not hasattr(backbone, "feature_grid"):
            raise SiamtrackError(f"model.head 'box' needs a backbone with a known feature grid, not '{cfg.backbone}'")
        return SiameseNet(backbone, DepthwiseBoxHead(backbone.out_channels, cfg.channels, cfg.template_cells,
                                                     backbone.stride, cfg.quality))
    raise SiamtrackError(f"unknown model.head '{cfg.head}' (known: {', '.join(HEADS)})")
