"""Parsing ``.tf`` files with python-hcl2: once per content, many files at once in worker processes, and a file that
does not parse read block by block (the blocks that parse kept, the broken ones known by their header and a literal
vmid)."""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..loading import gc_paused
from . import parseworkers

_TOP = re.compile(r'^([A-Za-z_][A-Za-z0-9_-]*)((?:\s+(?:"[^"\n]*"|[A-Za-z_][A-Za-z0-9_-]*))*)\s*\{', re.M)
_VMID = re.compile(r"^\s*(?:vm_id|vmid)\b[^\n\d]*(\d+)\s*$", re.M)  # loosely: the block does not parse
KEPT_TEXTS = 20_000  # parses kept by content: a 10,000-guest workspace's files and more


class HclError(Exception):
    """A text python-hcl2 did not parse, kept by content: the first line of its error."""


_kept: OrderedDict[str, dict[str, Any] | HclError] = OrderedDict()
_guard = threading.RLock()  # one parse of a text at a time: a caller waits for the parse started ahead of it


def _keep(text: str, parsed: dict[str, Any] | HclError) -> None:
    _kept[text] = parsed
    if len(_kept) > KEPT_TEXTS:
        _kept.popitem(last=False)


def _parse_text(text: str) -> dict[str, Any]:
    """One text's parse, kept by its content (HclError when it does not parse): the registry's Terraform checks
    each read the same files, and parsing is nearly all of a check's time. A file that changed is a new key,
    whatever its mtime. The parse is shared: treat it as read-only. (python-hcl2 and lark are imported by the
    first parse: a run that reads no Terraform, as phase 1, never loads them.)"""
    with _guard:
        found = _kept.get(text)
        if found is None:
            try:
                found = parseworkers.parse(text)
            except Exception as exc:  # python-hcl2 raises lark's errors, which share no base class worth naming
                found = HclError(first_line(exc))
            _keep(text, found)
        else:
            _kept.move_to_end(text)
    if isinstance(found, HclError):
        raise found
    return found


def parse_all(texts: Sequence[str]) -> None:
    """Every text of ``texts`` parsed and kept, those not kept yet in worker processes across the machine's cores
    when they are many (``parseworkers``), each once; the collector paused while the parses are taken in."""
    with _guard:  # a second caller (the check, after a start ahead) waits, then finds them kept
        todo = list(dict.fromkeys(text for text in texts if text not in _kept))
        if not parseworkers.worth_workers(todo):
            return  # parsed one by one, as they are asked for
        answers = parseworkers.parse_in_workers(todo)
        with gc_paused():
            for text, (ok, value) in zip(todo, answers, strict=True):
                _keep(text, value if ok else HclError(value))


def start_parsing(texts: Callable[[], Sequence[str]]) -> None:
    """``parse_all(texts())`` begun in the background (a daemon thread; the parses run in worker processes), so that
    the workspace's files are parsed while the cluster is read and other checks run."""
    threading.Thread(target=lambda: parse_all(texts()), daemon=True, name="pve-parse").start()


def forget() -> None:
    """Forget every parse (a benchmark's cold start)."""
    with _guard:
        _kept.clear()


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
        return _parse_text(text), None, []
    except HclError as exc:
        problem = str(exc)
    starts = [m.start() for m in _TOP.finditer(text)] + [len(text)]
    merged: dict[str, list[Any]] = {}
    lost = []
    for begin, end in itertools.pairwise(starts):
        chunk = text[begin:end]
        try:
            for kind, entries in _parse_text(chunk).items():
                merged.setdefault(kind, []).extend(copy.deepcopy(entries))
        except HclError:  # this block is the broken one: known by its header only
            header = _TOP.match(chunk)
            assert header is not None
            vmid = _VMID.search(chunk)
            lost.append(LostBlock(relative, header.group(1), tuple(re.findall(r'"([^"]*)"', header.group(2))),
                                  int(vmid.group(1)) if vmid else None))
    return merged, problem, lost
