"""DataLoader workers that fail loudly, stop at once and never outlive the training process.

Three things go wrong with plain DataLoader workers, and each is handled here:

- an exception in a worker reaches the main process as a traceback flattened into one huge
  message: instead, :class:`ReportingDataset` turns a failed item into an :class:`ItemFailure`
  that travels as data, and :func:`batches` raises it as one :class:`SiamtrackError` line;
- persistent workers ignore SIGTERM (so that a signal to the process group lets the main process
  save its checkpoint), which makes the exit-time join of ``multiprocessing`` wait for ever after
  an error: :func:`shutdown` stops them explicitly, killing any that do not stop;
- a main process killed on its own (``kill -9 PID``, the OOM killer) left its workers, and with
  them the fork server and resource tracker, running: every worker watches the main process and
  exits when it is gone (:func:`worker_init`).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import cv2
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from siamtrack.errors import SiamtrackError

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5  # how often a worker checks that the main process is still there


@dataclass(frozen=True)
class ItemFailure:
    """Sent by a worker in place of a batch whose item could not be made: the sentence to report."""

    message: str


class ReportingDataset(Dataset):
    """``dataset`` whose failing items come out as :class:`ItemFailure` instead of raising.

    A :class:`SiamtrackError` keeps its message (the image readers name the file); any other
    exception is reported with the item's key and where it was raised.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.dataset[key]
        except SiamtrackError as exc:
            return ItemFailure(str(exc))
        except Exception as exc:  # noqa: BLE001  (reported as one line, with where it came from)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return ItemFailure(f"training pair {key} failed: {type(exc).__name__}: {exc} "
                               f"(at {Path(where.filename).name}:{where.lineno})")


def collate(items: list[Any]) -> Any:
    """``default_collate``, or the first :class:`ItemFailure` among ``items``."""
    failures = [item for item in items if isinstance(item, ItemFailure)]
    return failures[0] if failures else default_collate(items)


def batches(loader: DataLoader) -> Iterator[Any]:
    """The loader's batches; a failed item raises its :class:`SiamtrackError` in this process."""
    for batch in loader:
        if isinstance(batch, ItemFailure):
            raise SiamtrackError(batch.message)
        yield batch


def worker_init(main_pid: int, _worker_id: int) -> None:
    """DataLoader workers: one thread each; stop signals are the main process's business.

    A signal sent to the whole process group (Ctrl-C, ``timeout``, ``kill -- -PGID``) must not
    kill the workers under the main process while it finishes its step and saves a checkpoint;
    a watchdog thread ends the worker when the main process ``main_pid`` is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    threading.Thread(target=_exit_when_gone, args=(main_pid,), name="siamtrack-watchdog", daemon=True).start()


def _exit_when_gone(pid: int) -> None:
    while process_alive(pid):
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)


def process_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc (macOS): the signal-0 probe
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def shutdown(loader: DataLoader) -> None:
    """Stop ``loader``'s worker processes now; those that do not stop within seconds are killed."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is None:
        return
    loader._iterator = None
    processes = list(getattr(iterator, "_workers", []))
    shutdown_workers = getattr(iterator, "_shutdown_workers", None)
    if shutdown_workers is not None:
        shutdown_workers()
    for process in processes:
        if process.is_alive():
            log.warning("DataLoader worker %d did not stop: killed", process.pid)
            process.kill()
            process.join(timeout=5)
