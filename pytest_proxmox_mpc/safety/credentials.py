"""Defence in depth: do the run's credentials hold more than phases 1 and 2 need?

The policy refuses every write in phases 1 and 2 whatever the credentials may do; a read-only token (role
PVEAuditor) makes a mistake in the policy harmless too. ``GET /access/permissions`` answers what the
credentials in use hold, ``{path: {privilege: 1}}``. Fail closed: a privilege not known to only read counts
as one that could write. Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .nics import TempNetwork

READ_ONLY_PRIVILEGES = frozenset({"Sys.Syslog"})  # besides every *.Audit privilege
SHOWN = 4  # privileges named in the warning; the rest counted


def could_write(privilege: str) -> bool:
    """True unless ``privilege`` only reads (``*.Audit``, ``Sys.Syslog``)."""
    return not (privilege.endswith(".Audit") or privilege in READ_ONLY_PRIVILEGES)


def write_privileges(permissions: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per ACL path, the privileges granted there that could write (paths without any left out)."""
    found: dict[str, list[str]] = {}
    for path, privileges in sorted(permissions.items()):
        granted = sorted(p for p, on in (privileges or {}).items() if on and could_write(str(p)))
        if granted:
            found[str(path)] = granted
    return found


def readonly_problem(who: str, permissions: Mapping[str, Any] | None, problem: str | None = None) -> str | None:
    """One line when the credentials ``who`` could write (or their permissions could not be read), else None."""
    if permissions is None:
        return (f"the permissions of {who} could not be read ({problem}): phases 1 and 2 need only a read-only "
                "token (role PVEAuditor)")
    found = write_privileges(permissions)
    if not found:
        return None
    path, granted = next(iter(found.items()))
    more = sum(len(privs) for privs in found.values()) - min(len(granted), SHOWN)
    named = ", ".join(granted[:SHOWN]) + (f" and {more} more" if more > 0 else "")
    return (f"the credentials {who} could write ({named} on {path}): phases 1 and 2 need only a read-only "
            "token (role PVEAuditor); --pve-require-readonly-credentials makes this an error")


def _isolated(below_zone: list[str], network: TempNetwork | None) -> bool:
    """True when a path below a zone (``[bridge]`` or ``[bridge, vlan]``) stays on the isolated network: its bridge,
    and its VLAN when the setting names one."""
    if network is None or below_zone[0] != network.bridge:
        return False
    return network.vlan is None or below_zone[1:2] == [str(network.vlan)]


def sdn_problem(who: str, permissions: Mapping[str, Any] | None, network: TempNetwork | None,
                problem: str | None = None) -> str | None:
    """One line when the credentials ``who`` may attach guests to networks beyond the isolated one (``SDN.Use`` on a
    zone, on another bridge or VNet, or on another VLAN of it), or when that cannot be read; None otherwise."""
    if permissions is None:
        return f"the permissions of {who} could not be read ({problem}): which networks it may use is unknown"
    wide: list[str] = []
    for path, privileges in permissions.items():
        if not isinstance(privileges, Mapping) or not privileges.get("SDN.Use"):
            continue
        parts = [part for part in str(path).split("/") if part]
        if len(parts) < 4 or parts[:2] != ["sdn", "zones"]:
            wide.append(str(path) or "/")  # the root, /sdn, /sdn/zones, or a whole zone: every bridge of it
        elif not _isolated(parts[3:], network):
            wide.append(str(path))
    if not wide:
        return None
    scoped = (f"/sdn/zones/localnetwork/{network.bridge}" + (f"/{network.vlan}" if network.vlan else "")
              if network else "no SDN path at all (temporary guests have no NIC without --pve-temp-network)")
    return (f"the credentials {who} may attach guests to networks beyond the isolated one (SDN.Use on "
            f"{', '.join(sorted(wide)[:SHOWN])}): the policy refuses other NICs, but a token whose SDN.Use is scoped "
            f"to {scoped} makes the cluster refuse them too")
