"""Where a run keeps its files: one state directory at the rootdir, one file of each kind per run id."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR = ".pytest_proxmox_mpc"


@dataclass(frozen=True)
class RunFiles:
    """The files of run ``run_id`` below ``rootdir/.pytest_proxmox_mpc``; ``audit_log`` overrides the audit path."""

    rootdir: Path
    run_id: str
    audit_log: Path | None = None

    @property
    def state_dir(self) -> Path:
        return self.rootdir / STATE_DIR

    @property
    def audit(self) -> Path:
        """The JSONL audit trail all workers of the run append to."""
        return self.audit_log or self.state_dir / "audit" / f"{self.run_id}.jsonl"

    @property
    def ledger_dir(self) -> Path:
        """Where every run's ledger file lies, so the sweeper finds earlier runs."""
        return self.state_dir / "ledger"

    @property
    def ledger(self) -> Path:
        """The ledger of this run: every temporary guest created, destroyed or kept."""
        return self.ledger_dir / f"{self.run_id}.jsonl"

    def worker_file(self, kind: str, worker: str) -> Path:
        """The file of ``kind`` (incidents, watch) one worker of this run writes."""
        return self.state_dir / kind / f"{self.run_id}.{worker}.json"

    def worker_files(self, kind: str) -> list[Path]:
        """Every file of ``kind`` of this run, from any worker."""
        return sorted((self.state_dir / kind).glob(f"{self.run_id}.*.json"))

    def write_worker_file(self, kind: str, worker: str, data: Any) -> Path:
        """Write ``data`` as the worker's JSON file of ``kind``, atomically (the controller may be reading it)."""
        path = self.worker_file(kind, worker)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        partial.replace(path)
        return path

    def heartbeat(self, worker: str) -> Path:
        """The heartbeat file of one process of the run (``<run id>.<worker>.alive`` beside the ledgers)."""
        return self.ledger_dir / f"{self.run_id}.{worker}.alive"

    def incident(self, worker: str) -> Path:
        """The incident file a worker writes when it aborts the run."""
        return self.worker_file("incidents", worker)

    def incidents(self) -> list[Path]:
        """Every incident file of this run, from any worker."""
        return self.worker_files("incidents")


def read_json_files(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The JSON objects in ``paths`` (workers' watch or workspace files); one that cannot be read is skipped."""
    out = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append(data)
    return out
