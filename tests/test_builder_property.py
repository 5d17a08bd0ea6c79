"""The reference builder passes its own checks on any cluster: a property test.

Hypothesis draws a cluster (one to three nodes, an offline one among them; guests with any name: spaces,
capitals, unicode, punctuation, duplicates, 63 characters and more, none at all; templates, multi-socket VMs,
tags with every character PVE allows, VMs without NIC or disk, containers with a static address or DHCP), fakepve
serves it, the reference builder writes a workspace from it through the API (bpg or telmate), and every
workspace check must find nothing. ansible-lint takes seconds a run: it judges fixed clusters only (the homelab
in tests/test_mutations.py, a cluster of odd names in tests/test_mutations_ansible.py); the property runs every
other check. Each example costs a fakepve start and a build (about 0.2 s): 25 examples, 60 in CI
(``HYPOTHESIS_PROFILE=ci``), or ``BUILDER_PROPERTY_EXAMPLES``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS, CheckContext, Finding
from pytest_proxmox_mpc.workspace.builder import Connection, build_reference
from pytest_proxmox_mpc.workspace.export.ansible import ansible_host

from .simapi import served

STORAGES = {"local-lvm": {"type": "lvmthin", "vgname": "pve", "thinpool": "data", "content": "images,rootdir"},
            "ceph-vm": {"type": "rbd", "pool": "vm-pool", "content": "images,rootdir", "shared": 1}}
ODD_NAMES = ("Build Agent 7", "build-agent-7", "build_agent_7", "BUILD AGENT 7", "Ünïcødé-VM", "日本語のVM", "web-01",
             "web.example.lan", "x" * 63, "y" * 64, "a-very-long-name-" * 5, "all", "vms", "running", "templates",
             "pve1", "ungrouped", "1st", "-lead", "trail-", "a--b", "café", 'quote"d', "back\\slash", "${var.x}",
             "%{ if }", "tab\there", "#hash", "ct-200", "vm-100")
# What PVE allows in a tag: [a-z0-9_+.-], not starting with + . or - (upper case is lower-cased by the API)
TAG = st.from_regex(r"\A[a-zA-Z0-9_][a-zA-Z0-9_+.\-]{0,12}\Z")
NAME = st.one_of(st.sampled_from(ODD_NAMES), st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                                                      min_size=1, max_size=70))
BUDGET = int(os.environ.get("BUILDER_PROPERTY_EXAMPLES", "0")) or (60 if os.environ.get("HYPOTHESIS_PROFILE") == "ci"
                                                                    else 25)


@st.composite
def qemu_config(draw: st.DrawFn, vmid: int, template: bool) -> dict[str, Any]:
    config: dict[str, Any] = {"cores": draw(st.integers(1, 4)), "memory": draw(st.sampled_from([512, 1024, 4096]))}
    if draw(st.booleans()):
        config["sockets"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        config["net0"] = f"virtio=BC:24:11:{vmid % 256:02X}:00:01,bridge=vmbr0" + draw(
            st.sampled_from(["", ",firewall=1", ",tag=20"]))
    for slot in draw(st.lists(st.sampled_from(["scsi0", "scsi1", "virtio0"]), unique=True, max_size=2)):
        storage = draw(st.sampled_from(sorted(STORAGES)))
        config[slot] = f"{storage}:vm-{vmid}-disk-{slot[-1]},size={draw(st.integers(1, 64))}G"
    if template:
        config["template"] = 1
    return config


@st.composite
def lxc_config(draw: st.DrawFn, vmid: int, name: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"memory": draw(st.sampled_from([256, 512])), "cores": draw(st.integers(1, 2))}
    if name is not None:
        config["hostname"] = name
    if draw(st.booleans()):
        address = draw(st.sampled_from(["dhcp", f"10.0.{vmid % 250}.5/24", "manual"]))
        config["net0"] = f"name=eth0,bridge=vmbr0,hwaddr=BC:24:11:{vmid % 256:02X}:00:02,ip={address}" + (
            ",gw=10.0.0.1" if address[0].isdigit() else "")
    return config


@st.composite
def clusters(draw: st.DrawFn) -> dict[str, Any]:
    """A fakepve scenario."""
    nodes = draw(st.lists(st.sampled_from(["pve1", "pve2", "node-b"]), min_size=1, max_size=3, unique=True))
    offline = draw(st.booleans()) and len(nodes) > 1
    online = nodes[:-1] if offline else nodes
    vmids = draw(st.lists(st.integers(100, 999_999), max_size=6, unique=True))
    pool = draw(st.lists(NAME, min_size=1, max_size=3))  # a few names, so that guests share them
    guests = []
    for vmid in vmids:
        kind = draw(st.sampled_from(["qemu", "lxc"]))
        template = draw(st.booleans()) and draw(st.booleans())
        name = draw(st.one_of(st.sampled_from(pool), NAME, st.none()))
        guest: dict[str, Any] = {"vmid": vmid, "type": kind, "node": draw(st.sampled_from(online)),
                                 "status": "stopped" if template else draw(st.sampled_from(["running", "stopped"])),
                                 "template": template}
        tags = draw(st.lists(TAG, max_size=3))
        if kind == "qemu":
            guest["name"] = name or ""
            guest["config"] = draw(qemu_config(vmid, template))
        else:
            guest["name"] = name
            guest["config"] = draw(lxc_config(vmid, name))
        if tags:
            guest["config"]["tags"] = draw(st.sampled_from([";", ",", " "])).join(tags)
        guests.append(guest)
    return {"cluster_name": "prop", "nodes": [{"name": n, "online": n in online} for n in nodes],
            "storages": STORAGES, "guests": guests}


def build(scenario: dict[str, Any], root: Path, provider: str) -> tuple[Inventory, Path]:
    """Serve ``scenario`` with fakepve, read it, and let the reference builder write a workspace from it."""
    (root / "sim").mkdir()
    path = root / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    with served(path, root / "sim") as (api, ep):
        inventory = read_inventory(api)
        node = next((n for n, info in sorted(inventory.nodes.items()) if info.online), "pve1")
        workspace = build_reference(api, root / "workspace", Connection(ep.host, ep.port, ep.user, node, True),
                                    provider=provider).path
    return inventory, workspace


def every_check(workspace: Path, inventory: Inventory, scratch: Path, lint_cache: Path | None = None,
                lint: bool = False) -> list[str]:
    found: list[Finding] = []
    for check in WORKSPACE_CHECKS:
        if check.slow and not lint:
            continue
        (scratch / check.name).mkdir(parents=True)
        found += check.run(workspace, inventory, CheckContext(scratch / check.name, lint_cache=lint_cache))
    return [str(f) for f in found]


@settings(max_examples=BUDGET, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=clusters(), provider=st.sampled_from(["bpg", "telmate"]))
def test_the_builders_workspace_passes_every_check(scenario: dict[str, Any], provider: str) -> None:
    with tempfile.TemporaryDirectory(prefix="builder-property-") as folder:
        root = Path(folder)
        inventory, workspace = build(scenario, root, provider)
        found = every_check(workspace, inventory, root / "scratch")
    assert not found, "\n".join([json.dumps(scenario, ensure_ascii=False), provider, *found])


@pytest.mark.parametrize(("name", "config", "address"), [
    ("web-01", {}, "web-01"),
    ("Build Agent 7", {}, "build-agent-7"),
    ("Ünïcødé-VM", {}, "xn--ncd-vm-dva9b4erb"),
    ("a-very-long-name-" * 5, {}, ("a-very-long-name-" * 4)[:63].strip("-")),
    ("日本語" * 30, {}, "vm-100"),  # too long for IDNA, and no ASCII letter in it
    (None, {}, "vm-100"),  # the contract's <name> of a guest without one
    ("Build Agent 7", {"net0": "name=eth0,bridge=vmbr0,ip=10.0.0.7/24"}, "10.0.0.7"),  # a container's static address
])
def test_every_guest_has_an_address_ansible_can_use(name: str | None, config: dict[str, Any], address: str) -> None:
    kind = "lxc" if "net0" in config else "qemu"
    guest = GuestInfo(vmid=100, kind=kind, node="pve1", name=name, status="running", config=config)
    assert ansible_host(guest) == address
