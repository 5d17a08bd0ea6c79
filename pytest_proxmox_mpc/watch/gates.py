"""The gates before the first write, and the usage check repeated after every write test.

Each gate looks at an ``Inventory`` (and, for backups, reads backup jobs and backup volumes) and gives a
``GateResult``. A failed blocking gate skips every phase-3/4 test with the gate's reason; phases 1 and 2
still run. Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config.options import DEFAULT_BACKUP_MAX_AGE
from ..guests.factory import PLUGIN_TAG
from ..model.inventory import GuestInfo, Inventory, api_flag, split_list
from ..safety.exclusions import ExclusionList


@dataclass(frozen=True)
class GateResult:
    """One gate: its name, whether it passed, why, and whether a failure blocks writes (else a warning)."""

    name: str
    passed: bool
    detail: str
    blocking: bool = True

    @property
    def outcome(self) -> str:
        return "passed" if self.passed else ("failed" if self.blocking else "warning")


@dataclass(frozen=True)
class GateVerdict:
    """All gates of a run; writes may go ahead when no blocking gate failed."""

    results: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed or not result.blocking for result in self.results)

    @property
    def reason(self) -> str:
        """Why phase-3/4 tests are skipped: every failed blocking gate, one clause each."""
        failed = [f"{r.name}: {r.detail}" for r in self.results if not r.passed and r.blocking]
        return GATE_SKIP + "; ".join(failed)


GATE_SKIP = "proxmox safety gate failed, writes skipped: "  # how a test the gates skipped says why


def gate_skipped_phases(outcomes: Iterable[tuple[int | None, str, str]]) -> dict[int, str]:
    """Of ``(phase, outcome, skip reason)`` per test: each phase whose every test the gates skipped, and why."""
    by_phase: dict[int, list[tuple[str, str]]] = {}
    for phase, outcome, reason in outcomes:
        if phase is not None:
            by_phase.setdefault(phase, []).append((outcome, reason))
    return {phase: tests[0][1].split(GATE_SKIP, 1)[1] for phase, tests in sorted(by_phase.items())
            if tests and all(outcome == "skipped" and GATE_SKIP in reason for outcome, reason in tests)}


def usage_problems(inventory: Inventory, threshold: float) -> list[str]:
    """CPU, memory and root disk of online nodes and every active storage above ``threshold`` (a fraction)."""
    problems = []
    for node in inventory.nodes.values():
        if not node.online:
            continue
        for what, used, total in (("cpu", node.cpu, 1.0), ("memory", node.mem, node.maxmem),
                                  ("root disk", node.disk, node.maxdisk)):
            if used is not None and total:
                fraction = used / total
                if fraction > threshold:
                    problems.append(f"node {node.name} {what} at {fraction:.0%} (threshold {threshold:.0%})")
    for storage in inventory.storages.values():
        for where, usage in storage.usage.items():
            if usage.active and usage.fraction > threshold:
                problems.append(f"storage {storage.storage} on {where} at {usage.fraction:.0%} "
                                f"(threshold {threshold:.0%})")
                if storage.shared:  # one shared storage is one problem, whichever node reports it
                    break
    return problems


def check_quorum(inventory: Inventory) -> GateResult:
    name = inventory.cluster_name or "(single node)"
    if inventory.quorate:
        return GateResult("quorum", True, f"cluster {name} is quorate")
    return GateResult("quorum", False, f"cluster {name} has lost quorum")


def check_nodes(inventory: Inventory, exclusions: ExclusionList) -> GateResult:
    """Every node writes may use (all but the protected ones) is online."""
    in_use = [node for name, node in inventory.nodes.items() if name not in exclusions.nodes]
    down = [f"{node.name} ({node.status})" for node in in_use if not node.online]
    if down:
        return GateResult("nodes", False, "node not online: " + ", ".join(down))
    return GateResult("nodes", True, f"{len(in_use)} nodes in use, all online")


def check_usage(inventory: Inventory, threshold: float) -> GateResult:
    problems = usage_problems(inventory, threshold)
    if problems:
        return GateResult("usage", False, "; ".join(problems))
    return GateResult("usage", True, f"CPU, memory and storage below {threshold:.0%}")


def check_temp_range(inventory: Inventory, temp_range: tuple[int, int],
                     other_runs: Mapping[int, str] | None = None) -> GateResult:
    """The temporary range holds nothing but guests carrying the plugin's tag (earlier or other runs') and guests
    ``other_runs`` names (by VMID: the run whose tool made it, or that claims the number, on this machine)."""
    low, high = temp_range
    others = other_runs or {}
    in_range = {vmid: guest for vmid, guest in inventory.guests.items() if low <= vmid <= high}
    foreign = [guest for vmid, guest in in_range.items() if PLUGIN_TAG not in guest.tags and vmid not in others]
    if foreign:
        listed = ", ".join(f"{g.vmid} ({g.name or 'no name'})" for g in foreign[:5])
        return GateResult("temporary range", False, f"{len(foreign)} guests in {low}-{high} are not "
                          f"{PLUGIN_TAG} guests: {listed}")
    of_tools = sum(1 for vmid, guest in in_range.items() if PLUGIN_TAG not in guest.tags)
    tools = f", {of_tools} made by tools of other runs" if of_tools else ""
    return GateResult("temporary range", True, f"{low}-{high} holds {len(in_range) - of_tools} guests of earlier "
                      f"or other runs{tools} and nothing else")


def check_exclusions(exclusions: ExclusionList, protected: Iterable[int]) -> GateResult:
    protected = sorted(protected)
    if exclusions.is_empty():
        return GateResult("exclusions", True, "no exclusion list (allowed on sim and replay targets)")
    return GateResult("exclusions", True, f"resolved: {len(protected)} protected guests"
                      + (f" ({', '.join(map(str, protected[:10]))}{', ...' if len(protected) > 10 else ''})"
                         if protected else ""))


def protected_guests(inventory: Inventory, exclusions: ExclusionList, protected: Iterable[int]) -> list[GuestInfo]:
    """The inventory's guests the exclusion list protects, by any rule or by the session's resolution."""
    known = set(protected)
    return [guest for vmid, guest in inventory.guests.items()
            if vmid in known or exclusions.protects_guest(guest.facts)]


def _covered_by_job(guest: GuestInfo, job: Mapping[str, Any]) -> bool:
    if not api_flag(job.get("enabled", 1)):
        return False
    if job.get("node") and job["node"] != guest.node:
        return False
    if str(guest.vmid) in split_list(job.get("exclude")):
        return False
    return (api_flag(job.get("all")) or str(guest.vmid) in split_list(job.get("vmid"))
            or (bool(job.get("pool")) and job.get("pool") == guest.pool))


def check_backups(api: Any, inventory: Inventory, guests: list[GuestInfo], *, required: bool,
                  max_age: float, now: float | None = None) -> GateResult:
    """Each protected guest is in an enabled backup job, or has a backup volume younger than ``max_age``."""
    if not guests:
        return GateResult("backups", True, "no protected guests", blocking=required)
    jobs = api("cluster/backup").get() or []
    uncovered = [guest for guest in guests if not any(_covered_by_job(guest, job) for job in jobs)]
    if uncovered:
        latest = _latest_backups(api, inventory, {guest.vmid for guest in uncovered})
        cutoff = (now or time.time()) - max_age
        uncovered = [guest for guest in uncovered if latest.get(guest.vmid, 0) < cutoff]
    if uncovered:
        listed = ", ".join(str(guest.vmid) for guest in uncovered[:10])
        return GateResult("backups", False, f"{len(uncovered)} protected guests have no backup job and no backup "
                          f"younger than {max_age / 86400:g} days: {listed}", blocking=required)
    return GateResult("backups", True, f"{len(guests)} protected guests are backed up", blocking=required)


def _latest_backups(api: Any, inventory: Inventory, vmids: set[int]) -> dict[int, float]:
    """The newest backup time per vmid, from every backup storage (a shared one read once)."""
    latest: dict[int, float] = {}
    for storage in inventory.storages.values():
        if "backup" not in storage.content:
            continue
        nodes = [node for node, usage in storage.usage.items() if usage.active]
        for node in nodes[:1] if storage.shared else nodes:
            for volume in api(f"nodes/{node}/storage/{storage.storage}/content").get(content="backup") or []:
                vmid = volume.get("vmid")
                if vmid is not None and int(vmid) in vmids:
                    latest[int(vmid)] = max(latest.get(int(vmid), 0.0), float(volume.get("ctime") or 0))
    return latest


def check_gates(api: Any, inventory: Inventory, *, exclusions: ExclusionList, protected: Iterable[int],
                temp_range: tuple[int, int], threshold: float, require_backups: bool,
                backup_max_age: float = DEFAULT_BACKUP_MAX_AGE, now: float | None = None,
                other_runs: Mapping[int, str] | None = None) -> GateVerdict:
    """Every gate, in the order the report lists them."""
    protected = frozenset(protected)
    guests = protected_guests(inventory, exclusions, protected)
    return GateVerdict((
        check_quorum(inventory),
        check_nodes(inventory, exclusions),
        check_usage(inventory, threshold),
        check_backups(api, inventory, guests, required=require_backups, max_age=backup_max_age, now=now),
        check_temp_range(inventory, temp_range, other_runs),
        check_exclusions(exclusions, protected),
    ))
