"""ansible-lint in two parts (``lintsplit``) reports what ansible-lint reports on the whole project: the stand-in
inventory the playbooks are checked against (``lintstandin``), and, with the real ansible-lint, the findings of the
two parts against those of one run on the whole project, on the reference builder's Ansible and on projects built to
differ (defects in the playbooks, the vars and the inventory's YAML; a project yamllint config; a ``# noqa`` that
makes ansible-lint judge the inventory itself)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory, NodeInfo
from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators import lintcollections, lintresults
from pytest_proxmox_mpc.validators.lintstandin import named_hosts, standin
from pytest_proxmox_mpc.workspace.export.ansible import export_ansible

INVENTORY = {
    "all": {"vars": {"site": "lab"}, "children": {
        "nodes": {"hosts": {"pve1": {"status": "online"}, "pve2": {"status": "online"}}},
        "vms": {"hosts": {"web": {"vmid": 101}, "db": {"vmid": 102}}, "vars": {"kind": "qemu"}},
        "running": {"hosts": {"db": None, "web": None}},
        "empty": {"hosts": {}},
        "lab": {"children": {"vms": None}},
    }},
}


def test_the_stand_in_keeps_every_group_its_variables_and_one_host_of_each() -> None:
    kept = standin(INVENTORY, set())
    groups = kept["all"]["children"]
    assert kept["all"]["vars"] == {"site": "lab"} and groups["vms"]["vars"] == {"kind": "qemu"}
    assert groups["nodes"]["hosts"] == {"pve1": {"status": "online"}}
    assert groups["vms"]["hosts"] == {"web": {"vmid": 101}}
    assert groups["running"]["hosts"] == {"web": None}, "a host kept for another group is kept for this one"
    assert groups["empty"] == {"hosts": {}} and groups["lab"] == {"children": {"vms": None}}


def test_the_stand_in_keeps_every_host_a_play_names() -> None:
    kept = standin(INVENTORY, {"db", "pve2", "nowhere"})
    groups = kept["all"]["children"]
    assert groups["vms"]["hosts"] == {"web": {"vmid": 101}, "db": {"vmid": 102}}
    assert groups["nodes"]["hosts"] == {"pve1": {"status": "online"}, "pve2": {"status": "online"}}
    assert "nowhere" not in str(kept)


def test_the_hosts_plays_name_are_found_but_not_patterns_or_templates(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "a.yml").write_text(
        "---\n- hosts: vms:&running:!db\n  tasks: []\n- hosts: ['pve1', 'web*']\n  tasks: []\n"
        "- hosts: \"{{ target }}\"\n  tasks: []\n")
    (tmp_path / "inventory.yml").write_text("---\n- hosts: not-a-play-here\n")
    assert named_hosts(tmp_path, ("inventory.yml",)) == {"vms", "running", "db", "pve1"}


def guest(vmid: int, kind: str, name: str, status: str = "running", template: bool = False) -> GuestInfo:
    config: dict[str, object] = {"cores": 1, "memory": 512}
    config.update({"scsi0": f"local-lvm:vm-{vmid}-disk-0,size=8G"} if kind == "qemu" else
                  {"rootfs": f"local-lvm:subvol-{vmid}-disk-0,size=4G", "hostname": name})
    return GuestInfo(vmid=vmid, kind=kind, node="pve1", name=name, status=status, template=template, vcpus=1,
                     maxmem=512 * 1024**2, maxdisk=8 * 1024**3, config=config)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference builder's Ansible for a small cluster: VMs, a container, a stopped guest and a template."""
    guests = [guest(101, "qemu", "web"), guest(102, "qemu", "db", "stopped"), guest(103, "lxc", "cache"),
              guest(104, "qemu", "tpl", "stopped", template=True)]
    inventory = Inventory(version="8.2.4", cluster_name="lab", quorate=True,
                          nodes={"pve1": NodeInfo(name="pve1", status="online")},
                          guests={g.vmid: g for g in guests}, storages={}, pools={}, networks={}, taken_at=0.0,
                          requests=0)
    root = tmp_path_factory.mktemp("reference")
    export_ansible(inventory, root)
    return root / "ansible"


def whole(project: Path, home: Path) -> list[tuple[str, str]]:
    """The findings of one ansible-lint run on the whole project."""
    done = lint.run_ansible_lint(project, home, *lint.LINT_OPTIONS)
    found, _ = lintresults.judged(project, lintcollections.collections_for(project), (
        done.returncode, done.stdout, done.stderr), "")
    return sorted((f.resource, f.note) for f in found)


def in_two_parts(project: Path, home: Path) -> list[tuple[str, str]]:
    found = lint.lint_ansible(project, home)
    assert lint.LINT_OUTCOMES[-1].inventory_apart, "the project was linted in two parts"
    return sorted((f.resource, f.note) for f in found)


SLOPPY_PLAY = """
- hosts: web
  tasks:
    - shell: uptime
    - name: lower case name
      ansible.builtin.command: hostname
      changed_when: false
"""


def differ(project: Path, noqa: bool = False) -> None:
    """Defects in a playbook (a play naming a host, no names, no FQCN), in the vars, and in the inventory's YAML."""
    (project / "playbooks" / "sloppy.yml").write_text("---" + SLOPPY_PLAY)
    (project / "playbooks" / "broken.yml").write_text("---\n- name: Broken\n  hosts: vms\n  tasks:\n"
                                                      "    - name: Nothing\n      ansible.builtin.nosuchmodule: {}\n")
    (project / "group_vars" / "vms.yml").write_text("---\nBadName: 1\nok_name: yes\n")
    lines = (project / "inventory.yml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("vmid:"))
    lines[at] += "   "  # trailing spaces
    lines.insert(at + 1, lines[at].split("vmid")[0] + "note: " + "x" * 170 + ("  # noqa: yaml[line-length]"
                                                                              if noqa else ""))
    lines.insert(at + 2, lines[at].split("vmid")[0] + "monitored: yes")
    lines[at + 3:at + 3] = ["", "", "", "#no space"]  # too many blank lines, a comment without its space
    (project / "inventory.yml").write_text("\n".join(lines) + "\n")


@pytest.mark.slow  # ansible-lint twice for each case
@pytest.mark.parametrize("case", ["reference", "built to differ", "with a yamllint config", "with a noqa comment"])
def test_the_two_parts_report_what_ansible_lint_reports_on_the_whole_project(reference: Path, tmp_path: Path,
                                                                             case: str) -> None:
    project = tmp_path / "ansible"
    shutil.copytree(reference, project)
    if case != "reference":
        differ(project, noqa=case == "with a noqa comment")
    if case == "with a yamllint config":
        (project / ".yamllint").write_text("---\nextends: default\nrules:\n  line-length:\n    max: 120\n"
                                           "  comments:\n    min-spaces-from-content: 1\n"
                                           "  comments-indentation: false\n  braces:\n    max-spaces-inside: 1\n"
                                           "  octal-values:\n    forbid-implicit-octal: true\n"
                                           "    forbid-explicit-octal: true\n")
    expected = whole(project, tmp_path / "home-whole")
    assert in_two_parts(project, tmp_path / "home-split") == expected
    if case == "reference":
        assert expected == []
    else:  # every kind of defect is there, in the playbooks, the vars and the inventory
        shown = "\n".join(f"{resource}: {note}" for resource, note in expected)
        for wanted in ("sloppy.yml", "broken.yml", "group_vars/vms.yml", "inventory.yml: ", "trailing-spaces",
                       "yaml[truthy]", "yaml[empty-lines]", "yaml[comments]"):
            assert wanted in shown, f"{wanted} not among:\n{shown}"
        assert ("yaml[line-length]" in shown) == (case != "with a noqa comment"), shown
