"""The audit trail: every API request the plugin's clients send or refuse becomes one JSON line.

All xdist workers of a run append to one file. Each line is written whole under an exclusive lock, so the
file stays one record per line however many processes write.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from .redact import redact_params


def _utcnow() -> datetime:
    # One clock for the module, so tests can move time.
    return datetime.now(timezone.utc)


def now_iso() -> str:
    """The current UTC time, ISO-8601 with milliseconds: ``2026-11-24T10:00:00.123Z``."""
    return _utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """A run id that sorts by start time and is unique: ``20261124T100000Z-3fa2c1``."""
    return _utcnow().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def upid_of(answer: Any) -> str | None:
    """The task UPID when a decoded PVE answer (the whole ``{"data": ...}`` body or its data) is one."""
    data = answer.get("data") if isinstance(answer, Mapping) else answer
    return data if isinstance(data, str) and data.startswith("UPID:") else None


@dataclass(frozen=True)
class AuditRecord:
    """One API request, sent or refused. ``params`` should already be redacted; ``AuditLog`` redacts again."""

    time: str
    run_id: str
    worker: str
    test: str | None
    phase: int | None
    method: str
    path: str
    params: Mapping[str, Any]
    decision: str
    rule: str
    status: int | None
    duration_ms: float | None
    upid: str | None

    def to_json(self) -> str:
        """One line of JSON, keys in field order, params redacted (again: defence in depth)."""
        record = {name: getattr(self, name) for name in _FIELD_NAMES}
        record["params"] = redact_params(self.params)
        # default=str: an odd value (a Path, a Secret, which shows "***") must not cost the run its audit line.
        # json escapes control characters, so the line holds no newline.
        return _ENCODER.encode(record)


_FIELD_NAMES = tuple(f.name for f in fields(AuditRecord))
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)  # made once: dumps() would build one per line


class AuditLog:
    """Appends records to a JSONL file shared by all xdist workers of a run.

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

    def write(self, record: AuditRecord) -> None:
        """Append ``record`` as one line; its params are redacted again (defence in depth)."""
        data = (record.to_json() + "\n").encode("utf-8")
        # flock belongs to the open file description, which threads share, so threads take a lock of their own.
        with self._lock:
            if self._fd is None:
                raise ValueError(f"audit log {self.path} is closed")
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

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Every record of an audit file; a line that is not a JSON object raises ``ValueError`` naming it."""
        records: list[dict[str, Any]] = []
        # Binary: lines split on b"\n" only, and bad UTF-8 fails as that line rather than mid-iteration.
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    record = json.loads(line)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
                    record = None
                if not isinstance(record, dict):
                    raise ValueError(f"{os.fspath(path)}:{number}: not a JSON audit line")
                records.append(record)
        return records


@dataclass
class AuditSummary:
    """Counts per (method, decision) and the refused records, for the terminal summary."""

    by_method_decision: dict[tuple[str, str], int] = field(default_factory=dict)
    refusals: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> AuditSummary:
        """Summarise records as ``AuditLog.read`` returns them."""
        counts: Counter[tuple[str, str]] = Counter()
        refusals: list[dict[str, Any]] = []
        for record in records:
            decision = str(record.get("decision", "?"))
            counts[str(record.get("method", "?")).upper(), decision] += 1
            if decision == "refused":
                refusals.append(dict(record))
        return cls(dict(counts), refusals)

    def lines(self) -> list[str]:
        """``GET allowed: 42`` per (method, decision), sorted, then one line per refusal."""
        out = [f"{method} {decision}: {count}" for (method, decision), count in sorted(self.by_method_decision.items())]
        for record in self.refusals:
            phase = record.get("phase")
            test = record.get("test") or "(no test)"
            out.append(
                f"refused {str(record.get('method', '?')).upper()} {record.get('path', '?')} by {test}"
                + (f" (phase {phase})" if phase is not None else "")
                + f": rule {record.get('rule', '?')}"
            )
        return out
