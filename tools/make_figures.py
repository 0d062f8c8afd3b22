#!/usr/bin/env python
"""Draw the figures of docs/how-it-works.md into docs/figures/ (run from anywhere; a few seconds on a CPU).

    python tools/make_figures.py [--weights weights/siamfc_alexnet.pth]

``translation_equivariance.png``: a search image and a copy shifted by 8k pixels, their 17x17 score
maps from this network, and how far the peak moved. Uses the trained weights when they exist,
else an untrained AlexNet (seed 0); the figure's title says which.

``online_target_model.png``: the demo clip's look-alike crossing, tracked by the shipped box model with
its online target model: the search crop of one frame, the Siamese probability, the online model's
response and the two combined as the loop combines them before it picks a cell.
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


def online_figure(path: Path, frame_index: int = 44) -> str:
    """Both maps of the shipped box model on the demo's look-alike frame ``frame_index``; returns a description."""
    import dataclasses

    from siamtrack.tracking.builder import build_tracker

    net, cfg = load_model()
    tracker_cfg = cfg.tracker if cfg.tracker.online_weight > 0 else dataclasses.replace(cfg.tracker, online_weight=0.5)
    tracker = build_tracker(net, dataclasses.replace(tracker_cfg, backend="torch"), torch.device("cpu"))
    frames, boxes = demo_sequence()
    tracker.init(frames[0], boxes[0])
    for frame in frames[1:frame_index]:
        tracker.update(frame)
    size = tracker_cfg.instance_size
    crop = crop_square(frames[frame_index], tracker.center[0], tracker.x_size[0], size, tracker.avg_color)
    with torch.inference_mode():
        features = tracker.backend.embed(crop[None])
        logits, _ = tracker.backend.score_features(tracker.kernel, features)
        siamese = torch.sigmoid(logits[0, 0].float()).numpy()
        online = tracker.online.response(torch.as_tensor(features), np.array([0]))[0].numpy()
    weight = tracker_cfg.online_weight
    combined = siamese * (1 - weight + weight * online)
    fig, axes = plt.subplots(1, 4, figsize=(14, 4.2))
    axes[0].imshow(crop[..., ::-1])
    axes[0].set_title(f"search crop, frame {frame_index}\n(target and look-alike crossing)", fontsize=10)
    for ax, values, title in zip(axes[1:], (siamese, online, combined),
                                 ("Siamese probability\n(similar to the exemplar)",
                                  "online model's response\n(this video: target vs the rest)",
                                  f"combined: Siamese x (1 - {weight:g} + {weight:g} x online)")):
        ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
        peak = np.unravel_index(values.argmax(), values.shape)
        ax.plot(peak[1], peak[0], "r+", markersize=16, markeredgewidth=2)
        ax.set_title(title, fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"shipped box model, online_weight {weight:g}, demo frame {frame_index}"


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=resources.weights_dir() / "siamfc_alexnet.pth",
                        help="trained SiamFC (xcorr head) weights to use if present (default: the shipped AlexNet)")
    args = parser.parse_args(argv)
    net, description = network(args.weights)
    equivariance_figure(net, description, FIGURES / "translation_equivariance.png")
    print(f"wrote {FIGURES / 'translation_equivariance.png'} ({description})")
    print(f"wrote {FIGURES / 'online_target_model.png'} ({online_figure(FIGURES / 'online_target_model.png')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
