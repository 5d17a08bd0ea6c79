"""VMIDs of the temporary range for the factories and the safety proxy's tools: each xdist worker takes its own
share, and with claims (a live cluster) no two runs of this machine get the same number. Nothing here imports
pytest."""

from __future__ import annotations

import threading

from ..errors import PreconditionMissing
from ..files.vmidclaims import VmidClaims


class VmidAllocator:
    """Hands out VMIDs of the temporary range; xdist worker ``index`` of ``count`` takes every count-th one,
    so workers of one run never race for the same number; with ``claims``, a VMID another run on this machine
    holds is passed over (and one handed out here is claimed for this run). Thread-safe."""

    def __init__(self, temp_range: tuple[int, int], index: int = 0, count: int = 1,
                 claims: VmidClaims | None = None) -> None:
        self.low, self.high = temp_range
        self._first, self._step = self.low + index, max(count, 1)
        self._next = self._first
        self._released: set[int] = set()
        self._passed: set[int] = set()  # passed over while another run held them: a tool may still ask for one
        self._lock = threading.Lock()
        self.claims = claims

    def take(self) -> int:
        """The next VMID of this worker's share (a released one first) that no other run holds."""
        with self._lock:
            while True:
                if self._released:
                    vmid = min(self._released)
                    self._released.discard(vmid)
                else:
                    vmid = self._next
                    if vmid > self.high:
                        raise PreconditionMissing(f"the temporary VMID range {self.low}-{self.high} is used up: "
                                                  "give a wider one (--pve-temp-vmid-range FIRST-LAST)")
                    self._next += self._step
                if self.claims is None or self.claims.claim(vmid):
                    return vmid
                self._passed.add(vmid)

    def owns(self, vmid: int) -> bool:
        """True for a VMID of this worker's share of the range (another worker's are never handed out here)."""
        return self.low <= vmid <= self.high and (vmid - self._first) % self._step == 0

    def claim(self, vmid: int) -> bool:
        """Take ``vmid`` itself (a tool asked for it): True if it is this worker's, not handed out yet, and no
        other run holds it."""
        with self._lock:
            if not self.owns(vmid):
                return False
            if vmid in self._released or vmid in self._passed:
                if self.claims is not None and not self.claims.claim(vmid):
                    return False
                self._released.discard(vmid)
                self._passed.discard(vmid)
                return True
            if vmid < self._next or (self.claims is not None and not self.claims.claim(vmid)):
                return False
            for skipped in range(self._next, vmid, self._step):  # the numbers passed over stay available
                self._released.add(skipped)
            self._next = vmid + self._step
            return True

    def release(self, vmid: int) -> None:
        """Give back a VMID that was handed out and never used."""
        with self._lock:
            if self.owns(vmid) and vmid < self._next:
                self._released.add(vmid)
                if self.claims is not None:
                    self.claims.release(vmid)
