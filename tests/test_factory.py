"""Temporary guests: created in the range, marked, and removed on every way out of a test (sim target)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc import ExclusionList
from pytest_proxmox_mpc.errors import GuestCreateFailed, PreconditionMissing
from pytest_proxmox_mpc.guests.allocator import VmidAllocator
from pytest_proxmox_mpc.guests.factory import FactoryContext, GuestFactory
from pytest_proxmox_mpc.safety.ledger import Ledger, LedgerFile
from pytest_proxmox_mpc.sim.cluster import SimCluster

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
    tags = config["tags"].split(";")  # PVE keeps tags sorted
    assert "pytest-proxmox-mpc" in tags and {tag.split("-")[0] for tag in tags} == {"pytest", "run", "alive"}
    assert "test: test_paths.py::test_a_passing_test" in config["description"]
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()


@pytest.mark.phase3
def test_b_a_failing_test(temp_vm):
    temp_vm()
    raise AssertionError("this test fails on purpose")


@pytest.mark.phase3
def test_c_an_exception_inside_the_factory(temp_vm, pve_sim):
    pve_sim.fail("GET", "/status", 500, "injected: the task status cannot be read", times=1)
    with pytest.raises(GuestCreateFailed, match="injected"):
        temp_vm()
    assert temp_guests(pve_sim) == []  # the create's wait failed: the factory removed the guest at once


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



# --- a cluster that lacks what a container needs --------------------------------------------------------------

TEMPLATE = "debian-12-standard_12.7-1_amd64.tar.zst"
NO_TEMPLATE = ("no container template (content vztmpl) on any online node outside the exclusion list (pve1, pve2): "
               "upload one (pveam download <storage> <template>) or pass ostemplate=...")


def write_scenario(where: Path, template_on: str | None, rootdir: bool = True) -> Path:
    """Three nodes whose ``local`` storage holds no container template; with ``template_on``, a storage enabled on
    that node only holds one. Without ``rootdir`` no storage takes container disks."""
    storages: dict[str, dict[str, object]] = {
        "local": {"type": "dir", "path": "/var/lib/vz", "content": "iso,vztmpl,backup"},
        "local-lvm": {"type": "lvmthin", "vgname": "pve", "thinpool": "data",
                      "content": "images,rootdir" if rootdir else "images"},
    }
    files = []
    if template_on:
        storages["templates"] = {"type": "dir", "path": "/srv/templates", "content": "vztmpl", "nodes": template_on}
        files.append({"storage": "templates", "name": TEMPLATE, "size": 1024, "content": "vztmpl"})
    scenario = {"nodes": [{"name": name} for name in ("pve1", "pve2", "pve3")], "storages": storages,
                "files": files, "guests": []}
    path = where / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


@contextmanager
def container_factory(scenario: Path, exclusions: str = "protect: {}\n") -> Iterator[tuple[GuestFactory, Any]]:
    """A container factory on a fakepve of ``scenario`` (no guard: the cluster goes with the test), and a client."""
    (scenario.parent / "sim").mkdir()
    sim = SimCluster(scenario, scenario.parent / "sim")
    try:
        ep = sim.endpoint
        assert ep.password is not None
        api = ProxmoxAPI(ep.host, port=ep.port, user=ep.user, password=ep.password.reveal(), verify_ssl=ep.verify)
        context = FactoryContext(run_id="20260101-000000-abcdef", allocator=VmidAllocator((990000, 999999)),
                                 ledger=Ledger(), ledger_file=LedgerFile(scenario.parent / "ledger.jsonl", "t"),
                                 exclusions=ExclusionList.parse(exclusions))
        factory = GuestFactory(api, "lxc", context)
        try:
            yield factory, api
        finally:
            assert factory.cleanup() == []
    finally:
        sim.stop()


def test_a_container_goes_to_the_first_node_with_a_template(tmp_path: Path) -> None:
    with container_factory(write_scenario(tmp_path, template_on="pve3")) as (temp_ct, api):
        ct = temp_ct()
        assert ct.node == "pve3"
        config = api.nodes("pve3").lxc(ct.vmid).config.get()
        assert config["rootfs"].startswith("local-lvm:")
        with pytest.raises(PreconditionMissing) as given:  # a node given: that node or nothing
            temp_ct(node="pve1")
        assert str(given.value) == ("no container template (content vztmpl) on node pve1: upload one (pveam "
                                    "download <storage> <template>) or pass ostemplate=...")
        assert temp_ct.created == [ct]


def test_what_the_cluster_lacks_is_named_with_what_to_provide(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, template_on=None, rootdir=False)
    with container_factory(scenario, exclusions="protect:\n  nodes: [pve3]\n") as (temp_ct, api):
        with pytest.raises(PreconditionMissing) as missing:
            temp_ct()
        assert str(missing.value) == NO_TEMPLATE and isinstance(missing.value, GuestCreateFailed)
        with pytest.raises(PreconditionMissing) as no_disks:
            temp_ct(ostemplate=f"local:vztmpl/{TEMPLATE}")
        assert str(no_disks.value) == (
            "no storage for container disks (content rootdir) on any online node outside the exclusion list "
            "(pve1, pve2): allow content rootdir on a storage there or pass rootfs=<storage>:<size in GiB>")
        assert temp_ct.created == [] and api.cluster.resources.get(type="vm") == []
    allocator = VmidAllocator((990000, 990001), index=1, count=2)
    assert allocator.take() == 990001
    with pytest.raises(PreconditionMissing, match=r"range 990000-990001 is used up: give a wider one \(--pve-temp"):
        allocator.take()


SKIPS = """
import pytest


@pytest.mark.phase3
def test_a_container(temp_ct):
    temp_ct()
    raise AssertionError("not reached: there is no template to make a container of")


@pytest.mark.phase3
def test_a_vm(temp_vm):
    assert temp_vm().node == "pve1"  # a VM needs no template
"""


def test_a_test_whose_container_the_cluster_cannot_make_is_skipped(pytester: pytest.Pytester) -> None:
    scenario = write_scenario(pytester.path, template_on=None)
    pytester.makepyfile(test_skips=SKIPS)
    pytester.makefile(".yaml", excl="protect:\n  nodes: [pve3]\n")
    result = pytester.runpytest("--pve-target", "sim", "--pve-max-phase", "3", "--pve-sim-scenario", str(scenario),
                                "--pve-exclusions", "excl.yaml", "-p", "no:randomly", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED [[]1[]] test_skips.py:*: {NO_TEMPLATE}"])


ANONYMIZED = """
import pytest


@pytest.mark.phase3
def test_a_container(temp_ct, pve_client):
    ct = temp_ct()
    assert pve_client.nodes(ct.node).lxc(ct.vmid).config.get()["hostname"] == ct.name
"""


def test_a_replay_takes_the_recorded_node_without_looking_for_one(pytester: pytest.Pytester) -> None:
    """Pseudonyms sort in another order than the node names they stand for: looking for a node with a template
    again would ask a node the recording never asked (pve1 had one, so the others were not looked at)."""
    pytester.makepyfile(test_anon=ANONYMIZED)
    recorded = pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once", "--pve-anonymize")
    recorded.assert_outcomes(passed=1)
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly")
    replayed.assert_outcomes(passed=1)
