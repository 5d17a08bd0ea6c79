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
from dataclasses import dataclass, field
from pathlib import Path

from .audit import now_iso
from .jsonl import JsonlFile


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


@dataclass
class RunRecord:
    """What the ledger files say of one run: the guests it created and removed, and whether it finished."""

    run_id: str
    finished: bool = False
    created: dict[int, dict[str, object]] = field(default_factory=dict)
    destroyed: set[int] = field(default_factory=set)

    @property
    def left(self) -> set[int]:
        """Guests created and never destroyed (kept, leaked, or the run died)."""
        return set(self.created) - self.destroyed


def read_ledgers(directory: Path) -> dict[str, RunRecord]:
    """Every run recorded in the ledger files of ``directory``; unreadable lines are skipped, not trusted."""
    runs: dict[str, RunRecord] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for raw in path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
                run = runs.setdefault(str(line["run_id"]), RunRecord(str(line["run_id"])))
                event = line["event"]
                if event == "run-finished":
                    run.finished = True
                elif event == "created":
                    run.created[int(line["vmid"])] = line
                elif event == "destroyed":
                    run.destroyed.add(int(line["vmid"]))
            except (ValueError, KeyError, TypeError):
                continue
    return runs


def ledger_lines(path: Path, sweep_hint: str) -> list[str]:
    """The terminal summary of one run's ledger: guests created and removed, kept, leaked, swept."""
    if not path.exists():
        return []
    events = []
    for raw in path.read_bytes().splitlines():
        try:
            events.append(json.loads(raw))
        except ValueError:
            continue
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
        lines.append(f"remove them later with: {sweep_hint}")
    return lines
