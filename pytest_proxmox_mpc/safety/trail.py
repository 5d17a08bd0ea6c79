"""The audit context: which run, worker, test and phase a request belongs to, and its one JSON line.

The plugin tells the trail when a test begins and ends; the guard hands it every request it decided.
The log file is opened on the first request, so a run that never talks to a cluster leaves no file.
Nothing here imports pytest.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audit import AuditLog, AuditRecord, encode_json, iso_of
from .policy import ApiRequest, Decision
from .redact import redact_params


@dataclass(frozen=True)
class Refusal:
    """A refused request as audited, with the policy's reason (the audit line carries only the rule)."""

    record: AuditRecord
    reason: str

    def line(self) -> str:
        """``POST /nodes/pve1/qemu/101/status/stop: phase1:no-writes (phase 1 sends only GET ...)``"""
        return f"{self.record.method} {self.record.path}: {self.record.rule} ({self.reason})"


class AuditTrail:
    """Writes one ``AuditRecord`` line per request to the run's audit file and remembers the current test's
    refusals.

    A line costs a few microseconds: the fields that do not change (run, worker; test and phase while a test
    runs) are serialised once, empty parameters are not redacted at all (the others once, by the trail, and
    once more as the line is made), the clock is ``time.time`` formatted once a second. Lines are buffered
    and appended together, in one locked write: when ``FLUSH_LINES`` are waiting or the oldest has waited
    ``FLUSH_SECONDS``, at every refusal (which may abort the run), when a test begins or ends, before an
    ``AuditView`` reads the file, and at ``close``. A process killed outright loses at most what waited.
    """

    FLUSH_LINES = 256
    FLUSH_SECONDS = 1.0

    def __init__(self, path: Path, run_id: str, worker: str = "main") -> None:
        self.path = path
        self.run_id = run_id
        self.worker = worker
        self.test: str | None = None
        self.phase: int | None = None
        self.refusals: list[Refusal] = []  # of the current test, or of the session outside any test
        self.source: str | None = None  # who sends while ``acting_as`` is in force
        self._log: AuditLog | None = None
        self._open_lock = threading.Lock()
        self._pending: list[str] = []
        self._pending_since = 0.0
        self._pending_lock = threading.Lock()
        self._head = '{"time":"%s",' + encode_json({"run_id": run_id, "worker": worker})[1:-1] + ","
        self._context = ""
        self._set_context()
        _OPEN.add(self)

    def _set_context(self) -> None:
        self._context = self._head + encode_json({"test": self.test, "phase": self.phase})[1:-1] + ","

    def begin_test(self, nodeid: str, phase: int | None) -> None:
        self.flush()
        self.test, self.phase, self.refusals = nodeid, phase, []
        self._set_context()

    def end_test(self) -> list[Refusal]:
        """The refusals of the test that ends; later requests belong to no test until the next begins. The
        test's lines are in the file when this returns."""
        self.flush()
        refusals, self.refusals = self.refusals, []
        self.test = self.phase = None
        self._set_context()
        return refusals

    @contextmanager
    def acting_as(self, source: str) -> Iterator[None]:
        """Mark the requests sent meanwhile (from any thread) as ``source``'s, e.g. the watch's snapshots."""
        previous, self.source = self.source, source
        try:
            yield
        finally:
            self.source = previous

    def record(self, request: ApiRequest, decision: Decision, status: int | None = None,
               duration_ms: float | None = None, upid: str | None = None, source: str | None = None,
               injected: str | None = None) -> AuditRecord | None:
        """Append one line for ``request`` (``source`` names the sender, else ``acting_as``'s). A refusal is
        written at once and returned as its ``AuditRecord``; an allowed request's line is buffered (None). With
        ``injected`` (a fault's kind), the request was answered by that fault, never sent: decision ``injected``,
        rule ``fault:<kind>``."""
        now = time.time()
        params = redact_params(request.params) if request.params else {}
        duration = None if duration_ms is None else round(duration_ms, 3)
        if not decision.allowed:
            record = AuditRecord(
                time=iso_of(now), run_id=self.run_id, worker=self.worker, test=self.test, phase=self.phase,
                method=request.method, path=request.shown_path, params=params, decision="refused",
                rule=decision.rule, status=status, duration_ms=duration, upid=upid, source=source or self.source)
            self._write(record.to_json(), now, urgent=True)
            self.refusals.append(Refusal(record, decision.reason))
            return record
        # The same line AuditRecord.to_json makes (a test holds them equal), without the record or the dict.
        sender = source or self.source
        outcome, rule = ("injected", "fault:" + injected) if injected else ("allowed", decision.rule)
        line = (f'{self._context % iso_of(now)}"method":{_quote(request.method)},"path":{_quote(request.shown_path)},'
                f'"params":{encode_json(redact_params(params)) if params else "{}"},'
                f'"decision":{_quote(outcome)},"rule":{_quote(rule)},'
                f'"status":{"null" if status is None else int(status)},'
                f'"duration_ms":{"null" if duration is None else repr(duration)},'
                f'"upid":{"null" if upid is None else _quote(upid)},'
                f'"source":{"null" if sender is None else _quote(sender)}}}')
        self._write(line, now, urgent=False)
        return None

    def _write(self, line: str, now: float, *, urgent: bool) -> None:
        with self._pending_lock:
            if not self._pending:
                self._pending_since = now
            self._pending.append(line)
            if urgent or len(self._pending) >= self.FLUSH_LINES or now - self._pending_since >= self.FLUSH_SECONDS:
                self._flush_locked()

    def flush(self) -> None:
        """Append the buffered lines to the file now."""
        with self._pending_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self._file().append_lines(lines)

    def _file(self) -> AuditLog:
        if self._log is None:
            with self._open_lock:
                if self._log is None:
                    self._log = AuditLog(self.path)
        return self._log

    def close(self) -> None:
        self.flush()
        _OPEN.discard(self)
        if self._log is not None:
            self._log.close()


_quote = json.encoder.encode_basestring_ascii  # what the audit's encoder uses
_OPEN: weakref.WeakSet[AuditTrail] = weakref.WeakSet()  # this process's trails, flushed before a view reads


def flush_trails(path: Path) -> None:
    """Write out what this process's trails on ``path`` still buffer."""
    for trail in list(_OPEN):
        if trail.path == path:
            trail.flush()


@dataclass(frozen=True)
class AuditView:
    """The current run's audit lines, as the ``pve_audit`` fixture gives them to a test."""

    path: Path
    run_id: str

    def records(self, test: str | None = None) -> list[dict[str, Any]]:
        """Every line of this run (all workers so far), or only those of the test with node id ``test``."""
        flush_trails(self.path)
        if not self.path.exists():
            return []
        return [record for record in AuditLog.read(self.path)
                if record.get("run_id") == self.run_id and (test is None or record.get("test") == test)]

    def refusals(self, test: str | None = None) -> list[dict[str, Any]]:
        """The refused requests among ``records(test)``."""
        return [record for record in self.records(test) if record.get("decision") == "refused"]
