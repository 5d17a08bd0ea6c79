"""The system under test under faults, on a fakepve process used as live: the validation suite's faulted steps
(``validation/test_faults_tool.py``) against the test double, well behaved under every kind of fault and each of its
bad-handling switches failing the check named for it (and passing the plain tool tests without the fault); nothing
left in the temporary range; every write the cluster's request log shows is one the audit trail says was sent (none
a fault answered); and a ``/sync`` interrupted by a fault leaving state.db byte for byte as before, or complete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.sut.profile import PACKAGED

from .livetarget import FakePveProcess, in_range, live
from .test_faults import audited_writes, writes

REPO = Path(__file__).resolve().parent.parent
DOUBLE = f"{sys.executable} {REPO / 'tests' / 'doubles' / 'mpc_console.py'}"
FAULTS = str(REPO / "validation" / "test_faults_tool.py")
SYNC_KINDS = ("lock-timeout", "timeout-596", "tls-596", "unavailable-503", "error-500", "permission-403", "slow",
              "reset", "no-answer")
CREATE_KINDS = (*SYNC_KINDS, "task-error", "task-never-ends")
CREATE = "vm create --vmid {vmid} --name {name} --cores 1 --memory 512 --node {node} --wait"


def step(name: str, phase: int, run: str, retry: str, fault: str, where: str) -> str:
    success = "Infrastructure synchronization complete" if phase == 2 else "✅ VM created successfully"
    return (f"  {name}:\n    phase: {phase}\n    via: {'console' if phase == 2 else 'cli'}\n    run: {run}\n"
            f"    retry: {retry}\n    faults: [{{fault: {fault}, {where}}}]\n    success: [\"{success}\"]\n"
            f"    failure: [\"❌\", \"⚠️\"]\n")


def profile(pytester: pytest.Pytester) -> str:
    """The packaged profile with a faulted step per kind: a /sync whose second node's container list fails (in
    the double's database phase), a create whose POST fails, and a create whose real task's status reads fail."""
    extra = [step(f"sync-{kind}", 2, "/sync", "sync", kind, 'methods: [GET], path: "/nodes/*/lxc", after: 1')
             for kind in SYNC_KINDS]
    extra += [step(f"create-{kind}", 3, CREATE, "create-vm", kind, 'methods: [POST], path: "/nodes/*/qemu"')
              for kind in CREATE_KINDS]
    extra += [step(f"create-{kind}-status", 3, CREATE, "create-vm", kind, 'path: "/nodes/*/tasks/*/status"')
              for kind in ("task-error", "task-never-ends")]
    path = pytester.path / "faulted.yaml"
    path.write_text((PACKAGED / "proxmox-mpc.yaml").read_text(encoding="utf-8") + "".join(extra), encoding="utf-8")
    return str(path)


def tool_run(pytester: pytest.Pytester, server: FakePveProcess, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*live(pytester, server), "-p", "no:cacheprovider", "--mpc-profile", profile(pytester),
                              "--mpc-console", DOUBLE, "--mpc-cli", DOUBLE,
                              f"--pve-audit-log={pytester.path / '.pytest_proxmox_mpc' / 'audit' / 'run.jsonl'}",
                              *args)


def failed(result: pytest.RunResult) -> dict[str, str]:
    """Test id (``name[param]``) -> message of each failed test of an inner run."""
    return {report.nodeid.split("::")[-1]: report.longreprtext
            for report in result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
            if report.failed}


SYNC_TEST = "test_a_sync_under_a_fault_fails_clearly_and_leaves_state_db_as_before_or_complete"
CREATE_TEST = "test_a_write_under_a_fault_fails_clearly_leaves_no_guest_and_succeeds_once_cleared"
FAULTED_SYNCS = [f"{SYNC_TEST}[sync-{kind}]" for kind in SYNC_KINDS] + [f"{SYNC_TEST}[sync-guest-lists-time-out]"]
# Each switch, the tests it runs, the faulted steps it fails with the check named for it, and the plain tool test
# (no fault) it passes.
SWITCHES = [
    ("fault-prints-success", SYNC_TEST, FAULTED_SYNCS, "success-over-failure: '/sync' under",
     "test_phase2_tool.py::test_sync_writes_every_node_guest_and_storage_it_reports_to_state_db"),
    ("fault-half-db", SYNC_TEST, FAULTED_SYNCS, "half-written-db: '/sync' failed under the fault and left state.db "
     "neither byte for byte as it was before the step nor complete",
     "test_phase2_tool.py::test_sync_writes_every_node_guest_and_storage_it_reports_to_state_db"),
    ("fault-leaves-guest", CREATE_TEST, [f"{CREATE_TEST}[{name}]" for name in (
        "create-vm-task-status-fails", "create-task-error-status", "create-task-never-ends-status")],
     "failed under the fault but left guest 99",
     "test_phase3_tool.py::test_the_tools_own_create_start_stop_and_delete"),
]


def nothing_faulted_was_sent(pytester: pytest.Pytester, server: FakePveProcess, before: int) -> None:
    sent, injected = audited_writes(pytester.path)
    assert injected > 0
    assert writes(server.requests()[before:]) == sent, "a write a fault answered reached the cluster"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_well_behaved_double_passes_under_every_fault_and_leaves_nothing(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess,
        cluster: Any) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    before = len(fakepve_process.requests())
    result = tool_run(pytester, fakepve_process, FAULTS)
    assert failed(result) == {}
    result.assert_outcomes(passed=2 + len(SYNC_KINDS) + 3 + len(CREATE_KINDS) + 2)  # the packaged ones and ours
    assert in_range(cluster) == []
    nothing_faulted_was_sent(pytester, fakepve_process, before)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("switch", "test", "failing", "check", "plain"), SWITCHES, ids=[s[0] for s in SWITCHES])
def test_each_bad_handling_switch_fails_the_check_named_for_it_under_its_fault_and_passes_without(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess, cluster: Any,
        switch: str, test: str, failing: list[str], check: str, plain: str) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    monkeypatch.setenv("MPC_DOUBLE_DEFECTS", switch)
    before = len(fakepve_process.requests())
    faulted = tool_run(pytester, fakepve_process, f"{FAULTS}::{test}")
    found = failed(faulted)
    assert sorted(found) == sorted(failing)
    assert all(check in message for message in found.values()), found
    assert in_range(cluster) == []
    nothing_faulted_was_sent(pytester, fakepve_process, before)
    module, _, name = plain.partition("::")
    without = tool_run(pytester, fakepve_process, f"{REPO / 'validation' / module}::{name}")
    assert failed(without) == {} and without.parseoutcomes().get("passed", 0) >= 1


SYNCS = '''
import sqlite3

import pytest

from pytest_proxmox_mpc import read_inventory


def rows(db):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("nodes", "vms", "containers",
                                                                                     "storage"))


@pytest.mark.phase2
def test_a_sync_a_fault_interrupts_leaves_state_db_byte_for_byte_as_before(mpc_tool, pve_faults, pve_audit, request):
    assert mpc_tool.init().succeeded
    db = mpc_tool.workspace / ".proxmox" / "state.db"
    before = db.read_bytes()
    pve_faults.add("no-answer", methods=["GET"], path="/nodes/*/lxc", after=1)  # in its database phase
    run = mpc_tool.step("sync")
    assert [r["rule"] for r in pve_audit.records(request.node.nodeid) if r["decision"] == "injected"]
    assert run.outcome == "failure" and "❌ Database update failed:" in run.transcript
    assert "synchronization complete" not in run.transcript
    assert db.read_bytes() == before


@pytest.mark.phase2
def test_a_sync_that_gets_past_a_fault_leaves_state_db_complete(mpc_tool, pve_faults, pve_readonly, pve_audit,
                                                               request):
    assert mpc_tool.init().succeeded
    pve_faults.add("lock-timeout", methods=["GET"], path="/nodes/*/lxc", every=2)  # retried: PVE says to
    run = mpc_tool.step("sync")
    assert [r["rule"] for r in pve_audit.records(request.node.nodeid) if r["decision"] == "injected"]
    assert run.succeeded, run.transcript
    inventory = read_inventory(pve_readonly, guest_configs=False, networks=False)
    expected = len(inventory.nodes) + len(inventory.guests) + len(inventory.storages)
    assert rows(mpc_tool.workspace / ".proxmox" / "state.db") == expected
'''


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("switch", ["", "fault-half-db"])
def test_a_sync_of_the_double_a_fault_interrupts_leaves_state_db_as_before_or_complete(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess,
        switch: str) -> None:
    """Well behaved, both hold; with ``fault-half-db`` (each node's rows committed as they are read), the
    interrupted sync leaves a half-written state.db: the byte-for-byte test fails, as it must."""
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    monkeypatch.setenv("MPC_DOUBLE_DEFECTS", switch)
    pytester.makepyfile(test_syncs=SYNCS)
    result = tool_run(pytester, fakepve_process)
    found = failed(result)
    interrupted = "test_a_sync_a_fault_interrupts_leaves_state_db_byte_for_byte_as_before"
    assert sorted(found) == ([interrupted] if switch else [])
    result.assert_outcomes(passed=2 - len(found), failed=len(found))
