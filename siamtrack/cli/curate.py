"""Write a pre-cropped (SiamFC-curated) copy of GOT-10k-layout subsets and stills sets.

    siamtrack curate --got10k ../shared/data/got10k-mini --frame-step 2 --quality 70 --out .gpu/data
    siamtrack curate --stills ../shared/data/stills/coco128 --quality 65 --out .gpu/data

The copies keep their layouts (``got10k/<subset>/``, ``stills/<set>/``), so ``siamtrack train --data``
(``--data OUT/got10k``) and ``data.stills`` take them as they are.
"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a pre-cropped copy of a dataset (much smaller, same layouts)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack curate``."""
    parser.add_argument("--got10k", type=Path, help="GOT-10k-layout root (its train/ is curated)")
    parser.add_argument("--subsets", default="train", help="comma-separated subsets of --got10k")
    parser.add_argument("--stills", type=Path, nargs="*", default=[], help="stills sets (images/ + boxes.tsv)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frame-step", type=int, default=1, help="keep every k-th video frame")
    parser.add_argument("--size", type=int, default=255, help="side of the curated crops")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")


def run(args: argparse.Namespace) -> int:
    """Curate each subset and stills set given, printing what was written."""
    from siamtrack.data.curate import curate_got10k_subset, curate_stills

    if args.got10k:
        for subset in args.subsets.split(","):
            n = curate_got10k_subset(args.got10k / subset, args.out / "got10k" / subset,
                                     args.frame_step, args.size, quality=args.quality)
            print(f"{subset}: {n} frames")
    for stills in args.stills:
        n = curate_stills(stills, args.out / "stills" / stills.name, args.size, quality=args.quality)
        print(f"{stills.name}: {n} crops")
    return 0
