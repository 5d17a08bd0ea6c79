"""Guests as the cluster reports them now: what the exclusion list and the clone rule judge.

One ``GET /cluster/resources?type=vm`` answers for every guest of the cluster (name, node, tags, pool,
template flag), so resolving the exclusion list at session start and re-checking a guest at write time
each cost one read. Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from ..model.inventory import GuestFacts, split_tags
from .exclusions import ExclusionList
from .policy import GuestState


def guest_state(row: Mapping[str, Any]) -> GuestState:
    """A ``/cluster/resources`` row of type qemu or lxc as a ``GuestState``."""
    facts = GuestFacts(vmid=int(row["vmid"]), name=row.get("name"), node=row.get("node"),
                       tags=split_tags(str(row.get("tags") or "")), pool=row.get("pool") or None)
    return GuestState(facts=facts, template=bool(int(row.get("template") or 0)))


def cluster_guests(api: Any) -> list[GuestState]:
    """Every guest of the cluster, read with one request through ``api`` (a read-only client will do)."""
    rows = api.cluster.resources.get(type="vm")
    return [guest_state(row) for row in rows if row.get("type") in ("qemu", "lxc") and "vmid" in row]


class ClusterLookup:
    """A ``GuestLookup`` for the policy: the guest's current facts, read from the cluster when asked."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def __call__(self, vmid: int) -> GuestState | None:
        for guest in cluster_guests(self.api):
            if guest.facts.vmid == vmid:
                return guest
        return None

    def config(self, vmid: int) -> Mapping[str, Any] | None:
        """Guest ``vmid``'s current config (its NICs judged before a clone starts); None: no such guest."""
        for row in self.api.cluster.resources.get(type="vm"):
            if row.get("type") in ("qemu", "lxc") and str(row.get("vmid")) == str(vmid):
                return dict(self.api.nodes(row["node"])(row["type"])(vmid).config.get())
        return None


def protected_vmids(api: Any, exclusions: ExclusionList) -> frozenset[int]:
    """The vmids the exclusion list protects by name, tag or pool (and vmid) on the cluster as it is now.

    Without name, tag or pool rules there is nothing to resolve and nothing is read. A node the list names and
    the cluster lacks is an ``InvalidInput``: a misspelt node protects nothing, and only the user knows which
    node was meant.
    """
    if exclusions.nodes:
        known = {str(row.get("node")) for row in api.nodes.get()}
        unknown = sorted(exclusions.nodes - known)
        if unknown:
            raise InvalidInput(f"{exclusions.source or 'the exclusion list'}: protects node {', '.join(unknown)}, "
                               f"which the cluster does not have (its nodes: {', '.join(sorted(known))}); a misspelt "
                               "node protects nothing: correct it")
    if not (exclusions.names or exclusions.tags or exclusions.pools):
        return frozenset()
    return exclusions.resolve(guest.facts for guest in cluster_guests(api))
