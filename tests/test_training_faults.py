"""Training under faults: bad frames in workers, full disks, kills at the worst moments, damaged
checkpoints. Each ends with one ``error:`` line and exit code 2 within seconds, no process left
behind, and a ``--resume`` that loses nothing."""
from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from siamtrack.checkpoints import load_checkpoint
from siamtrack.config import config_from_dict
from siamtrack.data.synthetic import demo_sequence, save_got10k_split
from siamtrack.errors import SiamtrackError
from siamtrack.training.state import read_metrics
from siamtrack.training.trainer import Trainer, train
from test_training import TINY, train_cli, tiny_config, tiny_root  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parent.parent


class Killed(BaseException):
    """Stands for SIGKILL in-process: nothing after the point it is raised at gets written."""


@pytest.fixture(scope="module")
def zero_byte_root(tmp_path_factory) -> Path:
    """A GOT-10k root whose clips have readable first frames and zero-byte frames after them."""
    root = tmp_path_factory.mktemp("zero_byte")
    save_got10k_split(root / "train", {f"clip{s}": demo_sequence(12, seed=s) for s in range(2)})
    for frame in sorted((root / "train").glob("clip*/*.jpg")):
        if frame.name != "00000001.jpg":
            frame.write_bytes(b"")
    return root


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def start_training(config: Path, data: Path, out: Path, *args: str) -> subprocess.Popen:
    """tools/train.py in its own session, so that every process it starts can be found."""
    return subprocess.Popen([sys.executable, str(REPO / "tools" / "train.py"), "--config", str(config),
                             "--data", str(data), "--out", str(out), "--device", "cpu", "--no-progress", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list processes")
def test_zero_byte_frame_in_a_worker_is_one_error_line_and_no_process_is_left(zero_byte_root, tiny_config,
                                                                             tmp_path) -> None:
    proc = start_training(tiny_config, zero_byte_root, tmp_path / "out", "--workers", "2")
    try:
        _, stderr = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    lines = error_lines(stderr)
    assert len(lines) == 1 and "cannot read image" in lines[0] and ".jpg" in lines[0], stderr[-3000:]
    assert len(lines[0]) < 300, "the worker's traceback is not flattened into the message"
    assert wait_until(lambda: not session_processes(proc.pid), 10), "workers, fork server or tracker left running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to list processes")
def test_killing_only_the_main_process_leaves_no_worker_behind(tiny_root, tmp_path) -> None:
    config = tmp_path / "long.yaml"
    long_run = {**TINY, "data": {**TINY["data"], "pairs_per_epoch": 100000}, "train": {**TINY["train"], "epochs": 50}}
    config.write_text(yaml.safe_dump(long_run))
    proc = start_training(config, tiny_root, tmp_path / "out", "--workers", "2")
    try:
        # main + fork server + resource tracker + 2 workers
        assert wait_until(lambda: len(session_processes(proc.pid)) >= 5, 120), "the workers never started"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_until(lambda: not session_processes(proc.pid), 15), session_processes(proc.pid)
    finally:
        for pid in session_processes(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.communicate()


def test_full_disk_while_saving_is_one_error_line_naming_the_file(tiny_root, tiny_config, tmp_path, monkeypatch,
                                                                  capsys) -> None:
    def no_space(obj, handle, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", no_space)
    start = time.monotonic()
    code = train_cli("--config", str(tiny_config), "--data", str(tiny_root), "--out", str(tmp_path / "out"),
                     "--device", "cpu", "--workers", "1", "--no-progress")
    stderr = capsys.readouterr().err
    assert code == 2 and len(error_lines(stderr)) == 1 and "Traceback" not in stderr
    assert "cannot write" in stderr and "ckpt_001_000000.pth" in stderr and "No space left" in stderr
    assert time.monotonic() - start < 120
    assert wait_until(lambda: not multiprocessing.active_children(), 10), "DataLoader workers still running"
    assert not list((tmp_path / "out").glob(".*.tmp")), "a failed write leaves no temporary file"


def test_worker_error_other_than_a_bad_image_names_the_pair(tiny_root, tmp_path, monkeypatch) -> None:
    from siamtrack.data import transforms

    def broken(self, sample, rng):
        raise ValueError("broken transform")

    monkeypatch.setattr(transforms.PairTransform, "__call__", broken)
    trainer = Trainer(config_from_dict(TINY), tiny_root, tmp_path, device="cpu", progress=False)
    with pytest.raises(SiamtrackError) as caught:
        trainer.run()
    message = str(caught.value)
    assert "training pair (0, 0)" in message and "ValueError: broken transform" in message


def test_kill_between_the_final_checkpoint_and_its_metrics_loses_nothing(tiny_root, tmp_path, monkeypatch,
                                                                         caplog) -> None:
    # Without validation best.pth is the last epoch: all three outputs must come back.
    cfg = config_from_dict({**TINY, "train": {**TINY["train"], "val_every": 0}})
    train(cfg, tiny_root, tmp_path / "whole", device="cpu", progress=False)

    write = Trainer._write_epoch_outputs

    def killed_at_the_last_epoch(self, record, outputs):
        if record["epoch"] == cfg.train.epochs:
            raise Killed
        return write(self, record, outputs)

    monkeypatch.setattr(Trainer, "_write_epoch_outputs", killed_at_the_last_epoch)
    with pytest.raises(Killed):
        train(cfg, tiny_root, tmp_path / "killed", device="cpu", progress=False)
    killed = tmp_path / "killed"
    assert [m["epoch"] for m in read_metrics(killed / "metrics.jsonl")] == [1]
    assert load_checkpoint(killed / "last.pth")["meta"]["epoch"] == 1
    monkeypatch.setattr(Trainer, "_write_epoch_outputs", write)

    resumed = train(cfg, tiny_root, killed, resume=True, device="cpu", progress=False)
    assert resumed.records == [], "the run was complete: nothing to train again"
    assert "rebuilt metrics, last.pth, best.pth of epoch 2" in caplog.text
    whole = tmp_path / "whole"
    def timeless(record: dict) -> dict:
        return {k: v for k, v in record.items() if k not in ("wall_time", "data")}

    assert [timeless(m) for m in read_metrics(killed / "metrics.jsonl")] == \
        [timeless(m) for m in read_metrics(whole / "metrics.jsonl")]
    for name in ("last.pth", "best.pth"):
        a, b = load_checkpoint(whole / name), load_checkpoint(killed / name)
        assert timeless(a["meta"]) == timeless(b["meta"]), name
        assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), name


def test_resume_skips_a_damaged_checkpoint_and_removes_interrupted_writes(tiny_root, tmp_path, caplog) -> None:
    cfg = config_from_dict(TINY)
    whole = tmp_path / "whole"
    train(cfg, tiny_root, whole, device="cpu", progress=False)
    damaged = tmp_path / "damaged"
    train(cfg, tiny_root, damaged, device="cpu", progress=False)
    newest = damaged / "ckpt_002_000000.pth"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    (damaged / ".ckpt_003_000000.pth.x1y2.tmp").write_bytes(b"\0" * 100)
    (damaged / ".last.pth.a1b2.tmp").write_bytes(b"\0" * 100)

    resumed = train(cfg, tiny_root, damaged, resume=True, device="cpu", progress=False)
    assert [r["epoch"] for r in resumed.records] == [2], "epoch 2 trained again from ckpt_001"
    assert "ckpt_002_000000.pth is damaged" in caplog.text and "removed 2 temporary file(s)" in caplog.text
    assert not list(damaged.glob(".*.tmp")) and (damaged / "ckpt_002_000000.pth.damaged").is_file()
    a, b = load_checkpoint(whole / "last.pth")["model"], load_checkpoint(damaged / "last.pth")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a), "the retrained epoch is bit-identical"
    assert [m["epoch"] for m in read_metrics(damaged / "metrics.jsonl")] == [1, 2]


def test_a_metrics_line_cut_short_by_a_crash_is_dropped_on_resume(tiny_root, tmp_path) -> None:
    cfg = config_from_dict(TINY)
    out = tmp_path / "out"
    train(cfg, tiny_root, out, device="cpu", progress=False)
    metrics = out / "metrics.jsonl"
    metrics.write_text(metrics.read_text() + '{"epoch": 3, "lo')
    train(cfg, tiny_root, out, resume=True, device="cpu", progress=False)
    assert [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()] == [1, 2]


def test_checkpoints_every_n_steps_and_a_resume_from_one_is_exact(tiny_root, tmp_path) -> None:
    values = {**TINY, "train": {**TINY["train"], "checkpoint_every": 1, "keep_checkpoints": 10}}
    cfg = config_from_dict(values)
    out = tmp_path / "steps"
    train(cfg, tiny_root, out, device="cpu", progress=False)
    assert sorted(p.name for p in out.glob("ckpt_*.pth")) == [
        "ckpt_000_000001.pth", "ckpt_001_000000.pth", "ckpt_001_000001.pth", "ckpt_002_000000.pth"]
    final = load_checkpoint(out / "last.pth")["model"]
    for later in ("ckpt_002_000000.pth", "ckpt_001_000000.pth"):
        (out / later).unlink()
    train(cfg, tiny_root, out, resume=True, device="cpu", progress=False)
    again = load_checkpoint(out / "last.pth")["model"]
    assert all(torch.equal(final[k], again[k]) for k in final)
    np.testing.assert_equal([m["epoch"] for m in read_metrics(out / "metrics.jsonl")], [1, 2])
