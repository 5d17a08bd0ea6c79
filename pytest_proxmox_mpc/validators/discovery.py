"""Discovery: the inventory against the API's own per-node and per-object listings.

``read_inventory`` builds the cluster's picture from ``/cluster/resources`` and a few cluster-wide
lists; here each part is read again the other way (per node, per pool, per guest) with the read-only
client, and every disagreement is a finding: a guest or storage the cluster-wide view misses, a wrong
node, a template not recognised, a pool member or a network interface lost.
"""

from __future__ import annotations

from typing import Any

from ..model.inventory import GUEST_TYPES, Inventory, api_flag
from .findings import Finding

CHECK = "discovery"


def check_discovery(api: Any, inventory: Inventory) -> list[Finding]:
    """Nodes, guests (node, type, template flag), storages, pools and networks as the per-node and
    per-object endpoints list them, compared with ``inventory``."""
    findings: list[Finding] = []
    nodes = {row["node"]: row.get("status") for row in api.nodes.get()}
    if set(nodes) != set(inventory.nodes):
        findings.append(Finding(CHECK, "nodes", "names", sorted(nodes), sorted(inventory.nodes)))
    online = sorted(name for name, status in nodes.items() if status == "online")
    listed: dict[int, tuple[str, str, bool]] = {}
    for node in online:
        for kind in GUEST_TYPES:
            for row in api.nodes(node).get(kind):
                listed[int(row["vmid"])] = (node, kind, api_flag(row.get("template")))
    found = {vmid: (g.node, g.kind, g.template) for vmid, g in inventory.guests.items() if g.node in online}
    for vmid in sorted(set(listed) | set(found)):
        want, got = listed.get(vmid), found.get(vmid)
        if want != got:
            findings.append(Finding(CHECK, f"guest {vmid}", "(node, type, template)", want, got))
    for vmid, guest in sorted(inventory.guests.items()):
        if guest.config is not None and api_flag(guest.config.get("template")) != guest.template:
            findings.append(Finding(CHECK, f"guest {vmid}", "template", api_flag(guest.config.get("template")),
                                    guest.template))
    storages = {row["storage"] for row in api.storage.get()}
    if storages != set(inventory.storages):
        findings.append(Finding(CHECK, "storages", "ids", sorted(storages), sorted(inventory.storages)))
    for node in online:
        on_node = {row["storage"] for row in api.nodes(node).storage.get()}
        if not on_node <= set(inventory.storages):
            findings.append(Finding(CHECK, f"node {node}", "storages", note=(
                f"{sorted(on_node - set(inventory.storages))} are listed by the node but not discovered")))
        interfaces = {row["iface"] for row in api.nodes(node).network.get()}
        discovered = {net.iface for net in inventory.networks.get(node, ())}
        if interfaces != discovered:
            findings.append(Finding(CHECK, f"node {node}", "network interfaces", sorted(interfaces),
                                    sorted(discovered)))
    for row in api.pools.get():
        pool = row["poolid"]
        members = {int(m["vmid"]) for m in api.pools(pool).get().get("members", []) if m.get("vmid") is not None}
        info = inventory.pools.get(pool)
        if info is None:
            findings.append(Finding(CHECK, f"pool {pool}", "pool", note="listed by /pools but not discovered"))
        elif set(info.guests) != members:
            findings.append(Finding(CHECK, f"pool {pool}", "guests", sorted(members), sorted(info.guests)))
    return findings
