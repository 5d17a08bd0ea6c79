"""Where a run keeps its files: one state directory at the rootdir, one file of each kind per run id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    def incident(self, worker: str) -> Path:
        """The incident file a worker writes when it aborts the run."""
        return self.worker_file("incidents", worker)

    def incidents(self) -> list[Path]:
        """Every incident file of this run, from any worker."""
        return self.worker_files("incidents")

    def watch(self, worker: str) -> Path:
        """What a worker saw of the cluster: gate results, snapshots, unintended changes."""
        return self.worker_file("watch", worker)
