"""The mutation catalogue's Terraform gaps: each mutation damages a correct reference workspace in one place, and the
check it names must report the damage, with no other finding of that root cause (``absent``):

- A check silenced by another: a guest's file moved where Terraform never loads it, placed with a variable only the
  root module declares (the real Proxmox-MPC's ``vms/*.tf``): its node is still compared, saying where the value
  came from.
- Declarations hidden by ``lifecycle { ignore_changes }``: an invented NIC, an invented disk cache.
- Templates and clone sources: a template declared running, a clone source on a guest that exists, the template as
  its own clone, a container OS template of another distribution.
- Provider facts from the version in use: under a telmate 2.9 pin, ``vm_state`` is an argument the provider refuses,
  and no default of it is judged.
- Sockets x cores: a VM of 2 sockets x 4 cores declared as 8 cores and no sockets is one finding naming both.

The homelab reference comes from tests/test_mutations.py (its fixture, helpers and test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_mutations import (
    TF_GUESTS,
    TF_LOAD,
    TF_REPLACE,
    TF_SCHEMA,
    TF_SETTINGS,
    Mutation,
    Reference,
    append,
    both,
    move,
    reference,
    replace,
)
from .test_mutations import test_mutation_is_caught as caught  # not collected again under its own name

__all__ = ["reference"]  # the fixture, from the mutation catalogue
M = Mutation
HOME_NODE = '\nvariable "home_node" {\n  type    = string\n  default = "pve1"\n}\n'
BPG_NIC = '''  network_device {
    bridge      = "vmbr0"
    model       = "virtio"
    mac_address = "BC:24:11:01:01:01"
    firewall    = true
  }
'''
TELMATE_DISK = '''          storage  = "ceph-vm"
          size     = "32G"
          iothread = true
'''

MUTATIONS = (
    M("tf-unloaded-file-placed-by-a-root-variable", both(
        append("terraform/main.tf", HOME_NODE), move("terraform/vms/web_02.tf", "terraform/vms/legacy/web_02.tf"),
        replace("terraform/vms/legacy/web_02.tf", 'node_name     = "pve2"', "node_name     = var.home_node")),
      TF_GUESTS, ("terraform/vms/legacy/web_02.tf", "node", "'pve2'", "'pve1'", "var.home_node",
                  "taken from the root module"), also=(TF_LOAD,), absent=("guest qemu 102",)),
    M("telmate-unloaded-file-placed-by-a-root-variable", both(
        append("terraform/main.tf", HOME_NODE),
        move("terraform/containers/proxy.tf", "terraform/containers/old/proxy.tf"),
        replace("terraform/containers/old/proxy.tf", 'target_node  = "pve2"', "target_node  = var.home_node")),
      TF_GUESTS, ("terraform/containers/old/proxy.tf", "proxmox_lxc.proxy", "node", "'pve2'", "var.home_node"),
      also=(TF_LOAD,), absent=("guest lxc 201",), provider="telmate"),
    M("tf-invented-nic-hidden-by-ignore-changes", replace("terraform/vms/web_01.tf", BPG_NIC, BPG_NIC + BPG_NIC.replace(
        "01:01:01", "01:01:02") + "  lifecycle {\n    ignore_changes = [network_device]\n  }\n"), TF_SETTINGS,
      ("web_01.tf", "proxmox_virtual_environment_vm.web_01", "network_device", "invented NIC", "ignore_changes")),
    M("telmate-invented-disk-cache-hidden-by-ignore-changes", both(
        replace("terraform/vms/web_01.tf", TELMATE_DISK, TELMATE_DISK + '          cache    = "writeback"\n'),
        replace("terraform/vms/web_01.tf", '  qemu_os     = "l26"\n',
                '  qemu_os     = "l26"\n  lifecycle {\n    ignore_changes = [disks]\n  }\n')), TF_SETTINGS,
      ("web_01.tf", "proxmox_vm_qemu.web_01", "disk[scsi0].cache", "'writeback'", "invented setting",
       "ignore_changes"), provider="telmate"),
    M("tf-template-declared-running", replace("terraform/vms/tmpl_debian12.tf", "started       = false",
                                              "started       = true"), TF_SETTINGS,
      ("tmpl_debian12.tf", "proxmox_virtual_environment_vm.tmpl_debian12", "is a template", "started = True"),
      absent=("started: declares",)),
    M("telmate-template-declared-running", replace("terraform/vms/tmpl_debian12.tf", 'vm_state    = "stopped"',
                                                   'vm_state    = "running"'), TF_SETTINGS,
      ("tmpl_debian12.tf", "proxmox_vm_qemu.tmpl_debian12", "is a template", "vm_state = 'running'",
       "ignore_changes"), provider="telmate"),
    M("telmate-clone-source-on-an-adopted-guest", replace("terraform/vms/web_01.tf", '  qemu_os     = "l26"\n',
                                                          '  qemu_os     = "l26"\n  clone       = "tmpl-debian12"\n'),
      TF_REPLACE, ("web_01.tf", "proxmox_vm_qemu.web_01", "clone = 'tmpl-debian12'", "invented", "ForceNew"),
      provider="telmate"),
    M("tf-template-as-its-own-clone", replace("terraform/vms/tmpl_debian12.tf", "  operating_system {", (
        "  clone {\n    vm_id = 100\n  }\n  operating_system {")), TF_REPLACE,
      ("tmpl_debian12.tf", "clone { vm_id = 100 }", "the template is declared as a clone of itself", "re-create")),
    M("telmate-ostemplate-of-another-distribution", replace(
        "terraform/containers/dns_01.tf", "  onboot       = false\n",
        '  onboot       = false\n  ostemplate   = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"\n'),
      TF_REPLACE, ("dns_01.tf", "proxmox_lxc.dns_01", "ostemplate", "not made from it", "ubuntu", "ForceNew"),
      absent=("ostemplate: declares 'local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst', a setting",),
      provider="telmate"),
    M("tf-container-template-of-another-distribution-hidden", replace(
        "terraform/containers/dns_01.tf", "unknown-template.tar.zst", "alpine-3.19-default_20240207_amd64.tar.xz"),
      TF_SETTINGS, ("dns_01.tf", "proxmox_virtual_environment_container.dns_01", "operating_system",
                    "not made from it", "alpine", "ignore_changes")),
    M("telmate-2.9-pin-has-no-vm-state", replace("terraform/main.tf", 'version = "3.0.2-rc07"', 'version = "2.9.14"'),
      TF_SCHEMA, ("dev_sandbox.tf", "proxmox_vm_qemu.dev_sandbox", "vm_state", "2.9.14", "no argument"),
      absent=("vm_state: declares", "vm_state: left out"), provider="telmate"),
    M("tf-sockets-folded-into-cores", replace("terraform/vms/db_01.tf", "    cores   = 4\n    sockets = 2\n",
                                              "    cores   = 8\n"), TF_GUESTS,
      ("db_01.tf", "proxmox_virtual_environment_vm.db_01", "cores, sockets", "2 sockets x 4 cores", "cores = 8",
       "sockets left out"), absent=("cores: expected", "sockets: expected")),
)


@pytest.mark.parametrize("mutation", [pytest.param(m, id=m.name) for m in MUTATIONS])
def test_terraform_mutation_is_caught(mutation: Mutation, reference: Reference, tmp_path: Path,
                                      request: pytest.FixtureRequest) -> None:
    caught(mutation, reference, tmp_path, request)


def test_each_gap_has_a_mutation_of_each_provider_where_it_applies() -> None:
    assert {m.provider for m in MUTATIONS} == {"bpg", "telmate"}
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)
