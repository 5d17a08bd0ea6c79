"""This run's temporary guests as the cluster reports them: names, and addresses from their configs (cloud-init's
``ipconfigN``, a container's ``netN`` ``ip=``) and, where they answer, the guest agent's or the container's
interfaces. Read with GET requests only (``get``: a path below ``/api2/json`` -> the answer's data). Nothing here
imports pytest.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

from .verdict import TempGuests

IP_OPTION = re.compile(r"(?:^|,)ip6?=(?P<address>[0-9A-Fa-f.:]+)(?:/\d+)?")
Get = Callable[[str], Any]


def temp_guests(get: Get, ledger: Iterable[int]) -> TempGuests:
    """The guests of ``ledger`` on the cluster now, with their names and addresses."""
    mine = set(ledger)
    if not mine:
        return TempGuests()
    found: dict[int, tuple[str | None, tuple[str, ...]]] = {}
    for row in get("/cluster/resources?type=vm") or []:
        vmid = int(row.get("vmid", -1))
        if vmid in mine and row.get("type") in ("qemu", "lxc"):
            base = f"/nodes/{row['node']}/{row['type']}/{vmid}"
            found[vmid] = (row.get("name"), tuple(dict.fromkeys(_addresses(get, base, row))))
    return TempGuests(found)


def _addresses(get: Get, base: str, row: dict[str, Any]) -> list[str]:
    addresses: list[str] = []
    try:
        config = get(f"{base}/config") or {}
    except Exception:  # a guest gone meanwhile: no address, so nothing may connect to it
        config = {}
    for key, value in config.items():
        if re.match(r"^(ipconfig|net)\d+$", str(key)):
            addresses += [m["address"] for m in IP_OPTION.finditer(str(value))]
    if row.get("status") == "running":
        interfaces = f"{base}/agent/network-get-interfaces" if row["type"] == "qemu" else f"{base}/interfaces"
        try:
            answer = get(interfaces)
        except Exception:  # no agent, or it does not answer: the config's addresses only
            answer = None
        addresses += list(_interface_addresses(answer))
    return [a for a in (_normal(a) for a in addresses) if a]


def _interface_addresses(answer: Any) -> Iterable[str]:
    rows = answer.get("result", []) if isinstance(answer, dict) else answer or []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        for entry in row.get("ip-addresses") or []:
            yield str(entry.get("ip-address", ""))
        for key in ("inet", "inet6"):
            if row.get(key):
                yield str(row[key]).split("/")[0]


def _normal(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return None if address.is_loopback or address.is_link_local else str(address)
