"""A run's liveness on the cluster, where every sweeper sees it (another machine, another checkout): each
temporary guest of a running run carries a tag ``alive-<unix seconds>``, set when it is created and renewed
every ``BEAT_S`` seconds while the run lives. A sweeper takes a run's newest such tag, or its start, as its last
sign of life, and leaves its guests alone until that is older than the sweep age (at least five minutes, five
beats). Nothing here imports pytest.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..files.heartbeat import Heartbeat
from ..files.vmidclaims import VmidClaims
from .destroy import GuestRef

SOURCE = "beat"  # the audit lines of renewals: the run's, whichever test (of any phase) is running meanwhile
ALIVE_PREFIX = "alive-"
BEAT_S = 60.0  # how often a running run renews the tag of each of its guests
_ALIVE = re.compile(rf"^{ALIVE_PREFIX}(\d{{9,11}})$")
_SEPARATORS = re.compile(r"[;,\s]+")  # PVE takes tags apart at any of these


def alive_tag(now: float) -> str:
    return f"{ALIVE_PREFIX}{int(now)}"


def last_alive(tags: Iterable[str]) -> float | None:
    """The newest time an ``alive-`` tag among ``tags`` tells, or None."""
    times = [float(match[1]) for tag in tags if (match := _ALIVE.match(tag))]
    return max(times) if times else None


def renewed(tags: str, now: float) -> str:
    """``tags`` (PVE's ``;``-separated string) with every ``alive-`` tag replaced by one for ``now``."""
    kept = [tag for tag in _SEPARATORS.split(tags or "") if tag and not _ALIVE.match(tag)]
    return ";".join([*kept, alive_tag(now)])


class ClusterBeat:
    """Renews the ``alive-`` tag of the guests it tracks through ``client`` (a policed client whose ledger holds
    them, so a write to anything else is refused) in a daemon thread. A renewal that fails (the guest is locked
    by a task, being removed, or gone) is tried again at the next beat; it never fails a test."""

    def __init__(self, client: Any, period: float = BEAT_S, clock: Callable[[], float] = time.time) -> None:
        self.client, self.period, self.clock = client, period, clock
        self._marked: dict[int, tuple[GuestRef, float]] = {}  # vmid: the guest, when its tag was last set
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def track(self, guest: GuestRef, marked: float) -> None:
        """``guest`` was created with an ``alive-`` tag for ``marked``: renew it from now on."""
        with self._lock:
            self._marked[guest.vmid] = (guest, marked)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pytest-proxmox-mpc-cluster-beat", daemon=True)
            self._thread.start()

    def untrack(self, vmid: int) -> None:
        with self._lock:
            self._marked.pop(vmid, None)

    def tracked(self) -> list[int]:
        with self._lock:
            return sorted(self._marked)

    def renew(self) -> int:
        """Renew the tag of every tracked guest whose mark is a beat old; returns how many were renewed."""
        now = self.clock()
        with self._lock:
            due = [guest for guest, marked in self._marked.values() if now - marked >= self.period]
        done = 0
        for guest in due:
            config = self.client.nodes(guest.node)(guest.type)(guest.vmid).config
            try:
                current = config.get()
                digest = {"digest": current["digest"]} if current.get("digest") else {}  # a change between: refused
                config.put(tags=renewed(str(current.get("tags", "")), now), **digest)
            except Exception:  # a beat never fails the run: it is tried again at the next one
                continue
            with self._lock:
                if guest.vmid in self._marked:
                    self._marked[guest.vmid] = (guest, now)
            done += 1
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.period / 4):
            self.renew()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def end_presence(beat: ClusterBeat | None, heartbeat: Heartbeat | None, claims: VmidClaims | None) -> None:
    """A run (or session) ends: no more renewals, no more heartbeat, its VMID claims given back."""
    if beat is not None:
        beat.stop()
    if heartbeat is not None:
        heartbeat.stop()
    if claims is not None:
        claims.release_all()
