"""The reference Terraform export of a Proxmox-MPC workspace, written from an ``Inventory``.

``terraform/main.tf`` is the root module (required providers, the provider configured from variables,
variables without secret defaults, locals, outputs, one ``module`` block per guest directory);
``terraform/vms/<name>.tf`` and ``terraform/containers/<name>.tf`` hold one resource per guest, in child
modules whose ``module.providers.tf`` (a file name no guest can have) declares the provider source; and
``terraform/imports.tf`` adopts every existing guest, so a plan imports instead of creating. The HCL is
written here as text: deterministic order, escaped strings, no secret anywhere. Nothing imports pytest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ...errors import InvalidInput
from ...model.inventory import GuestInfo, Inventory, api_flag, api_int
from .guestconfig import GIB, cpu, disks, memory_mib, nics, props, size_text
from .hcl import Block, Raw, comment, render
from .names import contract_name, hcl_label, workspace_names

MODULE_FILE = "module.providers.tf"
TELMATE_VERSION = "3.0.2-rc07"
PVE_SWAP = 512  # MiB: what PVE gives a container whose config has no swap
UNKNOWN_TEMPLATE = "local:vztmpl/unknown-template.tar.zst"  # a container's config does not say what it was made from


class Provider(NamedTuple):
    """A provider: its source, version constraint, VM and CT resource types, provider arguments -> variable
    names, and the variables (name, type, description, sensitive: never a default, literal default or None)."""

    source: str
    version: str
    vm_type: str
    ct_type: str
    settings: dict[str, str]
    variables: tuple[tuple[str, str, str, bool, Any], ...]


PROVIDERS = {
    "bpg": Provider(
        "bpg/proxmox", ">= 0.60.0, < 1.0.0", "proxmox_virtual_environment_vm", "proxmox_virtual_environment_container",
        {"endpoint": "proxmox_endpoint", "api_token": "proxmox_api_token", "insecure": "proxmox_insecure"},
        (("proxmox_endpoint", "string", "API URL, e.g. https://pve1.example:8006/", False, None),
         ("proxmox_api_token", "string", "API token: USER@REALM!TOKENID=SECRET", True, None),
         ("proxmox_insecure", "bool", "Skip TLS certificate verification", False, False))),
    "telmate": Provider(
        # 3.0.2-rc04 is the first release that starts against PVE 9 (VM.Monitor is gone); a pre-release is
        # selected only by an exact constraint
        "telmate/proxmox", TELMATE_VERSION, "proxmox_vm_qemu", "proxmox_lxc",
        {"pm_api_url": "proxmox_api_url", "pm_api_token_id": "proxmox_api_token_id",
         "pm_api_token_secret": "proxmox_api_token_secret", "pm_tls_insecure": "proxmox_tls_insecure"},
        (("proxmox_api_url", "string", "API URL, e.g. https://pve1.example:8006/api2/json", False, None),
         ("proxmox_api_token_id", "string", "API token id: USER@REALM!TOKENID", False, None),
         ("proxmox_api_token_secret", "string", "API token secret", True, None),
         ("proxmox_tls_insecure", "bool", "Skip TLS certificate verification", False, False))),
}


def _bpg_body(guest: GuestInfo, config: Mapping[str, Any], qemu: bool) -> list[tuple[str, Any]]:
    cores, sockets = cpu(guest)
    body: list[tuple[str, Any]] = [
        ("name", (guest.name or contract_name(guest)) if qemu else None), ("node_name", guest.node),
        ("vm_id", guest.vmid), ("tags", list(guest.tags)), ("template", guest.template),
        ("started", guest.status == "running" and not guest.template), ("pool_id", guest.pool),
        ("on_boot" if qemu else "start_on_boot", api_flag(config.get("onboot"))),  # bpg's default is on, PVE's off
        ("protection", True if api_flag(config.get("protection")) else None),
        ("scsi_hardware", (config.get("scsihw") or "lsi") if qemu else None),  # bpg's default is not PVE's
        ("description", config.get("description")),
        ("unprivileged", None if qemu else api_flag(config.get("unprivileged"))),
        ("bios", config.get("bios") if qemu else None), ("tablet_device", _tablet_off(config, qemu)),
        ("", Block("agent", [("enabled", True)]) if qemu and _agent_on(config) else None),
        ("", Block("cpu", [("cores", cores), ("sockets", sockets if qemu else None),
                           ("architecture", None if qemu else config.get("arch"))])),
        ("", Block("memory", [("dedicated", memory_mib(guest)),
                              ("swap", None if qemu else api_int(config.get("swap", PVE_SWAP)))]))]
    for disk in disks(guest):
        gib = max(1, math.ceil(disk.size / GIB)) if disk.size else None
        if disk.slot == "rootfs" or (qemu and disk.storage):
            iothread = True if api_flag(disk.options.get("iothread")) else None
            body.append(("", Block("disk", [("datastore_id", disk.storage), ("interface", disk.slot if qemu else None),
                                            ("size", gib), ("iothread", iothread)])))
        elif not qemu:
            body.append(("", Block("mount_point", [("volume", disk.volume), ("path", disk.options.get("mp")),
                                                   ("size", size_text(disk.size) if disk.size else None)])))
        else:
            body.append(("#", f"{disk.slot}: {disk.volume} is not a storage volume, not exported"))
    if not qemu:
        addresses = [Block("ip_config", [("", Block("ipv4", [("address", nic.get("ip")), ("gateway", nic.get("gw"))]))])
                     for _, nic in nics(guest) if nic.get("ip")]
        body.append(("", Block("initialization", [("hostname", config.get("hostname") or guest.name),
                                                  *(("", block) for block in addresses)])))
        body += _features(config)
    for _, nic in nics(guest):
        body.append(("", Block("network_device" if qemu else "network_interface", [
            ("bridge", nic.get("bridge")), ("model" if qemu else "name", nic.get("model" if qemu else "name")),
            ("mac_address", nic.get("macaddr") or nic.get("hwaddr")), ("firewall", api_flag(nic.get("firewall"))),
            ("vlan_id", api_int(nic.get("tag")))])))
    if qemu and config.get("ostype"):
        body.append(("", Block("operating_system", [("type", config.get("ostype"))])))
    elif not qemu:
        # bpg needs the template a container was made from, and replaces the container when it differs; PVE
        # keeps no record of it, so a placeholder stands in and the import is told never to compare it
        template = config.get("ostemplate") or UNKNOWN_TEMPLATE
        body.append(("", Block("operating_system", [("template_file_id", template), ("type", config.get("ostype"))])))
        body.append(("", Block("lifecycle", [("ignore_changes", Raw("[operating_system]"))])))
    return body


def _features(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A container's ``features`` block (both providers default each feature to off)."""
    features = props(config.get("features"))[1]
    return [("", Block("features", [(key, api_flag(features.get(key)) or None)
                                    for key in ("nesting", "keyctl", "fuse")]))] if features else []


def _tablet_off(config: Mapping[str, Any], qemu: bool) -> bool | None:
    """False where a VM's config turns the tablet off (both providers default it on), else left out."""
    return False if qemu and "tablet" in config and not api_flag(config["tablet"]) else None


def _agent_on(config: Mapping[str, Any]) -> bool:
    leading, options = props(config.get("agent"))
    return api_flag(options.get("enabled", leading))


def _telmate_disks(guest: GuestInfo) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """telmate 3.x: a VM's ``disks { <bus> { <slot> { disk { ... } } } }``; a container's rootfs and mountpoints."""
    qemu = guest.kind == "qemu"
    body: list[tuple[str, Any]] = []
    buses: dict[str, list[tuple[str, Any]]] = {}
    for disk in disks(guest):
        size = size_text(disk.size) if disk.size else None
        if qemu and disk.storage:
            inner = [("storage", disk.storage), ("size", size),
                     ("iothread", True if api_flag(disk.options.get("iothread")) else None),
                     ("cache", disk.options.get("cache")),
                     ("emulatessd", True if api_flag(disk.options.get("ssd")) else None)]
            slot = Block(disk.slot, [("", Block("disk", inner))])
            buses.setdefault(disk.slot.rstrip("0123456789"), []).append(("", slot))
        elif disk.slot == "rootfs":
            body.append(("", Block("rootfs", [("storage", disk.storage), ("size", size)])))
        elif not qemu:
            body.append(("", Block("mountpoint", [("key", disk.slot[2:]), ("slot", api_int(disk.slot[2:])),
                                                  ("storage", disk.storage or disk.volume), ("volume", disk.volume),
                                                  ("mp", disk.options.get("mp")), ("size", size)])))
        else:
            body.append(("#", f"{disk.slot}: {disk.volume} is not a storage volume, not exported"))
    nested = [("", Block("disks", [("", Block(bus, slots)) for bus, slots in buses.items()]))] if buses else []
    return nested, body


def _telmate_body(guest: GuestInfo, config: Mapping[str, Any], qemu: bool) -> list[tuple[str, Any]]:
    cores, sockets = cpu(guest)
    running = guest.status == "running" and not guest.template
    body: list[tuple[str, Any]] = [
        ("name" if qemu else "hostname", (guest.name or contract_name(guest)) if qemu else config.get("hostname")),
        ("target_node", guest.node), ("vmid", guest.vmid), ("cores", None if qemu else cores),
        ("memory", memory_mib(guest)),
        ("swap", None if qemu else api_int(config.get("swap", PVE_SWAP))),  # telmate's default is 0
        ("unprivileged", None if qemu else api_flag(config.get("unprivileged"))),
        ("template", None if qemu else guest.template), ("ostemplate", config.get("ostemplate")),
        ("scsihw", (config.get("scsihw") or "lsi") if qemu else None),
        ("tags", str(config.get("tags") or ";".join(guest.tags))),
        ("pool", guest.pool), ("onboot", api_flag(config.get("onboot"))),  # the provider's default and PVE's: off
        ("vm_state", ("running" if running else "stopped") if qemu else None),
        # 3.0.2 writes "Managed by Terraform." into a VM's description left out: keep the config's, even empty
        ("description", (config.get("description") or "") if qemu else config.get("description")),
        ("boot", config.get("boot") if qemu else None), ("qemu_os", config.get("ostype") if qemu else None),
        # telmate's defaults: seabios, no agent, a tablet, no protection, amd64; written where the config differs
        ("bios", config.get("bios") if qemu else None), ("agent", 1 if qemu and _agent_on(config) else None),
        ("tablet", _tablet_off(config, qemu)),
        ("protection", True if api_flag(config.get("protection")) else None),
        ("arch", None if qemu else config.get("arch"))]
    if qemu:
        body.append(("", Block("cpu", [("cores", cores), ("sockets", sockets)])))
    nested, own = _telmate_disks(guest)
    body += nested + own + ([] if qemu else _features(config))
    for index, nic in nics(guest):
        keys = ("model", "bridge", "macaddr") if qemu else ("name", "bridge", "hwaddr", "ip", "gw")
        body.append(("", Block("network", [("id", index if qemu else None)] + [(key, nic.get(key)) for key in keys] + [
            ("firewall", api_flag(nic.get("firewall"))), ("tag", api_int(nic.get("tag")))])))
    if qemu and guest.template:
        body.append(("#", "a template: telmate/proxmox has no template argument, so a plan must never change it"))
        body.append(("", Block("lifecycle", [("ignore_changes", Raw("all"))])))
    return body


def guest_resource(guest: GuestInfo, label: str, provider: str = "bpg") -> Block:
    """The resource block that describes ``guest`` for ``provider``."""
    qemu = guest.kind == "qemu"
    body = (_bpg_body if provider == "bpg" else _telmate_body)(guest, guest.config or {}, qemu)
    return Block("resource", body, (PROVIDERS[provider].vm_type if qemu else PROVIDERS[provider].ct_type, label))


def import_id(guest: GuestInfo, provider: str) -> str:
    """The provider's import id: bpg ``node/vmid``, telmate ``node/qemu|lxc/vmid``."""
    return f"{guest.node}/{guest.vmid}" if provider == "bpg" else f"{guest.node}/{guest.kind}/{guest.vmid}"


def _terraform_block(provider: str, root: bool) -> Block:
    source, version = PROVIDERS[provider].source, PROVIDERS[provider].version
    return Block("terraform", [("required_version", ">= 1.5.0" if root else None), (
        "", Block("required_providers", [("proxmox", {"source": source, "version": version})]))])


def main_tf(inventory: Inventory, names: Mapping[int, str], provider: str) -> str:
    """The root module: terraform, provider, variables, locals, module calls and outputs."""
    settings, variables = PROVIDERS[provider].settings, PROVIDERS[provider].variables
    blocks = [_terraform_block(provider, root=True),
              Block("provider", [(arg, Raw(f"var.{var}")) for arg, var in settings.items()], ("proxmox",))]
    blocks += [Block("variable", [("description", text), ("type", Raw(kind)), ("sensitive", sensitive or None),
                                  ("default", None if sensitive else default)], (name,))
               for name, kind, text, sensitive, default in variables]
    groups = {"vms": inventory.vms, "containers": inventory.containers}
    ids = {group: {names[guest.vmid]: guest.vmid for guest in guests} for group, guests in groups.items()}
    blocks.append(Block("locals", [("cluster_name", inventory.cluster_name or ""),
                                   ("pve_version", inventory.version or ""), ("nodes", sorted(inventory.nodes)),
                                   ("vm_ids", ids["vms"]), ("container_ids", ids["containers"])]))
    blocks += [Block("module", [("source", f"./{group}"), ("providers", {"proxmox": Raw("proxmox")})], (group,))
               for group, guests in groups.items() if guests]
    blocks += [Block("output", [("description", text), ("value", Raw(f"local.{local}"))], (local,))
               for local, text in (("nodes", "The cluster's nodes"), ("vm_ids", "vmid of each VM by <name>"),
                                   ("container_ids", "vmid of each container by <name>"))]
    header = (f"# Generated by pytest-proxmox-mpc ({provider}): {inventory.summary()}.\n"
              "# Credentials come only from the variables (TF_VAR_...), never from a file.\n\n")
    return header + "\n\n".join(render(block) for block in blocks) + "\n"


def export_terraform(inventory: Inventory, directory: Path | str, provider: str = "bpg") -> list[Path]:
    """Write ``<directory>/terraform/`` for ``provider`` (``bpg`` or ``telmate``); return the files written.

    ``*.tf`` files left in ``vms/`` and ``containers/`` by an earlier export (guests now gone) are removed.
    """
    if provider not in PROVIDERS:
        raise InvalidInput(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")
    root = Path(directory) / "terraform"
    root.mkdir(parents=True, exist_ok=True)
    names = workspace_names(inventory)
    written = [_write(root / "main.tf", main_tf(inventory, names, provider))]
    imports = []
    for group, guests in (("vms", inventory.vms), ("containers", inventory.containers)):
        folder = root / group
        before = set(folder.glob("*.tf")) if folder.is_dir() else set()
        if guests:
            folder.mkdir(exist_ok=True)
            written.append(_write(folder / MODULE_FILE, render(_terraform_block(provider, root=False)) + "\n"))
        for guest in guests:
            block = guest_resource(guest, hcl_label(names[guest.vmid]), provider)
            about = comment(f"{guest.kind} {guest.vmid} {guest.name or '(no name)'} on {guest.node}")
            written.append(_write(folder / f"{names[guest.vmid]}.tf", about + "\n" + render(block) + "\n"))
            to = Raw(f"module.{group}.{block.labels[0]}.{block.labels[1]}")
            imports.append(render(Block("import", [("to", to), ("id", import_id(guest, provider))])))
        for stale in sorted(before - set(written)):
            stale.unlink()
    header = "# Adopt the existing guests: a plan imports them instead of creating new ones."
    written.append(_write(root / "imports.tf", "\n\n".join([header, *imports]) + "\n"))
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
