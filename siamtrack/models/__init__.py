"""Model parts: backbones, the correlation head, and the Siamese network that joins them."""
from siamtrack.models.backbones import BACKBONES, build_backbone
from siamtrack.models.heads import XCorrHead
from siamtrack.models.siamese import SiameseNet, build_model

__all__ = ["BACKBONES", "build_backbone", "XCorrHead", "SiameseNet", "build_model"]
