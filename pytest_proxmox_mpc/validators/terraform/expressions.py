"""Terraform expressions as far as they are known without running Terraform: references to variables and
locals replaced by their bound values, ``dynamic`` blocks expanded where their ``for_each`` is a literal list
or map; anything else stays an ``Unresolved`` text that no check judges by value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BLOCK = "__is_block__"
_REFERENCE = re.compile(r"\$\{(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)\}")


class Unresolved(str):
    """An expression whose value is not known without running Terraform (a function call, a data source)."""


_ESCAPE = re.compile(r"(\$\$\{|%%\{)")


def literal(value: str) -> str | None:
    """A string with no interpolation or directive, its escapes (``$${``, ``%%{``) read as HCL reads them; None
    for a template (``${...}``, ``%{...}``)."""
    parts = _ESCAPE.split(value)
    if any("${" in part or "%{" in part for part in parts[::2]):
        return None
    return "".join(part[1:] if i % 2 else part for i, part in enumerate(parts))


def resolve(value: Any, scope: Mapping[str, Mapping[str, Any]]) -> Any:
    """``value`` with ``${var.x}`` and ``${local.x}`` replaced by their values; other expressions Unresolved; a
    literal's escapes read (``"a%%{b"`` is ``a%{b``)."""
    if isinstance(value, str) and ("{" in value) and literal(value) is not None:
        return literal(value)
    if isinstance(value, str) and ("${" in value or "%{" in value):
        match = _REFERENCE.fullmatch(value)
        if match:
            kind = "var" if match.group(1) == "var" else "local"
            return scope.get(kind, {}).get(match.group(2), Unresolved(value))
        return Unresolved(value)
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    if isinstance(value, dict):
        return {k: resolve(v, scope) if k != BLOCK else v for k, v in value.items()}
    return value


def _substitute(value: Any, iterator: str, item: Any) -> Any:
    """A dynamic block's content with ``<iterator>.value`` (``.key``, ``["key"]``) replaced by ``item``'s."""
    if isinstance(value, dict):
        return {k: _substitute(v, iterator, item) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, iterator, item) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    pattern = re.compile(rf'\$\{{{re.escape(iterator)}\.value(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\["([^"]+)"\])?\}}')

    def pick(match: re.Match[str]) -> Any:
        key = match.group(1) or match.group(2)
        if key is None:
            return item
        return item.get(key, Unresolved(match.group(0))) if isinstance(item, dict) else Unresolved(match.group(0))

    whole = pattern.fullmatch(value)
    if whole:
        return pick(whole)
    text = pattern.sub(lambda m: str(pick(m)), value)
    return Unresolved(text) if "${" in text else text


def expand_dynamic(body: Any) -> Any:
    """``dynamic "x" { for_each = [...]; content { ... } }`` as the ``x`` blocks it makes, where ``for_each`` is
    a literal list or map (a bound variable); one whose items are not known here is left as it is."""
    if isinstance(body, list):
        return [expand_dynamic(item) for item in body]
    if not isinstance(body, dict):
        return body
    out = {k: expand_dynamic(v) for k, v in body.items() if k != "dynamic"}
    kept = []
    for entry in body.get("dynamic", []):
        for label, spec in _attributes(entry).items():
            items = spec.get("for_each") if isinstance(spec, dict) else None
            items = list(items.values()) if isinstance(items, dict) else items
            if not isinstance(items, list):
                kept.append(entry)
                continue
            iterator = str(spec.get("iterator", label))
            content = _first(spec, "content")
            out.setdefault(label, [])
            out[label] = list(out[label]) + [{**expand_dynamic(_substitute(dict(content), iterator, item)), BLOCK: True}
                                             for item in items]
    if kept:
        out["dynamic"] = kept
    return out


def _attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != BLOCK}


def _first(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key, [])
    found = [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]
    return found[0] if found else {}


_REF = re.compile(r"\b(?:var|local)\.[A-Za-z_][A-Za-z0-9_-]*")


def references(raw: Any, names: frozenset[str], path: str = "") -> dict[str, str]:
    """path (``cpu.cores``: blocks' indices left out) -> the reference (``var.x``) for each value of ``raw`` that
    uses one of ``names``."""
    found: dict[str, str] = {}
    if isinstance(raw, str):
        used = sorted(set(_REF.findall(raw)) & names)
        if used:
            found[path] = used[0]
    elif isinstance(raw, list):
        for item in raw:
            found.update(references(item, names, path))
    elif isinstance(raw, dict):
        for key, value in raw.items():
            if key != BLOCK:
                found.update(references(value, names, f"{path}.{key}" if path else key))
    return found
