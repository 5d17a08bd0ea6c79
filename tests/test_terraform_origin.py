"""What a guest was made from, on small workspaces and clusters: a linked clone's declared source is no invention
(its disk is on the template's base volume) but a full clone declared for it is; a clone source hidden by
``ignore_changes`` is still judged; a telmate 2.9 pin has no ``vm_state`` (so no default of it), a 3.0 pin does;
a loose directory's variable is taken from the root module only where the directory does not declare it."""

from __future__ import annotations

from pathlib import Path

from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory
from pytest_proxmox_mpc.validators.provider_tables import load_table
from pytest_proxmox_mpc.validators.terraform import check_guests, check_replacements, check_settings, read_terraform
from pytest_proxmox_mpc.validators.terraform.lifecycle import hides

TELMATE = '''terraform {
  required_providers {
    proxmox = {
      source  = "telmate/proxmox"
      version = "%s"
    }
  }
}
'''
CONFIG = {"cores": 1, "sockets": 1, "memory": 512, "scsihw": "lsi", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0"}


def guest(vmid: int, name: str, disk: str, template: bool = False, status: str = "stopped") -> GuestInfo:
    config = {**CONFIG, "scsi0": f"local-lvm:{disk},size=8G", **({"template": 1} if template else {})}
    return GuestInfo(vmid, "qemu", "pve1", name, status, template=template, config=config)


def cluster(*guests: GuestInfo) -> Inventory:
    return Inventory("9.0.10", "lab", True, {}, {g.vmid: g for g in guests}, {}, {}, {}, 0.0, 0)


def vm(label: str, vmid: int, name: str, extra: str = "") -> str:
    return (f'resource "proxmox_vm_qemu" "{label}" {{\n  name        = "{name}"\n  vmid        = {vmid}\n'
            f'  target_node = "pve1"\n  cores       = 1\n  sockets     = 1\n  memory      = 512\n'
            f'  disk {{\n    type    = "scsi"\n    storage = "local-lvm"\n    size    = "8G"\n  }}\n'
            f'  network {{\n    model  = "virtio"\n    bridge = "vmbr0"\n  }}\n{extra}}}\n')


def findings(root: Path, inventory: Inventory) -> list[str]:
    tf = read_terraform(root)
    return [str(f) for check in (check_guests, check_settings, check_replacements) for f in check(tf, inventory)]


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


TEMPLATE = guest(900, "tmpl", "base-900-disk-0", template=True)
LINKED = guest(901, "linked", "base-900-disk-0/vm-901-disk-0")


def test_a_linked_clone_may_declare_its_template_but_not_a_full_clone(tmp_path: Path) -> None:
    root = write(tmp_path, {"terraform/main.tf": TELMATE % "~> 2.9" + vm("t", 900, "tmpl", "  lifecycle {\n"
                            "    ignore_changes = all\n  }\n") + vm("l", 901, "linked", (
                                '  clone      = "tmpl"\n  full_clone = false\n  lifecycle {\n'
                                "    ignore_changes = [clone, full_clone]\n  }\n"))})
    assert findings(root, cluster(TEMPLATE, LINKED)) == []
    text = (root / "terraform/main.tf").read_text(encoding="utf-8").replace("full_clone = false", "full_clone = true")
    (root / "terraform/main.tf").write_text(text, encoding="utf-8")
    found = findings(root, cluster(TEMPLATE, LINKED))
    assert len(found) == 1 and "full_clone = True" in found[0] and "linked clone of 900" in found[0], found
    assert "ignore_changes" in found[0]


def test_a_linked_clone_whose_source_a_plan_cannot_read_back_is_replaced(tmp_path: Path) -> None:
    root = write(tmp_path, {"terraform/main.tf": TELMATE % "~> 2.9" + vm("l", 901, "linked", (
        '  clone      = "tmpl"\n  full_clone = false\n'))})
    found = [f for f in findings(root, cluster(TEMPLATE, LINKED)) if "proxmox_vm_qemu.l:" in f]
    assert len(found) == 1 and "linked clone of 900" in found[0] and "ForceNew" in found[0], found
    assert found[0].startswith("terraform: terraform/main.tf proxmox_vm_qemu.l: clone:")


def test_full_clone_without_a_clone_source_is_inert(tmp_path: Path) -> None:
    """The provider reads full_clone only when it clones (and never reads it back): alone it declares nothing."""
    other = guest(902, "plain", "vm-902-disk-0")
    root = write(tmp_path, {"terraform/main.tf": TELMATE % "~> 2.9" + vm("p", 902, "plain", (
        "  full_clone = true\n  lifecycle {\n    ignore_changes = [full_clone]\n  }\n"))})
    assert findings(root, cluster(other)) == []


def test_vm_state_exists_from_the_3_0_line_only() -> None:
    assert "vm_state" not in load_table("telmate/proxmox", "2.9.14").resources["proxmox_vm_qemu"].attributes
    for version in ("3.0.1-rc4", "3.0.2-rc07"):
        attribute = load_table("telmate/proxmox", version).resources["proxmox_vm_qemu"].attributes["vm_state"]
        assert attribute.default == "running"


def test_a_stopped_guest_without_vm_state_is_judged_by_the_pinned_version(tmp_path: Path) -> None:
    plain = guest(902, "plain", "vm-902-disk-0")
    root = write(tmp_path, {"terraform/main.tf": TELMATE % "~> 2.9" + vm("p", 902, "plain", '  scsihw = "lsi"\n')})
    assert findings(root, cluster(plain)) == []
    (root / "terraform/main.tf").write_text(TELMATE % "3.0.1-rc4" + vm("p", 902, "plain"), encoding="utf-8")
    found = findings(root, cluster(plain))
    assert any("vm_state: left out, so the provider's default 'running' applies" in f for f in found), found


def test_a_loose_directory_keeps_its_own_variables(tmp_path: Path) -> None:
    web = GuestInfo(101, "qemu", "pve2", "web", "stopped", config=CONFIG)
    body = vm("w", 101, "web").replace('target_node = "pve1"', "target_node = var.node")
    root = write(tmp_path, {"terraform/main.tf": TELMATE % "~> 2.9" + 'variable "node" {\n  default = "pve1"\n}\n',
                            "terraform/vms/web.tf": body})
    found = [f for f in findings(root, cluster(web)) if ": node:" in f]
    assert len(found) == 1 and "var.node taken from the root module" in found[0], found
    (root / "terraform/vms/vars.tf").write_text('variable "node" {\n  default = "pve2"\n}\n', encoding="utf-8")
    assert [f for f in findings(root, cluster(web)) if ": node:" in f] == []


def test_ignore_changes_covers_a_setting_and_the_blocks_around_it() -> None:
    assert hides(frozenset({"disk"}), "disk.cache") and hides(frozenset({"all"}), "bios")
    assert not hides(frozenset({"disk"}), "disks.scsi") and not hides(frozenset(), "bios")


def test_a_literal_with_template_escapes_is_read_as_hcl_reads_it(tmp_path: Path) -> None:
    """The reference builder writes a guest named ``a%{b`` as ``"a%%{b"``: no name finding (nor for ``$${``)."""
    odd = [guest(903, "a%{ if }b", "vm-903-disk-0"), guest(904, "c${var.x}d", "vm-904-disk-0")]
    text = TELMATE % "~> 2.9" + vm("a", 903, "a%%{ if }b") + vm("c", 904, "c$${var.x}d")
    root = write(tmp_path, {"terraform/main.tf": text})
    assert findings(root, cluster(*odd)) == []
    (root / "terraform/main.tf").write_text(text.replace("a%%{ if }b", "a%%{ if }c"), encoding="utf-8")
    assert any(": name: expected 'a%{ if }b'" in f for f in findings(root, cluster(*odd)))
