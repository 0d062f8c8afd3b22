"""The wheel as a user gets it: built from the checkout, installed into a new virtual environment, used
from a folder with no repository in it, through the ``siamtrack`` command and through the API.

Offline and quick: the wheel is built without build isolation, and the new environment reuses the
running one's packages (torch, OpenCV...) through a ``.pth`` file instead of installing them; the
wheel itself is installed by pip, console script included. ``PYTHONPATH`` is dropped, so nothing can
import the checkout's ``siamtrack`` by mistake (the tests check where it came from).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from siamtrack import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
# What a build reads: a fresh clone has these (and tests/, docs/, tools/, which the wheel leaves out).
BUILD_INPUTS = ("setup.py", "pyproject.toml", "README.md", "LICENSE", "siamtrack", "configs", "weights")
CLIP, CLIP_BOX, CLIP_FRAMES = "tennis.mp4", "305,112,165,248", 10
MAX_WHEEL_MB = 40


def run(command: list[str | Path], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command outside the checkout's import path; fail with its stderr if it fails."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of a copy of the checkout's build inputs (the checkout itself stays untouched)."""
    tmp = tmp_path_factory.mktemp("build")
    source = tmp / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", tmp / "dist", source], cwd=tmp)
    (built,) = (tmp / "dist").glob("siamtrack-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed (dependencies: the running environment's)."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root.parent)
    python = root / "bin" / "python"
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                       cwd=root).stdout.strip())
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "_running_environment.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    # --ignore-installed: the running environment's own (editable) siamtrack is visible through the .pth
    # file; pip must neither skip the wheel for it nor uninstall it.
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--ignore-installed",
         wheel], cwd=root.parent)
    return root


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A working folder with no repository in it or above it (pytest's temporary folders)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_wheel_ships_every_weights_and_config_file_and_the_metadata(wheel: Path) -> None:
    assert wheel.stat().st_size < MAX_WHEEL_MB * 2 ** 20
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"siamtrack-{__version__}.dist-info/METADATA").decode()
        entry_points = archive.read(f"siamtrack-{__version__}.dist-info/entry_points.txt").decode()
    for folder in ("weights", "configs"):
        shipped = {f"siamtrack/{folder}/{p.relative_to(REPO_ROOT / folder).as_posix()}"
                   for p in (REPO_ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert shipped and shipped <= names, shipped - names
    assert wheel.name == f"siamtrack-{__version__}-py3-none-any.whl"
    assert "siamtrack = siamtrack.cli:main" in entry_points
    assert {"onnx", "vot", "dev"} <= set(re.findall(r"^Provides-Extra: (\S+)", metadata, re.M))
    assert re.search(r"^License(-Expression)?: MIT", metadata, re.M)
    assert not any(name.startswith(("tests/", "tools/", "docs/")) for name in names)


def test_the_command_tracks_a_real_clip_from_a_folder_outside_the_checkout(venv: Path, user_dir: Path,
                                                                          shared_data: Path) -> None:
    result = run([venv / "bin" / "siamtrack", "track", shared_data / "demo" / CLIP, "--box", CLIP_BOX,
                  "--max-frames", CLIP_FRAMES, "--out-boxes", "out/boxes.txt", "--device", "cpu"], cwd=user_dir)
    boxes = np.loadtxt(user_dir / "out" / "boxes.txt", delimiter=",")
    assert boxes.shape == (CLIP_FRAMES, 5) and np.all(np.isfinite(boxes))
    np.testing.assert_allclose(boxes[0], [*map(float, CLIP_BOX.split(",")), 1.0])
    assert f"over {CLIP_FRAMES} frames" in result.stdout and "boxes: out/boxes.txt" in result.stdout


def test_the_api_loads_the_shipped_tracker_from_the_installed_package(venv: Path, user_dir: Path) -> None:
    code = ("import siamtrack; tracker = siamtrack.load_tracker(); "
            "print(siamtrack.__file__); print(siamtrack.__version__); print(type(tracker).__name__)")
    where, version, name = run([venv / "bin" / "python", "-c", code], cwd=user_dir).stdout.split()
    assert Path(where).is_relative_to(venv) and version == __version__ and name == "BoxTracker"


def test_the_command_answers_help_and_version(venv: Path, user_dir: Path) -> None:
    assert run([venv / "bin" / "siamtrack", "--version"], cwd=user_dir).stdout.strip() == f"siamtrack {__version__}"
    assert "track" in run([venv / "bin" / "python", "-m", "siamtrack", "--help"], cwd=user_dir).stdout
