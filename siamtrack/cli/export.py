"""Export a trained tracker's backbone and head as ONNX graphs for the ONNX Runtime backend.

    siamtrack export --weights weights/siamfc_fast.pth --out weights/onnx/siamfc_fast
    siamtrack export --weights weights/siamfc_fast.pth --out weights/onnx/siamfc_fast_int8 --int8

Then track with ``tracker.backend: onnx`` and ``tracker.onnx_dir: <out>`` in the config (see
configs/siamfc_fast_int8.yaml). The folder also gets ``weights.sha256``, the hash of the network's
weights: the graphs run only with the weights they came from (any file of that network: its
checkpoint, best.pth, a released file); other weights are refused. ``--int8`` quantises the backbone, calibrated on crops of real
sequences (GOT-10k layout, default ../shared/data/got10k-mini/train) cut as the tracker cuts them.
Needs the ``onnx`` extra (pip install "siamtrack[onnx]"). Bad input: one ``error: ...`` line, exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path

HELP = "export the network as ONNX graphs (optionally int8) for the ONNX Runtime backend"
CALIBRATION_ROOT = Path("../shared/data/got10k-mini")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack export``."""
    parser.add_argument("--weights", help="weights file or shipped name (default: the shipped weights)")
    parser.add_argument("--config", help="config YAML or the name of a shipped config (default: the one stored "
                                         "with the weights)")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for backbone.onnx, head.onnx and weights.sha256 (the weights' hash: the "
                             "graphs run only with these weights)")
    parser.add_argument("--int8", action="store_true", help="quantise the backbone to int8 (static, calibrated)")
    parser.add_argument("--calibration", type=Path, default=CALIBRATION_ROOT,
                        help=f"GOT-10k-layout root for --int8 calibration (default: {CALIBRATION_ROOT}, "
                             "from here or beside the repository checkout)")
    parser.add_argument("--calibration-subset", default="train", help="its subset folder (default: train)")
    parser.add_argument("--calibration-sequences", type=int, default=20, help="sequences to calibrate on (>= 1)")


def validate(args: argparse.Namespace) -> str | None:
    """What is wrong with the numbers given, if anything."""
    if args.int8 and args.calibration_sequences < 1:
        return f"--calibration-sequences must be >= 1 for --int8, got {args.calibration_sequences}"
    return None


def check_out_folder(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a folder of graphs, before any work: a file, a parent
    that is a file, a place where nothing can be written. Folders made to find out are removed again."""
    import tempfile

    from siamtrack.errors import SiamtrackError

    if out.exists() and not out.is_dir():
        raise SiamtrackError(f"--out {out} is a file: give a folder for the graphs")
    missing = [folder for folder in (out, *out.absolute().parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        blocking = next((p for p in out.absolute().parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocking} is a file, not a folder" if blocking else exc.strerror or str(exc)
        raise SiamtrackError(f"cannot write --out {out}: {reason}") from None
    finally:
        for folder in missing:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def calibration_sequences(root: Path, subset: str, count: int) -> list:
    """``count`` sequences spread over a GOT-10k-layout subset, as (image files, boxes)."""
    from got10k.datasets import GOT10k

    from siamtrack.errors import SiamtrackError

    if not (root / subset / "list.txt").is_file():
        raise SiamtrackError(f"no GOT-10k subset at {root / subset} (list.txt missing) for --int8 calibration")
    dataset = GOT10k(str(root), subset=subset)
    step = max(len(dataset) // max(count, 1), 1)
    return [dataset[i] for i in range(0, len(dataset), step)][:count]


def run(args: argparse.Namespace) -> int:
    """Write the graphs and say how to track with them."""
    from siamtrack import resources
    from siamtrack.loading import load_model
    from siamtrack.models.export import export_onnx
    from siamtrack.tracking.calibration import calibration_crops

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    check_out_folder(args.out)
    sequences = calibration_sequences(resources.resolve(args.calibration), args.calibration_subset,
                                      args.calibration_sequences) if args.int8 else None
    net, cfg = load_model(args.weights, args.config)
    calibration = None if sequences is None else calibration_crops(sequences, cfg.tracker)
    source = str(args.weights) if args.weights is not None else "the shipped default weights"
    paths = export_onnx(net, args.out, cfg.tracker.exemplar_size, cfg.tracker.instance_size, calibration, source)
    for path in paths:
        print(f"wrote {path}")
    print(f"track with it: tracker.backend: onnx, tracker.onnx_dir: {args.out} (with these weights only)")
    return 0
