"""The shape of an API answer, and what changed between a recorded one and a live one.

A shape is every field path of the answer's ``data`` with the JSON types seen there: ``memory: number``,
``[].vmid: number`` (``[]``: the items of a list, merged), ``net0: string``. Values are never compared, only shapes,
and some fields are left out altogether: those whose value changes by nature (``VOLATILE``: uptime, counters,
digests, UPIDs, tickets, timestamps, ...), which come and go with a guest's state (``pid`` of a running guest) or
switch between an integer and a fraction (``cpu``). Integers and fractions are one type, ``number``; ``null`` goes
with any type; the items of an empty list have no known shape and are not compared. Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# What changes by nature: counters, digests, tasks, tickets, times, and the fields a running guest has and a
# stopped one lacks (``cpu``, a fraction or 0, is a number either way; config keys such as ``memory`` are fields).
VOLATILE = frozenset({
    "uptime", "pid", "qmpstatus", "lock", "digest", "upid", "UPID", "ticket", "CSRFPreventionToken", "time",
    "starttime", "endtime", "pstart", "lastsync", "mem", "memhost", "netin", "netout", "diskread", "diskwrite",
    "disk", "used", "avail", "used_fraction", "loadavg", "wait", "idle", "ksm", "freemem", "ballooninfo",
    "blockstat", "nics", "proxmox-support", "running-machine", "running-qemu", "ha", "pressurecpusome",
    "pressurecpufull", "pressureiosome", "pressureiofull", "pressurememorysome", "pressurememoryfull",
})
Shape = Mapping[str, frozenset[str]]


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def shape_of(data: Any) -> dict[str, frozenset[str]]:
    """Field path -> the types seen there, for ``data`` (an answer's ``data``); the root is ``""``."""
    found: dict[str, set[str]] = {}
    _walk(data, "", found)
    return {path: frozenset(types) for path, types in found.items()}


def _walk(value: Any, path: str, found: dict[str, set[str]]) -> None:
    found.setdefault(path, set()).add(type_of(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key) not in VOLATILE:
                _walk(item, f"{path}.{key}" if path else str(key), found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, f"{path}[]", found)


@dataclass(frozen=True)
class FieldChange:
    """A field ``added``, ``removed`` or of another ``type``; ``before``/``after``: the types (for ``type``)."""

    field: str
    what: str
    before: str = ""
    after: str = ""

    def line(self) -> str:
        name = self.field or "(the answer)"
        if self.what == "type":
            return f"{name}: type {self.before} -> {self.after}"
        return f"{name}: {self.what}"


def _types(types: Iterable[str]) -> frozenset[str]:
    return frozenset(types) - {"null"}


def compare(recorded: list[Shape], live: Shape) -> list[FieldChange]:
    """What changed from the shapes of the recorded answers of a path (one or more recordings) to the live one:
    a field every recording has and the live answer lacks is removed; a field none of them has, added (below a
    parent that both sides show with content); a field whose live types share none with the recorded ones has
    another type. Sorted by field."""
    if not recorded:
        return []
    every = set.intersection(*(set(shape) for shape in recorded))
    anywhere = set.union(*(set(shape) for shape in recorded))
    changes: list[FieldChange] = []
    for path in sorted(every - set(live)):
        if _has_content(live, path):
            changes.append(FieldChange(path, "removed"))
    for path in sorted(set(live) - anywhere):
        if all(_has_content(shape, path) for shape in recorded):
            changes.append(FieldChange(path, "added"))
    for path in sorted(anywhere & set(live)):
        before = _types(t for shape in recorded for t in shape.get(path, ()))
        after = _types(live[path])
        if before and after and not before & after:
            changes.append(FieldChange(path, "type", "|".join(sorted(before)), "|".join(sorted(after))))
    return _outermost(sorted(changes, key=lambda change: change.field))


def _parent(path: str) -> str | None:
    if not path:
        return None
    if path.endswith("[]"):
        return path[:-2]
    return path.rpartition(".")[0] if "." in path else ""


def _has_content(shape: Shape, path: str) -> bool:
    """True when the parent of ``path`` is in ``shape`` as an object or a list with items: only then does its
    absence there say something (an empty list's items, a ``null`` object's fields are not known)."""
    parent = _parent(path)
    if parent is None:
        return True
    types = shape.get(parent, frozenset())
    if path.endswith("[]"):
        return "list" in types and path in shape  # a list's items: known only when it had some
    return "object" in types


def _outermost(changes: list[FieldChange]) -> list[FieldChange]:
    """A removed or added field, without the fields below it (they went or came with it)."""
    kept: list[FieldChange] = []
    gone: list[str] = []
    for change in changes:
        if any(change.field.startswith(prefix + ".") or change.field.startswith(prefix + "[]") for prefix in gone):
            continue
        kept.append(change)
        if change.what in ("added", "removed"):
            gone.append(change.field)
    return kept
