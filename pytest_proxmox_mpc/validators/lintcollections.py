"""What ansible-lint cannot judge on the machine the suite runs on: modules and roles of Ansible collections that
are not installed here.

ansible-lint's syntax check (``ansible-playbook --syntax-check``) resolves every module a task names, and every
role a play names. A module of a collection that is not installed where the suite runs fails it
(``syntax-check[unknown-module]``) though the playbook may be right: the collection is a requirement of the
playbook, installed where it runs. Such a violation says nothing about the workspace, so it is set apart as
"cannot be judged here", naming the collection; and since ansible-lint judges nothing else in a file it cannot
syntax-check, the note says that too. A module of a collection that is installed here (``ansible.builtin``
always is), or a short name that no routing and no play's ``collections:`` keyword sends to a collection, stays
a violation: a misspelt module is the workspace's.

Short names of modules that left ansible-core are routed to their collections by ansible-core's own table
(``config/ansible_builtin_runtime.yml``: ``timezone`` is ``community.general.timezone``). Collections are looked
for where Ansible looks: the search path ansible-lint is given (the suite's setting, else
``ANSIBLE_COLLECTIONS_PATH``, else Ansible's default for the user: the suite gives ansible-lint a home of its own,
which would otherwise hide the user's ``~/.ansible/collections``), this interpreter's ``sys.path``, and the
project's own ``collections/`` folders. Nothing here imports pytest or Ansible.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ALWAYS = frozenset({"ansible.builtin", "ansible.legacy"})
UNKNOWN_MODULE = re.compile(r"syntax-check\[unknown-module\].*couldn't resolve module/action '([^']+)'")
UNKNOWN_ROLE = re.compile(r"syntax-check\[specific\].*the role '([^']+)' was not found")
SYSTEM_COLLECTIONS = "/usr/share/ansible/collections"
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Collections:
    """The collections ansible-lint sees for a project: its search path (``ANSIBLE_COLLECTIONS_PATH``) and each
    collection found (``namespace.name`` -> version, ``?`` when it says none)."""

    search_path: tuple[str, ...]
    installed: Mapping[str, str]

    def environment(self) -> dict[str, str]:
        return {"ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(self.search_path)}

    def fingerprint(self) -> str:
        """What an ansible-lint result depends on here: the search path and every collection with its version."""
        return repr((self.search_path, sorted(self.installed.items())))

    def has(self, collection: str) -> bool:
        return collection in ALWAYS or collection in self.installed


def search_path(configured: Sequence[Path] | None = None, environ: Mapping[str, str] = os.environ
                ) -> tuple[str, ...]:
    """The folders ansible-lint is told to find collections in: ``configured``, else the environment's
    ``ANSIBLE_COLLECTIONS_PATH`` (or its older name), else Ansible's default for the user."""
    if configured:
        return tuple(str(path) for path in configured)
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"):
        if environ.get(name, "").strip():
            return tuple(part for part in environ[name].split(os.pathsep) if part)
    home = environ.get("ANSIBLE_HOME") or os.path.join(os.path.expanduser("~"), ".ansible")
    return os.path.join(home, "collections"), SYSTEM_COLLECTIONS


def collections_for(project: Path, configured: Sequence[Path] | None = None,
                    environ: Mapping[str, str] = os.environ) -> Collections:
    """The collections ansible-lint sees when it lints ``project``."""
    path = search_path(configured, environ)
    roots = [*path, *sys.path, str(project / "collections"), str(project / "playbooks" / "collections"),
             str(project / ".ansible" / "collections")]
    found: dict[str, str] = {}
    for root in roots:
        for name, version in _collections_in(Path(root).expanduser()):
            found.setdefault(name, version)
    return Collections(path, found)


def _collections_in(root: Path) -> list[tuple[str, str]]:
    base = root if root.name == "ansible_collections" else root / "ansible_collections"
    try:
        namespaces = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError:
        return []
    found = []
    for namespace in namespaces:
        try:
            names = sorted(p for p in namespace.iterdir() if p.is_dir())
        except OSError:
            continue
        found += [(f"{namespace.name}.{name.name}", _version(name)) for name in names]
    return found


def _version(folder: Path) -> str:
    """The version an installed collection (``MANIFEST.json``) or a source tree (``galaxy.yml``) says it is."""
    try:
        return str(json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        text = (folder / "galaxy.yml").read_text(encoding="utf-8")
    except OSError:
        return "?"
    found = re.search(r"^version:\s*['\"]?([^'\"\s]+)", text, re.M)
    return found.group(1) if found else "?"


@functools.lru_cache(maxsize=1)
def _routing() -> Mapping[str, str]:
    """ansible-core's routing of short module names to the collections they moved to (read without importing
    Ansible: its package's ``config/ansible_builtin_runtime.yml``)."""
    spec = importlib.util.find_spec("ansible")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "config" / "ansible_builtin_runtime.yml"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
        except (OSError, yaml.YAMLError):
            continue
        modules = ((data or {}).get("plugin_routing") or {}).get("modules") or {}
        return {str(name): str(entry["redirect"]) for name, entry in modules.items()
                if isinstance(entry, dict) and isinstance(entry.get("redirect"), str)}
    return {}


def _play_collections(path: Path) -> list[str]:
    """The collections the plays of a playbook name in their ``collections:`` keyword."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    plays = data if isinstance(data, list) else []
    return [str(name) for play in plays if isinstance(play, dict) for name in (play.get("collections") or [])
            if isinstance(play.get("collections"), list)]


def owners(name: str, playbook: Path) -> list[str]:
    """The collections ``name`` (a module or role, short or fully qualified) may belong to."""
    parts = name.split(".")
    if len(parts) >= 3:
        return [".".join(parts[:2])]
    if len(parts) == 1 and name in _routing():
        return [".".join(_routing()[name].split(".")[:2])]
    return _play_collections(playbook) if len(parts) == 1 else []


def not_judged(line: str, project: Path, collections: Collections) -> str | None:
    """For a violation line of ansible-lint (``path:line[:col]: rule: message``), why it cannot be judged on this
    machine (a collection it needs is not installed here), or None when it is the workspace's."""
    found = UNKNOWN_MODULE.search(line) or UNKNOWN_ROLE.search(line)
    if found is None:
        return None
    name = found.group(1)
    relative, _, rest = line.partition(":")
    possible = owners(name, project / relative)
    missing = [owner for owner in possible if not collections.has(owner)]
    if not possible or len(missing) < len(possible):
        return None  # no collection it could be in, or one it could be in is here: the name is wrong
    where = f"ansible/{relative}:{rest.split(':', 1)[0]}"
    what = "module" if found.re is UNKNOWN_MODULE else "role"
    return (f"{where}: cannot be judged here: collection {' or '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed ({what} {name!r}); ansible-lint judged nothing "
            "else in this file (point it at the collections with --pve-ansible-collections or "
            "ANSIBLE_COLLECTIONS_PATH)")
