"""Train on GOT-10k-layout roots (plus still-image and synthetic pairs, as the config mixes them).

Single process:  siamtrack train --config configs/siamfc_alexnet.yaml --data ROOT --out runs/x
Several roots:   siamtrack train --data GOT10K --data LASOT_AS_GOT10K --data MINE ...   (or data.roots)
Many processes:  torchrun --nproc_per_node=N -m siamtrack train ...   (DDP; gloo on CPU, NCCL on GPU)
Ctrl-C / SIGTERM save a checkpoint; --resume continues it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

HELP = "train a tracker on a GOT-10k-layout dataset (torchrun for several processes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``siamtrack train``."""
    parser.add_argument("--config", default=None,
                        help="YAML config or the name of a shipped config (default: siamfc_alexnet)")
    parser.add_argument("--data", type=Path, action="append",
                        help="GOT-10k-layout root with train/ (and val/); repeat it to train on several "
                             "(shared out by data.root_weights; default: data.roots of the config)")
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default: runs/train)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in --out (an error if it holds none), with the "
                             "config it was trained with: a config that differs (other than in train.epochs, "
                             "workers, keep_checkpoints, checkpoint_every, init_weights) is refused, the "
                             "changed keys listed")
    parser.add_argument("--allow-config-change", action="store_true",
                        help="with --resume: continue with the new config although it differs from the "
                             "checkpoint's; the changes are logged and take effect (learning rates and "
                             "schedule included; the optimizer's state starts afresh if train.optimizer changed)")
    parser.add_argument("--epochs", type=int,
                        help="override train.epochs (with --resume: train on to this many epochs; the "
                             "learning-rate schedule then decays over the new count)")
    parser.add_argument("--batch-size", type=int, help="override train.batch_size (per process)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--init-weights",
                        help="start from these weights (fine-tuning): a weights file, a training checkpoint "
                             "(ckpt_*.pth, best.pth) or a shipped name (efficientnet_box); train.init_weights")
    parser.add_argument("--workers", type=int, help="DataLoader workers per process (default: train.workers)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def validate(args: argparse.Namespace) -> str | None:
    """What is wrong with the options given, if anything."""
    if args.allow_config_change and not args.resume:
        return "--allow-config-change goes with --resume (a new run takes the config as it is)"
    return None


def run(args: argparse.Namespace) -> int:
    """Train; the exit code says how it ended (128 + signal when stopped by one)."""
    from siamtrack.config import load_config
    from siamtrack.loading import find_weights
    from siamtrack.training.trainer import train

    main_rank = int(os.environ.get("RANK", "0")) == 0
    logging.basicConfig(level=logging.INFO if main_rank else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config)
        if args.epochs is not None:
            cfg.train.epochs = args.epochs
        if args.batch_size is not None:
            cfg.train.batch_size = args.batch_size
        if args.data:
            cfg.data.roots = [str(root) for root in args.data]
        if args.init_weights is not None:  # a file, a checkpoint or a shipped name, as --weights takes them
            cfg.train.init_weights = str(find_weights(args.init_weights).resolve())
        result = train(cfg, None, args.out, resume=args.resume, device=args.device, workers=args.workers,
                       progress=not args.no_progress, allow_config_change=args.allow_config_change)
    except KeyboardInterrupt:  # Ctrl-C before training started (while indexing the data)
        print("interrupted before the first step: nothing saved", file=sys.stderr)
        return 130
    if result.stopped_by is not None:
        return 128 + result.stopped_by
    if main_rank:
        print(f"weights: {args.out / 'best.pth'} (best val AUC), {args.out / 'last.pth'}; "
              f"learning curve: {args.out / 'metrics.jsonl'}")
    return 0
