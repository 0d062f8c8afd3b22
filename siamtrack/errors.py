"""The one exception type for problems a user can fix (bad paths, boxes, files, configs), and how tools report it."""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable


class SiamtrackError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits with code 2."""


def reports_errors(main: Callable[..., int | None]) -> Callable[..., int]:
    """Decorate a command-line tool's ``main``: a :class:`SiamtrackError` becomes one
    ``error: ...`` line on stderr and exit code 2, never a traceback."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs) or 0
        except SiamtrackError as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2

    return wrapper
