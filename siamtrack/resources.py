"""Where siamtrack's own files are: the shipped weights and configs, in a checkout and once installed.

In the repository they are the top-level ``weights/`` and ``configs/`` folders; ``setup.py`` installs
them inside the package as ``siamtrack/weights`` and ``siamtrack/configs``, where
:mod:`importlib.resources` finds them. Code asks this module, never a path built from ``__file__``,
so ``load_tracker()`` works the same from a clone, an editable install and a wheel.

Relative paths (from a user, or inside a config file) mean the working directory first, as any
command-line tool reads them. Two fallbacks keep this repository's own paths working from anywhere:
paths that name shipped files (``weights/siamfc_fast.pth``, ``configs/siamfc_fast.yaml``) are also
looked up among the installed files, and, when siamtrack runs from a checkout, relative paths are
also looked up from the repository root (``../shared/data/...``, the training data beside it).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from siamtrack.errors import SiamtrackError

PACKAGE = "siamtrack"
CONFIGS = "configs"
WEIGHTS = "weights"
DEFAULT_CONFIG = "siamfc_alexnet.yaml"
DEFAULT_WEIGHTS = "efficientnet_box.pth"  # best val AUC of the shipped weights (weights/MODEL_CARD.md)


def package_root() -> Path:
    """The folder that holds the ``siamtrack`` package (a checkout's root, or ``site-packages``)."""
    return Path(__file__).resolve().parent.parent


def checkout_root() -> Path | None:
    """The repository root when siamtrack runs from a source checkout, else ``None``."""
    root = package_root()
    return root if (root / "setup.py").is_file() and (root / CONFIGS).is_dir() else None


def data_dir(name: str) -> Path:
    """The folder of shipped files ``name`` (``configs`` or ``weights``): inside the installed
    package, or the top-level folder of the checkout siamtrack runs from."""
    installed = resources.files(PACKAGE) / name
    if installed.is_dir():
        return Path(str(installed))
    root = checkout_root()
    if root is not None:
        return root / name
    raise SiamtrackError(f"siamtrack's {name}/ folder is missing from its installation in {package_root()}: "
                         "reinstall the package (pip install siamtrack / pip install .)")


def config_dir() -> Path:
    """Where the shipped configs are."""
    return data_dir(CONFIGS)


def weights_dir() -> Path:
    """Where the shipped weights (and their ONNX graphs) are."""
    return data_dir(WEIGHTS)


def default_config() -> Path:
    """The config a run falls back on when none is named and none is stored (``configs/siamfc_alexnet.yaml``)."""
    return config_dir() / DEFAULT_CONFIG


def default_weights() -> Path:
    """The default shipped weights (``weights/efficientnet_box.pth``)."""
    return weights_dir() / DEFAULT_WEIGHTS


def resolve(path: str | Path) -> Path:
    """A path given by a user or a config file, found as the module docstring says.

    Absolute, or present relative to the working directory: as given. Else the first that exists
    of the same relative path under the checkout root and, for ``configs/...`` and ``weights/...``,
    among the shipped files. Else as given, for the caller to report missing.
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    candidates = []
    root = checkout_root()
    if root is not None:
        candidates.append(root / path)
    if len(path.parts) > 1 and path.parts[0] in (CONFIGS, WEIGHTS):
        candidates.append(data_dir(path.parts[0]).joinpath(*path.parts[1:]))
    return next((candidate for candidate in candidates if candidate.exists()), path)


def find(path: str | Path, folder: str, suffix: str) -> Path:
    """Like :func:`resolve`, and a bare name such as ``siamfc_fast`` (no folder, no suffix) also
    means that shipped file of ``folder`` (``configs/siamfc_fast.yaml``, ``weights/siamfc_fast.pth``)."""
    found = resolve(path)
    name = Path(path)
    if not found.exists() and not name.suffix and len(name.parts) == 1:
        shipped = data_dir(folder) / f"{name}{suffix}"
        if shipped.exists():
            return shipped
    return found
