"""A workspace's Terraform read as Terraform would: files parsed, modules instantiated, variables resolved.

Every ``.tf`` file below ``terraform/`` is parsed; a file that does not parse is reported once, and its
top-level blocks that do parse on their own are still read, so one typo does not hide the file's other
resources. The root module and every module a ``module`` block calls (a local ``source``) are instances, each
with its variables bound (the call's arguments, else the variable's default; the root's from the defaults,
``terraform.tfvars`` and ``*.auto.tfvars``); a resource is judged once per instance. A directory no module
loads is reported once and its resources are judged all the same (unbound variables from their defaults).
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .expressions import BLOCK, expand_dynamic, resolve

_TOP = re.compile(r'^([A-Za-z_][A-Za-z0-9_-]*)((?:\s+(?:"[^"\n]*"|[A-Za-z_][A-Za-z0-9_-]*))*)\s*\{', re.M)
_VMID = re.compile(r"^\s*(?:vm_id|vmid)\b[^\n\d]*(\d+)\s*$", re.M)  # loosely: the block does not parse
MODULE_META = frozenset({"source", "version", "providers", "count", "for_each", "depends_on"})
MAX_DEPTH = 8


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


@dataclass(frozen=True)
class Instance:
    """One instance of a module: its directory (relative to ``terraform/``, root ``.``), address prefix
    (``""``, ``module.vms.``; None for a directory no module loads) and its bound variables and locals."""

    directory: str
    prefix: str | None
    scope: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class TfResource:
    """A resource block in one module instance; ``body`` has the instance's variables substituted."""

    file: Path
    module_dir: str
    type: str
    name: str
    body: Mapping[str, Any]
    prefix: str | None = ""
    several: bool = False  # the directory has several instances: ``where`` names this one

    @property
    def address(self) -> str | None:
        return None if self.prefix is None else f"{self.prefix}{self.type}.{self.name}"

    @property
    def where(self) -> str:
        place = f"terraform/{self.file.as_posix()} {self.type}.{self.name}"
        return f"{place} ({self.address})" if self.several and self.address else place

    @property
    def ignored(self) -> frozenset[str]:
        """The attributes ``lifecycle { ignore_changes }`` names (``all``: every one)."""
        names: set[str] = set()
        for block in listed(self.body, "lifecycle"):
            value = block.get("ignore_changes")
            items = value if isinstance(value, list) else [value]
            names.update(re.sub(r"\[\d+\]", "", str(item).removeprefix("${").removesuffix("}")) for item in items
                         if item is not None)
        return frozenset(names)


def attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    """A block's arguments and nested blocks, without the parser's block markers."""
    return {k: v for k, v in body.items() if k != BLOCK}


def is_block_list(value: Any) -> bool:
    """Whether a value was written as blocks (``x { ... }``), not as an argument (``x = ...``)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get(BLOCK) for v in value)


def listed(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The nested blocks (or object values) ``key`` of ``body``."""
    value = body.get(key, [])
    return [item for item in (value if isinstance(value, list) else [value]) if isinstance(item, dict)]


def first(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = listed(body, key)
    return found[0] if found else {}


def blocks(data: Mapping[str, Any], kind: str) -> Iterator[tuple[str, Any]]:
    """(label, body) of each top-level block ``kind`` (``variable``, ``module``, ``resource`` by type)."""
    for entry in data.get(kind, []):
        yield from ((k, v) for k, v in entry.items() if k != BLOCK)


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


@dataclass(frozen=True)
class ModuleCall:
    """A ``module`` block with a local source: where it is, its label, its source directory and arguments."""

    file: Path
    name: str
    target: str
    arguments: Mapping[str, Any]


@dataclass
class TfWorkspace:
    """The parsed ``terraform/`` directory of a workspace."""

    root: Path
    parsed: dict[Path, dict[str, Any]] = field(default_factory=dict)
    broken: dict[Path, str] = field(default_factory=dict)
    lost: list[LostBlock] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    calls: list[ModuleCall] = field(default_factory=list)
    providers: Any = None  # provider.declared_providers, kept once worked out
    resolved: tuple[TfResource, ...] | None = None  # resources(), kept once worked out

    @property
    def has_root(self) -> bool:
        return (self.root / "main.tf").is_file() or any(p.parent.as_posix() == "." for p in self.parsed)

    def files_in(self, directory: str) -> list[tuple[Path, dict[str, Any]]]:
        return [(p, d) for p, d in self.parsed.items() if p.parent.as_posix() == directory]

    @property
    def root_files(self) -> list[dict[str, Any]]:
        return [data for _, data in self.files_in(".")]

    @property
    def root_scope(self) -> Mapping[str, Mapping[str, Any]]:
        return self.instances[0].scope if self.instances else {}

    def resources(self) -> list[TfResource]:
        """Every resource block, once per instance of its module (once for a directory no module loads)."""
        if self.resolved is not None:
            return list(self.resolved)
        found = []
        counts: dict[str, int] = {}
        for instance in self.instances:
            counts[instance.directory] = counts.get(instance.directory, 0) + 1
        for instance in self.instances:
            for path, data in self.files_in(instance.directory):
                for rtype, named in blocks(data, "resource"):
                    for name, body in ((k, v) for k, v in (named or {}).items() if k != BLOCK):
                        body = expand_dynamic(resolve(body if isinstance(body, dict) else {}, instance.scope))
                        found.append(TfResource(path, instance.directory, rtype, name, body, instance.prefix,
                                                counts[instance.directory] > 1))
        self.resolved = tuple(found)
        return found


def _variables(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    values = {}
    for _, data in files:
        for name, body in blocks(data, "variable"):
            if isinstance(body, dict) and "default" in body:
                values[name] = body["default"]
    return values


def _scope(files: list[tuple[Path, dict[str, Any]]], variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scope: dict[str, dict[str, Any]] = {"var": variables, "local": {}}
    raw = {k: v for _, data in files for entry in data.get("locals", []) for k, v in attributes(entry).items()}
    for _ in range(3):  # locals may refer to each other: a few passes settle the usual chains
        scope["local"] = {k: resolve(v, scope) for k, v in raw.items()}
    return scope


def _tfvars_files(root: Path) -> list[Path]:
    return [path for path in [root / "terraform.tfvars", *sorted(root.glob("*.auto.tfvars"))] if path.is_file()]


def _tfvars(texts: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for text in texts:
        try:
            values.update(attributes(_parse_text(text)))
        except Exception:  # a broken tfvars file binds nothing; the .tf files are judged all the same
            continue
    return values


def clear_caches() -> None:
    """Forget every parse and every workspace read (a benchmark's cold start)."""
    _parse_text.cache_clear()
    _build.cache_clear()


def read_terraform(workspace: Path) -> TfWorkspace:
    """``workspace/terraform`` parsed, with its module instances; each call returns its own copies."""
    return read_root(Path(workspace) / "terraform")


def read_root(root: Path) -> TfWorkspace:
    """A ``terraform/`` directory parsed, with its module instances: one object per content (the registry's
    Terraform checks each read the same workspace); treat it as read-only."""
    root = Path(root)
    texts = []
    for path in sorted(root.rglob("*.tf")) if root.is_dir() else []:
        try:
            texts.append((path.relative_to(root), path.read_text(encoding="utf-8"), ""))
        except (OSError, UnicodeDecodeError) as exc:
            texts.append((path.relative_to(root), "", first_line(exc)))
    tfvars = tuple(p.read_text(encoding="utf-8", errors="replace") for p in _tfvars_files(root))
    return _build(root, tuple(texts), tfvars)


@functools.lru_cache(maxsize=16)
def _build(root: Path, texts: tuple[tuple[Path, str, str], ...], tfvars: tuple[str, ...]) -> TfWorkspace:
    tf = TfWorkspace(root)
    for relative, text, unreadable in texts:
        if unreadable:
            tf.broken[relative] = unreadable
            continue
        data, problem, lost = _parse_file(relative, text)
        if data is not None:
            tf.parsed[relative] = data
        if problem is not None:
            tf.broken[relative] = problem
            tf.lost += lost
    root_files = tf.files_in(".")
    tf.instances.append(Instance(".", "", _scope(root_files, {**_variables(root_files), **_tfvars(tfvars)})))
    queue = [tf.instances[0]]
    while queue:
        parent = queue.pop(0)
        for _, data in tf.files_in(parent.directory):
            for name, body in blocks(data, "module"):
                source = str(body.get("source", "")) if isinstance(body, dict) else ""
                if not source.startswith(("./", "../")) or (parent.prefix or "").count("module.") >= MAX_DEPTH:
                    continue
                target = Path(parent.directory, source).as_posix()
                target = str(Path(target)) if target != "." else "."
                args = {k: resolve(v, parent.scope) for k, v in attributes(body).items() if k not in MODULE_META}
                tf.calls.append(ModuleCall(next(p for p, d in tf.files_in(parent.directory) if d is data), name,
                                           target, args))
                files = tf.files_in(target)
                child = Instance(target, f"{parent.prefix}module.{name}.", _scope(files, {**_variables(files), **args}))
                tf.instances.append(child)
                queue.append(child)
    loaded = {instance.directory for instance in tf.instances}
    for directory in sorted({p.parent.as_posix() for p in tf.parsed} - loaded):
        files = tf.files_in(directory)
        tf.unloaded.append(directory)
        tf.instances.append(Instance(directory, None, _scope(files, _variables(files))))
    return tf


def missing_sources(tf: TfWorkspace) -> list[ModuleCall]:
    """Module calls whose local source directory holds no ``.tf`` file (Terraform refuses to init)."""
    present = {path.parent.as_posix() for path in tf.parsed} | {path.parent.as_posix() for path in tf.broken}
    return [call for call in tf.calls if call.target not in present]
