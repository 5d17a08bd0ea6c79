"""A lock file that processes (xdist workers, concurrent runs) take in turn."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusively(path: Path) -> Iterator[None]:
    """Hold ``fcntl.flock(LOCK_EX)`` on ``path`` (created, 0o600) for the block: whoever comes second waits.

    Each call opens the file anew, so threads of one process exclude each other too (a flock belongs to
    the open file description). The lock ends with the process, so a killed holder never blocks anyone.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor of the description releases the lock
