"""Phase 1: read-only discovery. Everything here only reads the cluster, through ``pve_readonly``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_proxmox_mpc import Inventory
from pytest_proxmox_mpc.fixtures import LOGIN_PATH, AuditView
from pytest_proxmox_mpc.report import LATENCY_BUDGET_MS
from pytest_proxmox_mpc.validators import check_discovery, describe

pytestmark = pytest.mark.phase1


@pytest.mark.pve_criterion("p1-connectivity")
def test_version_is_reported(pve_target: Any) -> None:
    assert re.match(r"^\d+\.\d+", pve_target.version), f"unexpected PVE version {pve_target.version!r}"


@pytest.mark.pve_criterion("p1-inventory")
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


@pytest.mark.pve_criterion("p1-inventory")
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


@pytest.mark.pve_criterion("p1-inventory")
def test_storages_are_listed(pve_readonly: Any) -> None:
    configured = {s["storage"] for s in pve_readonly.storage.get()}
    assert configured, "GET /storage lists no storage"
    for node in online_nodes(pve_readonly):
        on_node = {s["storage"] for s in pve_readonly.nodes(node).storage.get()}
        assert on_node <= configured, f"node {node} lists storages not in /storage: {sorted(on_node - configured)}"


@pytest.mark.pve_criterion("p1-inventory")
def test_the_inventory_finds_every_node_guest_template_storage_network_and_pool(
        pve_readonly: Any, pve_inventory: Inventory) -> None:
    findings = check_discovery(pve_readonly, pve_inventory)
    assert not findings, describe(findings, f"the discovered inventory ({pve_inventory.summary()})")


@pytest.mark.pve_criterion("p1-no-modifications")
@pytest.mark.pve_criterion("p1-audited")
def test_the_audit_shows_only_reads_by_phase_1_and_2(pve_readonly: Any, pve_audit: AuditView) -> None:
    pve_readonly.version.get()  # at least this request is in the audit
    records = [r for r in pve_audit.records() if (r.get("phase") or 0) <= 2]
    assert records, "the audit trail holds no request of this run"
    writes = [f"{r['method']} {r['path']} ({r.get('test') or r.get('source')})" for r in records
              if r["method"] != "GET" and not (r["method"] == "POST" and r["path"] == LOGIN_PATH)]
    assert not writes, f"{len(writes)} requests other than GET by phase 1-2 code: {writes[:10]}"


@pytest.mark.pve_criterion("run-latency")
def test_api_latency_is_within_the_budget(pve_readonly: Any, pve_audit: AuditView) -> None:
    pve_readonly.cluster.resources.get()
    timed = [r for r in pve_audit.records() if r.get("duration_ms") is not None]
    assert timed, "no answered request in the audit trail"
    slow = sorted((r["duration_ms"], f"{r['method']} {r['path']}") for r in timed
                  if r["duration_ms"] > LATENCY_BUDGET_MS)
    assert not slow, (f"{len(slow)} of {len(timed)} requests took longer than {LATENCY_BUDGET_MS / 1000:g} s; "
                      f"slowest: {slow[-1][1]} {slow[-1][0]:.0f} ms")
