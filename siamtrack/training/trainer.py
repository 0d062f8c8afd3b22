"""The training loop: pairs in; checkpoints, weights and a learning curve out.

SGD with momentum (or AdamW) and weight decay, the learning rate decaying exponentially from
``lr_initial`` to ``lr_final`` over the epochs, the loss of the model's head (``training.loss``). A
pretrained backbone can stay frozen for the first epochs and then train its last stages at a
fraction of the rate (SiamRPN++'s recipe). One process, or many under ``torchrun``
(DistributedDataParallel; rank 0 alone writes files). Every epoch ends with a resume checkpoint,
``last.pth``, ``best.pth`` (by validation AUC) and a line of ``metrics.jsonl``; SIGINT/SIGTERM stop
the run between two steps, after saving a checkpoint that ``resume=True`` continues exactly.

Nothing is lost to a crash: the epoch's checkpoint is written first and holds the epoch's record,
so a run killed before its metrics line, ``last.pth`` or ``best.pth`` gets them rebuilt on resume;
``train.checkpoint_every`` steps also save a checkpoint mid-epoch; resume skips a damaged newest
checkpoint for the one before it. Errors in DataLoader workers or while saving end the run with
one :class:`SiamtrackError`, and the workers are stopped before it propagates.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import math
import os
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from siamtrack import distributed, resources, signals
from siamtrack.checkpoints import load_checkpoint, load_weights, remove_partial_writes, save_atomic
from siamtrack.config import Config, TrainConfig, stored_model
from siamtrack.data.pairs import PairSampler, build_pair_dataset, data_roots as data_roots_of
from siamtrack.errors import SiamtrackError
from siamtrack.loading import resolve_device
from siamtrack.models.siamese import SiameseNet, build_model
from siamtrack.training import dataloader, state
from siamtrack.training.loss import build_loss
from siamtrack.training.validation import ValidationSet, validate

log = logging.getLogger(__name__)


def init_weights(net: nn.Module) -> None:
    """Kaiming-normal convolutions with zero bias, unit BatchNorm (as siamfc-pytorch's ``init_weights``)."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def parameter_groups(net: SiameseNet, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Optimizer groups: the head at ``lr_initial``, the backbone at ``backbone_lr_scale`` times it."""
    backbone = list(net.backbone.parameters())
    groups = [{"params": list(net.head.parameters()), "lr": cfg.lr_initial}]
    if backbone:
        groups.append({"params": backbone, "lr": cfg.lr_initial * cfg.backbone_lr_scale})
    return groups


def trainable_backbone(net: SiameseNet, cfg: TrainConfig, epoch: int) -> list[nn.Parameter]:
    """The backbone parameters that train in ``epoch``: none while frozen, then the last
    ``backbone_stages`` stages (all of the backbone when 0)."""
    if epoch < cfg.freeze_backbone_epochs:
        return []
    if cfg.backbone_stages <= 0:
        return list(net.backbone.parameters())
    if not hasattr(net.backbone, "stage_blocks"):
        raise SiamtrackError("config: train.backbone_stages needs a backbone built in stages (e.g. efficientnet_lite0)")
    return [p for stage in range(-cfg.backbone_stages, 0) for block in net.backbone.stage_blocks(stage)
            for p in block.parameters()]


def check_backbone_trains(net: SiameseNet, cfg: TrainConfig) -> None:
    """Refuse a backbone that starts from random weights (no pretrained weights, no ``init_weights``)
    and stays frozen for every epoch: the run would train a head on random features."""
    from_scratch = not hasattr(net.backbone, "load_pretrained") and not cfg.init_weights
    if from_scratch and any(True for _ in net.backbone.parameters()) and cfg.freeze_backbone_epochs >= cfg.epochs:
        raise SiamtrackError(f"config: 'train.freeze_backbone_epochs' ({cfg.freeze_backbone_epochs}) >= 'train.epochs' "
                             f"({cfg.epochs}) keeps the backbone frozen for the whole run, but it starts from random "
                             "weights (it has no pretrained ones and train.init_weights is empty): lower "
                             "freeze_backbone_epochs, or give init_weights to fine-tune from")


def frozen_modules(net: SiameseNet, cfg: TrainConfig) -> list[nn.Module]:
    """The submodules ``cfg.frozen`` names: they keep their weights and BatchNorm statistics in every
    epoch (fine-tuning one branch without disturbing what the others learned)."""
    modules = []
    for name in cfg.frozen:
        try:
            modules.append(net.get_submodule(str(name)))
        except AttributeError:
            known = ", ".join(n for n, _ in net.named_modules() if n and n.count(".") <= 1)
            raise SiamtrackError(f"config: train.frozen names '{name}', which this model does not have "
                                 f"(its submodules: {known}, ...)") from None
    return modules


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """Learning-rate multiplier of epoch ``e``: ``lr_initial`` at the first epoch, ``lr_final`` at the last."""
    ratio = cfg.lr_final / cfg.lr_initial
    return lambda epoch: ratio ** (min(epoch, cfg.epochs - 1) / max(cfg.epochs - 1, 1))


@dataclass
class TrainResult:
    """What a run did: one record per epoch trained here, and the signal that stopped it, if any."""

    records: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: int | None = None
    out_dir: Path | None = None


LOCK_FILE = ".lock"


def lock_out_dir(out_dir: Path) -> Any:
    """Hold ``out_dir/.lock`` (``flock``) for this run: a second run into the same folder is refused
    instead of interleaving its checkpoints and metrics with this one's. Released when the returned
    file is closed (at the end of :meth:`Trainer.run`, or when the process ends)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        handle = open(out_dir / LOCK_FILE, "a+")
    except OSError as exc:
        raise SiamtrackError(f"cannot write to --out {out_dir}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SiamtrackError(f"--out {out_dir} is being written by another training run: wait for it to end, "
                             "or choose another --out") from None
    return handle


class Trainer:
    """One training run (one rank of it under torchrun).

    Args:
        cfg: the whole configuration (model, tracker for validation, data, train).
        data_roots: GOT-10k-layout root(s); pairs come from their ``train/`` splits (shared out by
            ``cfg.data.root_weights``), validation from ``cfg.data.val_roots``, else from their ``val/``
            splits. ``None``: ``cfg.data.roots``.
        out_dir: where checkpoints, weights and ``metrics.jsonl`` go.
        resume: continue from the most advanced checkpoint in ``out_dir`` (there must be one).
        allow_config_change: with ``resume``, continue although ``cfg`` differs from the checkpoint's
            config in keys beyond :data:`state.RESUME_FREE_KEYS` (the changes are logged and take effect);
            without it such a resume is refused with the changed keys listed.
        device: ``auto``, ``cpu``, ``cuda``.
        workers: DataLoader workers per rank (``None``: ``cfg.train.workers``).
        progress: show a tqdm bar (rank 0).
    """

    def __init__(self, cfg: Config, data_roots: str | Path | Sequence[str | Path] | None, out_dir: str | Path,
                 resume: bool = False,
                 device: str | torch.device | None = "auto", workers: int | None = None,
                 progress: bool = True, allow_config_change: bool = False) -> None:
        self.cfg = cfg
        self.roots = [resources.resolve(r) for r in data_roots_of(cfg.data.roots if data_roots is None else data_roots)]
        if not self.roots:
            raise SiamtrackError("no training data: pass --data ROOT (repeatable) or set data.roots in the config")
        self.out_dir = Path(out_dir)
        self.workers = cfg.train.workers if workers is None else workers
        self.progress = progress
        self._check_config()
        # Rank 0 holds --out for the whole run (a --resume into a folder that is not there fails below instead).
        main_rank = int(os.environ.get("RANK", "0")) == 0
        self._lock = lock_out_dir(self.out_dir) if main_rank and (not resume or self.out_dir.is_dir()) else None
        try:
            device = resolve_device(device)
            self.rank, self.world = distributed.setup(device)
            self.device = distributed.local_device(device)
            self.cuda = self.device.type == "cuda"
            if not self.cuda:
                torch.set_flush_denormal(True)  # denormal floats are many times slower on x86 CPUs (see tracking.backends)
            self.channels_last = self.cuda and cfg.train.channels_last

            torch.manual_seed(cfg.train.seed)
            self.net = build_model(cfg.model)
            if hasattr(self.net.backbone, "load_pretrained"):
                self.net.backbone.load_pretrained()
            else:
                init_weights(self.net.backbone)
            if cfg.train.init_weights:
                self._load_initial_weights(resources.resolve(cfg.train.init_weights))
            check_backbone_trains(self.net, cfg.train)
            self.net.to(self.device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
            self.model: nn.Module = self.net
            self._trainable: tuple[int, ...] | None = None
            self.frozen = frozen_modules(self.net, cfg.train)
            self.criterion = build_loss(cfg, self.net).to(self.device)
            groups = parameter_groups(self.net, cfg.train)
            if cfg.train.optimizer == "adamw":
                self.optimizer = torch.optim.AdamW(groups, lr=cfg.train.lr_initial, weight_decay=cfg.train.weight_decay)
            else:
                self.optimizer = torch.optim.SGD(groups, lr=cfg.train.lr_initial, momentum=cfg.train.momentum,
                                                 weight_decay=cfg.train.weight_decay)
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(cfg.train))

            self.dataset = build_pair_dataset(cfg, self.roots)
            self.sampler = PairSampler(self.dataset, self.world, self.rank)
            self.steps_per_epoch = self.sampler.num_samples // cfg.train.batch_size
            if self.steps_per_epoch == 0:
                raise SiamtrackError(f"data.pairs_per_epoch {len(self.dataset)} gives no batch of "
                                     f"{cfg.train.batch_size} pairs on each of {self.world} process(es)")
            # Persistent workers started by a fork server: no fork of a process whose thread pools
            # (OpenCV, OpenMP, CUDA) are running, which can deadlock the workers.
            self.loader = DataLoader(dataloader.ReportingDataset(self.dataset), batch_size=cfg.train.batch_size,
                                     sampler=self.sampler, collate_fn=dataloader.collate,
                                     num_workers=self.workers, pin_memory=self.cuda, drop_last=True,
                                     worker_init_fn=functools.partial(dataloader.worker_init, os.getpid()),
                                     persistent_workers=self.workers > 0,
                                     prefetch_factor=4 if self.workers else None,
                                     multiprocessing_context="forkserver" if self.workers else None)
            self.val_set = self._open_validation()

            self.epoch = 0  # complete epochs
            self.step = 0  # steps done in the current epoch
            self.pairs_seen = 0
            self.best_auc = -math.inf
            self.best_epoch = 0  # the epoch whose weights best.pth holds
            self.loss_sum = 0.0  # this rank's summed step losses in the current epoch
            self.wall_base = 0.0  # seconds spent by earlier sessions of this run
            self._clock = time.perf_counter()
            self._stop_signal: int | None = None
            if resume:
                self._resume(allow_config_change)
            elif state.list_checkpoints(self.out_dir):
                raise SiamtrackError(f"--out {self.out_dir} already holds checkpoints of a run: pass --resume "
                                     "to continue it, or choose another --out")
        except BaseException:
            if self._lock is not None:
                self._lock.close()
            raise

    def _check_config(self) -> None:
        self.cfg.validate()  # again: options such as --epochs change values after loading
        if self.workers < 0:
            raise SiamtrackError("the number of workers cannot be negative")

    def _load_initial_weights(self, path: Path) -> None:
        """Start from trained weights (fine-tuning) instead of the random initialisation."""
        saved = load_checkpoint(path)
        weights = saved["model"]
        if "config" in saved:
            model = stored_model(saved["config"]["model"])
            adds_quality = self.cfg.model.quality and model == replace(self.cfg.model, quality=False)
            if model != self.cfg.model and not adds_quality:
                raise SiamtrackError(f"train.init_weights {path} holds model {saved['config']['model']}, "
                                     f"not the configured {self.cfg.to_dict()['model']}")
            if adds_quality:  # the same network, now with a quality branch: that branch starts fresh
                weights = {**weights, **{f"head.quality.{k}": v for k, v in self.net.head.quality.state_dict().items()}}
                log.info("the quality branch starts from its initialisation; %s has none", path)
        load_weights(self.net, weights, path, self.cfg.model.backbone)
        log.info("starting from the weights in %s", path)

    def _open_validation(self) -> ValidationSet | None:
        """The validation splits: ``data.val_roots`` (each must exist), else the data roots' ``val/`` folders."""
        if self.cfg.train.val_every <= 0:
            return None
        if self.cfg.data.val_roots:
            splits = [resources.resolve(s) for s in self.cfg.data.val_roots]
            missing = [str(s) for s in splits if not (s / "list.txt").is_file()]
            if missing:
                raise SiamtrackError(f"data.val_roots: not a GOT-10k-layout split (no list.txt): {', '.join(missing)}")
        else:
            splits = [r / "val" for r in self.roots if (r / "val" / "list.txt").is_file()]
        if not splits:
            log.warning("no validation split (no val/ in %s, data.val_roots empty): validation disabled "
                        "(set data.val_roots to GOT-10k-layout splits to validate)", ", ".join(map(str, self.roots)))
            return None
        val_set = ValidationSet.open_many(splits, self.cfg.data.val_max_frames)
        log.info("validation: %d sequences in %s", len(val_set), ", ".join(map(str, splits)))
        return val_set

    # ----------------------------------------------------------------- state on disk
    def _resume(self, allow_config_change: bool = False) -> None:
        """Continue from the most advanced readable checkpoint; rebuild what its epoch end left unwritten.

        A config that differs from the checkpoint's beyond :data:`state.RESUME_FREE_KEYS` is refused
        unless ``allow_config_change``; every difference that goes ahead is logged and takes effect.
        """
        if distributed.is_main():
            leftovers = remove_partial_writes(self.out_dir) if self.out_dir.is_dir() else []
            if leftovers:
                log.warning("--resume: removed %d temporary file(s) of an interrupted write: %s",
                            len(leftovers), ", ".join(p.name for p in leftovers))
        checkpoints = state.list_checkpoints(self.out_dir)
        if not checkpoints:
            where = "does not exist" if not self.out_dir.exists() else "holds no checkpoint (ckpt_*.pth)"
            raise SiamtrackError(f"--resume: {self.out_dir} {where}, so there is no run to continue: check --out, "
                                 "or leave --resume out to start a new run")
        damaged = []
        for path in reversed(checkpoints):
            try:
                saved = state.read_checkpoint(path)
                self._check_same_model(saved, path)
                changes = self._check_config_changes(saved, path, allow_config_change)
                self._restore(saved, path, changes)
                break
            except state.DamagedCheckpoint as exc:
                log.warning("--resume: %s is damaged (%s); trying the checkpoint before it", path.name, exc)
                damaged.append(path)
        else:
            raise SiamtrackError(f"--resume: no readable checkpoint in {self.out_dir} "
                                 f"({', '.join(p.name for p in damaged)} are damaged)")
        distributed.barrier()
        if distributed.is_main():
            for bad in damaged:
                aside = bad.with_name(bad.name + ".damaged")
                bad.replace(aside)
                log.warning("--resume: set the damaged %s aside as %s", bad.name, aside.name)
            state.truncate_metrics(self.out_dir, self.epoch)
            self._rebuild_epoch_outputs(saved, path)
        log.info("resumed from %s (epoch %d, step %d)", path, self.epoch + 1, self.step)

    def _check_same_model(self, saved: dict[str, Any], path: Path) -> None:
        if stored_model(saved["config"]["model"]) != self.cfg.model:
            raise SiamtrackError(f"{path} was trained with model {saved['config']['model']}, "
                                 f"not the configured {self.cfg.to_dict()['model']}")

    def _check_config_changes(self, saved: dict[str, Any], path: Path,
                              allowed: bool) -> list[tuple[str, Any, Any]]:
        """The config keys changed since ``saved`` was written; refused unless ``allowed`` or all free."""
        changes = state.config_changes(saved["config"], self.cfg)
        fixed = [change for change in changes if not state.resume_free(change[0])]
        if fixed and not allowed:
            raise SiamtrackError(f"--resume: the config differs from the one {path.name} was trained with: "
                                 f"{state.describe_changes(fixed)}. Resume with the same config, or pass "
                                 "--allow-config-change to continue with the new values (the change is logged)")
        if changes:
            log.warning("--resume: continuing %s with a changed config: %s", path.name, state.describe_changes(changes))
        return changes

    def _restore(self, saved: dict[str, Any], path: Path, changes: Sequence[tuple[str, Any, Any]] = ()) -> None:
        """Put a checkpoint's state into this trainer; :class:`state.DamagedCheckpoint` if it cannot be.

        The optimizer keeps its state (momentum, moments) and takes its hyper-parameters and the
        learning-rate schedule from the current config: the ``changes`` allowed by
        :meth:`_check_config_changes` take effect (with an unchanged config, the checkpoint's values).
        """
        try:
            load_weights(self.net, saved["model"], path, self.cfg.model.backbone)
            current = [{k: v for k, v in group.items() if k != "params"} for group in self.optimizer.param_groups]
            if any(key == "train.optimizer" for key, _, _ in changes):
                log.warning("--resume: the optimizer changed: its state (momentum, moments) starts afresh")
            else:
                self.optimizer.load_state_dict(saved["optimizer"])
            self.scheduler.load_state_dict(saved["scheduler"])
            self._follow_config_schedule(current)
            self.epoch, self.step = int(saved["epoch"]), int(saved["step"])
            progress = saved["progress"]
            self.pairs_seen, self.best_auc = progress["pairs_seen"], progress["best_auc"]
            self.best_epoch = progress.get("best_epoch", 0)
            sums = progress["loss_sums"]
            self.loss_sum = sums[self.rank] if len(sums) == self.world else sum(sums) / self.world
            self.wall_base = progress["wall_time"]
            state.restore_rng_states(saved["rng"])
        except (SiamtrackError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise state.DamagedCheckpoint(str(exc) or type(exc).__name__) from None

    def _follow_config_schedule(self, current: list[dict[str, Any]]) -> None:
        """Give the optimizer groups the ``current`` config's hyper-parameters and the learning rate that
        the config's schedule gives the epochs done so far."""
        before = self.optimizer.param_groups[0]["lr"]
        for group, values in zip(self.optimizer.param_groups, current):
            group.update(values)
        self.scheduler.base_lrs = [group["initial_lr"] for group in self.optimizer.param_groups]
        for group, base, factor in zip(self.optimizer.param_groups, self.scheduler.base_lrs, self.scheduler.lr_lambdas):
            group["lr"] = base * factor(self.scheduler.last_epoch)
        self.scheduler._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        if self.optimizer.param_groups[0]["lr"] != before:
            log.warning("--resume: learning rate %.3g from here (the checkpoint's schedule had %.3g)",
                        self.optimizer.param_groups[0]["lr"], before)

    def _rebuild_epoch_outputs(self, saved: dict[str, Any], path: Path) -> None:
        """After an epoch-end checkpoint, write the metrics line, ``last.pth`` and ``best.pth`` a crash lost."""
        record = saved["progress"].get("record")
        if self.step != 0 or record is None:
            return
        missing = state.missing_epoch_outputs(self.out_dir, record["epoch"], best=self.best_epoch == record["epoch"])
        if missing:
            self._write_epoch_outputs(record, missing)
            log.warning("--resume: rebuilt %s of epoch %d from %s (the run stopped before writing them)",
                        ", ".join(missing), record["epoch"], path.name)

    def wall_time(self) -> float:
        """Seconds this run has taken, over all its sessions."""
        return self.wall_base + time.perf_counter() - self._clock

    def _save_checkpoint(self, record: dict[str, Any] | None = None) -> Path:
        """Resume checkpoint of the current progress (every rank's loss sum gathered; rank 0 writes).

        At an epoch end ``record`` is the epoch's metrics record, kept so that resume can rebuild
        the epoch's other outputs from the checkpoint alone.
        """
        loss_sums = distributed.gather_objects(self.loss_sum)
        path = state.checkpoint_path(self.out_dir, self.epoch, self.step)
        if distributed.is_main():
            save_atomic({"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(), "epoch": self.epoch, "step": self.step,
                         "rng": state.rng_states(), "config": self.cfg.to_dict(),
                         "progress": {"pairs_seen": self.pairs_seen, "best_auc": self.best_auc,
                                      "best_epoch": self.best_epoch, "record": record,
                                      "loss_sums": loss_sums, "wall_time": self.wall_time()}}, path)
            state.prune_checkpoints(self.out_dir, self.cfg.train.keep_checkpoints)
        return path

    def _meta(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "data": [str(r) for r in self.roots], "epochs": self.cfg.train.epochs, "world_size": self.world}

    # ----------------------------------------------------------------- training
    def _set_trainable(self) -> None:
        """Freeze or unfreeze backbone parameters for the current epoch; (re)wrap for DDP when that changes."""
        chosen = {id(p) for p in trainable_backbone(self.net, self.cfg.train, self.epoch)}
        for p in self.net.backbone.parameters():
            p.requires_grad_(id(p) in chosen)
        for module in self.frozen:
            for p in module.parameters():
                p.requires_grad_(False)
                chosen.discard(id(p))
        key = tuple(sorted(chosen))
        if key == self._trainable:
            return
        self._trainable = key
        if self.world > 1:
            self.model = DistributedDataParallel(self.net, device_ids=[self.device.index] if self.cuda else None)

    def _train_mode(self) -> None:
        """Training mode, except for the frozen modules, whose BatchNorm keeps its statistics."""
        self.model.train()
        for module in self.frozen:
            module.eval()

    def train_step(self, z: torch.Tensor, x: torch.Tensor, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """One optimizer step on a batch of uint8 crops (and the targets' boxes in the search crops,
        for heads that regress them); returns the (detached) loss."""
        memory = torch.channels_last if self.channels_last else torch.contiguous_format
        z = z.to(self.device, non_blocking=True).float().contiguous(memory_format=memory)
        x = x.to(self.device, non_blocking=True).float().contiguous(memory_format=memory)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cuda and self.cfg.train.bf16):
            loss = self.criterion(self.model(z, x), None if boxes is None else boxes.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """Stop after the current step, saving a checkpoint (what SIGINT/SIGTERM do)."""
        self._stop_signal = signum

    def _stop_agreed(self) -> int | None:
        """The stop request of any rank (all ranks stop at the same step)."""
        if self.world == 1:
            return self._stop_signal
        flag = torch.tensor([self._stop_signal or 0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item()) or None

    def _train_epoch(self) -> bool:
        """Train the rest of the current epoch; False when a stop was requested."""
        self._set_trainable()
        self._train_mode()
        self.sampler.set_epoch(self.epoch)
        self.sampler.skip = self.step * self.cfg.train.batch_size
        steps = self.steps_per_epoch
        pairs_per_step = self.cfg.train.batch_size * self.world
        bar = tqdm(total=steps, initial=self.step, desc=f"epoch {self.epoch + 1}/{self.cfg.train.epochs}",
                   unit="step", disable=not (self.progress and distributed.is_main()), dynamic_ncols=True)
        losses: list[torch.Tensor] = []
        start, start_step = time.perf_counter(), self.step
        every = self.cfg.train.checkpoint_every
        with bar:
            for batch in dataloader.batches(self.loader):
                losses.append(self.train_step(*batch))
                self.step += 1
                self.pairs_seen += pairs_per_step
                bar.update(1)
                checkpoint = every > 0 and self.step % every == 0 and self.step < steps
                if len(losses) == 20 or self.step == steps or checkpoint:
                    self.loss_sum += float(torch.stack(losses).sum())
                    losses = []
                    rate = (self.step - start_step) * pairs_per_step / (time.perf_counter() - start)
                    bar.set_postfix(loss=f"{self.loss_sum / self.step:.4f}", pairs_s=f"{rate:.0f}")
                if checkpoint:
                    self._save_checkpoint()
                if self._stop_agreed():
                    self.loss_sum += float(torch.stack(losses).sum()) if losses else 0.0
                    return False
        return True

    def _end_epoch(self) -> dict[str, Any]:
        """Validation, then the epoch's record, checkpoint and weights files."""
        lr = self.optimizer.param_groups[0]["lr"]
        loss = sum(distributed.gather_objects(self.loss_sum)) / (self.step * self.world)
        self.scheduler.step()
        self.epoch, self.step, self.loss_sum = self.epoch + 1, 0, 0.0
        scores = {"auc": None, "precision": None}
        every = self.cfg.train.val_every
        if self.val_set is not None and (self.epoch % every == 0 or self.epoch == self.cfg.train.epochs):
            scores = validate(self.net, self.cfg.tracker, self.val_set, self.device)
            self._train_mode()
        record = {"epoch": self.epoch, "loss": loss, "val_auc": scores["auc"], "val_precision": scores["precision"],
                  "lr": lr, "wall_time": round(self.wall_time(), 2), "pairs_seen": self.pairs_seen}
        improved = scores["auc"] is not None and scores["auc"] > self.best_auc
        if improved:
            self.best_auc = scores["auc"]
        if improved or self.val_set is None:
            self.best_epoch = self.epoch
        self._save_checkpoint(record)  # the commit point: resume rebuilds what follows from it
        if distributed.is_main():
            self._write_epoch_outputs(record, state.epoch_outputs(best=self.best_epoch == self.epoch))
            val = f", val AUC {scores['auc']:.3f}, precision {scores['precision']:.3f}" if scores["auc"] is not None else ""
            log.info("epoch %d/%d: loss %.4f%s, lr %.2e, %d pairs, %.0f s", self.epoch, self.cfg.train.epochs,
                     loss, val, lr, self.pairs_seen, record["wall_time"])
        distributed.barrier()
        return record

    def _write_epoch_outputs(self, record: dict[str, Any], outputs: tuple[str, ...]) -> None:
        """Write ``outputs`` (see :func:`state.epoch_outputs`) for the epoch of ``record``, from the current weights."""
        meta = self._meta(record)
        if "metrics" in outputs:
            state.append_metrics(self.out_dir, record)
        if "last.pth" in outputs:
            state.save_weights(self.out_dir / "last.pth", self.net, self.cfg.to_dict(), meta)
        if "best.pth" in outputs:  # best.pth holds this epoch: chosen by val AUC, or the last one without validation
            state.save_weights(self.out_dir / "best.pth", self.net, self.cfg.to_dict(),
                               {**meta, "selected_by": "val_auc" if record["val_auc"] is not None else "last epoch"})

    def run(self) -> TrainResult:
        """Train until ``cfg.train.epochs`` or a stop signal; see :class:`TrainResult`.

        Whatever ends the run, the DataLoader workers are stopped before this returns or raises.
        """
        try:
            return self._run()
        finally:
            dataloader.shutdown(self.loader)
            if self._lock is not None:
                self._lock.close()  # the next run on --out (e.g. --resume) may start

    def _run(self) -> TrainResult:
        result = TrainResult(out_dir=self.out_dir)
        if distributed.is_main():
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SiamtrackError(f"cannot create --out {self.out_dir}: {exc.strerror or exc}") from None
            if self.epoch == 0 and self.step == 0:
                (self.out_dir / state.METRICS_FILE).unlink(missing_ok=True)
        with self._stop_on_signals():
            while self.epoch < self.cfg.train.epochs:
                if not self._train_epoch():
                    result.stopped_by = self._stop_agreed()
                    path = self._save_checkpoint()
                    if distributed.is_main():
                        state.save_weights(self.out_dir / "last.pth", self.net, self.cfg.to_dict(),
                                           self._meta({"epoch": self.epoch, "step": self.step, "interrupted": True,
                                                       "pairs_seen": self.pairs_seen}))
                        log.warning("stopped by signal %d at epoch %d, step %d: checkpoint %s (continue with --resume)",
                                    result.stopped_by, self.epoch + 1, self.step, path)
                    break
                result.records.append(self._end_epoch())
        return result

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM request a stop after the current step; a second one interrupts at once."""
        def handler(signum: int, _frame: Any) -> None:
            self.request_stop(signum)
            signals.restore(previous)  # the next one interrupts at once

        with signals.handling((signal.SIGINT, signal.SIGTERM), handler) as previous:
            yield


def train(cfg: Config, data_roots: str | Path | Sequence[str | Path] | None, out_dir: str | Path, resume: bool = False,
          device: str | torch.device | None = "auto", workers: int | None = None,
          progress: bool = True, allow_config_change: bool = False) -> TrainResult:
    """Run (or resume) a training; under torchrun, this process is one rank of it. See :class:`Trainer`."""
    try:
        return Trainer(cfg, data_roots, out_dir, resume, device, workers, progress, allow_config_change).run()
    finally:
        distributed.cleanup()
