"""Templates in the Ansible of a workspace: a template (``template: 1`` in its config) can never be started, so
it never answers; an inventory that lists it as an ordinary host that plays reach sends every run of those plays
to a host that cannot be reached.

A play reaches a host when it gathers facts there (``gather_facts`` is on unless the play or ``ansible.cfg``'s
``gathering = explicit`` turns it off) or runs a task there: any task but the controller's own actions
(``debug``, ``set_fact``, ``assert``, ...) and tasks delegated elsewhere. A play with ``connection: local``, and a
host with ``ansible_connection: local``, reach nothing. One finding per template host, naming every play that
reaches it: the host is the root cause (listed as an ordinary host), whatever the number of plays.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..model.inventory import Inventory
from .ansible_plays import Play, _module, _short, guest_hosts, plays_of, read_inventory_file, tasks_of
from .findings import Finding

CHECK = "ansible"
CONTROLLER_ONLY = frozenset({"debug", "set_fact", "assert", "fail", "meta", "pause", "add_host", "group_by",
                             "include_vars", "set_stats", "import_tasks", "include_tasks", "import_role",
                             "include_role", "import_playbook"})
_OFF = frozenset({"false", "no", "off", "0", "n", "f"})


def _off(value: Any) -> bool:
    return value is False or str(value).strip().lower() in _OFF


def gathers_by_default(ansible_dir: Path) -> bool:
    """Whether a play that says nothing gathers facts: Ansible's default, unless the project's ``ansible.cfg`` says
    ``gathering = explicit``."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"), strict=False)
    try:
        parser.read_string((ansible_dir / "ansible.cfg").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return True
    return parser.get("defaults", "gathering", fallback="implicit").strip().lower() != "explicit"


def reaches(play: Play, gathers: bool) -> str | None:
    """What ``play`` does on its hosts (``gathers facts``, ``runs <task>, ...``), or None when it reaches none."""
    body: Mapping[str, Any] = play.body
    if str(body.get("connection", "")).strip() == "local":
        return None
    done = []
    if not _off(body.get("gather_facts", gathers)):
        done.append("gathers facts")
    tasks = []
    for task in tasks_of(body, play.path.parent):
        found = _module(task)
        if found is None or _short(found[0]) in CONTROLLER_ONLY or "delegate_to" in task:
            continue
        if str(task.get("connection", "")).strip() == "local":
            continue
        condition = task.get("when")
        tasks.append(str(task.get("name", found[0])) + (f" (when: {condition})" if condition else ""))
    if tasks:
        done.append("runs " + ", ".join(tasks))
    return " and ".join(done) or None


def check_template_targets(workspace: Path, inventory: Inventory) -> list[Finding]:
    """Each host of a template that a play reaches: one finding, naming the guest and those plays."""
    parsed = read_inventory_file(workspace)
    if parsed is None:
        return []  # reported by the inventory check
    templates = {host: vmid for vmid, hosts in guest_hosts(parsed, inventory).items()
                 if inventory.guests[vmid].template for host in hosts
                 if str(parsed.hosts[host].get("ansible_connection", "")).strip() != "local"}
    if not templates:
        return []
    gathers = gathers_by_default(Path(workspace) / "ansible")
    reached: dict[str, list[str]] = {}
    for play in plays_of(workspace, parsed):
        hit = play.targets & set(templates)
        what = reaches(play, gathers) if hit else None
        for host in sorted(hit) if what else ():
            reached.setdefault(host, []).append(f"{play.where}: {what}")
    findings = []
    for host, plays in sorted(reached.items()):
        guest = inventory.guests[templates[host]]
        findings.append(Finding(CHECK, "ansible/inventory.yml", f"host {host}", note=(
            f"guest {guest.vmid} ({guest.name or 'no name'}) is a template, which never runs and cannot be reached, "
            f"but it is an ordinary host that plays reach: {'; '.join(plays)}")))
    return findings
