"""The sweeper: finds temporary guests that earlier runs left behind and removes only what is surely theirs.

A guest is removed only when it is the plugin's (it carries the plugin's tag, or a run's ledger says a tool
created it through the safety proxy, with that type and name, and never saw it removed) AND lies in the
temporary range AND is not protected by the exclusion list AND belongs to a run that is surely over: its ledger
says it finished, or every process of it on this host is gone, or (seen from anywhere else) its last sign of
life on the cluster (its start, its guests' ``alive-`` tags) is older than the sweep age. A run stopped with
Ctrl-Z still has its processes: its guests stay. Anything else that looks related is reported with the reason
it was left alone.
Removal goes through a client whose policy allows writes to exactly the planned guests.
Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cluster.client import derive
from ..cluster.guard import Guard
from ..errors import DestroyFailed, SafetyViolation
from ..files.heartbeat import Life, liveness
from ..model.apischema import ApiSchema
from ..safety.audit import run_started
from ..safety.exclusions import ExclusionList
from ..safety.ledger import Ledger, ToolMade, finished_runs, tool_made
from ..safety.lookup import ClusterLookup, guest_state
from ..safety.policy import PhasePolicy
from ..safety.trail import AuditTrail
from .destroy import GuestRef, destroy
from .factory import PLUGIN_TAG, run_ids_of
from .liveness import last_alive

if TYPE_CHECKING:
    from ..recording.recorder import Recorder


@dataclass(frozen=True)
class Leftover:
    """A guest the sweeper looked at, and what it decided: ``remove`` or the reason it was left alone."""

    vmid: int
    node: str
    type: str
    name: str
    run_id: str | None
    verdict: str  # "remove", or why not

    @property
    def ref(self) -> GuestRef:
        return GuestRef(self.vmid, self.node, self.type)

    def line(self) -> str:
        run = f" of run {self.run_id}" if self.run_id else ""
        return f"{self.type} {self.vmid} {self.name!r} on {self.node}{run}: {self.verdict}"

    def failure(self, why: str) -> str:
        """The line for a planned removal that failed."""
        return f"{self.line()}: not removed: {why}"


@dataclass
class SweepPlan:
    remove: list[Leftover] = field(default_factory=list)
    left_alone: list[Leftover] = field(default_factory=list)


def plan_sweep(rows: Iterable[Mapping[str, Any]], *, exclusions: ExclusionList, temp_range: tuple[int, int],
               finished: Collection[str], now: datetime, max_age: float, current_run: str | None = None,
               tools: Mapping[int, ToolMade] | None = None, lives: Mapping[str, Life] | None = None) -> SweepPlan:
    """Decide for each guest of ``/cluster/resources`` whether it is a leftover to remove; ``finished``
    holds the ids of runs whose ledger says they ended, ``tools`` the guests tools made (``ledger.tool_made``),
    ``lives`` what each run's heartbeat files say (``heartbeat.liveness``)."""
    plan = SweepPlan()
    low, high = temp_range
    rows = list(rows)
    alive_at = _alive_on_cluster(rows)
    for row in rows:
        if row.get("type") not in ("qemu", "lxc") or "vmid" not in row:
            continue
        facts = guest_state(row).facts
        vmid, tags = facts.vmid, facts.tags
        in_range, ours = low <= vmid <= high, PLUGIN_TAG in tags
        if not (in_range or ours):
            continue
        run_ids = run_ids_of(tags)
        run_id = run_ids[0] if len(run_ids) == 1 else None
        made = (tools or {}).get(vmid)
        if not ours and made is not None and made.type == row.get("type") and made.name in (None, facts.name):
            ours, run_id = True, made.run_id  # a tool's guest: its run's ledger names it
        verdict = _verdict(in_range, ours, run_id, exclusions.why_guest(facts), finished, now, max_age, current_run,
                           (lives or {}).get(run_id or ""), alive_at.get(run_id or ""))
        leftover = Leftover(vmid, str(row.get("node")), str(row["type"]), str(row.get("name") or ""), run_id, verdict)
        (plan.remove if verdict == "remove" else plan.left_alone).append(leftover)
    return plan


def _alive_on_cluster(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """By run id: the newest ``alive-`` tag on any of its guests (one guest renewed is the whole run alive)."""
    newest: dict[str, float] = {}
    for row in rows:
        tags = guest_state(row).facts.tags if "vmid" in row else ()
        when = last_alive(tags)
        if when is None:
            continue
        for run_id in run_ids_of(tags):
            newest[run_id] = max(when, newest.get(run_id, when))
    return newest


def _verdict(in_range: bool, ours: bool, run_id: str | None, protected: str | None,
             finished: Collection[str], now: datetime, max_age: float, current_run: str | None,
             life: Life | None = None, alive_at: float | None = None) -> str:
    if not ours:
        return f"left alone: in the temporary range but without the {PLUGIN_TAG} tag, and no run's ledger names it"
    if not in_range:
        return "left alone: tagged but outside the temporary range"
    if protected:
        return f"left alone: protected by the exclusion list ({protected})"
    if run_id is None:
        return "left alone: no single run tag"
    if run_id == current_run:
        return "left alone: belongs to the running session"
    if run_id in finished:
        return "remove"
    local = life.verdict() if life is not None else None  # this host's word on the run's processes comes first
    if local == "dead":
        return "remove"
    if local is not None:
        return local
    started = run_started(run_id)
    if alive_at is not None and (started is None or alive_at > started.timestamp()):
        silent = now.timestamp() - alive_at
        if silent < max_age:
            return f"left alone: the run was alive {silent:.0f}s ago (its guests' alive tag; sweep age {max_age:.0f}s)"
        return "remove"
    if started is None:
        return "left alone: the run tag holds no start time"
    age = (now - started).total_seconds()
    if age >= max_age:
        return "remove"
    return f"left alone: run not finished and only {age:.0f}s old (sweep age {max_age:.0f}s)"


def sweep(api: Any, plan: SweepPlan) -> dict[Leftover, str]:
    """Remove the planned guests through ``api``; returns the ones that could not be removed, with why."""
    failed = {}
    for leftover in plan.remove:
        try:
            destroy(api, leftover.ref)
        except (DestroyFailed, SafetyViolation, OSError) as exc:
            failed[leftover] = str(exc)
    return failed


def sweep_cluster(readonly: Any, *, exclusions: ExclusionList, temp_range: tuple[int, int], schema: ApiSchema | None,
                  ledger_dir: Path, max_age: float, trail: AuditTrail | None = None, current_run: str | None = None,
                  dry_run: bool = False, recorder: Recorder | None = None,
                  ) -> tuple[SweepPlan, dict[Leftover, str]]:
    """Plan from the cluster's guests and the ledger files, then (unless ``dry_run``) remove the leftovers.

    The removal client shares ``readonly``'s login; its phase-3 policy has exactly the planned guests in
    its ledger, so the sweeper can delete nothing else, and the exclusion list is checked again.
    """
    rows = readonly.cluster.resources.get(type="vm")
    plan = plan_sweep(rows, exclusions=exclusions, temp_range=temp_range, finished=finished_runs(ledger_dir),
                      now=datetime.now(timezone.utc), max_age=max_age, current_run=current_run,
                      tools=tool_made(ledger_dir), lives=liveness(ledger_dir))
    if dry_run or not plan.remove:
        return plan, {}
    ledger = Ledger()
    for leftover in plan.remove:
        ledger.add(leftover.vmid)
    policy = PhasePolicy(phase=3, schema=schema, exclusions=exclusions, ledger=ledger,
                         temp_range=temp_range, lookup=ClusterLookup(readonly), label="sweeper")
    return plan, sweep(derive(readonly, Guard(policy, trail, ledger, recorder)), plan)
