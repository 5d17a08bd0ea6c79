"""Phases 2 and 3, the system under test under faults: each step of the profile with ``faults`` runs with them
injected through the safety proxy (in the cluster's place: a faulted request never reaches it), then is judged by
named checks, and its ``retry`` step runs once the faults are cleared:

- ``clear-error``: the step prints a failure line, or succeeds; never neither, and never fails without a line of
  its own (a hang the step's timeout ends, an exit status alone);
- ``success-over-failure``: a success line only over a step that did all it says (a sync's state.db complete), never
  together with a failure line;
- ``half-written-db``: a ``/sync`` that failed leaves state.db byte for byte as it was before the step, or complete
  and consistent (a transaction rolled back, or one that finished);
- ``guest-left-behind``: a write step that failed leaves no guest under the VMID it was given;
- ``retry-fails``: once the faults are cleared, the ``retry`` step succeeds (and a sync's state.db is complete).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import read_inventory
from pytest_proxmox_mpc.fixtures import AuditView
from pytest_proxmox_mpc.sut import StepRun, ToolDriver

from .test_phase3_tool import guest_row, settled
from .toolsteps import container_template, started, tail

STATE_DB = Path(".proxmox", "state.db")


def faulted(tool: ToolDriver, name: str | None, phase: int) -> tuple[Any, str]:
    """The faulted step ``name`` and the step to run once its faults are cleared (skips when there is none)."""
    if name is None:
        pytest.skip(f"the profile {tool.profile.name} has no phase {phase} step with faults")
    step = tool.available(name)
    retry = step.retry or name
    tool.available(retry)
    return step, retry


def injected(audit: AuditView, test: str) -> list[str]:
    """The faults injected so far in ``test`` (``METHOD path: kind``)."""
    return [f"{r['method']} {r['path']}: {str(r['rule']).removeprefix('fault:')}" for r in audit.records(test)
            if r.get("decision") == "injected"]


def fired(audit: AuditView, test: str, step: str, command: str) -> list[str]:
    """The faults injected in ``test``; none skips it (the step sent none of the requests they name)."""
    faults = injected(audit, test)
    if not faults:
        pytest.skip(f"the faults of step {step!r} never fired: {command!r} sent none of the requests they name, so "
                    "nothing was judged")
    return faults


def state_db(tool: ToolDriver) -> bytes | None:
    path = tool.workspace / STATE_DB
    return path.read_bytes() if path.is_file() else None


def completeness(tool: ToolDriver, readonly: Any) -> str | None:
    """Why state.db is not complete and consistent (None when it is): its rows against the cluster's nodes, guests
    and storages, and SQLite's own integrity check."""
    path = tool.workspace / STATE_DB
    if not path.is_file():
        return "there is no state.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        return f"SQLite's integrity check says {integrity!r}"
    inventory = read_inventory(readonly, guest_configs=False, networks=False)
    expected = len(inventory.nodes) + len(inventory.guests) + len(inventory.storages)
    held = tool.snapshot().row_count()
    return None if held == expected else f"state.db holds {held} of {expected} rows (nodes, guests, storages)"


def outcome_problems(run: StepRun, step: Any, faults: list[str], complete: str | None) -> list[str]:
    """``clear-error`` and ``success-over-failure`` of a faulted step's run (``complete``: why what it wrote is not
    complete, None when it is)."""
    under = f"under {len(faults)} injected fault(s) ({faults[0]}{', ...' if len(faults) > 1 else ''})"
    succeeded = [line.strip() for line in run.lines() if any(re.search(p, line) for p in step.success)]
    if run.outcome == "unclear":
        return [f"clear-error: {run.command!r} {under} printed neither a failure nor a success line ({run.reason})"]
    if run.outcome == "failure" and not run.failure_lines(step):
        return [f"clear-error: {run.command!r} {under} failed without a failure line of its own ({run.reason})"]
    if run.outcome == "failure" and succeeded:
        return [f"success-over-failure: {run.command!r} {under} printed {succeeded[0]!r} over its failure "
                f"({run.reason})"]
    if run.outcome == "success" and complete is not None:
        return [f"success-over-failure: {run.command!r} {under} printed {succeeded[0] if succeeded else 'success'!r}, "
                f"but {complete}: success printed over a failed step"]
    return []


@pytest.mark.phase2
def test_a_sync_under_a_fault_fails_clearly_and_leaves_state_db_as_before_or_complete(
        mpc_tool: ToolDriver, pve_readonly: Any, pve_audit: AuditView, request: pytest.FixtureRequest,
        faulted_sync: str | None) -> None:
    step, retry = faulted(mpc_tool, faulted_sync, 2)
    started(mpc_tool, step.name, retry)
    before = state_db(mpc_tool)
    run = mpc_tool.step(step.name)
    faults = fired(pve_audit, request.node.nodeid, step.name, run.command)
    complete = completeness(mpc_tool, pve_readonly)
    problems = outcome_problems(run, step, faults, complete)
    if run.outcome != "success" and state_db(mpc_tool) != before and complete is not None:
        problems.append(f"half-written-db: {run.command!r} failed under the fault and left state.db neither byte for "
                        f"byte as it was before the step nor complete: {complete} (no transaction rolled back)")
    again = mpc_tool.step(retry)
    now = completeness(mpc_tool, pve_readonly)
    if not again.succeeded or now is not None:
        problems.append(f"retry-fails: once the faults were cleared, {again.command!r} ({retry}) "
                        f"ends in {again.outcome} ({again.reason}){f'; {now}' if now else ''}\n    {tail(again)}")
    assert not problems, "\n".join(problems) + f"\n    {tail(run)}"


@pytest.mark.phase3
def test_a_write_under_a_fault_fails_clearly_leaves_no_guest_and_succeeds_once_cleared(
        mpc_tool: ToolDriver, pve_readonly: Any, pve_audit: AuditView, request: pytest.FixtureRequest,
        faulted_write: str | None) -> None:
    step, retry = faulted(mpc_tool, faulted_write, 3)
    started(mpc_tool, step.name, retry)
    vmid = mpc_tool.reserve_vmid()
    values: dict[str, Any] = {"vmid": vmid, "name": f"mpc-faulted-{vmid}"}
    if "{ostemplate}" in step.run or "{ostemplate}" in (mpc_tool.profile.steps[retry].run):
        values.update(container_template(pve_readonly))
    run = mpc_tool.step(step.name, **values)
    faults = fired(pve_audit, request.node.nodeid, step.name, run.command)
    row = guest_row(pve_readonly, vmid)
    left = settled(pve_readonly, str(row["node"]), vmid, None) if row is not None else None
    if run.outcome == "success":  # it got past the fault (a lock timeout retried): the guest must be there
        problems = outcome_problems(run, step, faults, None if left is not None else f"the cluster has no guest {vmid}")
    elif left is not None:
        problems = [*outcome_problems(run, step, faults, None),
                    f"guest-left-behind: {run.command!r} failed under the fault but left guest {vmid} "
                    f"({left.get('status')}) on the cluster once its tasks ended (the plugin removes it when the test "
                    "ends)"]
    else:
        problems = outcome_problems(run, step, faults, None)
        again = mpc_tool.step(retry, **values)
        if not again.succeeded or guest_row(pve_readonly, vmid) is None:
            problems.append(f"retry-fails: once the faults were cleared, {again.command!r} ({retry}) "
                            f"ends in {again.outcome} ({again.reason})\n    {tail(again)}")
    assert not problems, "\n".join(problems) + f"\n    {tail(run)}"
