"""The validation suite against the REAL Proxmox-MPC (commit 4bde477, set up by ``../shared/real-proxmox-mpc/setup.sh``;
``MPC_REAL_TOOL_DIR`` names the set-up copy): every tool test of phases 1-4 and of the profile's faulted steps
(``test_faults_tool.py``) on the simulated cluster, recorded, then the same replayed offline, each giving the same
verdict: the tool checks that fail, each for the behaviour of the tool a person can confirm in its transcript or
workspace, and every other tool check passing (phase 4's workflows run policed, and are skipped with the reason
where this machine has no Ansible or no registry for Terraform's providers).

Skipped with the reason where no set-up copy is given; `.ci/run` sets one up and runs this module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOL_MODULES = [*(str(REPO / "validation" / f"test_phase{n}_tool.py") for n in (1, 2, 3, 4)),
                str(REPO / "validation" / "test_faults_tool.py")]
SYNC_FAULTED = "test_faults_tool.py::test_a_sync_under_a_fault_fails_clearly_and_leaves_state_db_as_before_or_complete"
CREATE_FAULTED = ("test_faults_tool.py::"
                  "test_a_write_under_a_fault_fails_clearly_leaves_no_guest_and_succeeds_once_cleared")
REAL_TOOL_ENV = "MPC_REAL_TOOL_DIR"

# Each failing tool check of Proxmox-MPC 4bde477 and the lines of its message that name the tool's behaviour.
FAILS = {
    "test_phase1_tool.py::test_init_points_the_tool_at_the_proxy_and_the_secret_shows_nowhere": [
        "the token secret typed at the secret prompt is echoed or kept: it appears in the transcript of 'init' "
        "(in clear", "'Unknown command: ***'"],
    "test_phase1_tool.py::test_the_console_keeps_its_workspace_after_init": [
        "the same console session answers '/status' with failure (printed '❌ No workspace detected'): the console "
        "lost the workspace it had just made"],
    "test_phase1_tool.py::test_sync_dry_run_leaves_the_workspace_exactly_as_it_was": [
        "'/sync --dry-run' wrote to the workspace", "terraform/vms/web_01.tf: written (it was not there)"],
    "test_phase2_tool.py::test_sync_writes_every_node_guest_and_storage_it_reports_to_state_db": [
        "'/sync' reports success, but state.db holds 0 of 19 rows (nodes, guests, storages): success printed over "
        "failed database writes"],
    "test_phase2_tool.py::test_the_workspace_sync_writes_passes_every_workspace_check": [
        "problems with the workspace '/sync' wrote", "state.db: nodes pve1: row: missing"],
    "test_phase2_tool.py::test_the_token_secret_shows_nowhere_after_sync": [
        "the token secret appears in", "terraform/main.tf"],
    "test_phase2_tool.py::test_a_second_sync_changes_nothing": [
        "a second '/sync' of an unchanged cluster changed the workspace", "# Last updated: "],
    "test_phase2_tool.py::test_create_vm_declares_a_new_guest_with_a_free_vmid_and_changes_nothing_else": [
        "a placeholder vmid, not a free one: vmid 9999 is neither the cluster's next free VMID"],
    "test_phase3_tool.py::test_the_tools_sync_records_a_guest_that_appeared_and_one_that_went": [
        "'/sync' reports success, but state.db has no row of guest 99"],
    "test_phase4_tool.py::test_the_tools_workflows[plan]": [
        "'/plan' (plan): failure: printed '❌ Terraform init failed",
        "terraform init of the workspace's Terraform fails: Error: Function calls not allowed"],
    "test_phase3_tool.py::test_a_create_of_a_memory_of_0_gives_a_clear_error_and_leaves_nothing": [
        "fails without a clear error naming what is wrong (memory)", "Parameter verification failed."],
    # Under a fault: its sync catches a node's failed container list and prints success; its `vm create --wait`
    # polls the guest, not the task, so a failed create task is no error until its 5-minute wait runs out.
    f"{SYNC_FAULTED}[sync-guest-lists-time-out]": [
        "success-over-failure: '/sync' under", "timeout-596", "printed '✅ Infrastructure synchronization complete!', "
        "but state.db holds 0 of 19 rows"],
    f"{CREATE_FAULTED}[create-vm-task-fails]": [
        "clear-error: 'vm create --vmid", "task-error", "failed without a failure line of its own"],
}
PASSES = {
    "test_phase1_tool.py::test_status_reports_a_connection_to_the_cluster",
    "test_phase1_tool.py::test_the_cli_reads_the_cluster_and_reports_what_it_found[test-connection]",
    "test_phase1_tool.py::test_the_cli_reads_the_cluster_and_reports_what_it_found[list-nodes]",
    "test_phase1_tool.py::test_the_cli_reads_the_cluster_and_reports_what_it_found[discover]",
    "test_phase2_tool.py::test_a_write_the_policy_refuses_surfaces_as_a_clear_tool_error",
    "test_phase3_tool.py::test_the_tools_own_create_start_stop_and_delete[vm]",
    "test_phase3_tool.py::test_the_tools_own_create_start_stop_and_delete[container]",
    "test_phase3_tool.py::test_a_create_on_a_vmid_that_exists_gives_a_clear_error_and_changes_nothing",
    "test_phase3_tool.py::test_a_write_to_a_protected_guest_is_refused_and_reported_as_the_tools_attempt",
    f"{CREATE_FAULTED}[create-vm-locked]",
    f"{CREATE_FAULTED}[create-vm-task-status-fails]",
}
# Phase 4's workflows run (policed), and end where this machine cannot go on: no Ansible installed, or no registry
# to download Terraform providers from. Either reason is a skip, never a pass.
NOT_HERE = ("which is not installed here", "terraform init could not download the Terraform providers")
SKIPS: dict[str, str | tuple[str, ...]] = {f"test_phase4_tool.py::test_the_tools_workflows[{step}]": NOT_HERE
                                           for step in ("validate", "test", "apply", "destroy")}
SKIPS |= {f"test_phase{n}_tool.py::test_the_profiles_other_phase{n}_steps": "has no phase" for n in (1, 2, 3, 4)}
SKIPS[f"{SYNC_FAULTED}[sync-config-lock-timeouts]"] = "never fired"  # its /sync reads no guest config


def real_tool() -> Path:
    value = os.environ.get(REAL_TOOL_ENV)
    if not value:
        pytest.skip(f"no set-up copy of the real Proxmox-MPC: set {REAL_TOOL_ENV} to the folder "
                    "../shared/real-proxmox-mpc/setup.sh made (DEST)")
    folder = Path(value)
    if not (folder / "bin" / "proxmox-mpc").is_file() or not (folder / "node_modules" / ".bin" / "tsx").exists():
        pytest.fail(f"{REAL_TOOL_ENV}={value} is not a set-up copy of Proxmox-MPC (no bin/proxmox-mpc or no "
                    "node_modules/.bin/tsx): run ../shared/real-proxmox-mpc/setup.sh with DEST set to it")
    return folder


def verdicts(result: pytest.RunResult) -> dict[str, tuple[str, str]]:
    """Test id (module file::name) -> (outcome, message) of each tool test of an inner run."""
    out: dict[str, tuple[str, str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        if report.when == "call" or (report.when == "setup" and not report.passed):
            test = report.nodeid.split("/")[-1]
            message = report.longreprtext if report.failed else (
                str(report.longrepr[2]) if report.skipped and isinstance(report.longrepr, tuple) else "")
            out[test] = (report.outcome, message)
    return out


def judged(result: pytest.RunResult, what: str) -> None:
    found = verdicts(result)
    assert set(found) == set(FAILS) | PASSES | set(SKIPS), (
        f"{what}: tool tests not as expected: missing {sorted(set(FAILS) | PASSES | set(SKIPS) - set(found))}, "
        f"unexpected {sorted(set(found) - set(FAILS) - PASSES - set(SKIPS))}")
    wrong = []
    for test, lines in FAILS.items():
        outcome, message = found[test]
        missing = [line for line in lines if line not in message]
        if outcome != "failed" or missing:
            wrong.append(f"{test}: {outcome}, missing {missing}:\n{message[-3000:]}")
    wrong += [f"{test}: {found[test][0]}:\n{found[test][1][-3000:]}" for test in sorted(PASSES)
              if found[test][0] != "passed"]
    wrong += [f"{test}: {found[test][0]} ({found[test][1]}), not skipped with {reason!r}"
              for test, reason in SKIPS.items() if found[test][0] != "skipped" or not any(
                  one in found[test][1] for one in ((reason,) if isinstance(reason, str) else reason))]
    assert not wrong, f"{what}:\n" + "\n\n".join(wrong)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_real_proxmox_mpc_gets_the_same_verdicts_on_sim_and_replayed_offline(
        pytester: pytest.Pytester) -> None:
    folder = real_tool()
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    common = [*TOOL_MODULES, "-p", "no:cacheprovider", "--mpc-profile", "proxmox-mpc",
              "--mpc-console", str(folder / "bin" / "proxmox-mpc"),  # the CLI: the profile's, beside the console
              "--pve-max-phase", "4", "--pve-exclusions=excl.yaml", f"--pve-cassette-dir={pytester.path / 'cas'}"]
    recorded = pytester.runpytest(*common, "--pve-target", "sim", "--pve-record-mode", "once")
    judged(recorded, "on sim, recorded")
    recorded.stdout.fnmatch_lines(["*tool guests through the safety proxy: * created, * 0 left*"])
    replayed = pytester.runpytest(*common, "--pve-target", "replay")
    judged(replayed, "replayed offline")
