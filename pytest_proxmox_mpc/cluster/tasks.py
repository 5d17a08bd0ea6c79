"""Waiting for PVE tasks: poll the UPID's status with backoff until it stops, or give up after a timeout.

Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import TaskFailed, TaskTimeout

FIRST_POLL = 0.05  # seconds; fakepve and short tasks end in milliseconds
MAX_POLL = 2.0
BACKOFF = 1.5


_sleep: Callable[[float], None] = time.sleep


def set_sleep(sleep: Callable[[float], None]) -> None:
    """Replace how waits pause (replay makes them instant: recorded answers need no waiting)."""
    global _sleep
    _sleep = sleep


def pause(seconds: float) -> None:
    """Pause between polls and retries; a no-op while replaying."""
    _sleep(seconds)


def node_of(upid: str) -> str:
    """The node a task runs on: the second field of ``UPID:node:...``."""
    parts = upid.split(":")
    if len(parts) < 3 or parts[0] != "UPID":
        raise ValueError(f"not a UPID: {upid!r}")
    return parts[1]


def wait_for_task(api: Any, upid: str, timeout: float = 120.0) -> str:
    """Wait until the task stops; return its exit status if it is OK, else raise ``TaskFailed``.

    Raises ``TaskTimeout`` when the task still runs after ``timeout`` seconds.
    """
    status_of = api.nodes(node_of(upid)).tasks(upid).status
    deadline = time.monotonic() + timeout
    wait = FIRST_POLL
    while True:
        status = status_of.get()
        if status.get("status") == "stopped":
            exitstatus = str(status.get("exitstatus", ""))
            if exitstatus != "OK":
                raise TaskFailed(upid, exitstatus)
            return exitstatus
        if time.monotonic() + wait > deadline:
            raise TaskTimeout(f"task {upid} still running after {timeout:g}s")
        pause(wait)
        wait = min(wait * BACKOFF, MAX_POLL)
