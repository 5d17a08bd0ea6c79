"""Removing a temporary guest for good: stop it, delete it with its disks, and confirm it is gone.

Shared by the factories' teardown and the sweeper. Every request goes through the caller's policed
client, so only a guest in the run's ledger can be stopped or deleted. Nothing here imports pytest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from proxmoxer import ResourceException

from ..cluster.tasks import pause, wait_for_task
from ..errors import DestroyFailed, SafetyViolation, TaskFailed, TaskTimeout

LOCK_WORDS = ("locked", "lock", "got timeout")


@dataclass(frozen=True)
class GuestRef:
    """Where a guest is: vmid, node and type (``qemu`` or ``lxc``)."""

    vmid: int
    node: str
    type: str


@dataclass(frozen=True)
class Timeouts:
    """How long teardown waits: the guest's own shutdown, each task, and the whole removal (lock retries)."""

    shutdown: float = 30.0
    task: float = 120.0
    total: float = 300.0


def _is_lock_error(exc: BaseException) -> bool:
    text = str(getattr(exc, "exitstatus", "") or exc).lower()
    return any(word in text for word in LOCK_WORDS)


def exists(api: Any, guest: GuestRef) -> bool:
    """True while the node lists the guest."""
    return any(int(row.get("vmid", -1)) == guest.vmid for row in api.nodes(guest.node)(guest.type).get())


def _stop(api: Any, guest: GuestRef, timeouts: Timeouts) -> None:
    base = api.nodes(guest.node)(guest.type)(guest.vmid).status
    if base.current.get().get("status") != "running":
        return
    try:  # a clean shutdown first, so the guest's disks are consistent; forceStop ends it after the timeout
        wait_for_task(api, base.shutdown.post(timeout=int(timeouts.shutdown), forceStop=1),
                      timeouts.shutdown + timeouts.task)
    except (TaskFailed, TaskTimeout, ResourceException):
        wait_for_task(api, base.stop.post(), timeouts.task)


def destroy(api: Any, guest: GuestRef, timeouts: Timeouts = Timeouts()) -> None:
    """Stop and delete ``guest`` (``purge=1``, ``destroy-unreferenced-disks=1``) and confirm it is gone.

    Lock errors (a backup, a snapshot, another task) are retried with backoff until ``timeouts.total``;
    a refused request (``SafetyViolation``) is never retried. Raises ``DestroyFailed`` otherwise.
    """
    deadline = time.monotonic() + timeouts.total
    wait = 0.1
    while True:
        try:
            if not exists(api, guest):
                return
            _stop(api, guest, timeouts)
            upid = api.nodes(guest.node)(guest.type)(guest.vmid).delete(**{"purge": 1, "destroy-unreferenced-disks": 1})
            wait_for_task(api, upid, timeouts.task)
            if exists(api, guest):
                raise DestroyFailed(f"{guest.type} {guest.vmid} on {guest.node} is still there after its delete task")
            return
        except SafetyViolation:
            raise
        except (ResourceException, TaskFailed, TaskTimeout) as exc:
            if not _is_lock_error(exc) or time.monotonic() + wait > deadline:
                raise DestroyFailed(f"cannot remove {guest.type} {guest.vmid} on {guest.node}: {exc}") from None
        pause(wait)
        wait = min(wait * 2, 5.0)
