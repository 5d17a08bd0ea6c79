"""The Ansible of a workspace against the cluster: the inventory, the playbooks' targets, ansible-lint."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from ..cluster.inventory import GuestInfo, Inventory
from ..files.lock import exclusively
from . import lintsplit
from .findings import Finding
from .terraform import GIB, cluster_cores, cluster_memory_mib

CHECK = "ansible"
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
IMPLICIT = frozenset({"all", "ungrouped", "localhost"})
LINT_TIMEOUT = 300
LINT_OPTIONS = ("-f", "pep8")  # one violation a line: path:line: rule: message


@dataclass
class InventoryHosts:
    """Groups (with their member hosts) and each host's variables, merged over the groups it is in."""

    groups: dict[str, set[str]] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)


def inventory_hosts(data: Any) -> InventoryHosts:
    """Walk a YAML inventory (``all: {vars, hosts, children: {...}}``) into groups and host variables: a host's own
    (merged over the places it is listed), over its groups' ``vars``, as Ansible ranks them (a child group's
    over its parent's, and at one depth by name)."""
    found = InventoryHosts()
    own: dict[str, dict[str, Any]] = {}
    layers: dict[str, tuple[int, dict[str, Any]]] = {}  # group -> (its depth, its vars)

    def walk(name: str, group: Any, depth: int) -> None:
        members = found.groups.setdefault(name, set())
        group = group if isinstance(group, dict) else {}
        if isinstance(group.get("vars"), dict):
            layers[name] = (max(depth, layers.get(name, (0, {}))[0]), {**layers.get(name, (0, {}))[1], **group["vars"]})
        for host, variables in (group.get("hosts") or {}).items():
            members.add(str(host))
            own.setdefault(str(host), {}).update(variables if isinstance(variables, dict) else {})
        for child, body in (group.get("children") or {}).items():
            walk(str(child), body, depth + 1)
            members.update(found.groups[str(child)])

    for name, group in (data or {}).items():
        walk(str(name), group, 0)
    ranked = sorted(layers.items(), key=lambda item: (item[1][0], item[0]))
    for host, variables in own.items():
        merged: dict[str, Any] = {}
        for group, (_, values) in ranked:
            if host in found.groups.get(group, ()):
                merged.update(values)
        found.hosts[host] = {**merged, **variables}
    return found


def check_ansible(workspace: Path, inventory: Inventory) -> list[Finding]:
    """The inventory parses and holds every guest exactly once, with a valid host name and the cluster's
    vmid, node and status; group names are valid; every playbook targets groups that exist."""
    path = Path(workspace) / "ansible" / "inventory.yml"
    where = "ansible/inventory.yml"
    if not path.is_file():
        return [Finding(CHECK, where, "file", note="missing")]
    data, problem = _load_yaml(path)
    if problem is not None:
        return [Finding(CHECK, where, "syntax", note=problem)]
    if not isinstance(data, dict) or "all" not in data:
        return [Finding(CHECK, where, "structure", note="no top-level 'all' group")]
    parsed = inventory_hosts(data)
    findings = [Finding(CHECK, where, f"group {name}", note="not a valid group name")
                for name in sorted(parsed.groups) if not GROUP_NAME.fullmatch(name)]
    findings += [Finding(CHECK, where, f"host {name}", note="not a valid host name")
                 for name in sorted(parsed.hosts) if not HOST_NAME.fullmatch(name)]
    findings += _guests(parsed, inventory, where)
    findings += check_playbook_hosts(Path(workspace) / "ansible", parsed)
    return findings


def _guests(parsed: InventoryHosts, inventory: Inventory, where: str) -> list[Finding]:
    findings = []
    by_vmid: dict[Any, list[str]] = {}
    for host, variables in parsed.hosts.items():
        if "vmid" in variables:
            by_vmid.setdefault(variables["vmid"], []).append(host)
    for vmid, guest in sorted(inventory.guests.items()):
        hosts = by_vmid.pop(vmid, [])
        if len(hosts) != 1:
            findings.append(Finding(CHECK, where, f"guest {vmid} ({guest.name or 'no name'})", note=(
                "missing: no host has this vmid" if not hosts else f"listed {len(hosts)} times: {sorted(hosts)}")))
            continue
        findings += _host(hosts[0], parsed, guest, f"{where} host {hosts[0]}")
    for vmid, hosts in sorted(by_vmid.items(), key=lambda item: str(item[0])):
        findings.append(Finding(CHECK, where, f"host {', '.join(sorted(hosts))}",
                                note=f"vmid {vmid!r} is not a guest of the cluster (stale host)"))
    return findings


def _host(host: str, parsed: InventoryHosts, guest: GuestInfo, where: str) -> list[Finding]:
    """The contract's host variables (when present) and the groups a guest's kind and state put it in."""
    variables = parsed.hosts[host]
    findings = [] if "proxmox_node" in variables else [Finding(CHECK, where, "proxmox_node", note="missing")]
    memory = cluster_memory_mib(guest)
    wanted: dict[str, tuple[Any, ...]] = {
        "proxmox_node": (guest.node,), "status": (guest.status,), "memory_mb": (memory,) if memory else (),
        "cores": tuple({guest.vcpus, cluster_cores(guest)} - {None})}  # all vCPUs, or cores per socket
    for key, accepted in wanted.items():
        if key in variables and accepted and variables[key] not in accepted:
            findings.append(Finding(CHECK, where, key, accepted[0], variables[key]))
    disk = variables.get("disk_gb")
    near = isinstance(disk, (int, float)) and guest.maxdisk and abs(disk - guest.maxdisk / GIB) < 1
    if disk is not None and guest.maxdisk and not near:
        findings.append(Finding(CHECK, where, "disk_gb", round(guest.maxdisk / GIB, 2), disk))
    groups = {"vms": guest.kind == "qemu", "containers": guest.kind == "lxc",
              "running": guest.status == "running", "stopped": guest.status != "running" and not guest.template}
    for group, member in groups.items():
        listed = host in parsed.groups.get(group, set())
        if group in parsed.groups and listed != member and not (group == "stopped" and guest.template):
            findings.append(Finding(CHECK, where, f"group {group}", note=(
                f"a {guest.status} {guest.kind} guest {'missing from' if member else 'listed in'} group {group}")))
    return findings


# libyaml's safe loader where PyYAML has it: the pure-Python one took half the time of a workspace's checks.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> tuple[Any, str | None]:
    """(the file's YAML data, None), or (None, what is wrong with it, with the line where YAML says)."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        return None, f"not YAML{line}: {getattr(exc, 'problem', exc)}"


def check_playbook_hosts(ansible_dir: Path, parsed: InventoryHosts) -> list[Finding]:
    """Each play's ``hosts`` pattern names only groups or hosts of the inventory (``all`` and ``localhost``
    always exist; templated and wildcard patterns are not judged)."""
    findings = []
    known = set(parsed.groups) | set(parsed.hosts) | IMPLICIT
    for path in sorted((ansible_dir / "playbooks").glob("*.y*ml")):
        where = f"ansible/playbooks/{path.name}"
        data, problem = _load_yaml(path)
        if problem is not None:
            findings.append(Finding(CHECK, where, "syntax", note=problem))
            continue
        plays = [(index, play) for index, play in enumerate(data if isinstance(data, list) else [])
                 if isinstance(play, dict)]
        for index, play in plays:
            pattern = play.get("hosts")
            if pattern is None or "{{" in str(pattern):
                continue
            for part in re.split(r"[:,]", str(pattern)):
                name = part.strip().lstrip("&!")
                if name and not any(c in name for c in "*?[~") and name not in known:
                    findings.append(Finding(CHECK, f"{where} play {index + 1} ({play.get('name', 'unnamed')})",
                                            "hosts", note=f"{name!r} is no group or host of the inventory"))
    return findings


def run_ansible_lint(project: Path, home: Path, *options: str,
                     timeout: float = LINT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``ansible-lint --offline --nocolor OPTIONS`` on ``project`` (its own ``.ansible-lint`` settings apply),
    with this interpreter's ansible-lint, writing only below ``home``."""
    env = {**os.environ, "ANSIBLE_HOME": str(home / "ansible"), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
           "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1",
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "ansiblelint", "--offline", "--nocolor", *options,
                           "--project-dir", str(project)], cwd=project, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def lint_key(project: Path, options: tuple[str, ...], keep: Callable[[str], bool] | None = None) -> str:
    """What an ansible-lint result depends on: every file of ``project``, path and content (the playbooks, vars,
    roles; its config, ``.ansible-lint`` and ``ansible.cfg``; and the inventory, which ansible-lint lints as
    YAML and its syntax checks load through ``ansible.cfg``), the options, the versions of ansible-lint and
    ansible-core, and the ``ANSIBLE_*`` environment the syntax checks see (their own home and temp aside).
    ``keep`` (given a file's relative POSIX path) limits the files to those a part of the project's lint
    judges (see ``lintsplit``)."""
    environment = sorted((name, value) for name, value in os.environ.items()
                         if name.startswith("ANSIBLE_") and name not in _OWN_ENV)
    digest = hashlib.sha256(repr((options, _version("ansible-lint"), _version("ansible-core"), environment)).encode())
    for path in sorted(p for p in project.rglob("*") if p.is_file() and not _is_lint_cache(p.relative_to(project))):
        relative = path.relative_to(project)
        if keep is None or keep(relative.as_posix()):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


_OWN_ENV = frozenset({"ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP"})  # set per lint by run_ansible_lint


def _is_lint_cache(relative: Path) -> bool:
    return bool(relative.parts) and relative.parts[0] in (".ansible", ".cache")  # what ansible-lint writes itself


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


@dataclass(frozen=True)
class LintOutcome:
    """One ``lint_ansible`` call: the project, whether the result was a kept one (``cached``), its file, and
    whether only the inventory was linted, the rest of the result kept from a run of the same playbooks,
    vars and config (``inventory_apart``)."""

    project: Path
    cached: bool
    kept: Path | None
    inventory_apart: bool = False


LINT_OUTCOMES: list[LintOutcome] = []
"""This process's ``lint_ansible`` calls in order, so a suite can say which results were cached."""
Result = tuple[int, str, str]  # ansible-lint's return code, output and error output
APART = " (cached result of the same playbooks, vars and config; the inventory was linted on its own)"


def lint_ansible(ansible_dir: Path, home: Path, cache: Path | None = None) -> list[Finding]:
    """``ansible-lint --offline`` on the project (its own ``.ansible-lint`` settings), writing only below
    ``home``; one finding per violation it reports. With ``cache`` (a directory), a result is kept under the
    project's ``lint_key`` and reused for the same content, options, versions and config; such findings say so
    (and ``LINT_OUTCOMES`` records every call, cached or not). A project whose ``ansible.cfg`` names its
    inventory (``lintsplit``) also keeps the violations outside the inventory, under a key of everything but
    the inventory: the same project with another inventory is then judged by those and by ansible-lint on
    the inventory alone (itself kept by the inventory's and the config's content), and says so."""
    kept = cache / f"{lint_key(ansible_dir, LINT_OPTIONS)}.json" if cache is not None else None
    # Workers that lint the same content at once take turns: the second reads what the first kept.
    with exclusively(kept.with_suffix(".lock")) if kept is not None else nullcontext():
        return _lint_or_reuse(ansible_dir, home, cache, kept)


def _lint_or_reuse(ansible_dir: Path, home: Path, cache: Path | None, kept: Path | None) -> list[Finding]:
    """``lint_ansible`` once its turn has come: a kept result, the inventory linted apart, or a whole run."""
    options = LINT_OPTIONS
    result = _kept_result(kept)
    if result is not None:
        LINT_OUTCOMES.append(LintOutcome(ansible_dir, True, kept))
        return _findings(result, " (cached result)")
    # A kept result that is unreadable: the whole project is linted again, and kept afresh.
    sources = lintsplit.inventory_sources(ansible_dir) if kept is not None and not kept.exists() else ()
    rest_kept = None
    if cache is not None and sources:
        rest_kept = cache / (lint_key(ansible_dir, (*options, "rest", *sources),
                                      lambda rel: not lintsplit.in_sources(rel, sources)) + ".rest")
        rest = _kept_result(rest_kept)
        if rest is not None:
            return _inventory_apart(ansible_dir, home, cache, sources, rest)
    result = _lint_and_keep(ansible_dir, home, kept)
    violations = _violations(result[1])
    if rest_kept is not None and (violations or result[0] == 0):  # a run that failed as a whole is not split
        outside = [line for line in violations if not lintsplit.in_sources(line.split(":", 1)[0], sources)]
        _keep(rest_kept, (2 if outside else 0, "\n".join(outside), ""))
    LINT_OUTCOMES.append(LintOutcome(ansible_dir, False, kept))
    return _findings(result, "")


def _inventory_apart(project: Path, home: Path, cache: Path, sources: tuple[str, ...], rest: Result) -> list[Finding]:
    """The kept violations outside the inventory, and ansible-lint's on the inventory with the config alone."""
    options = LINT_OPTIONS
    kept = cache / f"{lint_key(project, (*options, 'inventory'), lambda r: lintsplit.judged_apart(r, sources))}.json"
    result = _kept_result(kept)
    cached = result is not None
    if result is None:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home) as staged:
            lintsplit.stage(project, sources, Path(staged))
            result = _lint_and_keep(Path(staged), home, kept)
    LINT_OUTCOMES.append(LintOutcome(project, cached, kept, inventory_apart=True))
    return _findings(rest, APART) + _findings(result, " (cached result)" if cached else "")


def _lint_and_keep(project: Path, home: Path, kept: Path | None) -> Result:
    """ansible-lint's result on ``project`` with the suite's options, kept in ``kept`` (if given)."""
    done = run_ansible_lint(project, home, *LINT_OPTIONS)
    result = done.returncode, done.stdout, done.stderr
    _keep(kept, result)
    return result


def _violations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^\S+:\d+", line)]


def _findings(result: Result, suffix: str) -> list[Finding]:
    returncode, stdout, stderr = result
    if returncode == 0:
        return []
    violations = _violations(stdout)
    if not violations:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        return [Finding(CHECK, "ansible/", "ansible-lint", note=f"exited with {returncode}: {tail}{suffix}")]
    return [Finding(CHECK, f"ansible/{line.split(':', 1)[0]}", "ansible-lint",
                    note=line.split(":", 1)[1].strip() + suffix) for line in violations]


def _keep(kept: Path | None, result: Result) -> None:
    if kept is None:
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    temporary = kept.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(list(result)), encoding="utf-8")
    os.replace(temporary, kept)  # a reader without the lock (an older version) sees it whole


def _kept_result(kept: Path | None) -> Result | None:
    """A kept (returncode, stdout, stderr), or None when there is none (or it is unreadable: lint again)."""
    if kept is None or not kept.is_file():
        return None
    try:
        returncode, stdout, stderr = json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    return int(returncode), str(stdout), str(stderr)
