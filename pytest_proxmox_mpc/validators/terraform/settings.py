"""The guest settings a resource must agree with, per provider: how each is read from the guest's PVE config
(with PVE's own default where the config leaves the key out) and where each sits in the resource.

A ``Setting`` reads the values the guest's config allows (``accepted``) and whether the config has the key
at all. ``rows`` are per resource; ``items`` are the settings of repeated blocks (NICs, disks), matched to
the config's ``netN`` or disk slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...model.inventory import GuestInfo, api_flag, api_int
from .values import props

Config = Mapping[str, Any]
Read = Callable[[GuestInfo, Config], tuple[tuple[Any, ...], bool]]  # (accepted values, the config has the key)


@dataclass(frozen=True)
class Setting:
    """``path`` in the resource (``cpu.type``); ``kind`` how a declared value is compared; ``omitted_empty``:
    left out, the provider clears it (so the config must have none); ``declared_only``: judged only when
    declared (the provider reads it back, or its default is not known)."""

    path: str
    kind: str
    read: Read
    omitted_empty: bool = False
    declared_only: bool = False


def flag(key: str, default: bool = False, option: str | None = None) -> Read:
    """A PVE boolean (``1``/``0``), or one option of a property string (``agent: 1,fstrim_cloned_disks=1``)."""
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        if key not in config:
            return (default,), False
        leading, options = props(config[key])
        if option is None:
            return (api_flag(options.get("enabled", leading)),), True
        return ((api_flag(options[option]),) if option in options else (default,)), option in options
    return read


def text(key: str, *defaults: Any, option: str | None = None, leading: bool = False) -> Read:
    """A config value as text (its leading value or one option of a property string); absent: ``defaults``."""
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        if key not in config:
            return tuple(defaults), False
        first, options = props(config[key])
        if option is not None:
            return ((options[option],) if option in options else tuple(defaults)), option in options
        return (first if leading else str(config[key]),), True
    return read


def number(key: str, default: int | None = None, option: str | None = None) -> Read:
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        raw = props(config.get(key))[1].get(option) if option and key in config else config.get(key)
        value = api_int(raw)
        return ((value,) if value is not None else (default,)), value is not None
    return read


def volume_storage(key: str) -> Read:
    """The storage of a volume (``local-lvm`` of ``rootfs: local-lvm:vm-200-disk-0,size=8G``)."""
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        volume = props(config.get(key))[0]
        return ((volume.split(":", 1)[0],) if ":" in volume else ("",)), ":" in volume
    return read


def tags(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
    return (tuple(sorted({t.lower() for t in re.split(r"[;,\s]+", str(config.get("tags") or "")) if t})),), \
        bool(config.get("tags"))


def boot_order(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
    order = props(config.get("boot"))[1].get("order") if "boot" in config else None
    return ((tuple(order.split(";")),) if order else ((),)), bool(order)


def pool(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
    return (guest.pool or "",), bool(guest.pool)


def power(on: Any, off: Any) -> Read:
    """Whether the guest runs: ``on`` when running, ``off`` when stopped; a template may say either."""
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        return ((on, off) if guest.template else (on,) if guest.status == "running" else (off,)), True
    return read


BPG_COMMON = (Setting("tags", "tags", tags, omitted_empty=True), Setting("template", "bool", flag("template")),
              Setting("protection", "bool", flag("protection")), Setting("pool_id", "str", pool),
              Setting("description", "str", text("description", "")), Setting("started", "bool", power(True, False)))
ROWS: dict[str, tuple[Setting, ...]] = {
    "proxmox_virtual_environment_vm": (
        *BPG_COMMON, Setting("on_boot", "bool", flag("onboot")), Setting("bios", "str", text("bios", "seabios")),
        Setting("cpu.type", "str", text("cpu", "kvm64", "qemu64", leading=True)),
        Setting("cpu.numa", "bool", flag("numa")), Setting("operating_system.type", "str", text("ostype", "other")),
        Setting("agent.enabled", "bool", flag("agent")), Setting("boot_order", "list", boot_order),
        Setting("scsi_hardware", "str", text("scsihw", "lsi")),
        Setting("tablet_device", "bool", flag("tablet", True)), Setting("acpi", "bool", flag("acpi", True)),
        Setting("machine", "str", text("machine", ""))),
    "proxmox_virtual_environment_container": (
        *BPG_COMMON, Setting("start_on_boot", "bool", flag("onboot")),
        Setting("unprivileged", "bool", flag("unprivileged")),
        Setting("cpu.architecture", "str", text("arch", "amd64")),
        Setting("memory.swap", "int", number("swap", 512)),
        Setting("operating_system.type", "str", text("ostype", "unmanaged"), declared_only=True),
        Setting("features.nesting", "bool", flag("features", option="nesting")),
        Setting("features.keyctl", "bool", flag("features", option="keyctl")),
        Setting("features.fuse", "bool", flag("features", option="fuse"))),
    "proxmox_vm_qemu": (
        Setting("onboot", "bool", flag("onboot")), Setting("bios", "str", text("bios", "seabios")),
        Setting("tags", "tags", tags), Setting("agent", "bool", flag("agent")),
        Setting("qemu_os", "str", text("ostype", "other"), declared_only=True),
        Setting("boot", "boot", boot_order, declared_only=True), Setting("protection", "bool", flag("protection")),
        Setting("tablet", "bool", flag("tablet", True)), Setting("scsihw", "str", text("scsihw", "lsi")),
        Setting("cpu.type", "str", text("cpu", "kvm64", "qemu64", leading=True), declared_only=True),
        Setting("vm_state", "str", power("running", "stopped")), Setting("pool", "str", pool, declared_only=True),
        # 3.0.2 defaults description to "Managed by Terraform."; desc (3.0.1 and 2.9, deprecated since) has none
        Setting("description", "str", text("description", "")),
        Setting("desc", "str", text("description", ""), declared_only=True)),
    "proxmox_lxc": (
        Setting("onboot", "bool", flag("onboot")), Setting("unprivileged", "bool", flag("unprivileged")),
        Setting("tags", "tags", tags), Setting("protection", "bool", flag("protection")),
        Setting("arch", "str", text("arch", "amd64")), Setting("swap", "int", number("swap", 512)),
        Setting("ostype", "str", text("ostype", "unmanaged"), declared_only=True),
        Setting("template", "bool", flag("template"), declared_only=True),
        Setting("start", "bool", power(True, False), declared_only=True),
        # ForceNew in telmate's tables: another root storage replaces it (its ostemplate: ``origin``)
        Setting("rootfs.storage", "str", volume_storage("rootfs"), declared_only=True),
        Setting("features.nesting", "bool", flag("features", option="nesting")),
        Setting("features.keyctl", "bool", flag("features", option="keyctl")),
        Setting("features.fuse", "bool", flag("features", option="fuse")),
        Setting("pool", "str", pool, declared_only=True)),
}


def nic(option: str, default: Any = "", kind: str = "str", leading_model: bool = False) -> Read:
    """One option of the NIC's ``netN`` string (a VM's leading ``model=MAC`` as ``model`` and ``macaddr``)."""
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        value = str(config.get("net", ""))
        model, _, mac = value.split(",", 1)[0].partition("=")
        options = props(value)[1]
        if guest.kind == "qemu":
            options.pop(model, None)
            options.update(model=model, macaddr=mac)
        if option not in options or options[option] == "":
            return (default,), False
        raw = options[option]
        return ((api_flag(raw),) if kind == "bool" else (api_int(raw),) if kind == "int" else (raw,)), True
    return read


def disk(option: str, default: Any, kind: str = "str") -> Read:
    def read(guest: GuestInfo, config: Config) -> tuple[tuple[Any, ...], bool]:
        options = props(config.get("disk"))[1]
        if option not in options:
            return (default,), False
        return ((api_flag(options[option]),) if kind == "bool" else (options[option],)), True
    return read


# repeated block path (bpg, telmate) -> its settings; the config's entry is under "net" or "disk"
ITEMS: dict[str, dict[str, tuple[Setting, ...]]] = {
    "proxmox_virtual_environment_vm": {
        "network_device": (Setting("bridge", "str", nic("bridge")), Setting("model", "str", nic("model")),
                           Setting("mac_address", "mac", nic("macaddr"), declared_only=True),
                           Setting("firewall", "bool", nic("firewall", False, "bool")),
                           Setting("vlan_id", "int", nic("tag", 0, "int")),
                           Setting("mtu", "int", nic("mtu", 0, "int"))),
        "disk": (Setting("cache", "str", disk("cache", "none")),
                 Setting("iothread", "bool", disk("iothread", False, "bool")),
                 Setting("ssd", "bool", disk("ssd", False, "bool")),
                 Setting("discard", "str", disk("discard", "ignore")),
                 Setting("backup", "bool", disk("backup", True, "bool")))},
    "proxmox_virtual_environment_container": {
        "network_interface": (Setting("name", "str", nic("name")), Setting("bridge", "str", nic("bridge")),
                              Setting("mac_address", "mac", nic("hwaddr"), declared_only=True),
                              Setting("firewall", "bool", nic("firewall", False, "bool")),
                              Setting("vlan_id", "int", nic("tag", 0, "int"))),
        "initialization.ip_config": (Setting("ipv4.address", "str", nic("ip"), omitted_empty=True),
                                     Setting("ipv4.gateway", "str", nic("gw"), omitted_empty=True),
                                     Setting("ipv6.address", "str", nic("ip6"), omitted_empty=True))},
    "proxmox_vm_qemu": {
        "network": (Setting("bridge", "str", nic("bridge"), declared_only=True), Setting("model", "str", nic("model")),
                    Setting("macaddr", "mac", nic("macaddr"), declared_only=True),
                    Setting("firewall", "bool", nic("firewall", False, "bool")),
                    Setting("tag", "int", nic("tag", -1, "int"), declared_only=True)),
        "disk": (Setting("cache", "str", disk("cache", "none"), declared_only=True),
                 Setting("iothread", "bool", disk("iothread", False, "bool"), declared_only=True),
                 Setting("emulatessd", "bool", disk("ssd", False, "bool"), declared_only=True),
                 Setting("backup", "bool", disk("backup", True, "bool"), declared_only=True))},
    "proxmox_lxc": {
        "network": (Setting("name", "str", nic("name")), Setting("bridge", "str", nic("bridge"), declared_only=True),
                    Setting("hwaddr", "mac", nic("hwaddr"), declared_only=True),
                    Setting("ip", "str", nic("ip"), omitted_empty=True),
                    Setting("gw", "str", nic("gw"), omitted_empty=True),
                    Setting("firewall", "bool", nic("firewall", False, "bool"), declared_only=True),
                    Setting("tag", "int", nic("tag", None, "int"), declared_only=True))},
}
