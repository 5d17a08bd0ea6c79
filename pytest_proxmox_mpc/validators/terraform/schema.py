"""What the provider would refuse before any plan: a resource or data source type it does not have, an argument
it does not have, a block written as an argument (or the other way round), more blocks than it takes, a value
of the wrong type, a required argument or block missing. Judged by the packaged table of the provider version
the constraint selects (``provider_tables``); a block whose contents the table did not read is not judged."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...model.inventory import Inventory
from ..findings import Finding
from ..provider_tables import AttributeSchema, BlockSchema, ProviderTable, ResourceSchema
from .expressions import BLOCK
from .hclfiles import TfWorkspace, attributes, blocks, is_block_list
from .provider import CHECK, declared_providers, table_of

META = frozenset({"count", "for_each", "provider", "depends_on", "lifecycle", "connection", "provisioner",
                  "dynamic"})
PROVIDER_META = frozenset({"alias", "version"})
_NUMBER = (int, float)


def _wrong_type(schema: AttributeSchema, value: Any) -> str | None:
    if not isinstance(value, (str, bool, int, float, list, dict)) or (isinstance(value, str) and "${" in value):
        return None  # an expression: its type is known only to Terraform
    if schema.type == "bool" and not (isinstance(value, bool) or str(value).lower() in ("true", "false")):
        return "a bool (true or false)"
    if schema.type in ("int", "float") and (isinstance(value, bool) or not _numeric(value)):
        return f"a number ({schema.type})"
    if schema.type in ("list", "set") and not isinstance(value, list):
        return f"a {schema.type} ([...])"
    if schema.type == "string" and isinstance(value, (list, dict)):
        return "a string"
    return None


def _numeric(value: Any) -> bool:
    if isinstance(value, _NUMBER):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def judge_body(body: Mapping[str, Any], schema: BlockSchema | ResourceSchema, path: str, where: str,
               what: str, top: bool = True) -> list[Finding]:
    """Findings for one block's contents against its schema (``path``: the block's own path, ``""`` on top)."""
    findings = []
    for key, value in attributes(body).items():
        field = f"{path}{key}"
        if (top and key in META) or key == "dynamic":  # a dynamic block's content is judged where it is known
            continue
        if key in schema.blocks:
            block = schema.blocks[key]
            if not is_block_list(value):
                findings.append(Finding(CHECK, where, field, note=f"{what} takes {key} as a block ({key} {{ ... }}), "
                                        f"not as an argument ({key} = ...)"))
                continue
            if block.max_items is not None and len(value) > block.max_items:
                findings.append(Finding(CHECK, where, field, note=(
                    f"{len(value)} {key} blocks; {what} takes at most {block.max_items}")))
            if block.attributes or block.blocks:
                for item in value:
                    findings += judge_body(item, block, f"{field}.", where, what, top=False)
        elif key in schema.attributes:
            if is_block_list(value):
                findings.append(Finding(CHECK, where, field, note=f"{what} takes {key} as an argument "
                                        f"({key} = ...), not as a block"))
                continue
            wrong = _wrong_type(schema.attributes[key], value)
            if wrong:
                findings.append(Finding(CHECK, where, field, note=f"{value!r} is not {wrong}, as {what} needs"))
        elif not schema.partial:
            findings.append(Finding(CHECK, where, field, note=f"{what} has no argument or block {key!r}"))
    present = set(attributes(body))
    for key, attribute in schema.attributes.items():
        if attribute.required and key not in present:
            findings.append(Finding(CHECK, where, f"{path}{key}", note=f"required by {what}, and missing"))
    for key, block in schema.blocks.items():
        if block.required and key not in present:
            findings.append(Finding(CHECK, where, f"{path}{key}", note=f"a {key} block is required by {what}"))
    return findings


def _judge_kind(table: ProviderTable, kind: str, rtype: str, body: Any, file: Path, name: str) -> list[Finding]:
    where = f"terraform/{file.as_posix()} {'data.' if kind == 'data' else ''}{rtype}.{name}"
    known = table.resources if kind == "resource" else table.data_sources
    label = f"{table.provider} {table.version}"
    if rtype not in known:
        noun = "resource" if kind == "resource" else "data source"
        return [Finding(CHECK, where, "type", note=f"{label} has no {noun} type {rtype!r}")]
    return judge_body(body if isinstance(body, dict) else {}, known[rtype], "", where, f"{label} {rtype}")


def check_schema(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """Every resource, data source and provider block of a proxmox provider against the provider's table."""
    findings: list[Finding] = []
    for file, data in tf.parsed.items():
        for kind in ("resource", "data"):
            for rtype, named in blocks(data, kind):
                table = table_of(tf, rtype) if rtype.startswith("proxmox_") else None
                if table is None or not isinstance(named, dict):
                    continue
                for name, body in ((k, v) for k, v in named.items() if k != BLOCK):
                    findings += _judge_kind(table, kind, rtype, body, file, name)
    declared = declared_providers(tf)
    for file, data in tf.files_in("."):
        for label, body in blocks(data, "provider"):
            entry = declared.get(label)
            arguments = entry.table.provider_arguments if entry is not None and entry.table is not None else None
            if arguments is None or not isinstance(body, dict) or not (arguments.attributes or arguments.blocks):
                continue  # no table, or one whose provider arguments were not read
            assert entry is not None and entry.table is not None
            what = f"the {entry.table.provider} {entry.table.version} provider block"
            own = {k: v for k, v in body.items() if k not in PROVIDER_META}
            findings += judge_body(own, arguments, "", f"terraform/{file.as_posix()} "
                                   f"provider {label}", what, top=False)
    return findings
