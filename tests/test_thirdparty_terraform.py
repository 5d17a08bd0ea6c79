"""Two more hand-written workspaces (Terraform only), shaped as no builder here writes them, judged against the homelab
cluster by the Terraform checks (and the secrets check): ``telmate29-flat`` pins telmate/proxmox to the 2.9 line and
keeps one file per guest in the root module, the first node's guests placed with ``var.default_node``;
``bpg-by-node`` keeps bpg/proxmox 0.66 resources in one file per node, nodes named through locals.

Each correct one must pass with no finding: in particular a stopped VM without ``vm_state`` is no finding under a
2.9 pin (2.9.14 has no such argument). Each seeded copy carries one defect of each class these checks once missed:
a guest's file in a directory Terraform never loads that places the guest with a root module's variable (the real
Proxmox-MPC's layout), declarations hidden by ``lifecycle { ignore_changes }`` (an invented NIC, an invented disk
cache), clone sources on guests that exist (the template as its own clone), a template declared as an ordinary
guest, a container's OS template it was not made from, an argument the pinned version does not have, and a VM of
two sockets declared with all its vCPUs as cores. Every defect must be reported exactly once, by its check, and
nothing else may be reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.validators import CheckContext, Finding, checks_of

from .test_thirdparty_workspaces import (
    GUESTS,
    LOAD,
    REPLACE,
    SCHEMA,
    SECRET,
    SETTINGS,
    Seed,
    caught_once,
    copy_of,
    shown,
)

WORKSPACES = ("telmate29-flat", "bpg-by-node")
CLONE = '  clone       = "tmpl-debian12"\n'
NIC = '''  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:04:01"
    firewall = true
  }
'''
BPG_CLONE = "\n  clone {\n    vm_id = 100\n  }\n"
BPG_NIC = '''  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:02:01"
    firewall    = true
  }
'''


def run_terraform(workspace: Path, inventory: Inventory, scratch: Path) -> dict[str, list[Finding]]:
    """Every Terraform check and the secrets check (these workspaces have no Ansible)."""
    found = {}
    for check in checks_of("iac"):
        if check.name.startswith("terraform-") or check.name == "no-plaintext-secrets":
            (scratch / check.name).mkdir(parents=True)
            found[check.name] = check.run(workspace, inventory, CheckContext(scratch / check.name, secrets=(SECRET,)))
    return found


TELMATE29_SEEDS = (
    # the real Proxmox-MPC's layout: a guest's file in vms/, no module block, placed with the root's variable
    Seed("terraform/102-web-02.tf", 'target_node = "pve2"', "target_node = var.default_node", LOAD,
         ("terraform/vms/102-web-02.tf", "never loaded"), move_to="terraform/vms/102-web-02.tf"),
    Seed("terraform/vms/102-web-02.tf", "vmid        = 102", "vmid        = 102", GUESTS,
         ("terraform/vms/102-web-02.tf", "vm_web_02", "node", "'pve2'", "'pve1'", "var.default_node",
          "taken from the root module")),
    Seed("terraform/103-db-01.tf", "  cores       = 4\n  sockets     = 2\n", "  cores       = 8\n", GUESTS,
         ("terraform/103-db-01.tf", "vm_db_01", "cores, sockets", "2 sockets x 4 cores", "cores = 8",
          "sockets left out")),
    Seed("terraform/104-monitoring.tf", NIC + "}\n", NIC + NIC.replace("BC:24:11:01:04:01", "BC:24:11:01:04:02")
         + "\n  lifecycle {\n    ignore_changes = [network]\n  }\n}\n", SETTINGS,
         ("terraform/104-monitoring.tf", "vm_monitoring", "network", "invented NIC", "ignore_changes")),
    Seed("terraform/107-gitlab-runner.tf", '    iothread = 1\n  }\n', '    iothread = 1\n    cache    = "writeback"\n'
         '  }\n\n  lifecycle {\n    ignore_changes = [disk]\n  }\n', SETTINGS,
         ("terraform/107-gitlab-runner.tf", "vm_gitlab_runner", "disk[scsi0].cache", "'writeback'",
          "invented setting", "ignore_changes")),
    Seed("terraform/101-web-01.tf", '  pool        = "prod"\n', '  pool        = "prod"\n' + CLONE +
         '  full_clone  = true\n\n  lifecycle {\n    ignore_changes = [clone, full_clone]\n  }\n', SETTINGS,
         ("terraform/101-web-01.tf", "vm_web_01", "clone = 'tmpl-debian12'", "guest 100", "invented",
          "ignore_changes")),
    Seed("terraform/105-dev-sandbox.tf", '  pool        = "lab"\n', '  pool        = "lab"\n' + CLONE,
         REPLACE, ("terraform/105-dev-sandbox.tf", "vm_dev_sandbox", "clone", "invented", "ForceNew", "re-create")),
    Seed("terraform/100-tmpl-debian12.tf", "  memory      = 2048\n", "  memory      = 2048\n" + CLONE, SETTINGS,
         ("terraform/100-tmpl-debian12.tf", "vm_tmpl_debian12", "the template is declared as a clone of itself",
          "ignore_changes")),
    Seed("terraform/203-tmpl-debian12-ct.tf", "  start        = false\n  template     = true\n",
         "  start        = true\n", SETTINGS,
         ("terraform/203-tmpl-debian12-ct.tf", "ct_tmpl_debian12_ct", "template", "is a template", "no template flag",
          "start = True")),
    Seed("terraform/200-dns-01.tf", '  ostype       = "debian"\n', '  ostype       = "debian"\n'
         '  ostemplate   = "local:vztmpl/alpine-3.19-default_20240207_amd64.tar.xz"\n', REPLACE,
         ("terraform/200-dns-01.tf", "ct_dns_01", "ostemplate", "not made from it", "'debian'", "alpine", "ForceNew")),
    # telmate 2.9.14 has no vm_state: the schema check says so, and no default of it is assumed anywhere
    Seed("terraform/106-win-build.tf", '  memory      = 8192\n', '  memory      = 8192\n  vm_state    = "stopped"\n',
         SCHEMA, ("terraform/106-win-build.tf", "vm_win_build", "vm_state", "2.9.14", "no argument")),
)
BPG_SEEDS = (
    Seed("terraform/node-pve1.tf", "    cores   = 4\n    sockets = 2\n", "    cores   = 4\n", GUESTS,
         ("terraform/node-pve1.tf", "db_01", "sockets", "2 sockets x 4 cores", "sockets left out")),
    Seed("terraform/node-pve2.tf", BPG_NIC + "\n  operating_system {\n    type = \"l26\"\n  }\n}\n\nresource "
         "\"proxmox_virtual_environment_vm\" \"monitoring\"",
         BPG_NIC + BPG_NIC.replace("01:02:01", "01:02:02") + "\n  operating_system {\n    type = \"l26\"\n  }\n\n"
         "  lifecycle {\n    ignore_changes = [network_device]\n  }\n}\n\nresource "
         "\"proxmox_virtual_environment_vm\" \"monitoring\"", SETTINGS,
         ("terraform/node-pve2.tf", "web_02", "network_device", "invented NIC", "ignore_changes")),
    Seed("terraform/node-pve2.tf", '    size         = 100\n    iothread     = true\n  }\n',
         '    size         = 100\n    iothread     = true\n    cache        = "writeback"\n  }\n\n'
         '  lifecycle {\n    ignore_changes = [disk]\n  }\n', SETTINGS,
         ("terraform/node-pve2.tf", "monitoring", "disk[scsi0].cache", "invented setting", "ignore_changes")),
    Seed("terraform/node-pve2.tf", "  vm_id         = 107\n", "  vm_id         = 107\n" + BPG_CLONE,
         REPLACE, ("terraform/node-pve2.tf", "gitlab_runner", "clone { vm_id = 100 }", "invented", "ForceNew",
                   "re-create")),
    Seed("terraform/node-pve1.tf", "  vm_id         = 100\n", "  vm_id         = 100\n" + BPG_CLONE,
         REPLACE, ("terraform/node-pve1.tf", "tmpl_debian12", "the template is declared as a clone of itself",
                   "ForceNew")),
    Seed("terraform/node-pve3.tf", "  started       = false\n  start_on_boot = false\n  unprivileged  = true\n"
         "  template      = true\n", "  started       = true\n  start_on_boot = false\n  unprivileged  = true\n",
         REPLACE, ("terraform/node-pve3.tf", "tmpl_debian12_ct", "template", "no template flag", "started = True",
                   "ForceNew")),
    Seed("terraform/node-pve3.tf", 'template_file_id = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"\n'
         '    type             = "debian"\n  }\n\n  # PVE keeps no record of the template a container was made from\n'
         '  lifecycle {\n    ignore_changes = [operating_system]\n  }\n}\n\nresource "proxmox_virtual_environment_'
         'container" "tmpl_debian12_ct"',
         'template_file_id = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"\n'
         '    type             = "debian"\n  }\n\n  # PVE keeps no record of the template a container was made from\n'
         '  lifecycle {\n    ignore_changes = [operating_system]\n  }\n}\n\nresource "proxmox_virtual_environment_'
         'container" "tmpl_debian12_ct"', SETTINGS,
         ("terraform/node-pve3.tf", "backup_agent", "operating_system", "not made from it", "ubuntu",
          "ignore_changes")),
)


@pytest.mark.parametrize("name", WORKSPACES)
def test_the_correct_workspace_passes_every_terraform_check(name: str, homelab: Inventory, tmp_path: Path) -> None:
    findings = run_terraform(copy_of(name, tmp_path), homelab, tmp_path / "scratch")
    assert not any(findings.values()), f"{name}: false alarms on a correct workspace:\n{shown(findings)}"


@pytest.mark.parametrize(("name", "seeds"), [("telmate29-flat", TELMATE29_SEEDS), ("bpg-by-node", BPG_SEEDS)],
                         ids=WORKSPACES)
def test_every_seeded_defect_is_caught_once(name: str, seeds: tuple[Seed, ...], homelab: Inventory,
                                            tmp_path: Path) -> None:
    workspace = copy_of(name, tmp_path)
    for seed in seeds:
        seed.apply(workspace)
    findings = run_terraform(workspace, homelab, tmp_path / "scratch")
    caught_once(findings, seeds)
