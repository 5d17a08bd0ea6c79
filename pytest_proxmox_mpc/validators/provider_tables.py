"""Versioned tables of Terraform provider schemas (bpg/proxmox, telmate/proxmox), packaged as JSON.

Each table in ``pytest_proxmox_mpc.validators.providers`` holds the facts read from one provider
version's Go schema maps (see NOTICE.md there): attribute types and flags, nested blocks, import ID
formats and the provider block's own arguments. ``table_for`` picks the table a ``required_providers``
entry selects, with Terraform's version-constraint syntax.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..errors import InvalidInput

PACKAGE = "pytest_proxmox_mpc.validators.providers"
COMPATIBILITY = "pve-compatibility.json"  # which releases work with which PVE version: not a schema table
TYPES = frozenset({"string", "int", "bool", "float", "list", "set", "map"})
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?$")
_CONSTRAINT = re.compile(r"^(~>|>=|<=|!=|=|>|<)?\s*(\S+)$")


@dataclass(frozen=True)
class AttributeSchema:
    """One schema attribute; ``force_new`` is None where the source does not say."""

    type: str
    required: bool
    optional: bool
    computed: bool
    force_new: bool | None
    default: Any
    elem_type: str | None = None
    sensitive: bool = False
    deprecated: bool = False


@dataclass(frozen=True)
class BlockSchema:
    """A nested block (a TypeList/TypeSet whose Elem is a resource)."""

    max_items: int | None
    attributes: Mapping[str, AttributeSchema]
    blocks: Mapping[str, BlockSchema]
    required: bool = False
    force_new: bool = False
    computed: bool = False
    partial: bool = False  # the source did not list all its members: an unknown name is not judged


@dataclass(frozen=True)
class ResourceSchema:
    """A resource or data source type: its import ID format, attributes and blocks (``partial``: not all of
    them were read, so a name the table lacks is not judged)."""

    import_id: str | None
    attributes: Mapping[str, AttributeSchema]
    blocks: Mapping[str, BlockSchema]
    notes: tuple[str, ...] = ()
    partial: bool = False


@dataclass(frozen=True)
class ProviderTable:
    """One provider version's table."""

    provider: str
    version: str
    source: Mapping[str, Any]
    pve_versions: Any
    provider_arguments: BlockSchema
    resources: Mapping[str, ResourceSchema]
    data_sources: Mapping[str, ResourceSchema]


def _attribute(raw: Any, where: str) -> AttributeSchema:
    if not isinstance(raw, dict) or raw.get("type") not in TYPES:
        raise ValueError(f"{where}: not an attribute with a known type")
    flags = [raw.get(k) for k in ("required", "optional", "computed")]
    if not all(isinstance(f, bool) for f in flags) or not isinstance(raw.get("force_new"), (bool, type(None))):
        raise ValueError(f"{where}: required/optional/computed must be booleans, force_new a boolean or null")
    req, opt, comp = (f is True for f in flags)
    return AttributeSchema(raw["type"], req, opt, comp, raw["force_new"], raw.get("default"), raw.get("elem_type"),
                           bool(raw.get("sensitive")), bool(raw.get("deprecated")))


def _members(raw: Any, where: str) -> tuple[dict[str, AttributeSchema], dict[str, BlockSchema]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("attributes", {}), dict) \
            or not isinstance(raw.get("blocks", {}), dict):
        raise ValueError(f"{where}: attributes and blocks must be objects")
    attrs = {k: _attribute(v, f"{where}.{k}") for k, v in raw.get("attributes", {}).items()}
    blocks = {k: _block(v, f"{where}.{k}") for k, v in raw.get("blocks", {}).items()}
    return attrs, blocks


def _block(raw: Any, where: str) -> BlockSchema:
    attrs, blocks = _members(raw, where)
    max_items = raw.get("max_items")
    if max_items is not None and (not isinstance(max_items, int) or isinstance(max_items, bool)):
        raise ValueError(f"{where}: max_items must be an integer or null")
    return BlockSchema(max_items, attrs, blocks, bool(raw.get("required")), bool(raw.get("force_new")),
                       bool(raw.get("computed")), bool(raw.get("partial")))


def _resource(raw: Any, where: str) -> ResourceSchema:
    attrs, blocks = _members(raw, where)
    import_id = raw.get("import_id")
    if import_id is not None and not isinstance(import_id, str):
        raise ValueError(f"{where}: import_id must be a string or null")
    return ResourceSchema(import_id, attrs, blocks, tuple(str(n) for n in raw.get("notes", ())),
                          bool(raw.get("partial")))


def _expand(node: Any, templates: Any, where: str, depth: int = 0) -> Any:
    """``node`` with every ``{"template": NAME}`` replaced by ``templates[NAME]`` (a block a provider repeats,
    such as telmate's 57 disk slots, is written once)."""
    if not isinstance(templates, dict) or depth > 8:
        raise ValueError("templates must be an object of blocks, nested at most 8 deep")
    if isinstance(node, dict) and set(node) == {"template"} and isinstance(node["template"], str):
        if node["template"] not in templates:
            raise ValueError(f"{where}: no template {node['template']!r}")
        return _expand(templates[node["template"]], templates, where, depth + 1)
    if isinstance(node, dict):
        return {k: _expand(v, templates, f"{where}.{k}".lstrip("."), depth) for k, v in node.items()}
    return node


def parse_table(text: str, name: str) -> ProviderTable:
    """Parse one table's JSON text; ``name`` (the file) is named in every ValueError."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("provider"), str):
            raise ValueError("the table must be an object with a provider")
        parse_version(str(raw.get("version")))
        raw = _expand(raw, raw.pop("templates", {}), "")
        sections = {k: raw.get(k) for k in ("resources", "data_sources")}
        if not all(isinstance(v, dict) for v in sections.values()) or not isinstance(raw.get("source"), dict):
            raise ValueError("source, resources and data_sources must be objects")
        return ProviderTable(
            raw["provider"], raw["version"], raw["source"], raw.get("pve_versions", "unknown"),
            _block(raw.get("provider_arguments", {}), "provider_arguments"),
            {k: _resource(v, k) for k, v in raw["resources"].items()},
            {k: _resource(v, k) for k, v in raw["data_sources"].items()},
        )
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise InvalidInput(f"malformed provider table {name}: {exc}") from exc


def _files() -> list[str]:
    names = (f.name for f in resources.files(PACKAGE).iterdir())
    return sorted(name for name in names if name.endswith(".json") and name != COMPATIBILITY)


@functools.cache
def _read(name: str) -> ProviderTable:
    """A packaged table, parsed once per process (tables never change while it runs; callers do not mutate)."""
    return parse_table(resources.files(PACKAGE).joinpath(name).read_text(encoding="utf-8"), name)


def available_tables() -> list[tuple[str, str]]:
    """(provider, version) of every packaged table, oldest version first per provider."""
    tables = [_read(name) for name in _files()]
    return [(t.provider, t.version) for t in sorted(tables, key=lambda t: (t.provider, parse_version(t.version)))]


def load_table(provider: str, version: str) -> ProviderTable:
    """The packaged table of ``provider`` (e.g. ``bpg/proxmox``) at exactly ``version``."""
    name = f"{provider.lower().replace('/', '-')}-{version}.json"
    if name not in _files():
        raise LookupError(f"no packaged table for {provider} {version}")
    return _read(name)


Version = tuple[int, int, int, tuple[tuple[int, Any], ...] | None]


def parse_version(text: str) -> Version:
    """(major, minor, patch, pre-release key or None); a pre-release sorts below its release."""
    m = _VERSION.match(text.strip())
    if not m:
        raise InvalidInput(f"not a version: {text!r}")
    pre = None if m[4] is None else tuple((0, int(p)) if p.isdigit() else (1, p)
                                          for p in re.findall(r"\d+|[^\d.-]+", m[4]))
    return int(m[1]), int(m[2] or 0), int(m[3] or 0), pre


def _key(v: Version) -> tuple[int, int, int, int, tuple[tuple[int, Any], ...]]:
    return v[0], v[1], v[2], 0 if v[3] is not None else 1, v[3] or ()


def _matches_one(version: Version, op: str, text: str) -> bool:
    want, given = parse_version(text), len(text.split("-")[0].lstrip("v").split("."))
    a, b = _key(version), _key(want)
    if op == "~>":
        upper = (want[0] + 1, 0, 0) if given <= 2 else (want[0], want[1] + 1, 0)
        return a >= b and (version[0], version[1], version[2]) < upper
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def satisfies(version: str, constraint: str | None) -> bool:
    """Whether ``version`` meets a Terraform constraint (``>= 1.2, < 2``, ``~> 2.9``, ``0.66.3``).

    As in Terraform, a pre-release version is selected only by a constraint that names a pre-release.
    """
    v = parse_version(version)
    parts = [p.strip() for p in (constraint or "").split(",") if p.strip()]
    parsed = []
    for part in parts:
        m = _CONSTRAINT.match(part)
        if not m:
            raise InvalidInput(f"not a version constraint: {part!r}")
        parsed.append((m[1] or "=", m[2]))
    if v[3] is not None and not any(parse_version(t)[3] is not None for _, t in parsed):
        return False
    return all(_matches_one(v, op, t) for op, t in parsed)


def table_for(source: str, constraint: str | None) -> ProviderTable | None:
    """The newest packaged table of provider ``source`` whose version satisfies ``constraint``."""
    wanted = source.lower().removeprefix("registry.terraform.io/")
    versions = [v for p, v in available_tables() if p.lower() == wanted and satisfies(v, constraint)]
    return load_table(wanted, versions[-1]) if versions else None
