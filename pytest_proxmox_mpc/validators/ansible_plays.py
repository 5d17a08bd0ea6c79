"""The Ansible of a workspace as the cluster needs it: every node and guest in the inventory, the nodes in a
hypervisor group, every host reachable, and no play that changes the state of a hypervisor node or of a guest
the exclusion list protects.

A host stands for a node when it is called as the node is (or ``<node>.<domain>``); for a guest when its
``vmid`` says so, or its name is the guest's. A play's ``hosts`` pattern is resolved as Ansible resolves it
(groups and hosts, ``all``, ``:``/``,`` unions, ``:&`` intersections, ``:!`` exclusions, wildcards).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.inventory import Inventory
from .ansible import InventoryHosts, _load_yaml, parsed_inventory
from .findings import Finding

CHECK = "ansible"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*")
LOCAL_CONNECTIONS = ("local", "community.general.proxmox_pct_remote", "community.proxmox.proxmox_pct_remote")
READ_ONLY = frozenset({"debug", "setup", "gather_facts", "ping", "stat", "assert", "fail", "set_fact", "include_vars",
                       "wait_for", "wait_for_connection", "fetch", "slurp", "find", "package_facts", "service_facts",
                       "meta", "pause", "add_host", "group_by", "getent"})
COMMANDS = frozenset({"command", "shell", "raw", "script"})
TASK_LISTS = ("pre_tasks", "tasks", "post_tasks")
TASK_KEYS = frozenset({"name", "when", "become", "become_user", "register", "changed_when", "failed_when", "tags",
                       "loop", "with_items", "vars", "notify", "ignore_errors", "delegate_to", "run_once",
                       "environment", "no_log", "check_mode", "until", "retries", "delay", "args", "listen",
                       "loop_control", "block", "rescue", "always", "module_defaults", "any_errors_fatal", "throttle",
                       "timeout"})


def _short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def read_inventory_file(workspace: Path) -> InventoryHosts | None:
    """The workspace's ``ansible/inventory.yml`` walked (None when it is missing or no inventory), shared by the
    checks of a run: read-only."""
    data, problem = _load_yaml(Path(workspace) / "ansible" / "inventory.yml") \
        if (Path(workspace) / "ansible" / "inventory.yml").is_file() else (None, "missing")
    return parsed_inventory(data) if problem is None and isinstance(data, dict) and "all" in data else None


def node_hosts(parsed: InventoryHosts, inventory: Inventory) -> dict[str, set[str]]:
    """Each cluster node -> the inventory hosts that stand for it."""
    return {node: {h for h in parsed.hosts if h == node or h.startswith(node + ".")
                   or parsed.hosts[h].get("proxmox_node_name") == node} for node in inventory.nodes}


def guest_hosts(parsed: InventoryHosts, inventory: Inventory) -> dict[int, set[str]]:
    """Each guest's vmid -> the inventory hosts that stand for it (by ``vmid``, else by its name: only for a guest
    no host names by vmid, and never a host that stands for a node, as one of a guest called like a node would)."""
    found: dict[int, set[str]] = {vmid: set() for vmid in inventory.guests}
    for host, variables in parsed.hosts.items():
        vmid = variables.get("vmid")
        if isinstance(vmid, int) and vmid in found:
            found[vmid].add(host)
    names = {(g.name or "").lower(): vmid for vmid, g in inventory.guests.items() if g.name and not found[vmid]}
    nodes = {h for hosts in node_hosts(parsed, inventory).values() for h in hosts}
    for host, variables in parsed.hosts.items():
        if "vmid" not in variables and host.lower() in names and host not in nodes:
            found[names[host.lower()]].add(host)
    return found


def _reachable(host: str, variables: Mapping[str, Any]) -> bool:
    if str(variables.get("ansible_host") or "").strip() or variables.get("ansible_connection") in LOCAL_CONNECTIONS:
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(HOSTNAME.fullmatch(host))


def check_inventory_coverage(workspace: Path, inventory: Inventory) -> list[Finding]:
    """Every node and guest of the cluster has a host; the nodes share a hypervisor group that holds them
    all; every host has an address (``ansible_host``) or a name that is one."""
    parsed = read_inventory_file(workspace)
    if parsed is None:
        return []  # reported by the inventory check
    where = "ansible/inventory.yml"
    findings = []
    nodes = node_hosts(parsed, inventory)
    for node, hosts in sorted(nodes.items()):
        if not hosts:
            findings.append(Finding(CHECK, where, f"node {node}", note="no host stands for this node of the cluster"))
    node_members = {h for hosts in nodes.values() for h in hosts}
    guests = {h for hosts in guest_hosts(parsed, inventory).values() for h in hosts}
    groups = [g for g, members in parsed.groups.items() if g not in ("all", "ungrouped") and members & node_members
              and not members & guests]
    if node_members and not groups:
        findings.append(Finding(CHECK, where, "hypervisor group", note="no group holds the nodes (and no guest)"))
    for group in groups:
        missing = sorted(n for n, hosts in nodes.items() if hosts and not hosts & parsed.groups[group])
        if missing:
            findings.append(Finding(CHECK, where, f"group {group}", note=(
                f"the hypervisor group lacks node{'s' if len(missing) > 1 else ''} {', '.join(missing)}")))
    for host, variables in sorted(parsed.hosts.items()):
        if not _reachable(host, variables):
            findings.append(Finding(CHECK, where, f"host {host}", note=(
                "unreachable: no ansible_host, and the name is no host name or address")))
    return findings


def resolve_pattern(pattern: str, parsed: InventoryHosts) -> set[str]:
    """The hosts a ``hosts:`` pattern selects."""
    everything = set(parsed.hosts)
    selected: set[str] = set()
    terms = [t.strip() for t in re.split(r"[:,](?![^\[]*\])", pattern) if t.strip()]
    for term in sorted(terms, key=lambda t: t[:1] in "&!"):  # unions first, then intersections and exclusions
        name = term.lstrip("&!")
        if name == "all" or name == "*":
            hosts = everything
        elif any(c in name for c in "*?["):
            hosts = {h for h in everything if fnmatch.fnmatchcase(h, name)}
            hosts |= {h for g, m in parsed.groups.items() if fnmatch.fnmatchcase(g, name) for h in m}
        else:
            hosts = parsed.groups.get(name, {name} & everything)
        if term.startswith("&"):
            selected &= hosts
        elif term.startswith("!"):
            selected -= hosts
        else:
            selected |= hosts
    return selected


def _module(task: Mapping[str, Any]) -> tuple[str, Any] | None:
    for key, value in task.items():
        if key not in TASK_KEYS and not key.startswith("with_"):
            return str(key), value
    return None


def changes_state(task: Mapping[str, Any]) -> str | None:
    """Why the task changes its host (None: it only reads)."""
    found = _module(task)
    if found is None:
        return None
    module, args = found
    short, args = _short(module), args if isinstance(args, dict) else {"_raw": args}
    if short in READ_ONLY or short.endswith(("_info", "_facts")):
        return None
    if short in COMMANDS:
        return None if task.get("changed_when") in (False, "false") else f"{module} without changed_when: false"
    if short in ("apt", "yum", "dnf", "package") and not (set(args) - {"update_cache", "cache_valid_time"}):
        return None  # refreshing the package cache changes no package
    if short in ("apt", "yum", "dnf", "package"):
        return f"{module}: package changes ({', '.join(f'{k}={v}' for k, v in sorted(args.items()) if k != '_raw')})"
    if short in ("reboot", "shutdown"):
        return f"{module}: the host goes down"
    if short in ("service", "systemd", "systemd_service", "sysvinit"):
        return f"{module}: service changes"
    return f"{module} writes to the host"


def tasks_of(play: Mapping[str, Any], base: Path, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """A play's tasks (blocks unrolled, its roles' ``tasks/main.yml`` and imported task files read)."""
    lists: list[Any] = [play.get(key) for key in TASK_LISTS]
    for role in play.get("roles") or []:
        name = role.get("role", role.get("name")) if isinstance(role, dict) else role
        paths = [root / "roles" / str(name) / "tasks" / "main.yml" for root in (base, base.parent)]
        lists += [_load_yaml(path)[0] for path in paths if path.is_file()][:1]
    for items in lists:
        yield from _unroll(items if isinstance(items, list) else [], base, depth)


def _unroll(items: Iterable[Any], base: Path, depth: int) -> Iterator[Mapping[str, Any]]:
    for task in (t for t in items if isinstance(t, dict)):
        if "block" in task:
            for key in ("block", "rescue", "always"):
                yield from _unroll(task.get(key) or [], base, depth)
            continue
        found = _module(task)
        if found and _short(found[0]) in ("import_tasks", "include_tasks") and depth < 4:
            path = base / str(found[1])
            data = _load_yaml(path)[0] if path.is_file() else None
            yield from _unroll(data if isinstance(data, list) else [], base, depth + 1)
            continue
        yield task


@dataclass(frozen=True)
class Play:
    """A play of a playbook of the workspace: where it is (``ansible/<file> play <n> (<name>)``), its file, its
    body and the hosts its ``hosts`` pattern selects."""

    where: str
    path: Path
    body: Mapping[str, Any]
    targets: frozenset[str]


def plays_of(workspace: Path, parsed: InventoryHosts) -> Iterator[Play]:
    """Every play of the workspace's playbooks (any YAML file under ``ansible/`` but the inventory, vars and roles)
    with a ``hosts`` pattern that is not templated."""
    ansible = Path(workspace) / "ansible"
    skip = {"inventory.yml", "inventory.yaml"}
    for path in sorted(p for p in ansible.rglob("*.y*ml") if p.name not in skip and not
                       {"group_vars", "host_vars", "roles", ".ansible"} & set(p.relative_to(ansible).parts)):
        data, problem = _load_yaml(path)
        plays = [p for p in (data if problem is None and isinstance(data, list) else []) if isinstance(p, dict)]
        for number, play in enumerate(plays, start=1):
            pattern = play.get("hosts")
            if pattern is None or "{{" in str(pattern):
                continue
            targets = resolve_pattern(",".join(pattern) if isinstance(pattern, list) else str(pattern), parsed)
            where = f"ansible/{path.relative_to(ansible).as_posix()} play {number} ({play.get('name', 'unnamed')})"
            yield Play(where, path, play, frozenset(targets))


def check_plays(workspace: Path, inventory: Inventory, protected: Iterable[int] = ()) -> list[Finding]:
    """Each play that targets a hypervisor node or a protected guest (directly, through a group or ``all``) and
    has a task that changes state: one finding per such play, naming its tasks (with their ``when``, which is
    not evaluated: a guard is shown, not trusted) and those hosts."""
    parsed = read_inventory_file(workspace)
    if parsed is None:
        return []
    nodes = {h for hosts in node_hosts(parsed, inventory).values() for h in hosts}
    kept = {h for vmid, hosts in guest_hosts(parsed, inventory).items() if vmid in set(protected) for h in hosts}
    findings = []
    for play in plays_of(workspace, parsed):
        hit = sorted(play.targets & (nodes | kept))
        if not hit:
            continue
        what = " and ".join(f"{label} {', '.join(sorted(members))}" for label, members in (
            ("hypervisor nodes", set(hit) & nodes), ("protected guests", set(hit) & kept - nodes)) if members)
        changing = [(task, why) for task in tasks_of(play.body, play.path.parent) if (why := changes_state(task))]
        if changing:  # one play, one finding: its hosts are the root cause, whatever its tasks
            names = ", ".join(str(task.get("name", "unnamed")) for task, _ in changing)
            whys = "; ".join(why + (" with become" if task.get("become", play.body.get("become")) else "")
                             + (f", when: {task['when']}" if task.get("when") else "") for task, why in changing)
            findings.append(Finding(CHECK, play.where, f"task {names}", note=f"changes state ({whys}) on {what}"))
    return findings
