"""Scenarios for the sim target: fakepve's guests JSON, with a few optional keys of our own.

A scenario is the file fakepve's own command line serves (``{"guests": [...]}``), so the same file
can start a separate ``fakepve`` process for a ``live`` run. It may also carry keys fakepve's command
line ignores and the sim target applies: ``cluster_name``, ``nodes`` (names, ``online``),
``storages`` (id -> storage.cfg options), ``pools`` (id -> ``comment``) and ``files`` (volumes on a
storage: ``{"storage", "name", "size", "content"}``, e.g. container templates). Guests may name a
``pool``. Checking a scenario needs no fakepve: it happens when the settings are resolved.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..files.inputs import read_text_input
from ..model.vmids import VMID_MAX, VMID_MIN

GUEST_TYPES = ("qemu", "lxc")
TOP_KEYS = ("guests", "cluster_name", "nodes", "storages", "pools", "files", "comment", "pve_version", "api_schema")
FILE_KEYS = {"storage": str, "name": str, "size": int, "content": str}


def packaged_scenarios() -> list[str]:
    """Names of the scenarios shipped with the plugin."""
    folder = resources.files("pytest_proxmox_mpc.sim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def resolve_scenario(name_or_path: str, rootdir: Path) -> Path:
    """The scenario file for a packaged name or a path (relative to rootdir), after checking it.

    Raises ValueError with the file, and the line for a JSON syntax error.
    """
    if "/" not in name_or_path and not name_or_path.endswith(".json"):
        if name_or_path not in packaged_scenarios():
            raise InvalidInput(f"no packaged scenario {name_or_path!r}; packaged: "
                             + ", ".join(packaged_scenarios()) + " (or give a path to a JSON file)")
        path = Path(str(resources.files("pytest_proxmox_mpc.sim") / "scenarios" / (name_or_path + ".json")))
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_absolute():
            path = rootdir / path
    load_scenario(path)
    return path


def load_scenario(path: Path) -> dict[str, Any]:
    """Parse and check a scenario file; ValueError names the file (and line) of the first problem."""
    text = read_text_input(path, "scenario")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    problem = _problem(data)
    if problem:
        raise InvalidInput(f"{path}: {problem}")
    return data  # type: ignore[no-any-return]


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("guests"), list):
        return 'expected an object with a "guests" list'
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        return f"unknown key {unknown[0]!r}; known: {', '.join(TOP_KEYS)}"
    seen: set[int] = set()
    for index, guest in enumerate(data["guests"]):
        where = f"guests[{index}]"
        if not isinstance(guest, dict):
            return f"{where}: expected an object"
        vmid = guest.get("vmid")
        if not isinstance(vmid, int) or isinstance(vmid, bool) or not VMID_MIN <= vmid <= VMID_MAX:
            return f"{where}: vmid must be an integer from {VMID_MIN} to {VMID_MAX}"
        if vmid in seen:
            return f"{where}: vmid {vmid} is used twice"
        seen.add(vmid)
        if guest.get("type", "qemu") not in GUEST_TYPES:
            return f"{where}: type must be qemu or lxc"
        if guest.get("type", "qemu") == "qemu" and not isinstance(guest.get("name"), str):
            return f"{where}: a qemu guest needs a name"
        if not isinstance(guest.get("config", {}), dict):
            return f"{where}: config must be an object"
    for key in ("storages", "pools"):
        if not isinstance(data.get(key, {}), dict):
            return f"{key} must be an object"
    files = data.get("files", [])
    if not isinstance(files, list) or not all(
            isinstance(f, dict) and set(f) == set(FILE_KEYS) and all(isinstance(f[k], t) for k, t in FILE_KEYS.items())
            and f["storage"] in data.get("storages", {}) for f in files):
        return 'files must be a list of {"storage", "name", "size", "content"} on storages of the scenario'
    if not isinstance(data.get("pve_version", ""), str):
        return "pve_version must be a string, e.g. 9.0.10"
    schema = data.get("api_schema", {})
    removed = schema.get("remove", []) if isinstance(schema, dict) and set(schema) <= {"remove"} else None
    if not isinstance(removed, list) or not all(isinstance(r, str) and len(r.split()) in (2, 3) for r in removed):
        return 'api_schema must be {"remove": ["METHOD /template", "METHOD /template PARAMETER", ...]}'
    nodes = data.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and isinstance(n.get("name"), str) for n in nodes):
        return 'nodes must be a list of objects with a "name"'
    return None
