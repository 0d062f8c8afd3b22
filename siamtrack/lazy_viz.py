"""Keep matplotlib out of tracking: got10k's plotting module is loaded on first use, not on import.

``got10k.trackers`` (the base class that makes siamtrack's tracker a got10k tracker) imports
``show_frame`` from ``got10k.utils.viz``, which imports ``matplotlib.pyplot`` at the top: about a second
of start-up for every tool that tracks, for a function only ``track(..., visualize=True)`` calls.
:func:`defer_got10k_viz` puts a stand-in for that module in ``sys.modules`` whose ``show_frame`` (and any
other name) loads the real module then, so the toolkit behaves as before, minus the start-up cost.
Called by ``siamtrack.tracking`` before its tracker imports got10k (got10k 0.1.3; see also
``siamtrack.evaluation.compat``).
"""
from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

GOT10K_VIZ = "got10k.utils.viz"


def defer_got10k_viz() -> None:
    """Install the lazy stand-in for ``got10k.utils.viz`` unless that module is already imported."""
    if GOT10K_VIZ in sys.modules:
        return
    spec = importlib.util.find_spec(GOT10K_VIZ)
    if spec is None or spec.loader is None:
        return
    real: list[types.ModuleType] = []

    def load() -> types.ModuleType:
        if not real:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[GOT10K_VIZ] = module
            setattr(sys.modules["got10k.utils"], "viz", module)
            real.append(module)
        return real[0]

    def show_frame(*args: Any, **kwargs: Any) -> Any:
        return load().show_frame(*args, **kwargs)

    def getattr_(name: str) -> Any:
        if name.startswith("__"):  # the import system probes __path__ & co.: no reason to load
            raise AttributeError(name)
        return getattr(load(), name)

    stand_in = types.ModuleType(GOT10K_VIZ, "got10k.utils.viz, loaded (with matplotlib) on first use")
    stand_in.show_frame = show_frame
    stand_in.__getattr__ = getattr_
    sys.modules[GOT10K_VIZ] = stand_in
    setattr(sys.modules["got10k.utils"], "viz", stand_in)
