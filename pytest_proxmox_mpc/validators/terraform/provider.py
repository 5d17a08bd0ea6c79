"""The provider of a workspace: declared with a version constraint that admits a release able to work with the
cluster's PVE version, configured, its variables literal, TLS verification on and a token ID in the form
the provider needs; and the schema table (``provider_tables``) each resource is judged by."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ...model.inventory import Inventory
from ..findings import Finding
from ..provider_tables import PACKAGE, ProviderTable, parse_version, satisfies, table_for
from .expressions import Unresolved, resolve
from .hclfiles import TfWorkspace, attributes, blocks, listed

CHECK = "terraform"
PROVIDER_SOURCES = ("telmate/proxmox", "bpg/proxmox")
SECRET_NAME = re.compile(r"token|secret|password|passwd|private_key", re.I)
IDENTIFIER_NAME = re.compile(r"_(id|name|url)$", re.I)  # proxmox_api_token_id names a token, it is not one
TOKEN_ID = re.compile(r"[^\s@!=]+@[^\s@!=]+![A-Za-z][A-Za-z0-9._-]*")
# provider argument -> what it holds: TLS verification switched off, a token ID, a token (ID=secret)
INSECURE_ARGS = ("insecure", "pm_tls_insecure")
TOKEN_ID_ARGS = ("pm_api_token_id",)
TOKEN_ARGS = ("api_token",)


@dataclass(frozen=True)
class Declared:
    """A ``required_providers`` entry: local name, source, constraint, and the packaged table it selects."""

    name: str
    source: str
    constraint: str
    table: ProviderTable | None


def declared_providers(tf: TfWorkspace) -> dict[str, Declared]:
    """The proxmox providers the root module requires, by local name (worked out once per workspace read)."""
    if tf.providers is not None:
        return dict(tf.providers)
    found: dict[str, Declared] = {}
    for data in tf.root_files:
        for block in data.get("terraform", []):
            for entry in listed(block, "required_providers"):
                for name, spec in attributes(entry).items():
                    source = str(spec.get("source", "")).lower().removeprefix("registry.terraform.io/") \
                        if isinstance(spec, dict) else ""
                    if source in PROVIDER_SOURCES:
                        constraint = str(spec.get("version") or "").strip()
                        try:
                            table = table_for(source, constraint or None)
                        except ValueError:
                            table = None
                        found[name] = Declared(name, source, constraint, table)
    tf.providers = found
    return found


def table_of(tf: TfWorkspace, resource_type: str) -> ProviderTable | None:
    """The table a resource type is judged by: its provider's (by the type's prefix), if one is packaged."""
    for declared in declared_providers(tf).values():
        if resource_type.split("_")[0] == declared.name or len(declared_providers(tf)) == 1:
            return declared.table
    return None


def _compatibility() -> list[dict[str, Any]]:
    text = resources.files(PACKAGE).joinpath("pve-compatibility.json").read_text(encoding="utf-8")
    return list(json.loads(text)["rules"])


def _pve_major(inventory: Inventory) -> int | None:
    try:
        return parse_version(str(inventory.version or ""))[0]
    except ValueError:
        return None


def _admits_working_release(declared: Declared, pve_major: int | None) -> Finding | None:
    for rule in _compatibility():
        if rule["provider"] != declared.source or pve_major is None or pve_major < rule["pve_major"]:
            continue
        try:
            admitted = [r for r in rule["releases"] if satisfies(r, declared.constraint or None)]
        except ValueError:
            return None  # not a constraint: the version check says so
        working = parse_version(rule["works_from"])
        if admitted and not [r for r in admitted if _key(parse_version(r)) >= _key(working)]:
            return Finding(CHECK, f"terraform/ required_providers.{declared.name}", "version", note=(
                f"{declared.constraint!r} admits only {admitted[0]} to {admitted[-1]}, which cannot work with the "
                f"cluster's PVE {pve_major}: {rule['why']}; {rule['works_from']} and later can"))
    return None


def _key(version: Any) -> tuple[Any, ...]:
    return version[0], version[1], version[2], 0 if version[3] is not None else 1, version[3] or ()


def check_provider(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """A proxmox provider is required, with a version constraint admitting a release that works with the
    cluster's PVE version, and configured; variable defaults are literals."""
    if not tf.has_root:
        return []
    findings = []
    declared = declared_providers(tf)
    if not declared:
        findings.append(Finding(CHECK, "terraform/ root module", "required_providers",
                                note=f"no provider with source {' or '.join(PROVIDER_SOURCES)} is declared"))
    for name, entry in declared.items():
        if not entry.constraint:
            findings.append(Finding(CHECK, f"terraform/ required_providers.{name}", "version",
                                    note="no version constraint: an upgrade could change every plan"))
            continue
        incompatible = _admits_working_release(entry, _pve_major(inventory))
        if incompatible:
            findings.append(incompatible)
    configured = {label for data in tf.root_files for label, _ in blocks(data, "provider")}
    findings += [Finding(CHECK, f"terraform/ provider {name}", "block", note="the provider is never configured")
                 for name in declared if name not in configured and not _lost(tf, "provider", name)]
    for path, data in tf.parsed.items():
        for name, body in blocks(data, "variable"):
            default = body.get("default") if isinstance(body, dict) else None
            if isinstance(body, dict) and "default" in body and "${" in repr(default):
                findings.append(Finding(CHECK, f"terraform/{path.as_posix()} variable {name}", "default", note=(
                    f"{default!r} is an expression; a variable default must be a literal value")))
            if SECRET_NAME.search(name) and not IDENTIFIER_NAME.search(name) and isinstance(body, dict) \
                    and body.get("sensitive") is not True:
                findings.append(Finding(CHECK, f"terraform/{path.as_posix()} variable {name}", "sensitive",
                                        note="a secret variable is not sensitive"))
    return findings


def _lost(tf: TfWorkspace, kind: str, label: str) -> bool:
    return any(block.kind == kind and label in block.labels for block in tf.lost)


def check_connection(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """TLS verification is not switched off (by a literal, a variable's default or a tfvars value), and a token
    ID given (literally or by a variable's value) has the ``USER@REALM!NAME`` form."""
    findings = []
    scope = tf.root_scope
    for path, data in tf.files_in("."):
        for label, body in blocks(data, "provider"):
            if not isinstance(body, dict):
                continue
            where = f"terraform/{path.as_posix()} provider {label}"
            for arg, raw in attributes(body).items():
                value, via = resolve(raw, scope), _via(raw)
                if arg in INSECURE_ARGS and value is True:
                    findings.append(Finding(CHECK, where, arg, note=f"TLS certificate verification is off{via}: "
                                            "anyone between Terraform and the cluster can read the token"))
                if arg in TOKEN_ID_ARGS and _plain(value) and not TOKEN_ID.fullmatch(str(value)):
                    findings.append(Finding(CHECK, where, arg, note=f"token ID {value!r}{via} is not of the form "
                                            "USER@REALM!NAME the provider needs"))
                if arg in TOKEN_ARGS and _plain(value) and not TOKEN_ID.fullmatch(str(value).partition("=")[0]):
                    findings.append(Finding(CHECK, where, arg, note=f"the token's ID{via} is not of the form "
                                            "USER@REALM!NAME=SECRET the provider needs"))
    return findings


def _plain(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, Unresolved) and value != ""


def _via(raw: Any) -> str:
    match = re.fullmatch(r"\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)\}", raw) if isinstance(raw, str) else None
    return f" (by the value of variable {match.group(1)})" if match else ""


def provider_arguments(tf: TfWorkspace) -> Mapping[str, tuple[str, dict[str, Any]]]:
    """Each root ``provider`` block by label: (file, body)."""
    return {label: (path.as_posix(), body) for path, data in tf.files_in(".")
            for label, body in blocks(data, "provider") if isinstance(body, dict)}
