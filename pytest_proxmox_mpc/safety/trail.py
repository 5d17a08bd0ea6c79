"""The audit context: which run, worker, test and phase a request belongs to, and its one JSON line.

The plugin tells the trail when a test begins and ends; the guard hands it every request it decided.
The log file is opened on the first request, so a run that never talks to a cluster leaves no file.
Nothing here imports pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audit import AuditLog, AuditRecord, now_iso
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
    """Writes one ``AuditRecord`` per request to the run's audit file and remembers the current test's refusals."""

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

    def begin_test(self, nodeid: str, phase: int | None) -> None:
        self.test, self.phase, self.refusals = nodeid, phase, []

    def end_test(self) -> list[Refusal]:
        """The refusals of the test that ends; later requests belong to no test until the next begins."""
        refusals, self.refusals = self.refusals, []
        self.test = self.phase = None
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
               duration_ms: float | None = None, upid: str | None = None, source: str | None = None) -> AuditRecord:
        """Append one line for ``request`` and return it; ``source`` names the sender (else ``acting_as``'s)."""
        record = AuditRecord(
            time=now_iso(), run_id=self.run_id, worker=self.worker, test=self.test, phase=self.phase,
            method=request.method, path=request.shown_path, params=redact_params(request.params),
            decision="allowed" if decision.allowed else "refused", rule=decision.rule, status=status,
            duration_ms=None if duration_ms is None else round(duration_ms, 3), upid=upid,
            source=source or self.source)
        self._file().write(record)
        if not decision.allowed:
            self.refusals.append(Refusal(record, decision.reason))
        return record

    def _file(self) -> AuditLog:
        if self._log is None:
            with self._open_lock:
                if self._log is None:
                    self._log = AuditLog(self.path)
        return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


@dataclass(frozen=True)
class AuditView:
    """The current run's audit lines, as the ``pve_audit`` fixture gives them to a test."""

    path: Path
    run_id: str

    def records(self, test: str | None = None) -> list[dict[str, Any]]:
        """Every line of this run (all workers so far), or only those of the test with node id ``test``."""
        if not self.path.exists():
            return []
        return [record for record in AuditLog.read(self.path)
                if record.get("run_id") == self.run_id and (test is None or record.get("test") == test)]

    def refusals(self, test: str | None = None) -> list[dict[str, Any]]:
        """The refused requests among ``records(test)``."""
        return [record for record in self.records(test) if record.get("decision") == "refused"]
