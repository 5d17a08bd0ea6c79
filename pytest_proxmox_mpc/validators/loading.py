"""Large loads, made once and without the garbage collector: YAML kept by content, and the collector paused.

A 10,000-guest inventory is 3.75 MB of YAML: PyYAML's C loader reads it in under a second, but made a million
objects the collector scanned again and again as they came (3.5 s a load), and each Ansible check loaded it once
more. A load makes no reference cycle, so pausing the collector loses nothing; and the checks of one run share one
load (kept by the file's content, read-only), as they share one parse of each ``.tf`` file.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ..files.inputs import cannot_judge

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's where PyYAML has it
KEPT_LOADS = 64  # the YAML files of a few workspaces (phases, mutations)...
KEPT_BYTES = 8_000_000  # ...and of their files no more than two 10,000-host inventories
Loaded = tuple[Any, str | None]  # (the data, None) or (None, what is wrong with the file)

_kept: OrderedDict[tuple[str, str], tuple[Loaded, int]] = OrderedDict()
_guard = threading.Lock()  # the checks load in this thread, a lint started ahead in its own


@contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector off for a large load (on again after, if it was)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_yaml(path: Path) -> Loaded:
    """(the file's YAML data, None), or (None, what is wrong with it, with the line where YAML says); kept by the
    file's content, so the checks of a run load a file once: treat the data as read-only."""
    if problem := cannot_judge(path):
        return None, problem
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    key = (str(path), hashlib.sha256(raw).hexdigest())
    with _guard:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found[0]
    loaded = _load(raw)
    with _guard:
        _kept[key] = (loaded, len(raw))
        while len(_kept) > 1 and (len(_kept) > KEPT_LOADS or sum(size for _, size in _kept.values()) > KEPT_BYTES):
            _kept.popitem(last=False)  # the least recently used first: the workspace of now stays
    return loaded


def _load(raw: bytes) -> Loaded:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    try:
        with gc_paused():
            return yaml.load(text, Loader=SAFE_LOADER), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        return None, f"not YAML{line}: {getattr(exc, 'problem', exc)}"
