"""Temporary guests: a factory creates VMs or containers inside the reserved VMID range, remembers only
what it created, and removes exactly that again.

Every temporary guest carries a name ``pytest-<run id>-<n>``, the tags ``pytest-proxmox-mpc`` and
``run-<run id>``, and a description with run, creation time and test, so a guest left behind by a run
that died can be told apart from anything else by the sweeper. Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from proxmoxer import ResourceException

from ..cluster.tasks import pause, wait_for_task
from ..errors import DestroyFailed, GuestCreateFailed, PreconditionMissing, SafetyViolation, TaskFailed, TaskTimeout
from ..safety.audit import now_iso
from ..safety.exclusions import ExclusionList
from ..safety.ledger import Ledger, LedgerFile
from ..safety.nics import TempNetwork, nics
from .allocator import VmidAllocator
from .destroy import GuestRef, Timeouts, destroy
from .liveness import ClusterBeat, alive_tag

PLUGIN_TAG = "pytest-proxmox-mpc"
RUN_TAG_PREFIX = "run-"
KINDS = {"qemu": "VM", "lxc": "container"}
DEFAULTS = {"qemu": {"cores": 1, "memory": 512}, "lxc": {"cores": 1, "memory": 512}}
TAKEN_RETRIES = 50
LOCK_TIMEOUT = "got timeout"  # PVE's word for a lock not got in time ("can't lock file '...' - got timeout")
LOCK_RETRIES = 4  # tries of a create PVE answered with a lock timeout
LOCK_PAUSE = 0.5  # seconds before the first retry (then twice that, ...)


def describe(exc: BaseException) -> str:
    """One line of a failure: PVE's answer, or the connection's trouble (never a URL with a query)."""
    if isinstance(exc, requests.RequestException):
        return f"{type(exc).__name__} ({str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def run_tag(run_id: str) -> str:
    return RUN_TAG_PREFIX + run_id


def run_ids_of(tags: Iterable[str]) -> list[str]:
    """The run ids a guest's ``run-`` tags name (one for a temporary guest)."""
    return [tag[len(RUN_TAG_PREFIX):] for tag in tags if tag.startswith(RUN_TAG_PREFIX)]


def _lacking(key: str, where: str) -> str:
    """The one line of a ``PreconditionMissing`` for a container's ``ostemplate`` or ``rootfs`` lacking ``where``."""
    if key == "ostemplate":
        return (f"no container template (content vztmpl) on {where}: upload one (pveam download <storage> "
                "<template>) or pass ostemplate=...")
    return (f"no storage for container disks (content rootdir) on {where}: allow content rootdir on a storage "
            "there or pass rootfs=<storage>:<size in GiB>")


@dataclass(frozen=True)
class TempGuest(GuestRef):
    """A temporary guest this run created: vmid, node, type (``qemu`` or ``lxc``) and name."""

    name: str


@dataclass
class FactoryContext:
    """What every factory of a run shares: run id, test, ledger (memory and file), range, pool, exclusions."""

    run_id: str
    allocator: VmidAllocator
    ledger: Ledger
    ledger_file: LedgerFile
    exclusions: ExclusionList
    pool: str | None = None
    network: TempNetwork | None = None  # --pve-temp-network: each guest gets a NIC there (None: no NIC)
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Keeps what a guest's identity is derived from the same on replay as when it was recorded; ``recall`` gives
    # what a replay's ``remember`` will return (None when recording), before the value is worked out.
    remember: Callable[..., Any] = field(default=lambda key, value, sequence=False: value)
    recall: Callable[..., Any] = field(default=lambda key, sequence=False: None)
    beat: ClusterBeat | None = None  # renews the alive- tag of the guests made, on a live cluster
    clock: Callable[[], float] = time.time


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
        needs: dict[str, dict[str, Any] | str] = {}  # what each node looked at gives a container (or lacks)
        # Remembered: an anonymized replay sorts pseudonyms, not node names, and would pick another node. A replay
        # takes the kept node without looking: what looking asks for on other nodes is not in the cassette.
        node = node or str(ctx.remember("node", ctx.recall("node", sequence=True) or self._pick_node(config, needs),
                                        sequence=True))
        run_id = ctx.remember("run_id", ctx.run_id)
        base = {**DEFAULTS[self.kind], **self._kind_defaults(node, config, needs), **config}  # the same every try
        if ctx.network is not None and not any(nics(config)):
            base["net0"] = ctx.network.nic(self.kind)  # on the isolated network; a NIC given is judged by the policy
        for _ in range(TAKEN_RETRIES):
            vmid = int(ctx.remember("vmid", ctx.allocator.take(), sequence=True))
            name = f"pytest-{run_id}-{vmid - ctx.allocator.low}"
            marked = ctx.clock()
            params = {**base, **self._marks(vmid, name, run_id, marked)}
            try:
                upid = self._post(node, params)
                break
            except ResourceException as exc:
                if "already exists" not in str(exc):  # taken by another client: try the next number
                    raise GuestCreateFailed(f"cannot create {KINDS[self.kind]} {vmid} on {node}: {exc}") from None
            except requests.RequestException as exc:  # the answer was lost: whether the cluster made it is unknown
                raise GuestCreateFailed(
                    f"cannot create {KINDS[self.kind]} {vmid} on {node}: {describe(exc)}; if the cluster made it "
                    f"anyway, it carries this run's tags ({run_tag(run_id)}) and the sweeper removes it") from None
        else:
            raise PreconditionMissing(f"{TAKEN_RETRIES} VMIDs in a row of the temporary range {ctx.allocator.low}-"
                                      f"{ctx.allocator.high} are taken on the cluster: free some of them or "
                                      "give another range (--pve-temp-vmid-range FIRST-LAST)")
        guest = TempGuest(vmid=vmid, node=node, type=self.kind, name=name)
        # Remembered before the task ends: an interrupted wait still leaves the guest to cleanup().
        self.created.append(guest)
        self._event("created", guest)
        if ctx.beat is not None:
            ctx.beat.track(guest, marked)
        try:
            wait_for_task(self.api, upid, ctx.timeouts.task)
        except (TaskFailed, TaskTimeout, ResourceException, requests.RequestException) as exc:
            why = exc.exitstatus if isinstance(exc, TaskFailed) else describe(exc)
            with contextlib.suppress(DestroyFailed, SafetyViolation, ResourceException, requests.RequestException):
                self._remove(guest)  # what cannot be removed now stays in ``created``: ``cleanup()`` removes it
            raise GuestCreateFailed(f"creating {KINDS[self.kind]} {vmid} on {node} failed: {why}") from None
        return guest

    def _post(self, node: str, params: dict[str, Any]) -> Any:
        """The create's POST, sent again (``LOCK_RETRIES`` times at most, after a growing pause) while PVE answers
        that a lock was not got in time: such a request did nothing, and PVE says to try again."""
        for attempt in range(LOCK_RETRIES - 1):
            try:
                return self.api.nodes(node)(self.kind).post(**params)
            except ResourceException as exc:
                if LOCK_TIMEOUT not in str(exc):
                    raise
            pause(LOCK_PAUSE * (attempt + 1))
        return self.api.nodes(node)(self.kind).post(**params)

    def _marks(self, vmid: int, name: str, run_id: str, now: float) -> dict[str, Any]:
        ctx = self.context
        marks: dict[str, Any] = {
            "vmid": vmid, "name" if self.kind == "qemu" else "hostname": name,
            "tags": f"{PLUGIN_TAG};{run_tag(run_id)};{alive_tag(now)}",
            "description": f"pytest-proxmox-mpc temporary guest\nrun: {run_id}\ncreated: {now_iso()}\n"
                           f"test: {self.test or '(session)'}",
        }
        if ctx.pool:
            marks["pool"] = ctx.pool
        return marks

    def _pick_node(self, config: dict[str, Any], needs: dict[str, dict[str, Any] | str]) -> str:
        """The first online node (by name) the exclusion list does not protect; for a container, the first of
        them with what it needs and was not given (a template, storage for its disk), found into ``needs``."""
        online = sorted(str(row["node"]) for row in self.api.nodes.get() if row.get("status") == "online")
        usable = [node for node in online if not self.context.exclusions.protects(node=node)]
        if not usable:
            raise PreconditionMissing(f"no online node outside the exclusion list to create a temporary "
                                      f"{KINDS[self.kind]} on (online: {', '.join(online) or 'none'}): bring one "
                                      "online or take one off the exclusion list")
        if self.kind != "lxc":
            return usable[0]
        for node in usable:
            needs[node] = self._container_needs(node, config)
            if not isinstance(needs[node], str):
                return node
        everywhere = f"any online node outside the exclusion list ({', '.join(usable)})"
        with_template = [node for node, found in needs.items() if found == "rootfs"]
        if not with_template:
            raise PreconditionMissing(_lacking("ostemplate", everywhere))
        raise PreconditionMissing(_lacking("rootfs", everywhere if "ostemplate" in config else
                                           f"the nodes with a container template ({', '.join(with_template)})"))

    def _storages(self, node: str, content: str) -> list[str]:
        """The unprotected storages enabled and active on ``node`` for ``content``, by name."""
        rows = self.api.nodes(node).storage.get(content=content, enabled=1)
        return sorted(str(row["storage"]) for row in rows if row.get("active", 1)
                      and not self.context.exclusions.protects(storage=row["storage"]))

    def _container_needs(self, node: str, config: dict[str, Any]) -> dict[str, Any] | str:
        """The template and root disk a container on ``node`` gets where ``config`` names none (found on
        unprotected storages), or the key of the first that ``node`` lacks (``ostemplate`` or ``rootfs``)."""
        extra: dict[str, Any] = {}
        if "ostemplate" not in config:
            for storage in self._storages(node, "vztmpl"):
                volumes = self.api.nodes(node).storage(storage).content.get(content="vztmpl")
                if volumes:
                    extra["ostemplate"] = sorted(str(v["volid"]) for v in volumes)[0]
                    break
            else:
                return "ostemplate"
        if "rootfs" not in config:
            storages = self._storages(node, "rootdir")
            if not storages:
                return "rootfs"
            extra["rootfs"] = f"{storages[0]}:1"
        return extra

    def _kind_defaults(self, node: str, config: dict[str, Any], needs: dict[str, dict[str, Any] | str]
                       ) -> dict[str, Any]:
        """A container needs a template and a root disk: found on unprotected storages unless given (``needs``
        holds what the pick of the node found already)."""
        if self.kind != "lxc":
            return {}
        found = needs[node] if node in needs else self._container_needs(node, config)
        if isinstance(found, str):
            raise PreconditionMissing(_lacking(found, f"node {node}"))
        return found

    def _event(self, event: str, guest: TempGuest, **facts: object) -> None:
        self.context.ledger_file.event(event, vmid=guest.vmid, node=guest.node, type=guest.type, name=guest.name,
                                       test=self.test, **facts)

    def _forget(self, guest: TempGuest) -> None:
        """``guest`` is no longer this factory's to keep alive (removed, kept, or left)."""
        self.created.remove(guest)
        if self.context.beat is not None:
            self.context.beat.untrack(guest.vmid)

    def _remove(self, guest: TempGuest) -> None:
        ctx = self.context
        destroy(self.api, guest, ctx.timeouts)
        self._event("destroyed", guest)
        ctx.ledger.discard(guest.vmid)
        self._forget(guest)

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
                self._forget(guest)
                continue
            try:
                self._remove(guest)
            except (DestroyFailed, SafetyViolation, ResourceException, OSError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._event("leaked", guest, reason=reason)
                self._forget(guest)
                problems.append(f"{guest.type} {guest.vmid} on {guest.node}: {reason}")
        return problems
