"""The guests tools create through a safety proxy: where their VMIDs come from, and that none outlives the run.

A tool that asks ``GET /cluster/nextid`` (Terraform providers and Ansible modules do) gets the next VMID of
this worker's share of the temporary range that is free on the cluster, so its create lands where the policy
lets it. ``?vmid=N`` is answered N only for a free VMID of that share, and as PVE answers a taken id for any
other. A VMID handed out (or reserved with ``reserve``) and never used is released when the test ends; a
guest a tool created (the guard tells of each accepted create) joins the ledger file with ``"source":
"proxy"`` and, when the test ends, is removed unless the tool removed it, by the same path as ``temp_vm``'s
teardown. Nothing here imports pytest.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DestroyFailed, GuestCreateFailed, SafetyViolation, TaskFailed
from ..guests.allocator import VmidAllocator
from ..guests.destroy import GuestRef, Timeouts, destroy
from ..safety.ledger import Ledger, LedgerFile
from ..safety.policy import ApiRequest

SOURCE = "proxy"  # the ledger's mark of a guest a tool created through the proxy
FREE_TRIES = 200  # VMIDs looked at for a free one before the range counts as full
_GUEST_PATH = re.compile(r"^/nodes/(?P<node>[^/]+)/(?P<kind>qemu|lxc)(?:/\d+/clone)?$")


@dataclass(frozen=True)
class ToolGuest:
    """A guest a tool created: where, what, its name, and the test that was running."""

    vmid: int
    node: str
    type: str
    name: str | None
    test: str | None

    @property
    def ref(self) -> GuestRef:
        return GuestRef(self.vmid, self.node, self.type)


@dataclass
class ToolGuestCounts:
    """Per test: guests tools created, removed by the tool, removed by the plugin, left (which must be 0)."""

    created: int = 0
    removed_by_tool: int = 0
    removed_by_plugin: int = 0
    left: int = 0
    problems: list[str] = field(default_factory=list)


class ToolGuests:
    """The VMIDs handed to tools and the guests they made. ``is_free(vmid)`` asks the cluster (through the guard);
    ``current_test()`` names the running test; ``remember`` keeps a handed-out VMID in the cassette."""

    def __init__(self, allocator: VmidAllocator, ledger: Ledger, ledger_file: LedgerFile,
                 current_test: Callable[[], str | None],
                 remember: Callable[..., Any] = lambda key, value, sequence=False: value,
                 is_free: Callable[[int], bool] = lambda vmid: True) -> None:
        self.allocator, self.ledger, self.ledger_file, self.is_free = allocator, ledger, ledger_file, is_free
        self.current_test, self.remember = current_test, remember
        self._reserved: dict[int, str | None] = {}  # handed out, not created yet: the test it was for
        self._made: dict[int, ToolGuest] = {}  # created, not settled yet
        self._lock = threading.Lock()

    def next_free(self) -> int:
        """The next free VMID of this worker's share, reserved for the running test."""
        for _ in range(FREE_TRIES):
            vmid = int(self.remember("proxy-nextid", self.allocator.take(), sequence=True))
            if self.is_free(vmid):
                return self._reserve(vmid)
        raise GuestCreateFailed(f"{FREE_TRIES} VMIDs of the temporary range in a row are taken on the cluster")

    def handed_out(self) -> frozenset[int]:
        """The VMIDs handed to tools and not released yet (reserved, or created and not settled)."""
        with self._lock:
            return frozenset(self._reserved) | frozenset(self._made)

    def claim(self, vmid: int) -> bool:
        """``vmid`` for the running test, if it is this worker's, not handed out, and free on the cluster."""
        if vmid in self._reserved and self._reserved[vmid] == self.current_test():
            return True
        if not self.allocator.claim(vmid):
            return False
        if not self.is_free(vmid):
            return False
        self._reserve(vmid)
        return True

    def _reserve(self, vmid: int) -> int:
        with self._lock:
            self._reserved[vmid] = self.current_test()
        return vmid

    def created(self, request: ApiRequest, vmid: int) -> None:
        """The guard's word that the cluster accepted a create (or clone) of ``vmid``."""
        match = _GUEST_PATH.match(request.path or "")
        node = request.params.get("target") or (match["node"] if match else "?")
        kind = match["kind"] if match else "qemu"
        name = request.params.get("name") or request.params.get("hostname")
        guest = ToolGuest(vmid, node, kind, name, self.current_test())
        with self._lock:
            self._reserved.pop(vmid, None)
            before = self._made.get(vmid)
            self._made[vmid] = guest
        if before is not None:  # the cluster took a create of its VMID again: the tool removed the one it made
            self._event("destroyed", before, by="tool")
        self._event("created", guest)

    def finish(self, test: str | None, readonly: Any, client: Any, timeouts: Timeouts,
               everything: bool = False) -> ToolGuestCounts:
        """End of ``test`` (``everything``: of the proxy): release its unused VMIDs; remove each guest a tool made
        in it and left through ``client`` (a policed client with the run's ledger), as ``temp_vm``'s teardown
        does; ``readonly`` tells which of them are still on the cluster."""
        with self._lock:
            for vmid in [v for v, owner in self._reserved.items() if everything or owner == test]:
                del self._reserved[vmid]
                self.allocator.release(vmid)
            mine = [g for g in self._made.values() if everything or g.test == test]
            for guest in mine:
                del self._made[guest.vmid]
        counts = ToolGuestCounts(created=len(mine))
        present = cluster_vmids(readonly) if mine else set()
        for guest in mine:
            if guest.vmid not in present:
                counts.removed_by_tool += 1
                self._event("destroyed", guest, by="tool")
                self.ledger.discard(guest.vmid)  # the number is no longer this run's: no write may follow it
                continue
            try:
                destroy(client, guest.ref, timeouts)
            except (DestroyFailed, SafetyViolation, TaskFailed, OSError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                counts.left += 1
                counts.problems.append(f"{guest.type} {guest.vmid} on {guest.node}: {reason}")
                self._event("leaked", guest, reason=reason)
            else:
                counts.removed_by_plugin += 1
                self._event("destroyed", guest, by="plugin")
                self.ledger.discard(guest.vmid)
        return counts

    def _event(self, event: str, guest: ToolGuest, **facts: object) -> None:
        self.ledger_file.event(event, vmid=guest.vmid, node=guest.node, type=guest.type, name=guest.name,
                               test=guest.test, source=SOURCE, **facts)


def cluster_vmids(readonly: Any) -> set[int]:
    """The VMIDs of every guest on the cluster now (one request)."""
    return {int(row["vmid"]) for row in readonly.cluster.resources.get(type="vm") if "vmid" in row}


def counts_by_test(events: Iterable[Mapping[str, Any]]) -> dict[str, ToolGuestCounts]:
    """From a run's ledger events: per test (``(session)`` outside any), the guests tools created through the
    proxy, removed by the tool, removed by the plugin, and left."""
    counts: dict[str, ToolGuestCounts] = {}
    for event in events:
        if event.get("source") != SOURCE:
            continue
        one = counts.setdefault(str(event.get("test") or "(session)"), ToolGuestCounts())
        kind = event.get("event")
        if kind == "created":
            one.created += 1
        elif kind == "destroyed" and event.get("by") == "tool":
            one.removed_by_tool += 1
        elif kind == "destroyed":
            one.removed_by_plugin += 1
        elif kind == "leaked":
            one.left += 1
    return counts


def summary_line(counts: Mapping[str, ToolGuestCounts]) -> str | None:
    """``tool guests through the safety proxy: N created, A removed by the tool, B by the plugin, C left``;
    None when no tool created a guest."""
    if not counts:
        return None
    total = ToolGuestCounts()
    for one in counts.values():
        total.created += one.created
        total.removed_by_tool += one.removed_by_tool
        total.removed_by_plugin += one.removed_by_plugin
        total.left += one.left
    return (f"tool guests through the safety proxy: {total.created} created, {total.removed_by_tool} removed by "
            f"the tool, {total.removed_by_plugin} removed by the plugin, {total.left} left")
