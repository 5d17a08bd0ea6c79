"""Append-only JSON-lines files that several processes write at once: the audit trail, the ledger.

Each line is written with one ``os.write()`` on a file opened ``O_APPEND|O_CREAT`` (0o600), under
``fcntl.flock(LOCK_EX)``, so lines from concurrent processes never interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from ..errors import InvalidInput

_File = TypeVar("_File", bound="JsonlFile")  # typing.Self needs Python 3.11; the package runs on 3.10


class JsonlFile:
    """Appends JSON lines to a file shared by all xdist workers of a run.

    Each record is written with one ``os.write()`` on a file opened ``O_APPEND|O_CREAT`` (0o600), under
    ``fcntl.flock(LOCK_EX)``, so lines from concurrent processes never interleave. The directory is created.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # 0o700: the trail names the cluster's objects and who touched them, even with secrets redacted.
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1
        self._open()

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        self._pid = os.getpid()

    def append(self, line: str) -> None:
        """Append ``line`` (one line of JSON, no newline) whole."""
        self.append_lines([line])

    def append_lines(self, lines: list[str]) -> None:
        """Append ``lines`` (each one line of JSON, no newline) whole, in one write."""
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        # flock belongs to the open file description, which threads share, so threads take a lock of their own.
        with self._lock:
            if self._fd is None:
                raise InvalidInput(f"{self.path} is closed")
            if self._pid != os.getpid():
                # A forked child shares the parent's file description and with it the parent's flock:
                # it needs a description of its own for the lock to exclude anyone.
                self._open()
            fd = self._fd
            assert fd is not None
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                written = os.write(fd, data)
                # A short write (a signal, a full disk) is finished under the same lock: still one whole line.
                while written < len(data):
                    written += os.write(fd, data[written:])
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)

    def __enter__(self: _File) -> _File:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Every record of the file; a line that is not a JSON object raises ``ValueError`` naming it."""
        records: list[dict[str, Any]] = []
        # Binary: lines split on b"\n" only, and bad UTF-8 fails as that line rather than mid-iteration.
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
                    record = None
                if not isinstance(record, dict):
                    raise InvalidInput(f"{os.fspath(path)}:{number}: not a JSON line")
                records.append(record)
        return records
