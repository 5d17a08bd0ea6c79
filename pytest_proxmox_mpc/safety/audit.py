"""The audit trail: every API request the plugin's clients send or refuse becomes one JSON line.

All xdist workers of a run append to one file. Each line is written whole under an exclusive lock, so the
file stays one record per line however many processes write.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from ..files.jsonl import JsonlFile
from .redact import redact_params


def _utcnow() -> datetime:
    # One clock for the module, so tests can move time.
    return datetime.now(timezone.utc)


def now_iso() -> str:
    """The current UTC time, ISO-8601 with milliseconds: ``2026-11-24T10:00:00.123Z``."""
    return _utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text: one strftime a second


def iso_of(epoch: float) -> str:
    """``epoch`` (seconds) as ``now_iso`` writes it, milliseconds truncated as ``isoformat`` does; the audit
    trail's clock, a tenth of ``now_iso``'s cost."""
    global _second
    whole, micro = divmod(round(epoch * 1_000_000), 1_000_000)  # to the microsecond first, as datetime does
    seen, text = _second
    if seen != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)  # one assignment: threads see the old pair or the new one
    return f"{text}.{micro // 1000:03d}Z"


def new_run_id() -> str:
    """A run id that sorts by start time, is unique, and is a valid PVE tag and name part: ``20261124-100000-3fa2c1``.

    Lower case and digits only, because temporary guests carry it in a tag (PVE tags are lower case).
    """
    return _utcnow().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def run_started(run_id: str) -> datetime | None:
    """When the run with this id started (UTC), or None if the id is not one ``new_run_id`` makes."""
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


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
    source: str | None = None  # "watch": the plugin's own snapshots and checks, not the test's requests

    def to_json(self) -> str:
        """One line of JSON, keys in field order, params redacted (again: defence in depth)."""
        record = {name: getattr(self, name) for name in _FIELD_NAMES}
        record["params"] = redact_params(self.params)
        # default=str: an odd value (a Path, a Secret, which shows "***") must not cost the run its audit line.
        # json escapes control characters, so the line holds no newline.
        return _ENCODER.encode(record)


_FIELD_NAMES = tuple(f.name for f in fields(AuditRecord))
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)  # made once: dumps() would build one per line
encode_json = _ENCODER.encode


class AuditLog(JsonlFile):
    """The audit trail's file: ``AuditRecord`` lines (see ``JsonlFile`` for how lines stay whole)."""

    def write(self, record: AuditRecord) -> None:
        """Append ``record`` as one line; its params are redacted again (defence in depth)."""
        self.append(record.to_json())


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
