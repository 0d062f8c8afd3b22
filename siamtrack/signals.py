"""Signal handlers installed for the length of a block, and the previous ones put back after it.

Both long jobs (``siamtrack track`` writing its outputs, ``siamtrack train``) turn stop signals into
an orderly end; they differ only in what their handler does. Python delivers signals to the main
thread only, so elsewhere nothing is installed and the block runs as it is.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Callable, Iterator, Sequence

Handler = Callable[[int, Any], None]


def restore(previous: dict[int, Any]) -> None:
    """Put back the handlers ``previous`` maps signals to."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def handling(signals: Sequence[int], handler: Handler) -> Iterator[dict[int, Any]]:
    """``handler`` for ``signals`` in the block (main thread only); yields the handlers it replaced,
    which are put back when the block ends (a handler may put them back earlier with :func:`restore`)."""
    if threading.current_thread() is not threading.main_thread():
        yield {}
        return
    previous = {s: signal.getsignal(s) for s in signals}
    for s in signals:
        signal.signal(s, handler)
    try:
        yield previous
    finally:
        restore(previous)
