"""Imports: every existing guest's resource adopted by an ``import`` block of the root module, with an ID in
the provider's format (its table's ``import_id``) naming the guest's node and vmid; no import of nothing."""

from __future__ import annotations

import re

from ...model.inventory import Inventory
from ..findings import Finding
from .expressions import Unresolved, resolve
from .guests import matched
from .hclfiles import TfResource, TfWorkspace, missing_sources
from .provider import CHECK, table_of
from .values import RESOURCE_TYPES

# the providers' documented formats, for a provider without a packaged table
IMPORT_FORMATS = {"proxmox_virtual_environment_vm": "<node_name>/<vm_id>",
                  "proxmox_virtual_environment_container": "<node_name>/<vm_id>",
                  "proxmox_vm_qemu": "<target_node>/qemu/<vmid>", "proxmox_lxc": "<target_node>/lxc/<vmid>"}
NODE_PARTS, VMID_PARTS = ("node_name", "target_node", "node"), ("vm_id", "vmid")


def _imports(tf: TfWorkspace, directory: str = ".") -> dict[str, object]:
    """The import blocks of a directory's files, ``to`` -> id (the root module's, unless ``directory``)."""
    found: dict[str, object] = {}
    for _, data in tf.files_in(directory):
        for block in data.get("import", []):
            to = str(block.get("to", "")).removeprefix("${").removesuffix("}")
            found[to] = resolve(block.get("id", ""), tf.root_scope)
    return found


def _format(tf: TfWorkspace, resource: TfResource) -> str | None:
    table = table_of(tf, resource.type)
    schema = table.resources.get(resource.type) if table else None
    return schema.import_id if schema and schema.import_id else IMPORT_FORMATS.get(resource.type)


def _pattern(fmt: str) -> re.Pattern[str]:
    parts = re.split(r"(<[a-z_]+>)", fmt)
    return re.compile("".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("<") else re.escape(p) for p in parts))


def check_imports(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """Each guest's resource imported with a well-formed ID naming the guest; each import names a resource."""
    if not tf.has_root:
        return []
    imported = _imports(tf)
    resources = tf.resources()
    addresses = {r.address for r in resources if r.address}
    loose = {f"{r.type}.{r.name}" for r in resources if r.address is None}  # in a directory no module loads
    loose |= {f"{b.labels[0]}.{b.labels[1]}" for b in tf.lost if b.kind == "resource" and len(b.labels) == 2}
    # a resource whose type the provider lacks is reported by the schema check; its import is not a second finding
    mistyped = {f"{r.prefix}{r.name}" for r in resources if r.prefix is not None and r.type.startswith("proxmox_")
                and r.type not in RESOURCE_TYPES}
    # a module call that does not parse, or whose source is missing, is reported once by the load check
    lost_modules = tuple(f"module.{b.labels[0]}." for b in tf.lost if b.kind == "module" and b.labels)
    lost_modules += tuple(f"module.{call.name}." for call in missing_sources(tf))
    findings = []
    for to, import_id in sorted(imported.items()):
        unknown_type = ".".join([*to.split(".")[:-2], to.split(".")[-1]]) in mistyped
        in_lost_module = to.startswith(lost_modules) if lost_modules else False
        if to not in addresses and ".".join(to.split(".")[-2:]) not in loose and not unknown_type \
                and not in_lost_module:
            findings.append(Finding(CHECK, "terraform/ import", "import", note=(
                f"{to} (id {import_id!r}) is no resource of the configuration: Terraform refuses the plan")))
    pairs, _ = matched(tf, inventory)
    for guest, resource in pairs:
        if resource.address is not None:
            candidates = [imported[resource.address]] if resource.address in imported else []
            shown = resource.address
        else:
            # a directory no module loads: an import the root module has for it, or one beside it in that
            # directory (never loaded either: the load check's one finding says so)
            suffix = f"{resource.type}.{resource.name}"
            beside = _imports(tf, resource.module_dir)
            candidates = [v for k, v in [*imported.items(), *beside.items()] if ".".join(k.split(".")[-2:]) == suffix]
            shown = suffix
        if not candidates:
            findings.append(Finding(CHECK, resource.where, "import", note=(
                f"guest {guest.vmid} exists, but no import block adopts {shown}: a plan would create it again")))
            continue
        import_id, fmt = candidates[0], _format(tf, resource)
        if isinstance(import_id, Unresolved) or fmt is None:
            continue
        match = _pattern(fmt).fullmatch(str(import_id))
        if not match:
            findings.append(Finding(CHECK, resource.where, "import id", note=(
                f"{import_id!r} is not of the form {fmt} that {resource.type} imports")))
            continue
        parts = match.groupdict()
        vmid = next((parts[k] for k in VMID_PARTS if k in parts), None)
        node = next((parts[k] for k in NODE_PARTS if k in parts), None)
        if vmid is not None and vmid != str(guest.vmid):
            findings.append(Finding(CHECK, resource.where, "import id", note=(
                f"{import_id!r} does not name guest {guest.vmid}")))
        elif node is not None and node != guest.node:
            findings.append(Finding(CHECK, resource.where, "import id", note=(
                f"{import_id!r} names node {node}, but guest {guest.vmid} is on {guest.node}")))
    return findings
