"""HCL written as text: blocks of attributes, nested blocks and comments, rendered in a deterministic order
with escaped strings and attribute runs aligned as ``terraform fmt`` aligns them. Nothing imports pytest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PLAIN, _IDENT = re.compile(r'[^"\\$%\x00-\x1f\x7f]*'), re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Raw(str):
    """An HCL expression written as is (``var.x``, ``all``), not as a quoted string."""


@dataclass
class Block:
    """An HCL block: ``(key, value)`` attributes (None values left out), ``(_, Block)``, ``("#", comment)``."""

    type: str
    body: list[tuple[str, Any]]
    labels: tuple[str, ...] = field(default=())


def quote(text: str) -> str:
    """``text`` as an HCL string literal (escaped, ``${``/``%{`` doubled so nothing is interpolated)."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    out = out.replace("\t", "\\t").replace("${", "$${").replace("%{", "%%{")
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", out) + '"'


def _value(value: Any, indent: str) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return repr(value) if not isinstance(value, str) else quote(value)
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item, indent) for item in value) + "]"
    keys = {key: key if _IDENT.fullmatch(str(key)) else quote(str(key)) for key in value}
    width = max(map(len, keys.values()), default=0)
    inner = "".join(f"{indent}  {keys[k]:<{width}} = {_value(v, indent + '  ')}\n" for k, v in value.items())
    return "{\n" + inner + indent + "}" if inner else "{}"


def comment(text: str) -> str:
    """``# text`` as one HCL comment line: anything but printable ASCII (a line break above all) becomes ``?``."""
    return "# " + re.sub(r"[^ -~]", "?", text)


def render(block: Block, indent: str = "") -> str:
    """``block`` as HCL text, runs of attributes aligned as ``terraform fmt`` does."""
    lines = [indent + " ".join([block.type, *(quote(label) for label in block.labels), "{"])]
    run: list[tuple[str, Any]] = []
    for key, value in [*block.body, ("#", None)]:
        if key == "#" or isinstance(value, Block):
            width = max((len(k) for k, _ in run), default=0)
            lines += [f"{indent}  {k:<{width}} = {_value(v, indent + '  ')}" for k, v in run]
            run = []
        if isinstance(value, Block):
            lines.append(render(value, indent + "  "))
        elif key == "#" and value is not None:
            lines.append(f"{indent}  " + comment(str(value)))
        elif key != "#" and value is not None:
            run.append((key, value))
    return "\n".join([*lines, indent + "}"])
