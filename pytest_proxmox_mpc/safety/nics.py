"""The isolated network of temporary guests: ``--pve-temp-network BRIDGE[:VLAN]``, and the judgement of a guest's
network devices (``netN`` of qemu and lxc, in the formats the PVE API schema declares) against it.

A NIC passes only on the isolated bridge (a VNet name is a bridge) with the isolated VLAN tag (none when the
setting names none) and no trunks. Without the setting no NIC passes: temporary guests have none. Nothing here
imports pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

SETTING = "--pve-temp-network"
NIC_KEY = re.compile(r"^net\d+$")
BRIDGE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class TempNetwork:
    """The only network a temporary or tool-made guest may be attached to."""

    bridge: str
    vlan: int | None = None

    @classmethod
    def parse(cls, raw: Any) -> TempNetwork:
        """``BRIDGE`` or ``BRIDGE:VLAN`` (VLAN 1-4094); ``ValueError`` in a user's words otherwise."""
        text = str(raw).strip()
        bridge, colon, vlan = text.partition(":")
        if not BRIDGE.match(bridge):
            raise ValueError(f"{text!r} is not BRIDGE[:VLAN] (a bridge or VNet name such as vmbr9)")
        if not colon:
            return cls(bridge)
        if not vlan.isdigit() or not 1 <= int(vlan) <= 4094:
            raise ValueError(f"{text!r}: the VLAN must be a number from 1 to 4094")
        return cls(bridge, int(vlan))

    def __str__(self) -> str:
        return self.bridge if self.vlan is None else f"{self.bridge}:{self.vlan}"

    def nic(self, kind: str) -> str:
        """A NIC on this network for a new guest of ``kind`` (``qemu`` or ``lxc``)."""
        tag = f",tag={self.vlan}" if self.vlan is not None else ""
        return f"virtio,bridge={self.bridge}{tag}" if kind == "qemu" else f"name=eth0,bridge={self.bridge}{tag},ip=dhcp"


def nic_options(value: str) -> dict[str, str]:
    """A ``netN`` value's options: ``virtio=MAC,bridge=vmbr0,tag=5`` -> {model: virtio, macaddr: MAC, bridge, tag}.
    A leading bare word is the model (qemu's ``model`` is its default key)."""
    options: dict[str, str] = {}
    for index, part in enumerate(p for p in str(value).split(",") if p.strip()):
        key, equals, item = part.partition("=")
        key = key.strip()
        if not equals:
            options["model" if index == 0 else key] = "" if index else key
            continue
        if index == 0 and key not in ("model", "name", "bridge", "hwaddr", "macaddr", "tag", "trunks", "type",
                                      "firewall", "ip", "ip6", "gw", "gw6", "mtu", "rate", "link_down", "queues"):
            options["model"], options["macaddr"] = key, item.strip()  # qemu: model=MAC
            continue
        options[key] = item.strip()
    return options


def nic_problem(key: str, value: str, network: TempNetwork | None) -> str | None:
    """Why NIC ``key`` (``net0``) with ``value`` may not be on a temporary guest, or None when it passes."""
    if network is None:
        return (f"{key} would attach a temporary guest to a network, and none is isolated for them: "
                f"give {SETTING} BRIDGE[:VLAN] (ini pve_temp_network, env PVE_TEMP_NETWORK)")
    options = nic_options(value)
    bridge = options.get("bridge")
    if not bridge:
        return f"{key} has no bridge: a temporary guest's NIC must be on {network} ({SETTING})"
    if bridge != network.bridge:
        return f"{key} is on bridge {bridge}: temporary guests may be on {network} only ({SETTING})"
    tag = options.get("tag")
    if "trunks" in options:
        return f"{key} carries trunks {options['trunks']}: temporary guests may be on {network} only ({SETTING})"
    if network.vlan is None and tag:
        return f"{key} is on VLAN {tag}: temporary guests may be on {network} (untagged) only ({SETTING})"
    if network.vlan is not None and tag != str(network.vlan):
        return (f"{key} is on {'VLAN ' + tag if tag else 'no VLAN'}: temporary guests may be on {network} only "
                f"({SETTING})")
    return None


def nics(params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """The ``netN`` entries of a create's, clone's or config write's parameters (or of a guest's config)."""
    for key, value in params.items():
        if NIC_KEY.match(str(key)):
            yield str(key), str(value)


def first_problem(params: Mapping[str, Any], network: TempNetwork | None) -> str | None:
    """The first NIC of ``params`` that may not be on a temporary guest, or None."""
    for key, value in sorted(nics(params)):
        problem = nic_problem(key, value, network)
        if problem:
            return problem
    return None


# Reads a guest's current config (None: no such guest). May raise: the start is then refused.
ConfigReader = Callable[[int], "Mapping[str, Any] | None"]


@dataclass
class NetworkRule:
    """The policy's rule 6 for one phase: ``create`` and ``after`` (a guest write the phase rules allowed) give
    (rule, reason) to refuse, or None. ``unverified`` (shared by a run's policies) holds the guests whose NICs came
    from elsewhere (a clone's template, a restore's backup) and were not judged yet; ``configs`` reads one."""

    temp_network: TempNetwork | None = None  # None: no NIC at all
    unverified: set[int] = field(default_factory=set)
    configs: ConfigReader | None = None

    def create(self, vmid: int, params: Mapping[str, Any]) -> tuple[str, str] | None:
        problem = first_problem(params, self.temp_network)
        if problem:
            return "temp-network", problem
        if "archive" in params:  # a restore brings the backup's NICs
            self.unverified.add(vmid)
        return None

    def after(self, vmid: int, template: str, params: Mapping[str, Any], creates: int | None,
              ) -> tuple[str, str] | None:
        if template.endswith("/config"):
            problem = first_problem(params, self.temp_network)
            return ("temp-network", problem) if problem else None
        if template.endswith("/clone") and creates is not None:
            self.unverified.add(creates)
        elif template.endswith("/status/start") and vmid in self.unverified:
            return self._start(vmid)
        return None

    def _start(self, vmid: int) -> tuple[str, str] | None:
        try:
            config = self.configs(vmid) if self.configs is not None else None
        except Exception as exc:
            config, why = None, f" ({type(exc).__name__})"
        else:
            why = ""
        if config is None:
            return "temp-network-unverified", f"the NICs of guest {vmid} could not be read before its start{why}"
        problem = first_problem(config, self.temp_network)
        if problem:
            return "temp-network", f"guest {vmid} may not start: {problem}"
        self.unverified.discard(vmid)
        return None
