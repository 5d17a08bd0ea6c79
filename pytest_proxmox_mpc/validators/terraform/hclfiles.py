"""A workspace's Terraform read as Terraform would: files parsed, modules instantiated, variables resolved.

Every ``.tf`` file below ``terraform/`` is parsed; a file that does not parse is reported once, and its
top-level blocks that do parse on their own are still read, so one typo does not hide the file's other
resources. The root module and every module a ``module`` block calls (a local ``source``) are instances, each
with its variables bound (the call's arguments, else the variable's default; the root's from the defaults,
``terraform.tfvars`` and ``*.auto.tfvars``); a resource is judged once per instance. A directory no module
loads is reported once and its resources are judged all the same (unbound variables from their defaults, or
from the root module where only it declares them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...files.inputs import cannot_judge
from ..loading import gc_paused
from .expressions import BLOCK, expand_dynamic, references, resolve
from .parsing import LostBlock, _parse_file, _parse_text, first_line, forget, parse_all, start_parsing

MODULE_META = frozenset({"source", "version", "providers", "count", "for_each", "depends_on"})
MAX_DEPTH = 8


@dataclass(frozen=True)
class Instance:
    """One instance of a module: its directory (relative to ``terraform/``, root ``.``), address prefix
    (``""``, ``module.vms.``; None for a directory no module loads) and its bound variables and locals."""

    directory: str
    prefix: str | None
    scope: Mapping[str, Mapping[str, Any]]
    borrowed: frozenset[str] = frozenset()  # ``var.x``/``local.x`` a loose directory takes from the root module


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
    borrowed: Mapping[str, str] = field(default_factory=dict)  # path (``cpu.cores``) -> root value it took

    def from_root(self, *paths: str) -> str:
        """A note for a value some of ``paths`` took from the root module (a directory no module loads), else ``""``."""
        refs = sorted({self.borrowed[re.sub(r"\[\d+\]", "", p)] for p in paths
                       if re.sub(r"\[\d+\]", "", p) in self.borrowed})
        if not refs:
            return ""
        return (f" ({', '.join(refs)} taken from the root module, which declares {'it' if len(refs) == 1 else 'them'}"
                ": Terraform never loads this file, so it is judged as its author evidently meant it)")

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
                    for name, raw in ((k, v) for k, v in (named or {}).items() if k != BLOCK):
                        raw = raw if isinstance(raw, dict) else {}
                        body = expand_dynamic(resolve(raw, instance.scope))
                        found.append(TfResource(path, instance.directory, rtype, name, body, instance.prefix,
                                                counts[instance.directory] > 1,
                                                references(raw, instance.borrowed) if instance.borrowed else {}))
        self.resolved = tuple(found)
        return found


def _variables(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    values = {}
    for _, data in files:
        for name, body in blocks(data, "variable"):
            if isinstance(body, dict) and "default" in body:
                values[name] = body["default"]
    return values


def _scope(files: list[tuple[Path, dict[str, Any]]], variables: dict[str, Any],
           inherited: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    scope: dict[str, dict[str, Any]] = {"var": variables, "local": dict(inherited or {})}
    raw = {k: v for _, data in files for entry in data.get("locals", []) for k, v in attributes(entry).items()}
    for _ in range(3):  # locals may refer to each other: a few passes settle the usual chains
        scope["local"] = {**(inherited or {}), **{k: resolve(v, scope) for k, v in raw.items()}}
    return scope


def _loose(files: list[tuple[Path, dict[str, Any]]], root: Instance) -> Instance:
    """The instance of a directory no module loads. A variable or local it uses but does not declare, which the
    root module declares (the real Proxmox-MPC's ``vms/*.tf`` say ``var.default_node`` of its ``main.tf``), is
    taken from the root module: the file is judged as its author evidently meant it, and its findings say so."""
    declared = {name for _, data in files for name, _ in blocks(data, "variable")}
    own_locals = {k for _, data in files for entry in data.get("locals", []) for k in attributes(entry)}
    variables = {k: v for k, v in root.scope.get("var", {}).items() if k not in declared}
    local = {k: v for k, v in root.scope.get("local", {}).items() if k not in own_locals}
    borrowed = frozenset({f"var.{k}" for k in variables} | {f"local.{k}" for k in local})
    return Instance(files[0][0].parent.as_posix(), None, _scope(files, {**variables, **_variables(files)}, local),
                    borrowed)


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
    forget()
    _build.cache_clear()


def read_terraform(workspace: Path) -> TfWorkspace:
    """``workspace/terraform`` parsed, with its module instances; each call returns its own copies."""
    return read_root(Path(workspace) / "terraform")


def _texts(root: Path) -> list[tuple[Path, str, str]]:
    """(relative path, text, why it is unreadable) of each ``.tf`` file below ``root``."""
    texts = []
    for path in sorted(root.rglob("*.tf")) if root.is_dir() else []:
        if problem := cannot_judge(path, "Terraform file"):
            texts.append((path.relative_to(root), "", problem))
            continue
        try:
            texts.append((path.relative_to(root), path.read_text(encoding="utf-8"), ""))
        except (OSError, UnicodeDecodeError) as exc:
            texts.append((path.relative_to(root), "", first_line(exc)))
    return texts


def start_reading(workspace: Path) -> None:
    """The ``.tf`` files of ``workspace/terraform`` parsed in the background, for ``read_terraform`` to find kept."""
    start_parsing(lambda: [text for _, text, unreadable in _texts(Path(workspace) / "terraform") if not unreadable])


def read_root(root: Path) -> TfWorkspace:
    """A ``terraform/`` directory parsed, with its module instances: one object per content (the registry's
    Terraform checks each read the same workspace); treat it as read-only."""
    root = Path(root)
    texts = _texts(root)
    tfvars = tuple(p.read_text(encoding="utf-8", errors="replace") for p in _tfvars_files(root)
                   if not cannot_judge(p, "Terraform file"))
    parse_all([text for _, text, unreadable in texts if not unreadable])  # many files: across the cores, once
    with gc_paused():  # a large workspace is a few million objects, none of them in a cycle
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
        tf.unloaded.append(directory)
        tf.instances.append(_loose(tf.files_in(directory), tf.instances[0]))
    return tf


def missing_sources(tf: TfWorkspace) -> list[ModuleCall]:
    """Module calls whose local source directory holds no ``.tf`` file (Terraform refuses to init)."""
    present = {path.parent.as_posix() for path in tf.parsed} | {path.parent.as_posix() for path in tf.broken}
    return [call for call in tf.calls if call.target not in present]
