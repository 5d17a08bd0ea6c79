"""Temporary guests: a factory creates VMs or containers inside the reserved VMID range, remembers only
what it created, and removes exactly that again.

Every temporary guest carries a name ``pytest-<run id>-<n>``, the tags ``pytest-proxmox-mpc`` and
``run-<run id>``, and a description with run, creation time and test, so a guest left behind by a run
that died can be told apart from anything else by the sweeper. Nothing here imports pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxmoxer import ResourceException

from ..cluster.tasks import wait_for_task
from ..errors import DestroyFailed, GuestCreateFailed, SafetyViolation, TaskFailed
from ..safety.audit import now_iso
from ..safety.exclusions import ExclusionList
from ..safety.ledger import Ledger, LedgerFile
from .destroy import GuestRef, Timeouts, destroy

PLUGIN_TAG = "pytest-proxmox-mpc"
RUN_TAG_PREFIX = "run-"
KINDS = {"qemu": "VM", "lxc": "container"}
DEFAULTS = {"qemu": {"cores": 1, "memory": 512}, "lxc": {"cores": 1, "memory": 512}}
TAKEN_RETRIES = 50


def run_tag(run_id: str) -> str:
    return RUN_TAG_PREFIX + run_id


@dataclass(frozen=True)
class TempGuest(GuestRef):
    """A temporary guest this run created: vmid, node, type (``qemu`` or ``lxc``) and name."""

    name: str


class VmidAllocator:
    """Hands out VMIDs of the temporary range; xdist worker ``index`` of ``count`` takes every count-th one,
    so workers of one run never race for the same number. Thread-safe."""

    def __init__(self, temp_range: tuple[int, int], index: int = 0, count: int = 1) -> None:
        self.low, self.high = temp_range
        self._first, self._step = self.low + index, max(count, 1)
        self._next = self._first
        self._released: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next VMID of this worker's share (a released one first)."""
        with self._lock:
            if self._released:
                vmid = min(self._released)
                self._released.discard(vmid)
                return vmid
            vmid = self._next
            if vmid > self.high:
                raise GuestCreateFailed(f"the temporary VMID range {self.low}-{self.high} is used up")
            self._next += self._step
            return vmid

    def owns(self, vmid: int) -> bool:
        """True for a VMID of this worker's share of the range (another worker's are never handed out here)."""
        return self.low <= vmid <= self.high and (vmid - self._first) % self._step == 0

    def claim(self, vmid: int) -> bool:
        """Take ``vmid`` itself (a tool asked for it): True if it is this worker's and not handed out yet."""
        with self._lock:
            if not self.owns(vmid):
                return False
            if vmid in self._released:
                self._released.discard(vmid)
                return True
            if vmid < self._next:
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


@dataclass
class FactoryContext:
    """What every factory of a run shares: run id, test, ledger (memory and file), range, pool, exclusions."""

    run_id: str
    allocator: VmidAllocator
    ledger: Ledger
    ledger_file: LedgerFile
    exclusions: ExclusionList
    pool: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Keeps what a guest's identity is derived from the same on replay as when it was recorded.
    remember: Callable[..., Any] = field(default=lambda key, value, sequence=False: value)


class GuestFactory:
    """``factory(node=None, **config)`` creates one temporary guest of ``kind`` and returns a ``TempGuest``
    once its create task ended OK; ``cleanup()`` removes every guest this factory created."""

    def __init__(self, api: Any, kind: str, context: FactoryContext, test: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.api, self.kind, self.context, self.test = api, kind, context, test
        self.created: list[TempGuest] = []

    def __call__(self, node: str | None = None, **config: Any) -> TempGuest:
        ctx = self.context
        # Remembered: an anonymized replay sorts pseudonyms, not node names, and would pick another node.
        node = node or str(ctx.remember("node", self._pick_node(), sequence=True))
        run_id = ctx.remember("run_id", ctx.run_id)
        base = {**DEFAULTS[self.kind], **self._kind_defaults(node, config), **config}  # the same for every try
        for _ in range(TAKEN_RETRIES):
            vmid = int(ctx.remember("vmid", ctx.allocator.take(), sequence=True))
            name = f"pytest-{run_id}-{vmid - ctx.allocator.low}"
            params = {**base, **self._marks(vmid, name, run_id)}
            try:
                upid = self.api.nodes(node)(self.kind).post(**params)
                break
            except ResourceException as exc:
                if "already exists" not in str(exc):  # taken by another client: try the next number
                    raise GuestCreateFailed(f"cannot create {KINDS[self.kind]} {vmid} on {node}: {exc}") from None
        else:
            raise GuestCreateFailed(f"{TAKEN_RETRIES} VMIDs in a row were taken; is the temporary range in use?")
        guest = TempGuest(vmid=vmid, node=node, type=self.kind, name=name)
        # Remembered before the task ends: an interrupted wait still leaves the guest to cleanup().
        self.created.append(guest)
        self._event("created", guest)
        try:
            wait_for_task(self.api, upid, ctx.timeouts.task)
        except TaskFailed as exc:
            self._remove(guest)
            raise GuestCreateFailed(f"creating {KINDS[self.kind]} {vmid} on {node} failed: {exc.exitstatus}") from None
        return guest

    def _marks(self, vmid: int, name: str, run_id: str) -> dict[str, Any]:
        ctx = self.context
        marks: dict[str, Any] = {
            "vmid": vmid, "name" if self.kind == "qemu" else "hostname": name,
            "tags": f"{PLUGIN_TAG};{run_tag(run_id)}",
            "description": f"pytest-proxmox-mpc temporary guest\nrun: {run_id}\ncreated: {now_iso()}\n"
                           f"test: {self.test or '(session)'}",
        }
        if ctx.pool:
            marks["pool"] = ctx.pool
        return marks

    def _pick_node(self) -> str:
        """The first online node (by name) the exclusion list does not protect."""
        nodes = sorted(str(row["node"]) for row in self.api.nodes.get() if row.get("status") == "online")
        usable = [node for node in nodes if not self.context.exclusions.protects(node=node)]
        if not usable:
            raise GuestCreateFailed("no online node outside the exclusion list to create a temporary guest on")
        return usable[0]

    def _storage(self, node: str, content: str) -> str | None:
        rows = self.api.nodes(node).storage.get(content=content, enabled=1)
        names = sorted(row["storage"] for row in rows if not self.context.exclusions.protects(storage=row["storage"]))
        return names[0] if names else None

    def _kind_defaults(self, node: str, config: dict[str, Any]) -> dict[str, Any]:
        """A container needs a template and a root disk: found on unprotected storages unless given."""
        if self.kind != "lxc":
            return {}
        extra: dict[str, Any] = {}
        if "ostemplate" not in config:
            storage = self._storage(node, "vztmpl")
            volumes = self.api.nodes(node).storage(storage).content.get(content="vztmpl") if storage else []
            if not volumes:
                raise GuestCreateFailed(f"no container template on {node}; pass ostemplate=...")
            extra["ostemplate"] = sorted(v["volid"] for v in volumes)[0]
        if "rootfs" not in config:
            storage = self._storage(node, "rootdir")
            if storage is None:
                raise GuestCreateFailed(f"no storage for container disks on {node}; pass rootfs=...")
            extra["rootfs"] = f"{storage}:1"
        return extra

    def _event(self, event: str, guest: TempGuest, **facts: object) -> None:
        self.context.ledger_file.event(event, vmid=guest.vmid, node=guest.node, type=guest.type, name=guest.name,
                                       test=self.test, **facts)

    def _remove(self, guest: TempGuest) -> None:
        ctx = self.context
        destroy(self.api, guest, ctx.timeouts)
        self._event("destroyed", guest)
        ctx.ledger.discard(guest.vmid)
        self.created.remove(guest)

    def remove(self, guest: TempGuest) -> None:
        """Remove ``guest`` now (a lifecycle test's own removal step); only a guest this factory created."""
        if guest not in self.created:
            raise ValueError(f"{guest.type} {guest.vmid} was not created by this factory; it is not removed")
        self._remove(guest)

    def cleanup(self, keep: bool = False) -> list[str]:
        """Remove (or with ``keep``, record as kept) every guest this factory created, newest first.

        Returns one line per guest that could not be removed; those stay in the ledger file as leaked.
        """
        problems: list[str] = []
        for guest in reversed(list(self.created)):
            if keep:
                self._event("kept", guest)
                self.created.remove(guest)
                continue
            try:
                self._remove(guest)
            except (DestroyFailed, SafetyViolation, ResourceException, OSError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._event("leaked", guest, reason=reason)
                self.created.remove(guest)
                problems.append(f"{guest.type} {guest.vmid} on {guest.node}: {reason}")
        return problems
