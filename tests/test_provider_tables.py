"""The packaged provider schema tables: they parse, hold the facts read from the providers' sources,
and table_for picks them by Terraform version constraint."""

from __future__ import annotations

import json

import pytest

from pytest_proxmox_mpc.validators import provider_tables as pt

BPG, TELMATE = ("bpg/proxmox", "0.66.3"), ("telmate/proxmox", "3.0.1-rc4")
TELMATE_302, TELMATE_29 = ("telmate/proxmox", "3.0.2-rc07"), ("telmate/proxmox", "2.9.14")


@pytest.fixture(scope="module")
def bpg() -> pt.ProviderTable:
    return pt.load_table(*BPG)


@pytest.fixture(scope="module")
def telmate() -> pt.ProviderTable:
    return pt.load_table(*TELMATE)


def test_every_packaged_table_parses_and_names_its_source() -> None:
    tables = pt.available_tables()
    assert set(tables) == {BPG, TELMATE, TELMATE_302, TELMATE_29}
    names = sorted(f.name for f in pt.resources.files(pt.PACKAGE).iterdir() if f.name.endswith(".json"))
    assert len(names) == len(tables) + 1, f"every JSON file but the compatibility rules is a table: {names}"
    for provider, version in tables:
        table = pt.load_table(provider, version)
        assert (table.provider, table.version) == (provider, version)
        assert table.source["repository"].startswith("https://github.com/")
        assert table.source["license"] in {"MPL-2.0", "MIT"}
        assert all(len(p["commit"]) == 40 for p in table.source["paths"])
        if not table.source.get("ref_is_tag", True):
            assert table.source["version_evidence"], "a table not read at a tag says how it is tied to its version"
        assert table.resources, f"{provider} {version} lists no resource"


def test_bpg_vm(bpg: pt.ProviderTable) -> None:
    vm = bpg.resources["proxmox_virtual_environment_vm"]
    assert vm.import_id == "<node_name>/<vm_id>"
    node = vm.attributes["node_name"]
    assert (node.type, node.required, node.force_new) == ("string", True, False)  # ForceNewIf in CustomizeDiff
    vm_id = vm.attributes["vm_id"]
    assert (vm_id.type, vm_id.optional, vm_id.computed, vm_id.force_new) == ("int", True, True, False)
    cpu, memory = vm.blocks["cpu"], vm.blocks["memory"]
    assert cpu.max_items == 1 and cpu.attributes["cores"].default == 1 and cpu.attributes["sockets"].default == 1
    assert cpu.attributes["type"].default == "qemu64"
    assert memory.attributes["dedicated"].default == 512 and memory.attributes["dedicated"].type == "int"
    assert vm.attributes["on_boot"].default is True and vm.attributes["started"].default is True
    assert vm.attributes["template"].force_new is True
    assert vm.blocks["disk"].max_items == 14 and vm.blocks["disk"].attributes["interface"].required
    assert vm.blocks["disk"].attributes["size"].default == 8
    assert vm.blocks["network_device"].attributes["bridge"].default == "vmbr0"
    assert vm.blocks["clone"].attributes["vm_id"].required and vm.blocks["clone"].attributes["vm_id"].force_new
    assert vm.blocks["initialization"].blocks["user_account"].attributes["password"].sensitive


def test_bpg_container(bpg: pt.ProviderTable) -> None:
    ct = bpg.resources["proxmox_virtual_environment_container"]
    assert ct.import_id == "<node_name>/<vm_id>"
    assert ct.attributes["node_name"].required and ct.attributes["node_name"].force_new
    assert ct.attributes["unprivileged"].force_new and ct.attributes["start_on_boot"].default is True
    assert "hostname" not in ct.attributes and "hostname" in ct.blocks["initialization"].attributes
    os_block = ct.blocks["operating_system"]
    assert os_block.force_new and os_block.attributes["template_file_id"].required
    assert ct.blocks["disk"].attributes["size"].default == 4 and ct.blocks["disk"].force_new
    assert ct.blocks["network_interface"].attributes["name"].required
    assert ct.blocks["mount_point"].max_items == 8


def test_bpg_provider_arguments_and_names(bpg: pt.ProviderTable) -> None:
    args = bpg.provider_arguments.attributes
    assert args["api_token"].sensitive and args["endpoint"].type == "string" and args["insecure"].type == "bool"
    assert "pm_api_url" not in args and bpg.provider_arguments.blocks["ssh"].max_items == 1
    assert "proxmox_virtual_environment_download_file" in bpg.resources
    assert "proxmox_vm_qemu" not in bpg.resources
    assert "proxmox_virtual_environment_vms" in bpg.data_sources


def test_telmate_vm_qemu(telmate: pt.ProviderTable) -> None:
    vm = telmate.resources["proxmox_vm_qemu"]
    assert vm.import_id == "<target_node>/qemu/<vmid>"
    assert vm.attributes["target_node"].type == "string" and not vm.attributes["target_node"].required
    vmid = vm.attributes["vmid"]
    assert (vmid.type, vmid.computed, vmid.force_new) == ("int", True, True)
    assert vm.attributes["cores"].default == 1 and vm.attributes["memory"].default == 512
    assert vm.attributes["onboot"].default is False and vm.attributes["vm_state"].default == "running"
    assert vm.attributes["clone"].force_new and vm.attributes["full_clone"].default is True
    assert vm.blocks["disks"].max_items == 1 and set(vm.blocks["disks"].blocks) == {"ide", "sata", "scsi", "virtio"}
    assert "scsi30" in vm.blocks["disks"].blocks["scsi"].blocks
    assert vm.blocks["network"].attributes["model"].required and vm.blocks["network"].attributes["tag"].default == -1
    assert "cloudinit_cdrom_storage" not in vm.attributes


def test_telmate_lxc(telmate: pt.ProviderTable) -> None:
    lxc = telmate.resources["proxmox_lxc"]
    assert lxc.import_id == "<target_node>/lxc/<vmid>"
    assert lxc.attributes["hostname"].type == "string"
    assert lxc.attributes["ostemplate"].force_new and not lxc.attributes["ostemplate"].required
    rootfs = lxc.blocks["rootfs"]
    assert rootfs.max_items == 1 and rootfs.attributes["storage"].required and rootfs.attributes["storage"].force_new
    assert rootfs.attributes["size"].type == "string" and rootfs.attributes["size"].required
    assert lxc.attributes["password"].force_new and lxc.attributes["password"].sensitive
    assert "proxmox_virtual_environment_vm" not in telmate.resources


@pytest.mark.parametrize(("source", "constraint", "expected"), [
    ("bpg/proxmox", "0.66.3", BPG),
    ("registry.terraform.io/bpg/proxmox", "~> 0.66", BPG),
    ("bpg/proxmox", ">= 0.60, < 0.70", BPG),
    ("bpg/proxmox", None, BPG),
    ("bpg/proxmox", "~> 0.66.4", None),
    ("bpg/proxmox", "< 0.66.3", None),
    ("telmate/proxmox", ">= 3.0.1-rc1", TELMATE_302),
    ("telmate/proxmox", ">= 3.0.1-rc1, < 3.0.2-rc01", TELMATE),
    ("Telmate/proxmox", "3.0.1-rc4", TELMATE),
    ("telmate/proxmox", "3.0.2-rc07", TELMATE_302),
    ("telmate/proxmox", "3.0.2-rc05", None),  # an exact pin selects only its own version's table
    ("telmate/proxmox", "~> 2.9", TELMATE_29),
    ("telmate/proxmox", "2.9.14", TELMATE_29),
    ("telmate/proxmox", "~> 2.8.0", None),
    ("telmate/proxmox", ">= 3.0", None),  # a pre-release is selected only by a constraint naming one
    ("telmate/proxmox", None, TELMATE_29),  # no constraint: the newest release, and 3.x has pre-releases only
    ("hashicorp/null", None, None),
])
def test_table_for(source: str, constraint: str | None, expected: tuple[str, str] | None) -> None:
    table = pt.table_for(source, constraint)
    assert (None if table is None else (table.provider, table.version)) == expected


@pytest.mark.parametrize(("version", "constraint", "ok"), [
    ("3.0.1-rc4", "< 3.0.1, >= 3.0.1-rc1", True),
    ("3.0.1-rc10", "> 3.0.1-rc9", True),
    ("3.0.1", "> 3.0.1-rc10", True),
    ("2.9.14", "~> 2.9", True),
    ("3.0.0", "~> 2.9", False),
    ("2.9.14", "~> 2.9.11", True),
    ("2.10.0", "~> 2.9.11", False),
    ("2.9.14", "!= 2.9.14", False),
])
def test_satisfies(version: str, constraint: str, ok: bool) -> None:
    assert pt.satisfies(version, constraint) is ok


def test_telmate_302_vm_qemu() -> None:
    vm = pt.load_table(*TELMATE_302).resources["proxmox_vm_qemu"]
    assert not vm.partial and vm.import_id == "<target_node>/qemu/<vmid>"
    cpu = vm.blocks["cpu"]
    assert cpu.max_items == 1 and cpu.attributes["cores"].default == 1 and cpu.attributes["type"].default == "host"
    assert vm.attributes["cores"].deprecated and vm.attributes["cores"].default is None  # the legacy argument
    assert vm.attributes["description"].default == "Managed by Terraform." and vm.attributes["desc"].deprecated
    assert vm.attributes["vmid"].force_new and vm.attributes["clone_id"].force_new
    network = vm.blocks["network"]
    assert network.attributes["id"].required and network.attributes["model"].required
    assert network.attributes["bridge"].default == "nat" and network.attributes["tag"].default is None
    disks = vm.blocks["disks"]
    assert [len(disks.blocks[bus].blocks) for bus in ("ide", "sata", "scsi", "virtio")] == [4, 6, 31, 16]
    scsi0 = disks.blocks["scsi"].blocks["scsi0"]
    assert scsi0.attributes["ignore"].type == "bool" and set(scsi0.blocks) == {"cdrom", "cloudinit", "disk",
                                                                                 "passthrough"}
    disk = scsi0.blocks["disk"].attributes
    assert disk["size"].required and disk["storage"].required and disk["iothread"].type == "bool"
    assert disk["backup"].default is True and disk["format"].default == "raw"
    assert "iothread" not in disks.blocks["sata"].blocks["sata0"].blocks["disk"].attributes
    virtio = disks.blocks["virtio"].blocks["virtio15"]
    assert "emulatessd" not in virtio.blocks["disk"].attributes and "cloudinit" not in virtio.blocks
    assert vm.blocks["disk"].attributes["slot"].required  # the 3.0.1 shape, still accepted beside disks
    assert vm.blocks["tpm_state"].attributes["storage"].force_new and vm.blocks["pcis"].partial


def test_telmate_302_lxc() -> None:
    lxc = pt.load_table(*TELMATE_302).resources["proxmox_lxc"]
    assert not lxc.partial and lxc.import_id == "<target_node>/lxc/<vmid>"
    assert not lxc.attributes["target_node"].required and not lxc.attributes["target_node"].force_new
    assert lxc.attributes["current_node"].computed and lxc.attributes["ostemplate"].force_new
    assert lxc.blocks["rootfs"].attributes["storage"].force_new and lxc.attributes["swap"].default == 0


def test_telmate_29_vm_qemu_has_the_2_9_shapes() -> None:
    table = pt.load_table(*TELMATE_29)
    vm = table.resources["proxmox_vm_qemu"]
    assert not vm.partial and vm.import_id == "<target_node>/qemu/<vmid>"
    assert "disks" not in vm.blocks and "cpu" not in vm.blocks
    assert vm.attributes["cores"].default == 1 and vm.attributes["cpu"].default == "host"
    disk = vm.blocks["disk"].attributes
    assert disk["type"].required and disk["storage"].required and disk["size"].required
    assert disk["iothread"].type == "int" and disk["cache"].default == "none" and not disk["slot"].required
    assert "id" not in vm.blocks["network"].attributes and vm.blocks["network"].attributes["tag"].default == -1
    assert table.resources["proxmox_lxc"].partial, "its 2.9 shape was not read"


def test_a_template_is_written_once_and_must_exist() -> None:
    text = json.dumps({"provider": "p/q", "version": "1.0.0", "source": {}, "data_sources": {},
                       "templates": {"slot": {"attributes": {"size": {"type": "string", "required": True,
                                                                      "optional": False, "computed": False,
                                                                      "force_new": None}}}},
                       "resources": {"r": {"blocks": {"a": {"template": "slot"}, "b": {"template": "slot"}}}}})
    table = pt.parse_table(text, "t.json")
    assert [table.resources["r"].blocks[k].attributes["size"].required for k in "ab"] == [True, True]
    with pytest.raises(ValueError, match=r"t\.json: resources\.r\.blocks\.a: no template 'disk'"):
        pt.parse_table(text.replace('"template": "slot"}, "b"', '"template": "disk"}, "b"'), "t.json")


def test_malformed_table_names_the_file() -> None:
    good = json.loads(pt.resources.files(pt.PACKAGE).joinpath("bpg-proxmox-0.66.3.json").read_text())
    good["resources"]["proxmox_virtual_environment_vm"]["attributes"]["node_name"]["type"] = "TypeString"
    with pytest.raises(ValueError, match=r"broken\.json.*node_name"):
        pt.parse_table(json.dumps(good), "broken.json")
    with pytest.raises(ValueError, match=r"broken\.json"):
        pt.parse_table("{not json", "broken.json")
    with pytest.raises(ValueError, match="not a version constraint"):
        pt.satisfies("1.0.0", "about 1")
