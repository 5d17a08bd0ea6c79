"""Validator rules a user relies on, each shown on a small workspace: secrets matched as whole values only,
a literal secret default found, outputs and token IDs not taken for secrets; partial schema tables not judged
by what they did not read; a telmate 2.9 pin judged by the 2.9 table; the seed's "No impact on production"
never judged by a workspace check."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.report.criteria import CRITERIA
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS, check_no_secrets
from pytest_proxmox_mpc.validators.provider_tables import COMPATIBILITY, PACKAGE, available_tables, load_table
from pytest_proxmox_mpc.validators.terraform import read_terraform
from pytest_proxmox_mpc.validators.terraform.provider import check_provider
from pytest_proxmox_mpc.validators.terraform.schema import check_schema

PROVIDER = '''terraform {
  required_providers {
    proxmox = {
      source  = "telmate/proxmox"
      version = "%s"
    }
  }
}
'''


def workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_credential_is_matched_as_a_whole_value_never_inside_a_name(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"terraform/main.tf": (
        'provider "proxmox" {\n  pm_api_token_secret = var.pm_api_token_secret\n}\n'
        'output "pm_api_token_secret_name" {\n  value = var.pm_api_token_secret_name\n}\n')})
    assert check_no_secrets(root, ["secret"]) == [], "the password 'secret' is no leak in pm_api_token_secret"
    (root / "terraform" / "extra.tf").write_text('locals {\n  note = "login with secret"\n}\n', encoding="utf-8")
    found = check_no_secrets(root, ["secret"])
    assert [f.resource for f in found] == ["terraform/extra.tf:2"]


def test_an_output_value_and_a_token_id_are_not_secrets(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"terraform/main.tf": (
        'output "api_token" {\n  value = "see the vault"\n}\n'
        'provider "proxmox" {\n  pm_api_token_id = "terraform@pve!iac"\n}\n')})
    assert check_no_secrets(root) == []


def test_a_literal_secret_default_is_found_and_a_reference_is_not(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"terraform/variables.tf": (
        'variable "pm_password" {\n  type    = string\n  default = "hunter22"\n}\n\n'
        'variable "pm_user" {\n  default = "terraform@pve"\n}\n\n'
        'variable "ssh_private_key" {\n  default = null\n}\n')})
    found = check_no_secrets(root)
    assert [(f.resource, f.note) for f in found] == [
        ("terraform/variables.tf:3", "variable pm_password has a literal secret default")]


def test_a_partial_table_does_not_judge_what_it_did_not_read(tmp_path: Path) -> None:
    table = load_table("telmate/proxmox", "3.0.1-rc4")
    assert table.resources["proxmox_lxc"].partial, "tags, pool, target_node and vmid were not read"
    root = workspace(tmp_path, {"terraform/main.tf": PROVIDER % "3.0.1-rc4" + (
        'resource "proxmox_lxc" "ct" {\n  target_node = "pve1"\n  vmid = 200\n  tags = "a"\n  bogus = 1\n'
        '  rootfs {\n    storage = "local-lvm"\n  }\n}\n')})
    found = check_schema(read_terraform(root), Inventory.__new__(Inventory))
    assert [(f.field, f.note) for f in found] == [
        ("rootfs.size", "required by telmate/proxmox 3.0.1-rc4 proxmox_lxc, and missing")]


def test_no_workspace_check_is_evidence_for_no_impact_on_production() -> None:
    no_impact = next(c for c in CRITERIA if c.id == "p2-no-impact")
    assert no_impact.evidence is not None, "judged from the run's requests and drift"
    assert [check.name for check in WORKSPACE_CHECKS if no_impact.id in check.criteria] == []


def test_the_compatibility_rules_are_no_schema_table() -> None:
    assert all(provider in ("bpg/proxmox", "telmate/proxmox") for provider, _ in available_tables())


# A workspace as a telmate 2.9 user wrote it: top-level cores/sockets/cpu, numbered disk blocks with a type,
# network blocks without an id, the provider configured from variables.
TELMATE_29 = PROVIDER % "~> 2.9" + '''
provider "proxmox" {
  pm_api_url      = var.pm_api_url
  pm_tls_insecure = false
}

variable "pm_api_url" {
  type = string
}

resource "proxmox_vm_qemu" "web" {
  name        = "web-01"
  target_node = "pve1"
  vmid        = 101
  agent       = 1
  cores       = 2
  sockets     = 1
  cpu         = "host"
  memory      = 4096
  scsihw      = "virtio-scsi-pci"
  bootdisk    = "scsi0"
  ipconfig0   = "ip=dhcp"

  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "32G"
    iothread = 1
    ssd      = 1
    discard  = "on"
  }

  network {
    model  = "virtio"
    bridge = "vmbr0"
    tag    = -1
  }
}

resource "proxmox_lxc" "dns" {
  target_node  = "pve1"
  vmid         = 200
  hostname     = "dns-01"
  unprivileged = true

  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    ip     = "dhcp"
  }
}
'''
DISK_29 = '''  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "32G"
    iothread = 1
    ssd      = 1
    discard  = "on"
  }
'''
DISKS_30 = '''  disks {
    scsi {
      scsi0 {
        disk {
          storage = "local-lvm"
          size    = "32G"
        }
      }
    }
  }
'''


def _inventory(version: str) -> Inventory:
    return Inventory(version, "homelab", True, {}, {}, {}, {}, {}, 0.0, 0)


def test_a_telmate_29_pin_is_judged_by_the_29_table(tmp_path: Path) -> None:
    assert TELMATE_29.count(DISK_29) == 1
    root = workspace(tmp_path / "good", {"terraform/main.tf": TELMATE_29})
    assert check_schema(read_terraform(root), _inventory("9.0.3")) == [], "the 2.9 shapes are what 2.9 takes"
    root = workspace(tmp_path / "bad", {"terraform/main.tf": TELMATE_29.replace(DISK_29, DISKS_30).replace(
        '  cpu         = "host"\n', "  cpu {\n    type = \"host\"\n  }\n")})
    found = check_schema(read_terraform(root), _inventory("9.0.3"))
    assert [(f.resource, f.field, f.note) for f in found] == [
        ("terraform/main.tf proxmox_vm_qemu.web", "cpu",
         "telmate/proxmox 2.9.14 proxmox_vm_qemu takes cpu as an argument (cpu = ...), not as a block"),
        ("terraform/main.tf proxmox_vm_qemu.web", "disks",
         "telmate/proxmox 2.9.14 proxmox_vm_qemu has no argument or block 'disks'")]


def test_a_telmate_29_pin_on_pve_9_is_not_judged_without_evidence(tmp_path: Path) -> None:
    rules = json.loads(resources.files(PACKAGE).joinpath(COMPATIBILITY).read_text(encoding="utf-8"))["rules"]
    telmate = next(rule for rule in rules if rule["provider"] == "telmate/proxmox" and rule["pve_major"] == 9)
    assert "2.9" in telmate["not_judged"] and not [r for r in telmate["releases"] if r.startswith("2.")]
    root = workspace(tmp_path, {"terraform/main.tf": TELMATE_29})
    assert check_provider(read_terraform(root), _inventory("9.0.3")) == []
    (root / "terraform" / "main.tf").write_text(TELMATE_29.replace("~> 2.9", "3.0.1-rc10"), encoding="utf-8")
    found = check_provider(read_terraform(root), _inventory("9.0.3"))
    assert [(f.field, "PVE 9" in f.note) for f in found] == [("version", True)], "a 3.0.1 pin is judged"
