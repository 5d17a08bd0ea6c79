"""Unintended changes: what differs between two inventories that the run's ledger does not explain.

A guest that appeared or vanished, a guest whose config digest, status, node, name or template flag
changed, a storage added, removed or reconfigured, a pool added, removed or with other members: each is
one ``Change``. Guests in the ledger (created by this run) are the run's own business and never count.
Usage figures (CPU, memory, bytes used) change all the time and are not compared. Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..model.inventory import GuestInfo, Inventory, PoolInfo

GUEST_FIELDS = ("status", "node", "name", "template", "digest")
TESTS_SHOWN = 5  # tests named in a change's line; the report's data holds them all


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` (guest, storage, pool), its id, what changed, and the values before and after."""

    kind: str
    id: str
    what: str
    before: Any = None
    after: Any = None
    keys: tuple[str, ...] = ()  # a config change: the keys whose values differ between the snapshots
    protected: bool | None = None  # a guest: whether the exclusion list protects it (None: not known)
    tests: tuple[str, ...] = ()  # the tests that ran between the two snapshots

    def line(self) -> str:
        """``guest 105: status running -> stopped`` / ``guest 190: appeared (stopped on pve2)``, then what is
        known of it: the config keys that differ, whether it is protected, the tests that could have done it."""
        if self.what in ("appeared", "vanished"):
            detail = self.after if self.what == "appeared" else self.before
            text = f"{self.kind} {self.id}: {self.what}" + (f" ({detail})" if detail else "")
        else:
            text = f"{self.kind} {self.id}: {self.what} {self.before!r} -> {self.after!r}"
        facts = [f"keys changed: {', '.join(self.keys)}"] if self.keys else []
        if self.protected is not None:
            facts.append("protected by the exclusion list" if self.protected else "not protected")
        if self.tests:
            more = len(self.tests) - TESTS_SHOWN
            named = ", ".join(self.tests[:TESTS_SHOWN]) + (f" and {more} more" if more > 0 else "")
            facts.append(f"{len(self.tests)} test{'s' if len(self.tests) != 1 else ''} ran between the snapshots: "
                         f"{named}")
        return text + (f" [{'; '.join(facts)}]" if facts else "")

    def with_context(self, protected: Container[int], tests: tuple[str, ...]) -> Change:
        """This change with whether its guest is protected and the tests that ran between the snapshots."""
        guest = self.kind == "guest" and self.id.isdigit()
        return replace(self, protected=int(self.id) in protected if guest else None, tests=tests)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "what": self.what, "before": _plain(self.before),
                "after": _plain(self.after), "keys": list(self.keys), "protected": self.protected,
                "tests": list(self.tests), "line": self.line()}


def _plain(value: Any) -> Any:
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def _where(guest: GuestInfo) -> str:
    return f"{guest.kind} {guest.name or '(no name)'}, {guest.status} on {guest.node}"


def unintended_changes(before: Inventory, after: Inventory, intended: Container[int] = ()) -> list[Change]:
    """Every change from ``before`` to ``after`` not explained by the vmids in ``intended`` (the ledger)."""
    changes = _guest_changes(before.guests, after.guests, intended)
    changes += _keyed_changes("storage", {k: {"configuration": v.config_view()} for k, v in before.storages.items()},
                              {k: {"configuration": v.config_view()} for k, v in after.storages.items()})
    changes += _keyed_changes("pool", {k: _pool_view(v, intended) for k, v in before.pools.items()},
                              {k: _pool_view(v, intended) for k, v in after.pools.items()})
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
                keys = _differing_keys(old.config, new.config) if name == "digest" else ()
                changes.append(Change("guest", str(vmid), "config digest" if name == "digest" else name, was, now,
                                      keys=keys))
    return changes


def _differing_keys(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The config keys added, removed or with another value (the digest itself aside); () when a config is unknown."""
    if before is None or after is None:
        return ()
    return tuple(sorted(k for k in set(before) | set(after) if k != "digest" and before.get(k) != after.get(k)))


def _pool_view(pool: PoolInfo, intended: Container[int]) -> dict[str, Any]:
    return {"guests": sorted(vmid for vmid in pool.guests if vmid not in intended),
            "storages": sorted(pool.storages), "comment": pool.comment}


def _keyed_changes(kind: str, before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]],
                   ) -> list[Change]:
    """What appeared, vanished, or (one change per field) differs, between two views ``{key: {field: value}}``."""
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append(Change(kind, key, "appeared"))
        elif key not in after:
            changes.append(Change(kind, key, "vanished"))
        else:
            changes += [Change(kind, key, field, value, after[key][field])
                        for field, value in before[key].items() if value != after[key][field]]
    return changes
