"""No guest left behind on a signal: SIGTERM (a CI runner cancelling) stops a run as Ctrl-C does, so pytest tears
every fixture down, temporary guests included; once a run is stopping, a second Ctrl-C or SIGTERM prints one line
and lets the removal finish instead of leaving guests behind with a traceback. Nothing here imports pytest."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

STOPPING = ("proxmox: interrupted again while the run stops: still removing its temporary guests (they would be "
            "left on the cluster otherwise); whatever cannot be removed is listed at the end")

_stopping = False  # the first SIGINT or SIGTERM came: the run is tearing down


def _interrupt(number: int, frame: FrameType | None) -> None:
    global _stopping
    if _stopping:  # set by the first signal, so the second never races the first's handling
        sys.stderr.write(STOPPING + "\n")
        sys.stderr.flush()
        return
    _stopping = True
    raise KeyboardInterrupt(f"stopped by {signal.Signals(number).name}")


def stop_on_signals() -> Callable[[], None]:
    """From now on (in the main thread), SIGINT and SIGTERM stop the run once, as Ctrl-C does, and any further one
    only says so; returns what restores the handlers that were there."""
    global _stopping
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    _stopping = False
    for number in previous:
        signal.signal(number, _interrupt)

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return restore
