"""An Ansible project the reference builder would never write, judged by every IaC check against the homelab
cluster; and what a play does to a template.

``tests/thirdparty/ansible-by-node`` is the Ansible half of a correct workspace (the inventory grouped by node,
``proxmox_node`` given as group vars, the templates in a group of their own, ``site.yml`` at the project's
root, a role, ``gathering = explicit``, and ``community.general.timezone``, a module of a collection that need
not be installed where the suite runs); its Terraform half is ``telmate-by-node``'s. The correct workspace
passes every check, ansible-lint included, with the collection's module reported apart as not judged here;
each seeded copy's defects are reported once each, and nothing else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.validators import CheckContext, check_template_targets, checks_of
from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators.lintcollections import collections_for

from .test_thirdparty_workspaces import COVERAGE, HERE, Seed, caught_once, run_iac, shown

TARGETS = "ansible-inventory-and-playbook-targets"


def workspace_of(tmp_path: Path) -> Path:
    """ansible-by-node's Ansible beside telmate-by-node's Terraform."""
    workspace = tmp_path / "ansible-by-node"
    shutil.copytree(HERE / "thirdparty" / "ansible-by-node", workspace)
    shutil.copytree(HERE / "thirdparty" / "telmate-by-node" / "terraform", workspace / "terraform")
    return workspace


def test_the_correct_workspace_passes_every_fast_check(homelab: Inventory, tmp_path: Path) -> None:
    findings = run_iac(workspace_of(tmp_path), homelab, tmp_path / "scratch", lint=False)
    assert not any(findings.values()), f"false alarms on a correct workspace:\n{shown(findings)}"


@pytest.mark.slow  # runs ansible-lint (its result kept by content)
def test_the_correct_workspace_passes_ansible_lint_with_the_collection_not_judged_here(
        homelab: Inventory, tmp_path: Path, lint_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(tmp_path / "no-collections"))  # whatever this machine has
    check = next(check for check in checks_of("iac") if check.slow)
    (tmp_path / "scratch").mkdir()
    found = check.run(workspace_of(tmp_path), homelab, CheckContext(tmp_path / "scratch", lint_cache=lint_cache))
    assert not found, "\n".join(map(str, found))
    notes = lint.LINT_OUTCOMES[-1].not_judged
    if collections_for(tmp_path, [tmp_path / "no-collections"]).has("community.general"):  # beside ansible-core
        assert notes == ()
    else:
        (note,) = notes
        assert note.startswith("ansible/roles/baseline/tasks/main.yml:2: cannot be judged here: collection "
                               "community.general is not installed (module 'community.general.timezone')"), note


SEEDS = (
    Seed("ansible/playbooks/baseline.yml", "hosts: in_service:!production_data", "hosts: pve1_guests:!production_data",
         TARGETS, ("ansible/inventory.yml", "host tmpl-debian12", "guest 100 (tmpl-debian12) is a template",
                   "ansible/playbooks/baseline.yml play 1 (Baseline of the guests in service): runs Set the time zone, "
                   "Install the monitoring agent")),
    Seed("ansible/playbooks/hypervisors.yml", "hosts: pve_hosts", "hosts: pve_hosts:tmpl-debian12-ct", TARGETS,
         ("host tmpl-debian12-ct", "guest 203", "hypervisors.yml play 1", "runs Read the Proxmox VE version")),
    Seed("ansible/inventory.yml", "        pve3:\n          ansible_host: 10.0.0.13\n", "", COVERAGE,
         ("ansible/inventory.yml", "node pve3", "no host")),
)


def test_every_seeded_defect_is_caught_once(homelab: Inventory, tmp_path: Path) -> None:
    workspace = workspace_of(tmp_path)
    for seed in SEEDS:
        seed.apply(workspace)
    findings = run_iac(workspace, homelab, tmp_path / "scratch", lint=False)
    caught_once(findings, SEEDS)


PLAY = "---\n- name: A play\n  hosts: {hosts}\n{extra}  tasks:\n{tasks}"
SETUP = "    - name: Install htop\n      ansible.builtin.package:\n        name: htop\n"
DEBUG = "    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n"


@pytest.mark.parametrize(("hosts", "extra", "tasks", "reached"), [
    ("all", "  gather_facts: false\n", DEBUG, ()),  # the controller's own action, no facts: nothing reached
    ("all", "", DEBUG, ("tmpl-debian12", "tmpl-debian12-ct")),  # facts gathered by default
    ("all:!golden_images", "", SETUP, ()),
    ("pve1_guests", "  gather_facts: false\n", SETUP, ("tmpl-debian12",)),
    ("pve1_guests", "  connection: local\n", SETUP, ()),
    ("pve3_guests", "  gather_facts: false\n", SETUP.replace("      ansible", "      delegate_to: localhost\n"
                                                            "      ansible"), ()),
    ("golden_images", "  gather_facts: false\n", "    - name: Check\n      ansible.builtin.ping:\n",
     ("tmpl-debian12", "tmpl-debian12-ct")),
])
def test_a_template_is_reported_when_a_play_reaches_it(hosts: str, extra: str, tasks: str, reached: tuple[str, ...],
                                                       homelab: Inventory, tmp_path: Path) -> None:
    workspace = workspace_of(tmp_path)
    (workspace / "ansible" / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")  # facts by default
    (workspace / "ansible" / "playbooks" / "extra.yml").write_text(PLAY.format(hosts=hosts, extra=extra, tasks=tasks))
    found = check_template_targets(workspace, homelab)
    assert [f.field for f in found] == [f"host {host}" for host in reached], "\n".join(map(str, found))
    assert all("ansible/playbooks/extra.yml play 1 (A play)" in f.note for f in found)
