"""A resource's settings against its guest's config (``settings``): a declared value the config does not have
(an invented setting), a declared value that differs, and a left-out one whose provider default differs (a plan
after import would change the guest). Where the provider marks the attribute ForceNew, the plan would replace
the guest instead, and that is reported apart (``replacements``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...cluster.inventory import GuestInfo
from ..findings import Finding
from ..provider_tables import AttributeSchema, BlockSchema, ProviderTable, ResourceSchema
from .expressions import Unresolved
from .hclfiles import TfResource, first, listed
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


def schema_at(schema: ResourceSchema | BlockSchema | None, path: str) -> tuple[AttributeSchema | None, bool]:
    """The attribute's schema, and whether it or a block above it is ForceNew."""
    force_new = False
    *steps, last = path.split(".")
    for step in steps:
        block = schema.blocks.get(step) if schema is not None else None
        if block is None:
            return None, force_new
        force_new, schema = force_new or block.force_new, block
    attribute = schema.attributes.get(last) if schema is not None else None
    return attribute, force_new or bool(attribute and attribute.force_new)


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
                field: str) -> None:
        declared = lookup(body, row.path)
        accepted, in_config = row.read(self.guest, config)
        wanted = [normal(row.kind, value) for value in accepted]
        attribute, force_new = schema_at(schema, row.path)
        if declared is not MISSING:
            if isinstance(declared, Unresolved) or normal(row.kind, declared) in wanted:
                return
            if in_config or row.omitted_empty:
                note = f"declares {declared!r}; the guest's config has {accepted[0]!r}"
            else:
                note = f"declares {declared!r}, a setting the guest's config does not have (PVE's default is " \
                       f"{accepted[0]!r}): an invented setting"
        else:
            if row.declared_only or (attribute is not None and attribute.computed):
                return
            default = attribute.default if attribute is not None else None
            if default is None and not row.omitted_empty:
                return
            shown = _empty(row.kind) if default is None else default
            if normal(row.kind, shown) in wanted:
                return
            note = f"left out, so the provider's default {shown!r} applies; the guest's config has {accepted[0]!r}"
        if force_new:
            self.replacements.append(Finding(CHECK, self.resource.where, field, note=(
                f"{note}: the attribute is ForceNew, so a plan would destroy and re-create the guest")))
        else:
            self.settings.append(Finding(CHECK, self.resource.where, field, note=f"{note}: a plan would change it"))

    def run(self) -> None:
        ignored = self.resource.ignored
        if "all" in ignored:
            return
        config, body = dict(self.guest.config or {}), self.resource.body
        for row in ROWS.get(self.resource.type, ()):
            if not ({row.path, row.path.split(".")[0]} & ignored):
                self.setting(row, body, config, self.schema, row.path)
        for path, rows in ITEMS.get(self.resource.type, {}).items():
            if path.split(".")[0] in ignored:
                continue
            block_schema: ResourceSchema | BlockSchema | None = self.schema
            for step in path.split("."):
                block_schema = block_schema.blocks.get(step) if block_schema is not None else None
            for label, entry, item in self.items(path, body, config):
                for row in rows:
                    self.setting(row, item, {_key(path): entry},
                                 block_schema, f"{label}.{row.path}")
        self.force_new_blocks(body, ignored)

    def items(self, path: str, body: Mapping[str, Any], config: Mapping[str, Any]
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
            self.settings.append(Finding(CHECK, self.resource.where, path, len(nics), len(declared), note=(
                f"{len(declared)} {path} blocks, the guest has {len(nics)} NICs "
                f"({', '.join(key for _, key in nics) or 'none'}): a plan would "
                f"{'add an invented NIC' if len(declared) > len(nics) else 'remove a NIC'}")))
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

    def force_new_blocks(self, body: Mapping[str, Any], ignored: frozenset[str]) -> None:
        """ForceNew blocks an import cannot match: a clone source, a bpg container's OS template."""
        if "clone" in body and "clone" not in ignored:
            self.replacements.append(Finding(CHECK, self.resource.where, "clone", note=(
                "the guest exists and was not cloned by this configuration: clone is ForceNew, so a plan after "
                "import would destroy and re-create it (ignore_changes = [clone] keeps it)")))
        if self.resource.type == "proxmox_virtual_environment_container" and "operating_system" not in ignored:
            has_template = "ostemplate" in (self.guest.config or {})
            declared = "operating_system" in body
            if not has_template:
                self.replacements.append(Finding(CHECK, self.resource.where, "operating_system", note=(
                    f"{'declared' if declared else 'left out'}, but a container's config keeps no OS template "
                    "and operating_system is ForceNew: a plan after import would destroy and re-create the "
                    "container (lifecycle { ignore_changes = [operating_system] } keeps it)")))


def _key(path: str) -> str:
    return "disk" if path.endswith("disk") else "net"


def compare(resource: TfResource, guest: GuestInfo, table: ProviderTable | None) -> tuple[list[Finding],
                                                                                         list[Finding]]:
    """(setting findings, replacement findings) of one resource against its guest."""
    judge = Judge(resource, guest, table)
    if guest.config is not None:
        judge.run()
    return judge.settings, judge.replacements
