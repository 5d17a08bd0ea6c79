"""The reference IaC export (``export_iac``) checked against the homelab simulated cluster it was read from.

Expected values are worked out here from each guest's PVE config with the test's own small parsers, not
with the exporter's helpers; the Terraform is read back with python-hcl2 and the inventory with PyYAML;
the Ansible directory is linted with ``ansible-lint --offline`` under its own config (``profile: production``)
by the suite's lint check, once per test run.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import hcl2
import proxmoxer
import pytest
import yaml
from hcl2.utils import SerializationOptions

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory
from pytest_proxmox_mpc.sim.cluster import SimCluster
from pytest_proxmox_mpc.validators import CheckContext, checks_of
from pytest_proxmox_mpc.validators import ansible_lint as ansible_validator
from pytest_proxmox_mpc.validators.ansible_lint import lint_ansible
from pytest_proxmox_mpc.validators.findings import Finding
from pytest_proxmox_mpc.workspace.export.ansible import export_ansible
from pytest_proxmox_mpc.workspace.export.iac import export_iac
from pytest_proxmox_mpc.workspace.export.terraform import export_terraform

PROVIDERS = {"bpg": ("bpg/proxmox", "proxmox_virtual_environment_vm", "proxmox_virtual_environment_container"),
             "telmate": ("telmate/proxmox", "proxmox_vm_qemu", "proxmox_lxc")}
HCL = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
SECRET_WORDS = re.compile(r"token|secret|password|passwd|key", re.I)
QEMU_DISK = re.compile(r"(ide|sata|scsi|virtio)\d+")


@dataclass(frozen=True)
class Cluster:
    inventory: Inventory
    password: str


@dataclass(frozen=True)
class Export:
    provider: str
    root: Path
    files: list[Path]


@pytest.fixture(scope="module")
def cluster(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The homelab scenario in a simulated cluster, read once with ``read_inventory``."""
    sim = SimCluster(homelab_scenario, tmp_path_factory.mktemp("homelab-sim"))
    try:
        ep = sim.endpoint
        assert ep.password is not None
        password = ep.password.reveal()
        api = proxmoxer.ProxmoxAPI(ep.host, port=ep.port, user=ep.user, password=password, verify_ssl=ep.verify)
        yield Cluster(read_inventory(api), password)
    finally:
        sim.stop()


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def export(request: pytest.FixtureRequest, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Export:
    root = tmp_path_factory.mktemp(f"workspace-{request.param}")
    return Export(request.param, root, export_iac(cluster.inventory, root, request.param))


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle, serialization_options=HCL))


def resources(tf_root: Path) -> list[tuple[Path, str, str, dict[str, Any]]]:
    """Every resource under ``tf_root``: (file, type, label, body)."""
    found = []
    for path in sorted(tf_root.rglob("*.tf")):
        for entry in load(path).get("resource", []):
            for kind, labelled in entry.items():
                found += [(path, kind, label, body) for label, body in labelled.items()]
    return found


def blocks(path: Path, kind: str) -> list[dict[str, Any]]:
    """The labelled blocks ``kind`` (variable, module, ...) of a file as {label: body} dicts."""
    return list(load(path).get(kind, []))


def gib(text: str) -> int:
    """``32G`` -> 32 (whole GiB, rounded up)."""
    match = re.fullmatch(r"(\d+)([MGT])", text)
    assert match, text
    mib = int(match.group(1)) * {"M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2)]
    return -(-mib // 1024)


def telmate_disk_sizes(body: dict[str, Any]) -> dict[str, str]:
    """telmate 3.x ``disks { <bus> { <slot> { disk { size } } } }``: slot -> size."""
    return {slot: inner[0]["disk"][0]["size"] for disks in body.get("disks", []) for buses in disks.values()
            for bus in buses for slot, inner in bus.items()}


def slot_order(slot: str) -> tuple[str, int]:
    """``scsi10`` -> (``scsi``, 10)."""
    match = re.fullmatch(r"([a-z]+)(\d+)", slot)
    assert match, slot
    return match.group(1), int(match.group(2))


def expected_disks(guest: GuestInfo) -> dict[str, str]:
    """slot -> PVE size text (``32G``), from the config."""
    config = guest.config or {}
    slots = [key for key in config if (QEMU_DISK.fullmatch(key) if guest.kind == "qemu" else
                                       re.fullmatch(r"rootfs|mp\d+", key))]
    sizes = {key: re.search(r"size=(\d+[MGT])", str(config[key])) for key in slots
             if "media=cdrom" not in str(config[key])}
    return {key: match.group(1) for key, match in sizes.items() if match}


def expected_nics(guest: GuestInfo) -> list[tuple[str, str]]:
    """(bridge, MAC) of each ``netN`` in N's order, from the config (QEMU: ``virtio=MAC,...``; LXC: ``hwaddr=``)."""
    config = guest.config or {}
    found = []
    for key in sorted((k for k in config if re.fullmatch(r"net\d+", k)), key=lambda k: int(k[3:])):
        options = dict(part.split("=", 1) for part in str(config[key]).split(",") if "=" in part)
        mac = options.get("hwaddr") or next(v for k, v in options.items() if k in ("virtio", "e1000", "rtl8139"))
        found.append((options["bridge"], mac))
    return found


def contract_name(guest: GuestInfo) -> str:
    return re.sub(r"[^a-z0-9_]", "_", guest.name.lower()) if guest.name else f"vm-{guest.vmid}"


def test_files_are_reported_and_every_tf_parses(export: Export) -> None:
    on_disk = {path for path in export.root.rglob("*") if path.is_file()}
    assert set(export.files) == on_disk
    tf_files = sorted((export.root / "terraform").rglob("*.tf"))
    assert export.root / "terraform" / "main.tf" in tf_files
    for path in tf_files:
        assert isinstance(load(path), dict), path


def test_one_resource_per_guest_with_its_real_values(export: Export, cluster: Cluster) -> None:
    found = resources(export.root / "terraform")
    _, vm_type, ct_type = PROVIDERS[export.provider]
    vmid_key, node_key = ("vm_id", "node_name") if export.provider == "bpg" else ("vmid", "target_node")
    by_vmid: dict[int, list[tuple[Path, str, str, dict[str, Any]]]] = {}
    for item in found:
        by_vmid.setdefault(item[3][vmid_key], []).append(item)
    assert sorted(by_vmid) == sorted(cluster.inventory.guests)
    for vmid, guest in cluster.inventory.guests.items():
        assert len(by_vmid[vmid]) == 1, by_vmid[vmid]
        path, kind, _, body = by_vmid[vmid][0]
        qemu = guest.kind == "qemu"
        config = guest.config or {}
        assert kind == (vm_type if qemu else ct_type)
        assert path == export.root / "terraform" / ("vms" if qemu else "containers") / f"{contract_name(guest)}.tf"
        assert body[node_key] == guest.node
        sizes = expected_disks(guest)
        assert sizes, f"the homelab guest {vmid} has disks"
        nics = expected_nics(guest)
        assert nics, f"the homelab guest {vmid} has a network device"
        nic_block, mac_key = {("bpg", True): ("network_device", "mac_address"),
                              ("bpg", False): ("network_interface", "mac_address"),
                              ("telmate", True): ("network", "macaddr"),
                              ("telmate", False): ("network", "hwaddr")}[export.provider, qemu]
        assert [(nic["bridge"], nic[mac_key]) for nic in body[nic_block]] == nics
        if export.provider == "bpg":
            cpu, memory = body["cpu"][0], body["memory"][0]
            assert cpu["cores"] == int(config["cores"])
            assert cpu.get("sockets", 1) == int(config.get("sockets", 1))
            assert memory["dedicated"] == int(config["memory"])
            assert set(body["tags"]) == set(guest.tags)
            assert body["template"] is guest.template
            if qemu:
                assert {disk["interface"]: disk["size"] for disk in body["disk"]} == {
                    slot: gib(size) for slot, size in sizes.items()}
            else:
                assert [disk["size"] for disk in body["disk"]] == [gib(sizes["rootfs"])]
                assert body["initialization"][0]["hostname"] == config["hostname"]
        else:
            cpu = body["cpu"][0] if qemu else body  # telmate 3.x: a VM's cpu block; a container's own arguments
            assert cpu["cores"] == int(config["cores"])
            assert cpu.get("sockets", 1) == int(config.get("sockets", 1))
            assert body["memory"] == int(config["memory"])
            assert set(body["tags"].split(";")) == set(guest.tags)
            assert body["onboot"] is False, "PVE's default, the config's: telmate writes it"
            if qemu:
                assert telmate_disk_sizes(body) == sizes
                assert body["vm_state"] == ("running" if guest.status == "running" else "stopped")
                assert [nic["id"] for nic in body["network"]] == list(range(len(nics)))
            else:
                assert body["rootfs"][0]["size"] == sizes["rootfs"]
                assert body["hostname"] == config["hostname"]
                assert body["template"] is guest.template


def test_resources_live_only_in_modules_main_tf_calls(export: Export) -> None:
    tf_root = export.root / "terraform"
    calls = {label: body["source"] for entry in blocks(tf_root / "main.tf", "module") for label, body in entry.items()}
    assert calls == {"vms": "./vms", "containers": "./containers"}
    folders = {path.parent for path, *_ in resources(tf_root)}
    assert folders == {tf_root / "vms", tf_root / "containers"}
    source = PROVIDERS[export.provider][0]
    for folder in folders:
        module_terraform = [entry for path in folder.glob("*.tf") for entry in blocks(path, "terraform")]
        assert len(module_terraform) == 1, "one terraform block per child module"
        assert module_terraform[0]["required_providers"][0]["proxmox"]["source"] == source


def test_every_guest_has_an_import_block_for_its_resource(export: Export, cluster: Cluster) -> None:
    tf_root = export.root / "terraform"
    addresses = {body["vm_id" if export.provider == "bpg" else "vmid"]: f"module.{path.parent.name}.{kind}.{label}"
                 for path, kind, label, body in resources(tf_root)}
    imports = [entry for path in tf_root.glob("*.tf") for entry in blocks(path, "import")]
    assert len(imports) == len(cluster.inventory.guests)
    by_id = {entry["id"]: entry["to"] for entry in imports}
    for vmid, guest in cluster.inventory.guests.items():
        import_id = (f"{guest.node}/{vmid}" if export.provider == "bpg" else f"{guest.node}/{guest.kind}/{vmid}")
        assert by_id[import_id] == "${" + addresses[vmid] + "}"
    labels = [address.rsplit(".", 1)[1] for address in addresses.values()]
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", label) for label in labels)
    assert len(set(addresses.values())) == len(addresses)


def test_required_providers_and_variables_hold_no_secret(export: Export, cluster: Cluster) -> None:
    main = export.root / "terraform" / "main.tf"
    terraform = blocks(main, "terraform")
    assert len(terraform) == 1
    proxmox = terraform[0]["required_providers"][0]["proxmox"]
    assert proxmox["source"] == PROVIDERS[export.provider][0]
    assert re.fullmatch(r"(~>|>=|=|<|<=|>)?\s*\d+(\.\d+)*(-rc\d+)?(,\s*(<|<=)\s*\d+(\.\d+)*)?", proxmox["version"])
    variables = {label: body for entry in blocks(main, "variable") for label, body in entry.items()}
    provider = blocks(main, "provider")[0]["proxmox"]
    assert all(str(value).startswith("${var.") for value in provider.values()), "credentials only from variables"
    secrets = [name for name in variables if SECRET_WORDS.search(name) and not name.endswith("_id")]
    assert secrets, "the provider needs a secret variable"
    for name, body in variables.items():
        if name in secrets:
            assert "default" not in body and body.get("sensitive") is True, name
        default = body.get("default")
        assert default is None or isinstance(default, bool | int | float) or (
            isinstance(default, str) and not re.search(r"(?<!\$)\$\{", default)), (name, default)
    for path in export.files:  # the cluster's real credential appears in no file
        assert cluster.password not in path.read_text(encoding="utf-8"), path


def test_inventory_has_every_guest_once_with_its_host_vars(export: Export, cluster: Cluster) -> None:
    data = yaml.safe_load((export.root / "ansible" / "inventory.yml").read_text(encoding="utf-8"))
    groups = {name: (group or {}).get("hosts") or {} for name, group in data["all"]["children"].items()}
    assert {"proxmox_nodes", "vms", "containers", "running", "stopped"} <= set(groups)
    assert set(groups["proxmox_nodes"]) == set(cluster.inventory.nodes)
    seen = {name: vars_ for group in ("vms", "containers") for name, vars_ in groups[group].items()}
    assert len(seen) == len(groups["vms"]) + len(groups["containers"]) == len(cluster.inventory.guests)
    by_vmid = {vars_["vmid"]: (name, vars_) for name, vars_ in seen.items()}
    assert sorted(by_vmid) == sorted(cluster.inventory.guests)
    for vmid, guest in cluster.inventory.guests.items():
        name, vars_ = by_vmid[vmid]
        assert re.fullmatch(r"[a-z0-9_][a-z0-9_-]*", name) and name == contract_name(guest)
        assert name in groups["vms" if guest.kind == "qemu" else "containers"]
        assert (vars_["proxmox_node"], vars_["status"]) == (guest.node, guest.status)
        assert vars_["cores"] == guest.vcpus
        assert vars_["memory_mb"] == int((guest.config or {})["memory"]) == (guest.maxmem or 0) // 1024**2
        assert vars_["disk_gb"] == (guest.maxdisk or 0) / 1024**3
        state = "templates" if guest.template else guest.status
        assert [group for group in ("running", "stopped", "templates") if name in groups[group]] == [state]


def test_playbooks_target_only_inventory_groups(export: Export, cluster: Cluster) -> None:
    ansible = export.root / "ansible"
    data = yaml.safe_load((ansible / "inventory.yml").read_text(encoding="utf-8"))
    groups = set(data["all"]["children"]) | {"all"}
    playbooks = {path.name for path in (ansible / "playbooks").glob("*.yml")}
    assert playbooks == {"site.yml", "maintenance.yml", "vms.yml", "containers.yml"}
    for name in playbooks:
        for play in yaml.safe_load((ansible / "playbooks" / name).read_text(encoding="utf-8")):
            if "ansible.builtin.import_playbook" in play:
                assert play["ansible.builtin.import_playbook"] in playbooks
                continue
            patterns = re.split(r"[:,]", play["hosts"])
            assert patterns and all(pattern.lstrip("&!") in groups for pattern in patterns), play["hosts"]
    for folder in ("group_vars", "host_vars", "roles"):
        assert (ansible / folder).is_dir() and any((ansible / folder).iterdir())
    assert (ansible / "group_vars" / "all.yml").is_file()


@dataclass(frozen=True)
class Linted:
    """The exported ``ansible/`` and what ansible-lint said of it: its findings and its output."""

    project: Path
    findings: list[Finding]
    output: str


@pytest.fixture(scope="module")
def linted(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, lint_cache: Path) -> Linted:
    """``ansible/`` exported once (it does not depend on the Terraform provider) and linted by the check the
    suite runs, through this test run's shared cache (the reference workspace's Ansible is linted once)."""
    root = tmp_path_factory.mktemp("ansible-only")
    export_ansible(cluster.inventory, root)
    findings = lint_ansible(root / "ansible", tmp_path_factory.mktemp("ansible-home"), lint_cache)
    kept = ansible_validator.LINT_OUTCOMES[-1].kept
    assert kept is not None
    _, stdout, stderr = json.loads(kept.read_text(encoding="utf-8"))
    return Linted(root / "ansible", findings, stdout + stderr)


@pytest.mark.slow
def test_ansible_lint_production_profile_passes(linted: Linted, export: Export) -> None:
    project = linted.project
    assert linted.findings == [], linted.output
    assert "Profile 'production' was required, and it passed" in linted.output
    config = yaml.safe_load((project / ".ansible-lint").read_text(encoding="utf-8"))
    assert config["profile"] == "production" and not {"skip_list", "warn_list", "enable_list"} & set(config)
    for path in sorted(project.rglob("*")):  # the provider exports wrote the same ansible/ that was linted
        if path.is_file():
            twin = export.root / "ansible" / path.relative_to(project)
            assert twin.read_bytes() == path.read_bytes(), twin


@pytest.mark.slow
def test_ansible_lint_fails_a_sloppy_playbook_and_a_kept_result_is_reused_only_for_the_same_content(
        linted: Linted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's own lint settings fail a sloppy playbook; the same content is not linted again, and another
    inventory of the same groups alone is (``lintsplit``: its playbooks' part is kept), with the violations
    ansible-lint reports on the whole project; a broken inventory makes ansible-lint lint the whole project."""
    monkeypatch.setattr(ansible_validator, "LINT_OUTCOMES", [])
    project = tmp_path / "ansible"
    (project / "playbooks").mkdir(parents=True)
    shutil.copy(linted.project / ".ansible-lint", project / ".ansible-lint")  # the export's own lint settings
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")
    (project / "inventory.yml").write_text("---\nrunning:\n  hosts:\n    web:\n")
    playbook = project / "playbooks" / "sloppy.yml"
    playbook.write_text("---\n- hosts: running\n  tasks:\n    - shell: uptime\n")
    cache = tmp_path / "cache"
    first = lint_ansible(project, tmp_path / "home", cache)
    notes = " ".join(finding.note for finding in first)
    assert "fqcn" in notes and "name[play]" in notes and "cached" not in notes
    assert ansible_validator.LINT_OUTCOMES[-1].inventory_apart

    def linted_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("ansible-lint ran again")

    with monkeypatch.context() as no_lint:
        no_lint.setattr(ansible_validator, "run_ansible_lint", linted_again)
        again = lint_ansible(project, tmp_path / "home", cache)
        assert [(f.resource, f.note) for f in again] == [(f.resource, f.note + " (cached result)") for f in first]
        (project / "inventory.yml").write_text("---\nrunning:\n  hosts:\n    web:\n    db: {up: yes}   \n")
        apart = lint_ansible(project, tmp_path / "home", cache)  # another inventory, the playbooks' part kept
    assert ansible_validator.LINT_OUTCOMES[-1].inventory_apart
    fresh = lint_ansible(project, tmp_path / "home2")  # no cache: both parts linted afresh
    assert sorted((f.resource, f.note.replace(ansible_validator.APART, "")) for f in apart) == sorted(
        (f.resource, f.note) for f in fresh)
    assert any("inventory.yml" in f.resource for f in fresh) and any("sloppy.yml" in f.resource for f in fresh)

    (project / "inventory.yml").write_text("---\nrunning:\n  hosts:\n    web: [unclosed\n")  # broken: no split
    broken = lint_ansible(project, tmp_path / "home", cache)
    assert not ansible_validator.LINT_OUTCOMES[-1].inventory_apart
    assert any("inventory.yml" in f.resource for f in broken) and any("sloppy.yml" in f.resource for f in broken)

    monkeypatch.setattr(ansible_validator, "run_ansible_lint", linted_again)
    playbook.write_text(playbook.read_text() + "    - shell: hostname\n")
    with pytest.raises(AssertionError, match="ansible-lint ran again"):
        lint_ansible(project, tmp_path / "home", cache)


def guest(vmid: int, kind: str, name: str | None, node: str = "pve1", **config: Any) -> GuestInfo:
    base: dict[str, Any] = {"cores": 1, "memory": 512}
    base.update({"scsi0": f"local-lvm:vm-{vmid}-disk-0,size=8G", "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0"}
                if kind == "qemu" else {"rootfs": f"local-lvm:subvol-{vmid}-disk-0,size=4G", "hostname": name or ""})
    return GuestInfo(vmid=vmid, kind=kind, node=node, name=name, status="running", vcpus=1, maxmem=512 * 1024**2,
                     maxdisk=8 * 1024**3, config={**base, **config})


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_awkward_names_give_unique_valid_identifiers(provider: str, cluster: Cluster, tmp_path: Path) -> None:
    odd = [guest(300, "qemu", "web-01"), guest(301, "qemu", "Web.01"), guest(302, "qemu", None),
           guest(303, "qemu", "9lives"), guest(304, "lxc", "pve1"), guest(305, "lxc", "web-01"),
           guest(306, "qemu", 'q"${x}%{y}\\', ide2="local:iso/x.iso,media=cdrom"),
           guest(307, "lxc", "data", mp0="local-lvm:subvol-307-disk-1,mp=/data,size=16G")]
    inventory = replace(cluster.inventory, guests={g.vmid: g for g in odd})
    export_terraform(inventory, tmp_path, provider)
    found = resources(tmp_path / "terraform")
    assert len(found) == len(odd)
    labels = [label for *_, label, _ in found]
    assert len(set(labels)) == len(labels)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", label) for label in labels)
    names = {path.stem for path, *_ in found}
    assert {"web_01", "web_01_301", "vm-302", "9lives", "pve1_304", "web_01_305", "data"} <= names
    vmid_key = "vm_id" if provider == "bpg" else "vmid"
    quoted = next(body for *_, body in found if body[vmid_key] == 306)
    assert quoted["name"] == 'q"$${x}%%{y}\\', "escaped: nothing is interpolated"
    disks = quoted["disk"] if provider == "bpg" else telmate_disk_sizes(quoted)
    assert len(disks) == 1, "the CD-ROM is not a disk"
    data = next(body for *_, body in found if body[vmid_key] == 307)
    mount = data["mount_point" if provider == "bpg" else "mountpoint"][0]
    assert (mount["size"], mount["path" if provider == "bpg" else "mp"]) == ("16G", "/data")
    export_terraform(replace(inventory, guests={300: odd[0]}), tmp_path, provider)  # guests gone: files gone
    assert sorted(path.name for path in (tmp_path / "terraform").rglob("*.tf")) == [
        "imports.tf", "main.tf", "module.providers.tf", "web_01.tf"]
    assert [set(entry) for entry in blocks(tmp_path / "terraform" / "main.tf", "module")] == [{"vms"}]


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_settings_that_differ_from_the_provider_defaults_are_written(provider: str, cluster: Cluster,
                                                                     tmp_path: Path) -> None:
    """Guests whose configs differ from the provider's defaults: firmware, agent, tablet, protection, a
    container's architecture, features and swap. Left out, each would be changed by a plan after import."""
    odd = [guest(310, "qemu", "uefi-vm", bios="ovmf", agent="1,fstrim_cloned_disks=1", tablet=0, protection=1),
           guest(311, "lxc", "arm-ct", arch="arm64", protection=1, features="nesting=1,keyctl=1", unprivileged=1)]
    inventory = replace(cluster.inventory, guests={g.vmid: g for g in odd})
    export_terraform(inventory, tmp_path, provider)
    judged = ("terraform-settings-match-guest-config", "terraform-provider-schema", "terraform-plan-replaces-no-guest")
    for check in (c for c in checks_of("iac") if c.name in judged):
        (tmp_path / check.name).mkdir()
        found = check.run(tmp_path, inventory, CheckContext(tmp_path / check.name))
        assert found == [], "\n".join(map(str, found))
