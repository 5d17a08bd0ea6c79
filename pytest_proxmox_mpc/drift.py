"""Unintended changes: what differs between two inventories that the run's ledger does not explain.

A guest that appeared or vanished, a guest whose config digest, status, node, name or template flag
changed, a storage added, removed or reconfigured, a pool added, removed or with other members: each is
one ``Change``. Guests in the ledger (created by this run) are the run's own business and never count.
Usage figures (CPU, memory, bytes used) change all the time and are not compared. Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from .inventory import GuestInfo, Inventory

GUEST_FIELDS = ("status", "node", "name", "template", "digest")


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` (guest, storage, pool), its id, what changed, and the values before and after."""

    kind: str
    id: str
    what: str
    before: Any = None
    after: Any = None

    def line(self) -> str:
        """``guest 105: status running -> stopped`` / ``guest 190: appeared (stopped on pve2)``"""
        if self.what in ("appeared", "vanished"):
            detail = self.after if self.what == "appeared" else self.before
            return f"{self.kind} {self.id}: {self.what}" + (f" ({detail})" if detail else "")
        return f"{self.kind} {self.id}: {self.what} {self.before!r} -> {self.after!r}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "what": self.what, "before": _plain(self.before),
                "after": _plain(self.after), "line": self.line()}


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def _where(guest: GuestInfo) -> str:
    return f"{guest.kind} {guest.name or '(no name)'}, {guest.status} on {guest.node}"


def unintended_changes(before: Inventory, after: Inventory, intended: Container[int] = ()) -> list[Change]:
    """Every change from ``before`` to ``after`` not explained by the vmids in ``intended`` (the ledger)."""
    changes = _guest_changes(before.guests, after.guests, intended)
    changes += _keyed_changes("storage", {k: v.config_view() for k, v in before.storages.items()},
                              {k: v.config_view() for k, v in after.storages.items()}, "configuration")
    for poolid in sorted(set(before.pools) | set(after.pools)):
        old, new = before.pools.get(poolid), after.pools.get(poolid)
        if old is None or new is None:
            changes.append(Change("pool", poolid, "appeared" if old is None else "vanished"))
            continue
        old_guests = {vmid for vmid in old.guests if vmid not in intended}
        new_guests = {vmid for vmid in new.guests if vmid not in intended}
        if old_guests != new_guests:
            changes.append(Change("pool", poolid, "guests", sorted(old_guests), sorted(new_guests)))
        if old.storages != new.storages:
            changes.append(Change("pool", poolid, "storages", sorted(old.storages), sorted(new.storages)))
        if old.comment != new.comment:
            changes.append(Change("pool", poolid, "comment", old.comment, new.comment))
    return changes


def _guest_changes(before: Mapping[int, GuestInfo], after: Mapping[int, GuestInfo],
                   intended: Container[int]) -> list[Change]:
    changes = []
    for vmid in sorted(set(before) | set(after)):
        if vmid in intended:
            continue
        old, new = before.get(vmid), after.get(vmid)
        if old is None or new is None:
            changes.append(Change("guest", str(vmid), "appeared" if old is None else "vanished",
                                  before=_where(old) if old else None, after=_where(new) if new else None))
            continue
        for name in GUEST_FIELDS:
            was, now = getattr(old, name), getattr(new, name)
            if name == "digest" and (was is None or now is None):  # not read (node offline): unknown, not changed
                continue
            if was != now:
                changes.append(Change("guest", str(vmid), "config digest" if name == "digest" else name, was, now))
    return changes


def _keyed_changes(kind: str, before: Mapping[str, Any], after: Mapping[str, Any], what: str) -> list[Change]:
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append(Change(kind, key, "appeared"))
        elif key not in after:
            changes.append(Change(kind, key, "vanished"))
        elif before[key] != after[key]:
            changes.append(Change(kind, key, what, before[key], after[key]))
    return changes
