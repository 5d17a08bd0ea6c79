"""A resource's settings against its guest's config (``settings``): a declared value the config does not have
(an invented setting), a declared value that differs, and a left-out one whose provider default differs (a plan
after import would change the guest). Where the provider marks the attribute ForceNew, the plan would replace
the guest instead, and that is reported apart (``replacements``). A declared value that ``ignore_changes`` hides
is judged all the same (``lifecycle``), an argument the provider version does not have is not (the schema check
names it), and what the guest was made from is ``origin``'s."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...model.inventory import GuestInfo
from ..findings import Finding
from ..provider_tables import BlockSchema, ProviderTable, ResourceSchema
from .expressions import Unresolved
from .hclfiles import TfResource, first, listed
from .lifecycle import HIDDEN, absent, hides, schema_at
from .origin import TEMPLATE_ROWS, origin
from .provider import CHECK
from .settings import ITEMS, ROWS, Setting
from .values import telmate_disks

MISSING = object()
_NIC, _BUS = re.compile(r"net(\d+)"), re.compile(r"(ide|sata|scsi|virtio)")


def normal(kind: str, value: Any) -> Any:
    """A declared or read value in the form compared: booleans from ``1``/``"true"``, tags as a sorted tuple."""
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "on")
    if kind == "tags":
        items = value if isinstance(value, list | tuple) else re.split(r"[;,\s]+", str(value or ""))
        return tuple(sorted({str(t).lower() for t in items if t}))
    if kind == "list":
        return tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)
    if kind == "boot" and isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if kind == "boot":
        order = re.search(r"order=([^,]+)", str(value or ""))
        return tuple(order.group(1).split(";")) if order else ()
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if kind == "mac":
        return str(value).upper()
    return "" if value is None else str(value)


def lookup(body: Mapping[str, Any], path: str) -> Any:
    """The value at ``cpu.type`` in a body (the first block of each step); MISSING when not declared."""
    *steps, last = path.split(".")
    for step in steps:
        body = first(body, step)
    return body.get(last, MISSING)


def _empty(kind: str) -> Any:
    return () if kind in ("tags", "list", "boot") else False if kind == "bool" else ""


class Judge:
    """Compares one resource with its guest; collects setting findings and replacement findings."""

    def __init__(self, resource: TfResource, guest: GuestInfo, table: ProviderTable | None) -> None:
        self.resource, self.guest = resource, guest
        self.schema = table.resources.get(resource.type) if table else None
        self.settings: list[Finding] = []
        self.replacements: list[Finding] = []

    def setting(self, row: Setting, body: Mapping[str, Any], config: Mapping[str, Any], schema: Any,
                field: str, hidden: bool = False) -> None:
        """One setting; ``hidden``: ``lifecycle { ignore_changes }`` names it, so only a declared value is judged
        (a plan would not show it, but the guest re-created from the workspace would have it)."""
        declared = lookup(body, row.path)
        accepted, in_config = row.read(self.guest, config)
        wanted = [normal(row.kind, value) for value in accepted]
        attribute, force_new = schema_at(schema, row.path)
        if attribute is None and absent(schema, row.path):
            return  # the provider version has no such argument: the schema check says so if it is declared
        if declared is not MISSING:
            if isinstance(declared, Unresolved) or normal(row.kind, declared) in wanted:
                return
            if in_config or row.omitted_empty:
                note = f"declares {declared!r}; the guest's config has {accepted[0]!r}"
            else:
                note = f"declares {declared!r}, a setting the guest's config does not have (PVE's default is " \
                       f"{accepted[0]!r}): an invented setting"
        else:
            if hidden or row.declared_only or (attribute is not None and attribute.computed):
                return
            default = attribute.default if attribute is not None else None
            if default is None and not row.omitted_empty:
                return
            shown = _empty(row.kind) if default is None else default
            if normal(row.kind, shown) in wanted:
                return
            note = f"left out, so the provider's default {shown!r} applies; the guest's config has {accepted[0]!r}"
        note += self.resource.from_root(field)
        if hidden:
            self.settings.append(Finding(CHECK, self.resource.where, field, note=f"{note}{HIDDEN}"))
        elif force_new:
            self.replacements.append(Finding(CHECK, self.resource.where, field, note=(
                f"{note}: the attribute is ForceNew, so a plan would destroy and re-create the guest")))
        else:
            self.settings.append(Finding(CHECK, self.resource.where, field, note=f"{note}: a plan would change it"))

    def run(self) -> None:
        ignored = self.resource.ignored
        config, body = dict(self.guest.config or {}), self.resource.body
        for row in ROWS.get(self.resource.type, ()):
            if not (self.guest.template and row.path in TEMPLATE_ROWS):  # a template's own judgement: ``origin``
                self.setting(row, body, config, self.schema, row.path, hides(ignored, row.path))
        for path, rows in ITEMS.get(self.resource.type, {}).items():
            block_schema: ResourceSchema | BlockSchema | None = self.schema
            for step in path.split("."):
                block_schema = block_schema.blocks.get(step) if block_schema is not None else None
            hidden = hides(ignored, path) or (path == "disk" and hides(ignored, "disks"))  # telmate 3.x: disks {}
            for label, entry, item in self.items(path, body, config, hidden):
                for row in rows:
                    self.setting(row, item, {_key(path): entry}, block_schema, f"{label}.{row.path}",
                                 hidden or hides(ignored, f"{path}.{row.path}"))

    def items(self, path: str, body: Mapping[str, Any], config: Mapping[str, Any], hidden: bool = False
              ) -> list[tuple[str, Any, Mapping[str, Any]]]:
        """(label, the config entry, the block) for each repeated block; a NIC missing or invented is a finding."""
        if _key(path) == "disk":
            return [(f"{path}[{slot}]", config[slot], block) for slot, block in self.disks(body) if slot in config]
        nics = sorted((int(m.group(1)), key) for key in config if (m := _NIC.fullmatch(key)))
        holder = first(body, path.split(".")[0]) if "." in path else body
        declared = listed(holder, path.split(".")[-1])
        by_id = {int(b["id"]): b for b in declared if isinstance(b.get("id"), int)}
        pairs = [(n, key, by_id.get(n) if by_id else (declared[i] if i < len(declared) else {}))
                 for i, (n, key) in enumerate(nics)]
        if "ip_config" not in path and len(declared) != len(nics):
            more = len(declared) > len(nics)
            effect = (f"{'an invented NIC' if more else 'a NIC left out'}{HIDDEN}" if hidden else
                      f"a plan would {'add an invented NIC' if more else 'remove a NIC'}")
            self.settings.append(Finding(CHECK, self.resource.where, path, len(nics), len(declared), note=(
                f"{len(declared)} {path} blocks, the guest has {len(nics)} NICs "
                f"({', '.join(key for _, key in nics) or 'none'}): {effect}")))
        return [(f"{path}[{n}]", config[key], block or {}) for n, key, block in pairs if block is not None]

    def disks(self, body: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
        if self.resource.type.startswith("proxmox_virtual_environment"):
            return [(str(d.get("interface")), d) for d in listed(body, "disk")]
        found: list[tuple[str, Mapping[str, Any]]] = []
        counts: dict[str, int] = {}  # telmate: 3.x slots; 2.x a bus type whose disks are numbered in order
        for item in listed(body, "disk") + telmate_disks(body):
            slot = item.get("slot")
            if not isinstance(slot, str) and _BUS.fullmatch(str(item.get("type", ""))):
                bus = str(item["type"])
                slot, counts[bus] = f"{bus}{counts.get(bus, 0)}", counts.get(bus, 0) + 1
            if isinstance(slot, str):
                found.append((slot, item))
        return found


def _key(path: str) -> str:
    return "disk" if path.endswith("disk") else "net"


def compare(resource: TfResource, guest: GuestInfo, table: ProviderTable | None,
            others: Mapping[int, GuestInfo] | None = None) -> tuple[list[Finding], list[Finding]]:
    """(setting findings, replacement findings) of one resource against its guest."""
    judge = Judge(resource, guest, table)
    if guest.config is None:
        return [], []
    judge.run()
    settings, replacements = origin(resource, guest, table, others or {})
    return judge.settings + settings, judge.replacements + replacements
