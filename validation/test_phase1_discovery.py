"""Phase 1: read-only discovery. Everything here only reads the cluster, through ``pve_readonly``."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.phase1


def test_version_is_reported(pve_target: Any) -> None:
    assert re.match(r"^\d+\.\d+", pve_target.version), f"unexpected PVE version {pve_target.version!r}"


def test_nodes_are_listed(pve_readonly: Any) -> None:
    nodes = pve_readonly.nodes.get()
    assert nodes, "GET /nodes listed no node"
    names = [node["node"] for node in nodes]
    assert len(names) == len(set(names)), f"GET /nodes lists a node twice: {sorted(names)}"
    for node in nodes:
        status = node.get("status")
        assert status in ("online", "offline", "unknown"), f"node {node['node']}: status {status!r}"
    cluster_nodes = {r["node"] for r in pve_readonly.cluster.resources.get(type="node")}
    assert cluster_nodes == set(names), "GET /cluster/resources?type=node disagrees with GET /nodes"


def online_nodes(pve_readonly: Any) -> list[str]:
    return sorted(n["node"] for n in pve_readonly.nodes.get() if n.get("status") == "online")


def test_guests_are_listed_and_agree_with_each_node(pve_readonly: Any) -> None:
    resources = pve_readonly.cluster.resources.get(type="vm")
    by_vmid = {int(r["vmid"]): r for r in resources}
    assert len(by_vmid) == len(resources), "GET /cluster/resources?type=vm lists a vmid twice"
    online = online_nodes(pve_readonly)
    listed: dict[int, tuple[str, str]] = {}
    for node in online:
        for kind in ("qemu", "lxc"):
            for guest in pve_readonly.nodes(node).get(kind):
                listed[int(guest["vmid"])] = (node, kind)
    expected = {vmid: (r["node"], r["type"]) for vmid, r in by_vmid.items() if r["node"] in online}
    assert listed == expected, "the per-node guest lists disagree with /cluster/resources"


def test_storages_are_listed(pve_readonly: Any) -> None:
    configured = {s["storage"] for s in pve_readonly.storage.get()}
    assert configured, "GET /storage lists no storage"
    for node in online_nodes(pve_readonly):
        on_node = {s["storage"] for s in pve_readonly.nodes(node).storage.get()}
        assert on_node <= configured, f"node {node} lists storages not in /storage: {sorted(on_node - configured)}"
