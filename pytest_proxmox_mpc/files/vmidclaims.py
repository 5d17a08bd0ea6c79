"""VMIDs claimed on this machine, per cluster: runs from any checkout of this user never hand out the same VMID.

PVE's ``/cluster/nextid`` and a free-looking VMID are only true until someone creates it: two runs started
together both saw 990000 free, and the second tool's create failed. Before a VMID is handed out (to a factory
or a tool through the proxy), it is claimed here: one small file per VMID, written under a lock, naming the run
and the process. A claim whose process is gone (a killed run) is taken over; a stopped one (Ctrl-Z) still holds.
Claims end with the process that made them (``release_all``). Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .heartbeat import still_there, this_process
from .lock import exclusively

SUFFIX = ".claim"


def claims_dir(netloc: str, environ: dict[str, str] | None = None) -> Path:
    """Where claims on the cluster at ``netloc`` (host:port) lie: in the user's cache (``$XDG_CACHE_HOME``)."""
    env = os.environ if environ is None else environ
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pytest-proxmox-mpc" / "vmid-claims" / re.sub(r"[^A-Za-z0-9_.-]+", "_", netloc)


class VmidClaims:
    """The claims of run ``run_id`` (this process) in ``directory``."""

    def __init__(self, directory: Path, run_id: str) -> None:
        self.directory, self.run_id = directory, run_id
        self._me = {"run": run_id, **this_process()}

    def _path(self, vmid: int) -> Path:
        return self.directory / f"{vmid}{SUFFIX}"

    def _holder(self, path: Path) -> dict[str, object] | None:
        """Who holds the claim at ``path`` if it is still held (its process exists, or lives on another host)."""
        try:
            held = json.loads(path.read_text(encoding="utf-8"))
            pid = int(held["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none, or cut short by a killed writer: free
        if still_there(str(held.get("host")), pid) is False:
            return None
        return dict(held)

    def _mine(self, holder: dict[str, object] | None) -> bool:
        return holder is not None and holder.get("pid") == self._me["pid"] and holder.get("run") == self.run_id

    def claim(self, vmid: int) -> bool:
        """Claim ``vmid`` for this run: False when another run (or another process of this run) holds it."""
        path = self._path(vmid)
        with exclusively(self.directory / ".lock"):
            holder = self._holder(path)
            if holder is not None:
                return self._mine(holder)
            path.write_text(json.dumps(self._me), encoding="utf-8")
            return True

    def release(self, vmid: int) -> None:
        """Give ``vmid`` back, if this process holds it."""
        with exclusively(self.directory / ".lock"):
            if self._mine(self._holder(self._path(vmid))):
                self._path(vmid).unlink(missing_ok=True)

    def release_all(self) -> None:
        """Give back every VMID this process holds (the run ends)."""
        if not self.directory.is_dir():
            return
        with exclusively(self.directory / ".lock"):
            for path in self.directory.glob(f"*{SUFFIX}"):
                if self._mine(self._holder(path)):
                    path.unlink(missing_ok=True)

    def held_by_others(self) -> dict[int, str]:
        """By VMID: the run id of every other run that holds a claim now."""
        held: dict[int, str] = {}
        for path in sorted(self.directory.glob(f"*{SUFFIX}")) if self.directory.is_dir() else []:
            holder = self._holder(path)
            stem = path.name[: -len(SUFFIX)]
            if holder is not None and stem.isdigit() and holder.get("run") != self.run_id:
                held[int(stem)] = str(holder.get("run"))
        return held
