"""The report's account of what reached beyond the PVE API: the runs of policed programs (per test: run, allowed,
refused) from the audit trail's ``EXEC`` lines, and the networks temporary guests were attached to (the ``netN`` of
every create, clone and config write the policy allowed) against the isolated one (``--pve-temp-network``).
Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..programs.judge import METHOD
from ..safety.nics import nic_options, nics

GUEST_WRITES = ("/qemu", "/lxc", "/config", "/clone")


def is_program(record: Mapping[str, Any]) -> bool:
    return str(record.get("method", "")).upper() == METHOD


def programs(audit: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"totals": {run, allowed, refused}, "by_test": {test: {...}}, "refused": [lines]}``."""
    totals = {"run": 0, "allowed": 0, "refused": 0}
    by_test: dict[str, dict[str, int]] = {}
    refused: list[str] = []
    for record in audit:
        if not is_program(record):
            continue
        decision = "refused" if record.get("decision") == "refused" else "allowed"
        test = str(record.get("test") or "(session)")
        one = by_test.setdefault(test, {"run": 0, "allowed": 0, "refused": 0})
        for counts in (totals, one):
            counts["run"] += 1
            counts[decision] += 1
        if decision == "refused":
            refused.append(f"{record.get('path')} {record.get('params', {}).get('args', '')} by {test}: "
                           f"{record.get('rule')}")
    return {"totals": totals, "by_test": by_test, "refused": refused}


def networks(audit: Iterable[Mapping[str, Any]], isolated: str | None) -> dict[str, Any]:
    """The networks (``bridge`` or ``bridge:vlan``) the NICs of allowed guest writes named, and the isolated one."""
    used: set[str] = set()
    for record in audit:
        path = str(record.get("path", ""))
        if record.get("decision") != "allowed" or record.get("method") not in ("POST", "PUT") or \
                not path.endswith(GUEST_WRITES):
            continue
        for _, value in nics(record.get("params") or {}):
            options = nic_options(value)
            bridge = options.get("bridge") or "(no bridge)"
            used.add(f"{bridge}:{options['tag']}" if options.get("tag") else bridge)
    return {"isolated": isolated, "used": sorted(used), "outside": sorted(used - {isolated} if isolated else used)}


def isolation(r: Mapping[str, Any]) -> tuple[bool | None, str]:
    """The seed's "Test operations in isolated network segments", judged from the two sections above."""
    net, progs = r.get("networks") or {}, (r.get("programs") or {}).get("totals", {})
    guests = r["temporary_guests"]["created"] + sum(c["created"] for c in r["temporary_guests"]["by_tools"].values())
    if not guests and not progs.get("run"):
        return None, "no temporary guest was created and no program outside the PVE API ran"
    where = (f"temporary guests on {net.get('isolated')}" if net.get("isolated")
             else "temporary guests without NICs (no --pve-temp-network)")
    used = ", ".join(net.get("used") or []) or "no NIC"
    return not net.get("outside"), (f"{where}; NICs named: {used}; programs outside the PVE API: "
                                    f"{progs.get('run', 0)} run, {progs.get('allowed', 0)} allowed (only towards "
                                    f"temporary guests), {progs.get('refused', 0)} refused")


def markdown(r: Mapping[str, Any]) -> list[str]:
    progs, net = r.get("programs"), r.get("networks")
    if progs is None or net is None:
        return []
    out = ["", "## Beyond the PVE API", "",
           f"Isolated network of temporary guests: {net['isolated'] or 'none (temporary guests have no NIC)'}; "
           f"networks their NICs named: {', '.join(net['used']) or 'none'}.", ""]
    rows: Sequence[tuple[str, int, int, int]] = [(test, c["run"], c["allowed"], c["refused"])
                                                 for test, c in progs["by_test"].items()]
    if not rows:
        return [*out, "No program outside the PVE API ran."]
    out += ["| test | programs run | allowed | refused |", "| --- | --- | --- | --- |",
            *(f"| {test} | {run} | {allowed} | {refused} |" for test, run, allowed, refused in rows)]
    return out + (["", *(f"- refused: {line}" for line in progs["refused"])] if progs["refused"] else [])


def summary_lines(r: Mapping[str, Any]) -> list[str]:
    progs, net = r.get("programs"), r.get("networks")
    lines = []
    if progs and progs["totals"]["run"]:
        t = progs["totals"]
        lines.append(f"programs outside the PVE API: {t['run']} run, {t['allowed']} allowed, {t['refused']} refused")
    if net and (net["used"] or net["isolated"]):
        lines.append(f"temporary guests' network: {net['isolated'] or 'none (no NIC)'}; NICs named: "
                     f"{', '.join(net['used']) or 'none'}")
    return lines
