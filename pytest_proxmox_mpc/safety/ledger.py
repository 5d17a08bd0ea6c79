"""The ledger: the guests this run created, the only guests a phase 3/4 write may touch.

``Ledger`` is the in-memory set the policy consults; the guard adds a vmid when the cluster has accepted
a create (or clone) the policy allowed: PVE checks that the vmid is unused before it answers 200, so a
vmid enters the ledger only when this run owns it. ``LedgerFile`` is the record on disk, one JSON line
per create, destroy or kept guest and one when the run finishes, so a run that died can be cleaned up
later by the sweeper. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files.jsonl import JsonlFile
from .audit import now_iso


class Ledger:
    """A thread-safe set of vmids this run (this process) created."""

    def __init__(self) -> None:
        self._vmids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, vmid: int) -> None:
        with self._lock:
            self._vmids.add(vmid)

    def discard(self, vmid: int) -> None:
        with self._lock:
            self._vmids.discard(vmid)

    def __contains__(self, vmid: object) -> bool:
        return vmid in self._vmids

    def __iter__(self) -> Iterator[int]:
        with self._lock:
            return iter(sorted(self._vmids))

    def __len__(self) -> int:
        return len(self._vmids)


class LedgerFile:
    """The run's ledger on disk (opened on the first event, shared by all workers of the run)."""

    def __init__(self, path: Path, run_id: str, worker: str = "main") -> None:
        self.path, self.run_id, self.worker = path, run_id, worker
        self._file: JsonlFile | None = None

    def event(self, event: str, **facts: object) -> None:
        """Append one event: ``created``, ``destroyed``, ``kept``, ``leaked`` or ``run-finished``."""
        if self._file is None:
            self._file = JsonlFile(self.path)
        line = {"event": event, "time": now_iso(), "run_id": self.run_id, "worker": self.worker, **facts}
        self._file.append(json.dumps(line, separators=(",", ":"), default=str))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of one ledger file (none if there is no file: the run created no guest); a line that is not
    a JSON object (a run killed mid-write) is skipped, never trusted."""
    if not path.exists():
        return []
    events = []
    for raw in path.read_bytes().splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass(frozen=True)
class ToolMade:
    """A guest a tool created through the safety proxy that its run's ledger never saw removed."""

    vmid: int
    type: str
    name: str | None
    run_id: str


def tool_made(directory: Path) -> dict[int, ToolMade]:
    """By vmid: the guests tools created through the proxy (``"source": "proxy"``) in the runs whose ledgers are
    in ``directory``, and no ledger saw removed. Such a guest carries no plugin tag: the ledger is all there is."""
    made: dict[int, ToolMade] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for event in read_events(path):
            if event.get("source") != "proxy" or not str(event.get("vmid", "")).isdigit():
                continue
            vmid = int(event["vmid"])
            if event.get("event") == "created":
                made[vmid] = ToolMade(vmid, str(event.get("type")), event.get("name"), str(event.get("run_id")))
            elif event.get("event") in ("destroyed", "kept") and vmid in made:
                del made[vmid]
    return made


def unresolved(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``created`` events of guests that no later event says were removed, kept or leaked."""
    open_: dict[Any, dict[str, Any]] = {}
    for event in events:
        if event.get("event") == "created":
            open_[event.get("vmid")] = event
        elif event.get("event") in ("destroyed", "kept", "leaked"):
            open_.pop(event.get("vmid"), None)
    return list(open_.values())


def finished_runs(directory: Path) -> set[str]:
    """The ids of the runs whose ledger in ``directory`` says they finished."""
    return {str(event.get("run_id")) for path in sorted(directory.glob("*.jsonl")) for event in read_events(path)
            if event.get("event") == "run-finished"}


def ledger_lines(path: Path, events: list[dict[str, Any]], sweep_hint: str | None) -> list[str]:
    """The terminal summary of one run's ledger (``events``, read from ``path``): guests created and removed,
    kept, leaked, swept."""
    if not events:
        return []
    count = {name: sum(1 for e in events if e.get("event") == name) for name in ("created", "destroyed")}
    lines = [f"temporary guests: {count['created']} created, {count['destroyed']} removed ({path})"]
    for e in events:
        kind = e.get("event")
        if kind in ("kept", "leaked"):
            why = f": {e['reason']}" if e.get("reason") else ""
            lines.append(f"{kind} {e.get('type')} {e.get('vmid')} on {e.get('node')} (test {e.get('test')}){why}")
        elif kind == "swept":
            lines.append(f"swept {e.get('type')} {e.get('vmid')} on {e.get('node')}, left by run {e.get('of_run')}")
        elif kind in ("sweep-left-alone", "sweep-failed"):
            lines.append(f"sweep: {e.get('line')}")
    if any(e.get("event") in ("kept", "leaked") for e in events):
        lines.append(f"remove them later with: {sweep_hint}" if sweep_hint else
                     "nothing is left on a cluster: the simulated one went with the run")
    return lines
