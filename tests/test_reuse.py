"""Another project reusing the plugin: only the names ``pytest_proxmox_mpc`` exports, and the plugin's hooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import pytest_proxmox_mpc

REPO = Path(__file__).resolve().parent.parent

PUBLIC_ONLY = '''
import pytest
import requests

from pytest_proxmox_mpc import (
    ExclusionList, PhaseViolation, ReadOnlyViolation, check_workspace, connect, export_iac, sync_database,
)


def test_a_project_reads_polices_validates_and_proxies(pve_endpoint, tmp_path):
    with connect(pve_endpoint, phase=1, state_dir=tmp_path) as readonly:
        inventory = readonly.inventory()
        assert len(inventory.nodes) == 3 and len(inventory.guests) == 12
        with pytest.raises(ReadOnlyViolation):
            readonly.api.nodes("pve1").qemu(101).status.stop.post()
        with readonly.proxy() as proxy:
            headers = {"Authorization": proxy.access.authorization()}
            answer = requests.get(proxy.access.base_url + "/version", headers=headers, verify=str(proxy.access.cafile))
            assert answer.status_code == 200 and answer.json()["data"]["version"]
            refused = requests.post(proxy.access.base_url + "/nodes/pve1/qemu/101/status/stop", headers=headers,
                                    verify=str(proxy.access.cafile))
            assert refused.status_code == 403

    exclusions = ExclusionList.parse("protect:\\n  names: [db-*]")
    with connect(pve_endpoint, phase=3, exclusions=exclusions, temp_range=(990100, 990199),
                 state_dir=tmp_path) as cluster:
        with pytest.raises(PhaseViolation):  # a production guest: this session did not create it
            cluster.api.nodes("pve1").qemu(101).status.stop.post()
        guest = cluster.temp_guest("qemu")
        assert 990100 <= guest.vmid <= 990199
    with connect(pve_endpoint, state_dir=tmp_path) as again:  # closing the session removed its guest
        assert guest.vmid not in again.inventory().guests

    workspace = tmp_path / "ws"
    sync_database(inventory, workspace / ".proxmox" / "state.db")
    export_iac(inventory, workspace)
    assert check_workspace(workspace, inventory) == []
'''


def test_a_project_uses_only_the_public_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reuse=PUBLIC_ONLY)
    result = pytester.runpytest("--pve-max-phase", "3", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_every_public_name_is_exported_and_documented() -> None:
    for name in pytest_proxmox_mpc.__all__:
        value = getattr(pytest_proxmox_mpc, name)
        if callable(value) and not name.startswith("__"):
            assert (value.__doc__ or "").strip(), f"pytest_proxmox_mpc.{name} has no docstring"


SECRET_HOOK = '''
def pytest_proxmox_mpc_secret_names(config):
    return ["Comment"]
'''

SECRET_TEST = '''
import pytest

@pytest.mark.phase3
def test_a_guest_with_a_comment(temp_vm, pve_client):
    vm = temp_vm()
    pve_client.nodes(vm.node).qemu(vm.vmid).config.put(description="hunter2-in-a-comment")
'''


def test_a_project_adds_a_secret_name_that_is_then_masked_everywhere(pytester: pytest.Pytester) -> None:
    """``comment`` is no secret to the plugin; a project whose guests' comments hold credentials says so."""
    pytester.makeconftest(SECRET_HOOK.replace('"Comment"', '"description"'))
    pytester.makepyfile(test_secret=SECRET_TEST)
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once").assert_outcomes(passed=1)
    kept = [path for folder in ("cassettes", ".pytest_proxmox_mpc") for path in (pytester.path / folder).rglob("*")
            if path.is_file()]
    assert any("/config" in path.read_text() for path in kept if path.suffix in (".yaml", ".jsonl"))
    assert not [path for path in kept if b"hunter2" in path.read_bytes()]

    pytester.makeconftest("")  # without the hook the same value is kept: the hook is what masked it
    shutil.rmtree(pytester.path / "cassettes")
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once").assert_outcomes(passed=1)
    assert "hunter2" in (pytester.path / "cassettes" / "test_secret" / "test_a_guest_with_a_comment.yaml").read_text()


CHECK_HOOK = '''
from pytest_proxmox_mpc.validators import Finding, WorkspaceCheck


def every_guest_is_documented(path, inventory, context):
    readme = path / "GUESTS.md"
    text = readme.read_text() if readme.exists() else ""
    return [Finding("guests-documented", f"guest {vmid}", "GUESTS.md", "a line", "none")
            for vmid in sorted(inventory.guests) if str(vmid) not in text]


def pytest_proxmox_mpc_workspace_checks(config, checks):
    checks.append(WorkspaceCheck("guests-documented", "iac", ("p2-iac-valid",), every_guest_is_documented))
    checks[:] = [check for check in checks if check.name != "ansible-lint-offline"]
'''


def test_a_project_extends_the_validation_suite_through_a_hook(pytester: pytest.Pytester) -> None:
    shutil.copytree(REPO / "validation", pytester.path / "validation", ignore=shutil.ignore_patterns("__pycache__"))
    pytester.makeconftest(CHECK_HOOK)
    result = pytester.runpytest("validation/test_phase2_iac.py", "--pve-max-phase", "2", "-v")
    result.stdout.fnmatch_lines(["*test_generated_iac?guests-documented? FAILED*",
                                 "*guest 101: GUESTS.md*"])
    assert "ansible-lint-offline" not in result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["passed"] >= 5


def test_two_checks_of_one_name_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
def pytest_proxmox_mpc_workspace_checks(config, checks):
    checks.append(checks[0])
''')
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*check names must be unique: database-schema*"])


POLICY_HOOK = '''
from pytest_proxmox_mpc import ExclusionList


def pytest_proxmox_mpc_adjust_policy(config, policy):
    policy.temp_range = (995000, 995009)
    policy.exclusions = policy.exclusions.merged(ExclusionList.parse("protect:\\n  names: [web-*]", "conftest.py"))
'''

POLICY_TEST = '''
import pytest
from pytest_proxmox_mpc import ExclusionViolation


@pytest.mark.phase3
@pytest.mark.pve_expect_refusal
def test_the_adjusted_range_and_exclusions_hold(temp_vm, pve_client, pve_exclusions):
    assert 995000 <= temp_vm().vmid <= 995009
    assert pve_exclusions.protects(name="web-1")
    with pytest.raises(ExclusionViolation):
        pve_client.nodes("pve1").qemu(101).config.put(description="x")
'''


def test_a_project_adjusts_the_temporary_range_and_exclusions_through_a_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(POLICY_HOOK)
    pytester.makepyfile(test_policy=POLICY_TEST)
    result = pytester.runpytest("--pve-max-phase", "3", "--no-pve-abort-on-violation")
    result.stdout.fnmatch_lines(["*temp_vmids=995000-995009 (from hook pytest_proxmox_mpc_adjust_policy)*",
                                 "proxmox: exclusions: *(from hook pytest_proxmox_mpc_adjust_policy)"])
    result.assert_outcomes(passed=1)


def test_a_range_a_hook_cannot_use_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
def pytest_proxmox_mpc_adjust_policy(config, policy):
    policy.temp_range = (50, 60)
''')
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--pve-max-phase", "3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*setting pve_temp_vmid_range (from hook pytest_proxmox_mpc_adjust_policy): "
                                 "(50, 60) should have 100 <= FIRST <= LAST*"])
