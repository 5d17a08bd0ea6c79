"""The Ansible of a workspace against the cluster: the inventory and the playbooks' targets (ansible-lint is
``ansible_lint``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.inventory import GuestInfo, Inventory
from .findings import Finding
from .loading import load_yaml
from .terraform import GIB, cluster_cores, cluster_memory_mib

CHECK = "ansible"
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
IMPLICIT = frozenset({"all", "ungrouped", "localhost"})


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
    parsed = parsed_inventory(data)
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


def _load_yaml(path: Path) -> tuple[Any, str | None]:
    """(the file's YAML data, None), or (None, what is wrong with it, with the line where YAML says): loaded once
    per content for all the checks of a run (``loading``); read-only."""
    return load_yaml(path)


def parsed_inventory(data: Any) -> InventoryHosts:
    """``inventory_hosts(data)``, worked out once for a load the checks share (``load_yaml`` keeps it)."""
    kept = _walked.get(id(data))
    if kept is None or kept[0] is not data:
        kept = (data, inventory_hosts(data))
        _walked.clear()  # one inventory at a time: the run's current workspace
        _walked[id(data)] = kept
    return kept[1]


_walked: dict[int, tuple[Any, InventoryHosts]] = {}


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
