"""The mutation catalogue's Ansible gaps: each mutation damages a correct reference workspace in one place and the
check it names must report exactly one finding, pointing at the damage, and no check anything else.

- A template reached by a play (``ansible-inventory-and-playbook-targets``).
- The reference builder on a cluster with guests named as the builder once failed (``Build Agent 7``, unicode,
  63 characters and more, duplicates, none): its workspace passes every check, and one unreachable host is
  found by ``ansible-inventory-covers-cluster``.
- A module of a collection that is not installed here: not judged (no finding, a note), while a misspelt module
  is a finding of ``ansible-lint-offline``; pointed at the collection (``--pve-ansible-collections``), ansible-lint
  judges it. These run the real ansible-lint.

The homelab reference comes from tests/test_mutations.py (its fixture and helpers).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS, CheckContext
from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators.lintcollections import collections_for
from pytest_proxmox_mpc.workspace.builder import Connection, build_reference

from .simapi import served
from .test_mutations import (
    ANSIBLE,
    COVERAGE,
    LINT,
    Mutation,
    Reference,
    _drop_var,
    append,
    inventory_yaml,
    play,
    reference,
    replace,
    report,
    run_checks,
)

__all__ = ["reference"]  # the fixture, from the mutation catalogue
M = Mutation
ODD_GUESTS = ("Build Agent 7", "build-agent-7", "Ünïcødé-VM", "a-very-long-name-" * 5, "", "TMPL")


def odd_scenario() -> dict[str, object]:
    """A cluster whose guests are named as real clusters name them when nobody checks."""
    guests: list[dict[str, object]] = [
        {"vmid": 100 + i, "name": name, "node": "pve1" if i % 2 else "pve2", "status": "running",
         "config": {"cores": 1, "sockets": 2, "memory": 512}} for i, name in enumerate(ODD_GUESTS)]
    guests[-1].update(status="stopped", template=True, config={"cores": 1, "memory": 512, "template": 1})
    guests.append({"vmid": 200, "type": "lxc", "name": "Build Agent 7", "node": "pve1", "status": "running",
                   "config": {"memory": 256, "hostname": "Build Agent 7", "tags": "ci+x;build.agents"}})
    guests.append({"vmid": 201, "type": "lxc", "node": "pve2", "status": "stopped", "config": {"memory": 256}})
    return {"cluster_name": "odd", "nodes": [{"name": "pve1"}, {"name": "pve2"}], "guests": guests,
            "storages": {"local-lvm": {"type": "lvmthin", "vgname": "pve", "thinpool": "data",
                                       "content": "images,rootdir"}}}


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory, lint_cache: Path) -> Iterator[Reference]:
    """The odd cluster's inventory and the reference builder's workspace for it (bpg)."""
    root = tmp_path_factory.mktemp("odd")
    (root / "sim").mkdir()
    (root / "odd.json").write_text(json.dumps(odd_scenario()), encoding="utf-8")
    with served(root / "odd.json", root / "sim") as (api, ep):
        inventory = read_inventory(api)
        workspace = build_reference(api, root / "workspace", Connection(ep.host, ep.port, ep.user, "pve1", True)).path
    assert ep.password is not None
    yield Reference(inventory, ep.password.reveal(), {"bpg": workspace}, lint_cache, frozenset())


MUTATIONS = (
    M("ansible-template-reached-by-a-guest-play", replace("ansible/playbooks/vms.yml", "hosts: vms:&running",
                                                          "hosts: vms"), ANSIBLE,
      ("ansible/inventory.yml", "host tmpl_debian12", "guest 100 (tmpl-debian12) is a template",
       "ansible/playbooks/vms.yml play 1 (Check the running VMs): runs Wait until the VM answers")),
    M("ansible-template-reached-by-a-new-play", append("ansible/playbooks/site.yml", play(
        "containers", "Install htop", "ansible.builtin.package", "name: htop;state: present")), ANSIBLE,
      ("host tmpl_debian12_ct", "guest 203", "site.yml play 4 (Change containers): runs Install htop")),
)
ODD_MUTATIONS = (
    M("builder-odd-name-without-address", inventory_yaml(_drop_var("vms", "build_agent_7", "ansible_host")),
      COVERAGE, ("ansible/inventory.yml", "host build_agent_7", "unreachable")),
)


def _caught_once(mutation: Mutation, ref: Reference, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(ref.workspaces[mutation.provider], workspace)
    mutation.apply(workspace, ref)
    findings, crashes = run_checks(workspace, ref, tmp_path / "scratch", lint=False)
    shown = report(findings, crashes)
    every = [(name, str(f)) for name, found in findings.items() for f in found]
    assert not crashes, shown
    assert [name for name, _ in every] == [mutation.check], f"{mutation.name}: one defect, one finding\n{shown}"
    assert all(s in every[0][1] for s in mutation.expect), f"{mutation.name}: {mutation.expect}\n{shown}"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_mutation_is_caught_once(mutation: Mutation, reference: Reference, tmp_path: Path) -> None:
    _caught_once(mutation, reference, tmp_path)


def test_the_builders_workspace_of_odd_names_passes_every_fast_check(odd: Reference, tmp_path: Path) -> None:
    findings, crashes = run_checks(odd.workspaces["bpg"], odd, tmp_path / "scratch", lint=False)
    assert not any(findings.values()) and not crashes, report(findings, crashes)


@pytest.mark.parametrize("mutation", ODD_MUTATIONS, ids=[m.name for m in ODD_MUTATIONS])
def test_odd_mutation_is_caught_once(mutation: Mutation, odd: Reference, tmp_path: Path) -> None:
    _caught_once(mutation, odd, tmp_path)


@pytest.mark.slow  # ansible-lint, on the odd cluster's workspace (its playbooks as homelab's: kept results)
def test_the_builders_workspace_of_odd_names_passes_ansible_lint(odd: Reference, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(odd.workspaces["bpg"], workspace)
    findings, crashes = run_checks(workspace, odd, tmp_path / "scratch", lint=True)
    assert not findings[LINT] and not crashes, report(findings, crashes)


COLLECTION_TASK = ("    - name: Set the time zone\n      community.general.timezone:\n        name: Etc/UTC\n\n"
                   "    - name: Report the VM\n")
MISSPELT_TASK = ("    - name: Set the time zone\n      ansible.builtin.tmezone:\n        name: Etc/UTC\n\n"
                 "    - name: Report the container\n")
STUB_MODULE = '''#!/usr/bin/python
DOCUMENTATION = r"""
module: timezone
short_description: a stand-in with the real module's name and option
options:
  name:
    type: str
"""
'''


@dataclass(frozen=True)
class Linted:
    found: list[str]
    not_judged: tuple[str, ...]


def _lint(workspace: Path, ref: Reference, scratch: Path, collections: tuple[Path, ...] | None) -> Linted:
    check = next(check for check in WORKSPACE_CHECKS if check.name == LINT)
    scratch.mkdir()
    found = check.run(workspace, ref.inventory, CheckContext(scratch, lint_cache=ref.lint_cache,
                                                             collections=collections))
    return Linted([str(f) for f in found], lint.LINT_OUTCOMES[-1].not_judged)


@pytest.mark.slow  # runs ansible-lint twice
def test_a_collection_not_installed_here_is_not_judged_and_a_misspelt_module_is(
        reference: Reference, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(reference.workspaces["bpg"], workspace)
    replace("ansible/playbooks/vms.yml", "    - name: Report the VM\n", COLLECTION_TASK)(workspace, reference)
    replace("ansible/playbooks/containers.yml", "    - name: Report the container\n", MISSPELT_TASK)(
        workspace, reference)
    nowhere = (tmp_path / "no-collections",)
    if collections_for(workspace / "ansible", nowhere).has("community.general"):
        pytest.skip("community.general is installed beside ansible-core here: nothing to set apart")
    without = _lint(workspace, reference, tmp_path / "scratch", nowhere)
    assert [f for f in without.found if "playbooks/vms.yml" in f] == [], without.found
    (misspelt,) = without.found
    assert "ansible/playbooks/containers.yml" in misspelt and "'ansible.builtin.tmezone'" in misspelt
    (note,) = without.not_judged
    assert note.startswith("ansible/playbooks/vms.yml:") and "collection community.general is not installed" in note

    stub = tmp_path / "collections" / "ansible_collections" / "community" / "general"
    (stub / "plugins" / "modules").mkdir(parents=True)
    (stub / "plugins" / "modules" / "timezone.py").write_text(STUB_MODULE)
    (stub / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "0.0.0-stub"}}))
    pointed = _lint(workspace, reference, tmp_path / "scratch2", (tmp_path / "collections",))
    assert pointed.not_judged == () and pointed.found == without.found, "pointed at it, ansible-lint judges vms.yml"
