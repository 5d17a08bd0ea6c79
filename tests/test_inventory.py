"""The inventory snapshot and the unintended-change diff, on the session's simulated homelab cluster."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.watch.drift import unintended_changes


def test_the_snapshot_holds_the_whole_cluster(pve_inventory: Inventory, pve_sim: Any) -> None:
    assert pve_inventory.cluster_name == "homelab" and pve_inventory.quorate
    assert sorted(pve_inventory.nodes) == ["pve1", "pve2", "pve3"]
    assert sorted(pve_inventory.guests) == sorted(g.vmid for g in [*pve_sim.vms, *pve_sim.cts])
    assert sorted(pve_inventory.storages) == sorted(pve_sim.storages)
    assert sorted(pve_inventory.pools) == ["lab", "prod"] and pve_inventory.pools["prod"].guests == {101, 102, 103, 200}
    web = pve_inventory.guests[101]
    assert (web.kind, web.node, web.name, web.vcpus, web.maxmem) == ("qemu", "pve1", "web-01", 2, 4096 * 1024 ** 2)
    assert web.digest == pve_sim.vm(101).digest() and web.config is not None and "digest" not in web.config
    assert [g.vmid for g in pve_inventory.templates] == sorted(g.vmid for g in pve_sim.vms + pve_sim.cts if g.template)
    assert {n.iface for n in pve_inventory.networks["pve1"]} >= {"vmbr0"}


def test_the_snapshot_costs_requests_per_node_and_one_per_guest_config(pve_readonly: Any) -> None:
    full = read_inventory(pve_readonly)
    nodes, guests = len(full.nodes), len(full.guests)
    # version, cluster status, cluster resources, storage.cfg, pools; per node its networks and storages.
    assert full.requests == 5 + 2 * nodes + guests
    light = read_inventory(pve_readonly, guest_configs=False, networks=False)
    assert light.requests == 5 + nodes and all(g.digest is None for g in light.guests.values())


def test_only_changes_outside_the_ledger_count(pve_inventory: Inventory) -> None:
    guests = dict(pve_inventory.guests)
    guests[101] = replace(guests[101], status="stopped")
    guests[104] = replace(guests[104], digest=None)  # not read at the end: unknown, not a change
    ours = replace(guests[101], vmid=990001, name="pytest-x")
    guests[990001] = ours
    pools = {**pve_inventory.pools, "prod": replace(pve_inventory.pools["prod"],
                                                    guests=pve_inventory.pools["prod"].guests | {990001})}
    storages = {**pve_inventory.storages, "local": replace(pve_inventory.storages["local"], content=("iso",))}
    after = replace(pve_inventory, guests=guests, pools=pools, storages=storages)
    lines = [change.line() for change in unintended_changes(pve_inventory, after, intended={990001})]
    assert lines == ["guest 101: status 'running' -> 'stopped'",
                     "storage local: configuration "
                     + repr(pve_inventory.storages["local"].config_view()) + " -> "
                     + repr(after.storages["local"].config_view())]
    assert unintended_changes(pve_inventory, pve_inventory) == []
