#!/usr/bin/env python
"""Draw the figures of docs/how-it-works.md into docs/figures/ (run from anywhere; a few seconds on a CPU).

    python tools/make_figures.py [--weights weights/siamfc_alexnet.pth]

``translation_equivariance.png``: a search image and a copy shifted by 8k pixels, their 17x17 score
maps from this network, and how far the peak moved. Uses the trained weights when they exist,
else an untrained AlexNet (seed 0); the figure's title says which.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from siamtrack import resources  # noqa: E402
from siamtrack.config import ModelConfig  # noqa: E402
from siamtrack.data.synthetic import demo_sequence  # noqa: E402
from siamtrack.errors import reports_errors  # noqa: E402
from siamtrack.loading import load_model  # noqa: E402
from siamtrack.models import build_model  # noqa: E402
from siamtrack.tracking.geometry import crop_square  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"  # of this checkout
SHIFT_CELLS = (3, 2)  # (x, y): the search image moves by 8 * these pixels
STRIDE = 8


def network(weights: Path) -> tuple[torch.nn.Module, str]:
    """The trained network if ``weights`` exist, else a seeded untrained AlexNet; and its description."""
    if weights.is_file():
        net, cfg = load_model(weights)
        return net, f"trained {cfg.model.backbone} ({weights.name})"
    torch.manual_seed(0)
    return build_model(ModelConfig(backbone="alexnet")).eval(), "untrained AlexNet (seed 0; no trained weights yet)"


def score_map(net: torch.nn.Module, exemplar: np.ndarray, search: np.ndarray) -> np.ndarray:
    """The network's 17x17 score map of a 127x127 exemplar over a 255x255 search image (BGR uint8)."""
    def to_tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).permute(2, 0, 1)[None].float()

    with torch.inference_mode():
        return net(to_tensor(exemplar), to_tensor(search))[0, 0].numpy()


def equivariance_figure(net: torch.nn.Module, description: str, path: Path) -> None:
    frames, boxes = demo_sequence(num_frames=1)
    frame, box = frames[0], boxes[0]
    # Integer + 0.5 centres make the 1:1 crops exact pixel copies, so the two search images are
    # one and the same picture translated by exactly 8k pixels; both lie inside the frame.
    shift_px = STRIDE * np.array(SHIFT_CELLS)
    target_center = np.floor(box[:2] + box[2:] / 2) + 0.5
    frame_size = np.array(frame.shape[1::-1])
    search_center = np.clip(target_center, 127.5 + shift_px, frame_size - 127.5)
    exemplar = crop_square(frame, target_center, 127, 127)
    search = crop_square(frame, search_center, 255, 255)
    shifted = crop_square(frame, search_center - shift_px, 255, 255)  # content moves by +shift_px
    maps = [score_map(net, exemplar, search), score_map(net, exemplar, shifted)]
    peaks = [np.array(np.unravel_index(m.argmax(), m.shape))[::-1] for m in maps]  # (col, row)
    kx, ky = SHIFT_CELLS
    mismatch = np.abs(maps[1][ky:, kx:] - maps[0][:17 - ky, :17 - kx]).max()

    fig, axes = plt.subplots(1, 4, figsize=(14, 4.4))
    for ax, image, title in zip(axes[:2], (search, shifted),
                                ("search image", f"shifted by ({shift_px[0]}, {shift_px[1]}) px")):
        ax.imshow(image[..., ::-1])
        ax.set_title(title)
    for ax, scores, peak, title in zip(axes[2:], maps, peaks, ("score map", "score map of the shifted image")):
        ax.imshow(scores, cmap="viridis")
        ax.plot(*peak, "r+", markersize=16, markeredgewidth=2)
        ax.set_title(f"{title}\npeak at cell ({peak[0]}, {peak[1]})", fontsize=10)
    moved = peaks[1] - peaks[0]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{description}\nimage moved by ({shift_px[0]}, {shift_px[1]}) px = ({kx}, {ky}) cells of 8 px "
                 f"-> peak moved by ({moved[0]}, {moved[1]}) cells; overlapping cells of the two maps differ "
                 f"by at most {mismatch:.2g}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=resources.weights_dir() / "siamfc_alexnet.pth",
                        help="trained SiamFC (xcorr head) weights to use if present (default: the shipped AlexNet)")
    args = parser.parse_args(argv)
    net, description = network(args.weights)
    equivariance_figure(net, description, FIGURES / "translation_equivariance.png")
    print(f"wrote {FIGURES / 'translation_equivariance.png'} ({description})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
