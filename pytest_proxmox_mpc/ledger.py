"""The ledger: the guests this run created, the only guests a phase 3/4 write may touch.

The guard adds a vmid when the cluster has accepted a create (or clone) the policy allowed: PVE checks
that the vmid is unused before it answers 200, so a vmid enters the ledger only when this run owns it.
Nothing here imports pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator


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
