"""Safety gates, abort triggers, unintended-change detection and the run report, on the sim target with
fakepve's faults (each scenario an inner pytest run)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pytest_proxmox_mpc.report.build import percentile
from pytest_proxmox_mpc.report.criteria import CRITERIA
from pytest_proxmox_mpc.safety.audit import AuditLog
from pytest_proxmox_mpc.safety.incident import ABORT_EXIT_CODE, GATES_SKIPPED_EXIT_CODE, UNINTENDED_CHANGE_EXIT_CODE

GiB = 1024 ** 3

SUITE = """
import pytest

def test_reads(pve_readonly):
    assert pve_readonly.nodes.get()

@pytest.mark.phase3
def test_writes(temp_vm):
    temp_vm()
"""


def fault_conftest(*lines: str) -> str:
    """A conftest whose autouse session fixture breaks the simulated cluster before any test runs."""
    body = "\n".join("    " + line for line in lines)
    return f"import pytest\n\n@pytest.fixture(scope='session', autouse=True)\ndef fault(pve_sim):\n{body}\n"


def skip_reasons(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("SKIPPED")]


@pytest.mark.parametrize(("fault", "reason"), [
    ("pve_sim.lose_quorum()", "quorum: cluster homelab has lost quorum"),
    ("pve_sim.set_node_offline('pve3')", "nodes: node not online: pve3 (offline)"),
    (f"pve_sim.store_file('local-lvm', 'big.raw', {90 * GiB}, content='images')",
     "usage: storage local-lvm on pve1 at 90% (threshold 80%)"),
], ids=["lost-quorum", "offline-node", "storage-over-80"])
def test_a_failed_gate_skips_writes_with_its_reason_and_reads_still_run(pytester: pytest.Pytester, fault: str,
                                                                         reason: str) -> None:
    pytester.makeconftest(fault_conftest(fault))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3", "-rs", "-p", "no:randomly")
    result.assert_outcomes(passed=1, skipped=1)
    (skipped,) = skip_reasons(result)
    assert "test_suite.py" in skipped and "proxmox safety gate failed, writes skipped: " in skipped
    assert reason in skipped
    assert not list((pytester.path / ".pytest_proxmox_mpc").glob("ledger/*.jsonl")), "no guest was created"


def test_the_gates_pass_on_a_healthy_cluster_and_the_report_lists_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-report", "out/run.json")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    report = json.loads((pytester.path / "out" / "run.json").read_text())
    assert [(g["name"], g["outcome"]) for g in report["gates"]] == [
        ("quorum", "passed"), ("nodes", "passed"), ("usage", "passed"), ("backups", "passed"),
        ("temporary range", "passed"), ("exclusions", "passed")]


def test_a_stranger_in_the_temporary_range_closes_the_gate(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(fault_conftest("pve_sim.add_vm(990500, 'squatter', node='pve2')"))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert "temporary range: 1 guests in 990000-999999 are not pytest-proxmox-mpc guests: 990500 (squatter)" \
        in skip_reasons(result)[0]


def test_a_tool_guest_of_another_run_going_on_leaves_the_gate_open(pytester: pytest.Pytester) -> None:
    """Another run (its ledger beside this one's) has a tool's guest in the range: not a reason to stop."""
    pytester.makeconftest(fault_conftest("pve_sim.add_vm(990500, 'tool-vm', node='pve2')"))
    pytester.makepyfile(test_suite=SUITE)
    ledger = pytester.path / ".pytest_proxmox_mpc" / "ledger" / "20261206-000000-abcdef.jsonl"
    ledger.parent.mkdir(parents=True)
    ledger.write_text(json.dumps({"event": "created", "source": "proxy", "vmid": 990500, "type": "qemu",
                                  "name": "tool-vm", "run_id": "20261206-000000-abcdef"}) + "\n")
    result = pytester.runpytest("--pve-max-phase", "3", "-rs")
    result.assert_outcomes(passed=2)


def test_a_temporary_range_over_production_guests_skips_phase_3_and_the_run_does_not_pass(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-temp-vmid-range", "100-200")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == GATES_SKIPPED_EXIT_CODE == 15
    last = [line for line in result.stdout.lines if line.startswith("proxmox: the safety gates skipped")]
    assert len(last) == 1 and last[0].startswith(
        "proxmox: the safety gates skipped every phase 3 test (exit code 15): temporary range: ")
    assert "101 (web-01)" in last[0]


PROBE = SUITE + """

@pytest.mark.phase3
@pytest.mark.pve_expect_refusal
def test_probes_the_policy(pve_client):
    from pytest_proxmox_mpc import PhaseViolation
    with pytest.raises(PhaseViolation):
        pve_client.nodes("pve1").qemu(101).status.stop.post()
"""


def test_refusals_a_test_asks_for_do_not_count_as_changes_to_production(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=PROBE)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-report", "r")
    result.assert_outcomes(passed=3)
    criteria = {c["id"]: c for c in json.loads((pytester.path / "r.json").read_text())["criteria"]}
    assert criteria["p3-no-permanent-changes"]["status"] == "met"
    assert criteria["p3-no-permanent-changes"]["evidence"].startswith(
        "0 requests refused (1 more by tests that probe the policy on purpose)")
    result.stdout.fnmatch_lines(["criteria not evaluated: *"])


EXCLUSIONS = "protect:\n  vmids: [101]\n"


def test_backups_of_protected_guests_warn_by_default_and_block_when_required(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makefile(".yaml", excl=EXCLUSIONS)
    warned = pytester.runpytest("--pve-max-phase", "3", "--pve-exclusions", "excl.yaml", "--pve-report", "r")
    warned.assert_outcomes(passed=2)
    gates = {g["name"]: g for g in json.loads((pytester.path / "r.json").read_text())["gates"]}
    assert gates["backups"]["outcome"] == "warning" and "101" in gates["backups"]["detail"]
    warned.stdout.fnmatch_lines(["gate backups: warning: 1 protected guests have no backup job*: 101"])

    required = pytester.runpytest("--pve-max-phase", "3", "--pve-exclusions", "excl.yaml", "--pve-require-backups",
                                  "-rs")
    required.assert_outcomes(passed=1, skipped=1)
    assert "backups: 1 protected guests have no backup job" in skip_reasons(required)[0]


def test_a_recent_backup_opens_the_backup_gate(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(fault_conftest(
        "pve_sim.store_file('nas-nfs', 'vzdump-qemu-101-2026_11_24-02_00_00.vma.zst', 1000, content='backup')",
        "pve_sim.storages['nas-nfs']['volumes']['backup/vzdump-qemu-101-2026_11_24-02_00_00.vma.zst']['vmid'] = 101"))
    pytester.makepyfile(test_suite=SUITE)
    pytester.makefile(".yaml", excl=EXCLUSIONS)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-exclusions", "excl.yaml", "--pve-require-backups")
    result.assert_outcomes(passed=2)


CHANGED_BEHIND_OUR_BACK = """
import pytest

@pytest.mark.phase3
def test_our_own_guest_is_no_unintended_change(temp_vm):
    temp_vm()

def test_another_client_changes_the_cluster(pve_readonly, pve_sim):
    pve_sim.vm(105).config["memory"] = "4096"   # a guest outside the ledger, resized
    pve_sim.vm(102).status = "stopped"
    pve_sim.add_vm(150, "intruder", node="pve2")
"""


def test_a_change_outside_the_ledger_is_reported_and_the_exit_code_is_non_zero(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_changes=CHANGED_BEHIND_OUR_BACK)
    pytester.makefile(".yaml", excl="protect:\n  vmids: [105]\n")
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-report", "report", "-p", "no:randomly",
                                "--pve-exclusions=excl.yaml")
    result.assert_outcomes(passed=2)
    assert result.ret == UNINTENDED_CHANGE_EXIT_CODE
    between = ("2 tests ran between the snapshots: test_changes.py::test_our_own_guest_is_no_unintended_change, "
               "test_changes.py::test_another_client_changes_the_cluster")
    changes = [line for line in result.outlines if line.startswith("UNINTENDED CHANGE")]
    assert changes[0] == f"UNINTENDED CHANGE: guest 102: status 'running' -> 'stopped' [not protected; {between}]"
    assert re.fullmatch(r"UNINTENDED CHANGE: guest 105: config digest '\w+' -> '\w+' \[keys changed: memory; "
                        r"protected by the exclusion list; " + re.escape(between) + r"\]", changes[1]), changes[1]
    assert changes[2] == ("UNINTENDED CHANGE: guest 150: appeared (qemu intruder, stopped on pve2) "
                          f"[not protected; {between}]")
    assert len(changes) == 3
    report = json.loads((pytester.path / "report.json").read_text())
    resized = next(c for c in report["unintended_changes"] if c["id"] == "105")
    assert (resized["keys"], resized["protected"], len(resized["tests"])) == (["memory"], True, 2)
    assert sorted(c["id"] for c in report["unintended_changes"]) == ["102", "105", "150"]
    assert all(int(c["id"]) < 990000 for c in report["unintended_changes"]), "the ledger's guest is no change"
    criterion = next(c for c in report["criteria"] if c["id"] == "run-no-unintended-changes")
    assert criterion["status"] == "not met" and criterion["evidence"] == "3 unintended changes"


def test_without_outside_changes_the_run_ends_clean(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3")
    assert result.ret == 0
    assert "UNINTENDED" not in result.stdout.str()


CONNECTION_LOST = """
def test_1_reads(pve_readonly):
    pve_readonly.nodes.get()

def test_2_the_network_goes(pve_readonly, pve_sim):
    pve_sim.flaky_network(drop_rate=1.0)
    try:
        pve_readonly.nodes.get()
    except Exception:
        pass   # the code under test swallows it: the watch must not

def test_3_never_runs(pve_readonly):
    pve_readonly.nodes.get()
"""


def incidents(root: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((root / ".pytest_proxmox_mpc" / "incidents").glob("*.json"))]


def test_connection_failures_mid_run_abort_with_an_incident_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_net=CONNECTION_LOST)
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == ABORT_EXIT_CODE
    result.assert_outcomes(passed=2)
    assert "test_3_never_runs" not in result.stdout.str()
    (incident,) = incidents(pytester.path)
    assert incident["trigger"] == "connectivity" and incident["test"] == "test_net.py::test_2_the_network_goes"
    assert incident["problems"] == ["3 connection failures in a row (limit 3), last: ConnectionError"]
    result.stdout.fnmatch_lines(["*run aborted (connectivity): test_net.py::test_2_the_network_goes lost the "
                                 "connection to the cluster*"])


def test_one_dropped_request_is_a_blip_not_an_abort(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_blip="""
def test_1_blip(pve_readonly, pve_sim):
    pve_sim.flaky_network(drop_rate=1.0)
    try:
        pve_readonly.nodes.get()
    except Exception:
        pass
    pve_sim.flaky_network(drop_rate=0.0)

def test_2_goes_on(pve_readonly):
    pve_readonly.nodes.get()
""")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert result.ret == 0 and incidents(pytester.path) == []


USAGE_AFTER_WRITE = f"""
import pytest

@pytest.mark.phase3
def test_1_fills_the_storage(temp_vm, pve_sim):
    temp_vm()
    pve_sim.store_file("nas-nfs", "huge.iso", {95 * GiB})

@pytest.mark.phase3
def test_2_never_runs(temp_vm):
    temp_vm()
"""


def test_usage_over_the_threshold_after_a_write_test_aborts_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_usage=USAGE_AFTER_WRITE)
    result = pytester.runpytest("--pve-max-phase", "3", "-p", "no:randomly")
    assert result.ret == ABORT_EXIT_CODE
    result.assert_outcomes(passed=1)
    (incident,) = incidents(pytester.path)
    assert incident["trigger"] == "usage" and incident["problems"] == [
        "storage nas-nfs on pve1 at 95% (threshold 80%)"]
    result.stdout.fnmatch_lines(["temporary guests: 1 created, 1 removed *"])


CORRUPT_DATABASE = """
import sqlite3

def test_1_watches_a_database(pve_watch_database, tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "state.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(2000)])
    pve_watch_database(path)

def test_2_the_database_breaks(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "state.db"
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"garbage!" * 512
    path.write_bytes(bytes(data))

def test_3_never_runs():
    pass
"""


def test_a_corrupt_state_database_aborts_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_db=CORRUPT_DATABASE)
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == ABORT_EXIT_CODE
    result.assert_outcomes(passed=2)
    (incident,) = incidents(pytester.path)
    assert incident["trigger"] == "database" and incident["test"] == "test_db.py::test_2_the_database_breaks"
    assert "state.db" in str(incident["problems"])


REPORTED = """
import pytest

@pytest.mark.pve_criterion("p1-schema")
def test_reads(pve_readonly):
    pve_readonly.cluster.resources.get()

@pytest.mark.phase3
@pytest.mark.pve_criterion("p3-error-handling")
def test_writes(temp_vm, pve_client):
    vm = temp_vm()
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()

@pytest.mark.phase2
def test_phase2_fails():
    assert False

@pytest.mark.phase4
def test_phase4_is_not_allowed():
    pass
"""


def test_the_report_figures_match_the_audit_trail_and_the_markdown_has_the_criteria(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reported=REPORTED)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-report", "reports/run")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    report = json.loads((pytester.path / "reports" / "run.json").read_text())
    (audit,) = (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
    records = AuditLog.read(audit)

    assert report["run_id"] == audit.stem and report["target"]["kind"] == "sim" and report["target"]["version"]
    assert report["phases_run"] == [1, 2, 3] and report["exit_status"] == 1
    assert report["tests"] == {"phase1": {"passed": 1, "failed": 0, "skipped": 0},
                               "phase2": {"passed": 0, "failed": 1, "skipped": 0},
                               "phase3": {"passed": 1, "failed": 0, "skipped": 0},
                               "phase4": {"passed": 0, "failed": 0, "skipped": 1}}
    requests = report["requests"]
    assert requests["total"] == len(records)
    assert requests["by_method_decision"] == dict(Counter(f"{r['method']} {r['decision']}" for r in records))
    assert requests["writes_in_phases_1_2"] == 0 and requests["refused"] == 0
    durations = [r["duration_ms"] for r in records if r["status"] is not None]
    assert report["latency"]["count"] == len(durations)
    assert report["latency"]["p50_ms"] == round(percentile(durations, 0.5), 3)
    assert report["latency"]["p95_ms"] == round(percentile(durations, 0.95), 3)
    assert report["latency"]["max_ms"] == round(max(durations), 3) and report["latency"]["budget_ms"] == 2000
    assert report["temporary_guests"] == {"created": 1, "removed": 1, "kept": 0, "leaked": 0, "swept": 0,
                                          "by_tools": {}}
    assert report["unintended_changes"] == [] and report["abort"] is None

    criteria = {c["id"]: c for c in report["criteria"]}
    assert len(criteria) == len(CRITERIA)
    assert criteria["p1-schema"]["status"] == "met" and criteria["p1-schema"]["evidence"] == "1 of 1 tests passed"
    assert criteria["p3-error-handling"]["status"] == "met"
    assert criteria["p3-cleanup"]["status"] == "met"
    assert criteria["p3-cleanup"]["evidence"] == "1 created, 1 removed, 0 kept, 0 leaked"
    assert criteria["p2-sync"]["status"] == "not evaluated"  # phase 2 ran, but no test is marked with it
    assert criteria["p4-workflows"] == {**criteria["p4-workflows"], "status": "not evaluated",
                                        "evidence": "no phase 4 test ran"}
    assert criteria["run-latency"]["status"] == "met"

    markdown = (pytester.path / "reports" / "run.md").read_text()
    assert "| criterion | phase | status | evidence |" in markdown
    for criterion in report["criteria"]:
        assert f"| {criterion['text']} | {criterion['phase'] or 'run'} | {criterion['status']} |" in markdown
    assert f"{len(records)} requests in {audit}" in markdown
    result.stdout.fnmatch_lines(["criteria: * met, 0 not met, * not evaluated", "API latency: p50 * ms*",
                                 "report: reports/run.json", "report: reports/run.md"])


def test_an_unknown_criterion_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.pve_criterion("p1-shcema")
def test_typo():
    pass
""")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "has unknown pve_criterion ids 'p1-shcema'" in result.stderr.str()


@pytest.mark.slow
def test_under_xdist_each_worker_gates_and_watches_and_the_controller_reports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_changes=CHANGED_BEHIND_OUR_BACK, test_suite=SUITE)
    result = pytester.runpytest("-n", "2", "--pve-max-phase", "3", "--pve-report", "r")
    result.assert_outcomes(passed=4)
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["gates"] and all(g["outcome"] == "passed" for g in report["gates"])
    # Each worker has a simulated cluster of its own; only the changed one reports changes.
    assert sorted(c["id"] for c in report["unintended_changes"]) == ["102", "105", "150"]
    assert result.ret == UNINTENDED_CHANGE_EXIT_CODE
