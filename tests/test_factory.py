"""Temporary guests: created in the range, marked, and removed on every way out of a test (sim target)."""

from __future__ import annotations

import pytest

HEADER = """
import threading
import time

import pytest

from pytest_proxmox_mpc.errors import GuestCreateFailed


def temp_guests(sim):
    return sorted(g.vmid for g in [*sim.vms, *sim.cts] if 990000 <= g.vmid <= 999999)
"""

PATHS = HEADER + """
@pytest.mark.phase3
def test_a_passing_test(temp_vm, temp_ct, pve_sim, pve_client):
    vm, ct = temp_vm(memory=256), temp_ct()
    assert (vm.type, ct.type) == ("qemu", "lxc") and vm.vmid != ct.vmid
    assert temp_guests(pve_sim) == sorted([vm.vmid, ct.vmid])
    config = pve_client.nodes(vm.node).qemu(vm.vmid).config.get()
    assert config["name"] == vm.name and vm.name.startswith("pytest-")
    assert config["tags"].split(";")[0] == "pytest-proxmox-mpc" and config["tags"].split(";")[1].startswith("run-")
    assert "test: test_paths.py::test_a_passing_test" in config["description"]
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()


@pytest.mark.phase3
def test_b_a_failing_test(temp_vm):
    temp_vm()
    raise AssertionError("this test fails on purpose")


@pytest.mark.phase3
def test_c_an_exception_inside_the_factory(temp_vm, pve_sim):
    pve_sim.fail("GET", "/status", 500, "injected: the task status cannot be read", times=1)
    with pytest.raises(Exception, match="injected"):
        temp_vm()
    assert len(temp_guests(pve_sim)) == 1  # the guest exists: the teardown must remove it


@pytest.mark.phase3
def test_d_a_create_task_that_ends_in_task_error(temp_vm, pve_sim):
    pve_sim.fail("POST", "/nodes/pve1/qemu", error="unable_parse_drive_interface", times=1)
    with pytest.raises(GuestCreateFailed, match="TASK ERROR|unable to parse"):
        temp_vm()
    assert temp_guests(pve_sim) == []


@pytest.mark.phase3
def test_e_lock_errors_and_a_guest_that_ignores_shutdown(temp_vm, pve_sim, pve_client):
    vm = temp_vm()
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()
    pve_sim.vm(vm.vmid).acpi = False  # the guest OS ignores the shutdown request
    pve_sim.fail("DELETE", f"/nodes/{vm.node}/qemu/{vm.vmid}", error="locked", times=2)


@pytest.mark.phase3
def test_f_the_exclusion_list_outranks_teardown(temp_vm, pve_sim):
    vm = temp_vm()
    pve_sim.vm(vm.vmid).config["tags"] += ";production"  # someone marks it as production during the run


def test_zz_only_the_protected_guest_is_left(pve_sim):
    left = temp_guests(pve_sim)
    assert len(left) == 1 and "production" in pve_sim.vm(left[0]).config["tags"]
"""


def test_every_way_out_of_a_test_removes_its_guests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_paths=PATHS)
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-exclusions", "excl.yaml", "-p", "no:randomly")
    result.assert_outcomes(passed=6, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_f_the_exclusion_list_outranks_teardown*",
        "*temporary guests could not be removed (left for the sweeper): qemu 99000* on pve1: *exclusion:guest*",
        "temporary guests: 7 created, 6 removed *",
        "leaked qemu 99000* on pve1 (test test_paths.py::test_f_the_exclusion_list_outranks_teardown): *",
    ])


KEEP = HEADER + """
@pytest.mark.phase3
def test_fails_and_keeps(temp_vm):
    temp_vm()
    raise AssertionError("inspect me")


@pytest.mark.phase3
def test_passes_and_cleans(temp_vm):
    temp_vm()


def test_zz_the_failed_tests_guest_is_kept(pve_sim):
    assert len(temp_guests(pve_sim)) == 1
"""


def test_keep_on_failure_keeps_only_the_failed_tests_guests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_keep=KEEP)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-keep-on-failure", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "temporary guests: 2 created, 1 removed *",
        "kept qemu 990000 on pve1 (test test_keep.py::test_fails_and_keeps)",
        "nothing is left on a cluster: the simulated one went with the run",
    ])


SCOPES = HEADER + """
SEEN = []

@pytest.mark.phase3
def test_one(temp_vm_module, temp_ct_session, pve_sim):
    SEEN.append(temp_vm_module())
    SEEN.append(temp_ct_session())


@pytest.mark.phase3
def test_two(temp_vm_module, pve_sim):
    assert temp_guests(pve_sim) == sorted(g.vmid for g in SEEN)


def test_phase1_may_not_create(temp_vm):
    pass
"""


def test_module_and_session_factories_live_as_long_as_their_scope(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scopes=SCOPES)
    pytester.makeconftest("import pytest\n")
    result = pytester.runpytest("--pve-max-phase", "3", "-p", "no:randomly")
    result.assert_outcomes(passed=3)  # the unmarked test using temp_vm is phase 3, not phase 1
    result.stdout.fnmatch_lines(["temporary guests: 2 created, 2 removed *"])


def test_factories_skip_when_writes_are_not_enabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scopes=SCOPES)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(skipped=3)
    result = pytester.runpytest("-p", "no:randomly", "-rs")
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED [1] test_scopes.py")]
    assert len(skips) == 3 and all("phase 3 test" in line and "enable with --pve-max-phase 3" in line for line in skips)


POOL = HEADER + """
@pytest.mark.phase3
def test_in_the_pool(temp_vm, pve_sim):
    vm = temp_vm()
    assert pve_sim.vm(vm.vmid).pool == "lab"
"""


def test_temporary_guests_join_the_chosen_pool(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_pool=POOL)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-temp-pool", "lab")
    result.assert_outcomes(passed=1)
