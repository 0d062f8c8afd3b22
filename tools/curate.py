#!/usr/bin/env python3
"""Write a pre-cropped (SiamFC-curated) copy of GOT-10k-layout subsets and stills sets."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siamtrack.data.curate import curate_got10k_subset, curate_stills
from siamtrack.errors import reports_errors


@reports_errors
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--got10k", type=Path, help="GOT-10k-layout root (its train/ is curated)")
    parser.add_argument("--subsets", default="train", help="comma-separated subsets of --got10k")
    parser.add_argument("--stills", type=Path, nargs="*", default=[], help="stills sets (images/ + boxes.tsv)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frame-step", type=int, default=1, help="keep every k-th video frame")
    parser.add_argument("--size", type=int, default=255, help="side of the curated crops")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")
    args = parser.parse_args()
    if args.got10k:
        for subset in args.subsets.split(","):
            n = curate_got10k_subset(args.got10k / subset, args.out / "got10k" / subset,
                                     args.frame_step, args.size, quality=args.quality)
            print(f"{subset}: {n} frames")
    for stills in args.stills:
        n = curate_stills(stills, args.out / "stills" / stills.name, args.size, quality=args.quality)
        print(f"{stills.name}: {n} crops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
