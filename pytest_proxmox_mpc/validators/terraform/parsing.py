"""Parsing one ``.tf`` file with python-hcl2: kept by content, and a file that does not parse read block by block
(the blocks that parse kept, the broken ones known by their header and a literal vmid)."""

from __future__ import annotations

import copy
import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOP = re.compile(r'^([A-Za-z_][A-Za-z0-9_-]*)((?:\s+(?:"[^"\n]*"|[A-Za-z_][A-Za-z0-9_-]*))*)\s*\{', re.M)
_VMID = re.compile(r"^\s*(?:vm_id|vmid)\b[^\n\d]*(\d+)\s*$", re.M)  # loosely: the block does not parse


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> dict[str, Any]:
    """One text's parse, kept by its content: the registry's Terraform checks each read the same files, and
    parsing is nearly all of a check's time. A file that changed is a new key, whatever its mtime. (python-hcl2
    and lark are imported by the first parse: a run that reads no Terraform, as phase 1, never loads them.)"""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=True)
    return dict(hcl2.loads(text, serialization_options=options))


def first_line(exc: Exception) -> str:
    """The first line of a parser's error (at most 200 characters): what a finding shows."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@dataclass(frozen=True)
class LostBlock:
    """A top-level block of a file that does not parse, known only by its header (and a literal vmid)."""

    file: Path
    kind: str
    labels: tuple[str, ...]
    vmid: int | None


def _parse_file(relative: Path, text: str) -> tuple[dict[str, Any] | None, str | None, list[LostBlock]]:
    try:
        return copy.deepcopy(_parse_text(text)), None, []
    except Exception as exc:  # python-hcl2 raises lark's errors, which share no base class worth naming
        problem = first_line(exc)
    starts = [m.start() for m in _TOP.finditer(text)] + [len(text)]
    merged: dict[str, list[Any]] = {}
    lost = []
    for begin, end in itertools.pairwise(starts):
        chunk = text[begin:end]
        try:
            for kind, entries in _parse_text(chunk).items():
                merged.setdefault(kind, []).extend(copy.deepcopy(entries))
        except Exception:  # this block is the broken one: known by its header only
            header = _TOP.match(chunk)
            assert header is not None
            vmid = _VMID.search(chunk)
            lost.append(LostBlock(relative, header.group(1), tuple(re.findall(r'"([^"]*)"', header.group(2))),
                                  int(vmid.group(1)) if vmid else None))
    return merged, problem, lost
