"""Leftovers on a shared cluster (a fakepve process as ``live``): timeouts, Ctrl-C, a killed xdist worker,
four workers creating at once, and the sweeper that removes only what is surely ours."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.cli import main as cli
from pytest_proxmox_mpc.guests.sweeper import plan_sweep
from pytest_proxmox_mpc.safety.audit import AuditLog
from pytest_proxmox_mpc.safety.exclusions import ExclusionList

from .livetarget import EXCLUSIONS, FakePveProcess, in_range, live

TIMEOUT = """
import time
import pytest

@pytest.mark.phase3
@pytest.mark.timeout(3, func_only=True)  # the test's own call: a loaded machine's slow setup is no timeout
def test_hangs(temp_vm):
    temp_vm()
    time.sleep(60)
"""


def ledger_events(root: Path) -> list[str]:
    (ledger,) = (root / ".pytest_proxmox_mpc" / "ledger").glob("*.jsonl")
    return [e["event"] for e in AuditLog.read(ledger)]


def target_args(target: str, pytester: pytest.Pytester, server: FakePveProcess, *extra: str) -> list[str]:
    if target == "live":
        return live(pytester, server, *extra)
    return ["--pve-max-phase", "3", "-p", "no:randomly", *extra]


@pytest.mark.parametrize("target", ["sim", "live"])
def test_a_pytest_timeout_still_removes_the_guest(pytester: pytest.Pytester, fakepve_process: FakePveProcess,
                                                  cluster: Any, target: str) -> None:
    pytester.makepyfile(test_timeout=TIMEOUT)
    result = pytester.runpytest(*target_args(target, pytester, fakepve_process))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Timeout (>3.0s)*", "temporary guests: 1 created, 1 removed *"])
    assert in_range(cluster) == []


INTERRUPT = """
import pytest

@pytest.mark.phase3
def test_interrupted(temp_vm, temp_vm_session):
    temp_vm()
    temp_vm_session()
    raise KeyboardInterrupt

def test_never_runs():
    pass
"""


@pytest.mark.parametrize("target", ["sim", "live"])
def test_ctrl_c_still_removes_the_guests(pytester: pytest.Pytester, fakepve_process: FakePveProcess,
                                        cluster: Any, target: str) -> None:
    pytester.makepyfile(test_interrupt=INTERRUPT)
    recorder = pytester.inline_run(*target_args(target, pytester, fakepve_process), no_reraise_ctrlc=True)
    assert recorder.ret == pytest.ExitCode.INTERRUPTED
    assert [r.outcome for r in recorder.getreports("pytest_runtest_logreport") if r.when == "call"] == []
    assert in_range(cluster) == []
    events = ledger_events(pytester.path)
    assert events.count("created") == 2 and events.count("destroyed") == 2 and events[-1] == "run-finished"


PASS_FAIL = """
import pytest

@pytest.mark.phase3
def test_passes(temp_vm, pve_client):
    vm = temp_vm()
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()

@pytest.mark.phase3
def test_fails(temp_vm):
    temp_vm()
    raise AssertionError("on purpose")

@pytest.mark.phase3
def test_raises_inside_the_factory(temp_vm):
    with pytest.raises(Exception, match="nosuchparam"):
        temp_vm(nosuchparam=1)  # the cluster refuses the create: nothing is made, nothing is left
"""


def test_passing_failing_and_refused_creates_leave_nothing_on_live(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any) -> None:
    pytester.makepyfile(test_pass_fail=PASS_FAIL)
    result = pytester.runpytest(*live(pytester, fakepve_process))
    result.assert_outcomes(passed=2, failed=1)
    assert in_range(cluster) == []
    assert ledger_events(pytester.path).count("destroyed") == 2


def test_pve_sweep_cleans_before_the_run(pytester: pytest.Pytester, fakepve_process: FakePveProcess,
                                         cluster: Any) -> None:
    cluster.nodes("pve1").qemu.post(vmid=996000, name="old", tags="pytest-proxmox-mpc;run-20200101-000000-abcdef")
    pytester.makepyfile(test_reads="def test_reads(pve_readonly):\n    assert pve_readonly.nodes.get()\n")
    result = pytester.runpytest(*live(pytester, fakepve_process, "--pve-sweep"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["swept qemu 996000 on pve1, left by run 20200101-000000-abcdef"])
    assert in_range(cluster) == []


KILLED = """
import os
import signal
import pytest

@pytest.mark.phase3
def test_worker_dies(temp_vm):
    temp_vm()
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_killed_worker_leaves_a_guest_that_the_sweeper_removes(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_killed=KILLED)
    result = pytester.runpytest(*live(pytester, fakepve_process, "-n", "2"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (left,) = in_range(cluster)
    tags = left["tags"].split(";")
    assert "pytest-proxmox-mpc" in tags and any(tag.startswith("run-") for tag in tags)
    # The controller counts the dead worker's guest as leaked and says exactly how to remove it.
    result.stdout.fnmatch_lines([f"leaked qemu {left['vmid']} on pve1 (test test_killed.py::test_worker_dies): "
                                 "its process (gw*) ended without removing it",
                                 "remove them later with: pytest-proxmox-mpc sweep --pve-host "
                                 f"{fakepve_process.address} --pve-user root@pam "
                                 f"--pve-ca-bundle={fakepve_process.cafile}"
                                 " --pve-exclusions=*excl.yaml (with PVE_PASSWORD set, as for the run)"])

    monkeypatch.chdir(pytester.path)
    args = ["sweep", "--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
            "--pve-exclusions", "excl.yaml"]
    assert cli([*args, "--dry-run"]) == 0
    assert f"would remove: qemu {left['vmid']}" in capsys.readouterr().out
    assert len(in_range(cluster)) == 1, "a dry run removes nothing"
    assert cli(args) == 0  # the run finished (its ledger says so), so its leftover goes now, whatever its age
    out = capsys.readouterr().out
    assert f"removed: qemu {left['vmid']}" in out and "1 removed, 0 left alone, 0 failed" in out
    assert in_range(cluster) == []
    audits = (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
    deletes = [r for path in audits for r in AuditLog.read(path) if r["method"] == "DELETE"]
    assert [(r["path"], r["rule"]) for r in deletes] == [(f"/nodes/pve1/qemu/{left['vmid']}", "sweeper:ledger-guest")]


PARALLEL = "".join(f"""
@pytest.mark.phase3
def test_worker_{i}(temp_vm):
    made = [temp_vm() for _ in range(20)]
    assert len({{g.vmid for g in made}}) == 20
""" for i in range(4))


@pytest.mark.slow
def test_four_workers_creating_twenty_guests_each_never_collide(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any) -> None:
    pytester.makepyfile(test_parallel="import pytest\n" + PARALLEL)
    result = pytester.runpytest(*live(pytester, fakepve_process, "-n", "4"))
    result.assert_outcomes(passed=4)
    (audit,) = (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
    creates = [r for r in AuditLog.read(audit) if r["method"] == "POST" and r["path"] == "/nodes/pve1/qemu"]
    assert len(creates) == 80 and all(r["status"] == 200 for r in creates), "a create hit a taken VMID"
    assert len({r["params"]["vmid"] for r in creates}) == 80
    assert in_range(cluster) == []


def test_the_sweeper_removes_only_tagged_unprotected_guests_of_ended_runs(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ours = "pytest-proxmox-mpc;run-20200101-000000-abcdef"
    guests = {995000: "", 995001: ours + ";production", 995002: ours,
              995003: "pytest-proxmox-mpc;run-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S") + "-aaaaaa"}
    for vmid, tags in guests.items():
        cluster.nodes("pve1").qemu.post(vmid=vmid, name=f"g{vmid}", **({"tags": tags} if tags else {}))
    cluster.nodes("pve1").qemu.post(vmid=4000, name="outside", tags="pytest-proxmox-mpc")
    pytester.makefile(".yaml", excl=EXCLUSIONS)
    monkeypatch.chdir(pytester.path)
    try:
        code = cli(["sweep", "--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
                    "--pve-exclusions", "excl.yaml"])
        out = capsys.readouterr().out
        assert code == 0
        assert sorted(int(row["vmid"]) for row in in_range(cluster)) == [995000, 995001, 995003]
        assert "removed: qemu 995002" in out
        assert "995000 'g995000' on pve1: left alone: in the temporary range but without the" in out
        assert "995001 'g995001' on pve1 of run 20200101-000000-abcdef: left alone: protected" in out
        assert "995003 'g995003' on pve1 of run " in out and "left alone: run not finished and only" in out
        assert "4000 'outside' on pve1: left alone: tagged but outside the temporary range" in out
    finally:
        cluster.nodes("pve1").qemu(4000).delete()


def test_plan_rules_without_a_cluster() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    rows = [
        {"type": "qemu", "vmid": 990001, "node": "n", "tags": "pytest-proxmox-mpc;run-20261124-110000-aaaaaa"},
        {"type": "qemu", "vmid": 990002, "node": "n", "tags": "pytest-proxmox-mpc;run-20261124-115900-bbbbbb"},
        {"type": "qemu", "vmid": 990003, "node": "n", "tags": "pytest-proxmox-mpc;run-20261124-115900-cccccc"},
        {"type": "lxc", "vmid": 990004, "node": "n", "tags": "pytest-proxmox-mpc;run-current"},
        {"type": "lxc", "vmid": 990005, "node": "n", "tags": "pytest-proxmox-mpc"},
        {"type": "qemu", "vmid": 990006, "node": "prod", "tags": "pytest-proxmox-mpc;run-20261124-110000-aaaaaa"},
        {"type": "storage", "storage": "local"},
        {"type": "qemu", "vmid": 101, "node": "n", "tags": ""},
    ]
    plan = plan_sweep(rows, exclusions=ExclusionList.parse("protect:\n  nodes: [prod]\n"),
                      temp_range=(990000, 999999), finished={"20261124-115900-cccccc"},
                      now=now, max_age=3600, current_run="current")
    assert [g.vmid for g in plan.remove] == [990001, 990003]  # older than an hour; finished per its ledger
    why = {g.vmid: g.verdict for g in plan.left_alone}
    assert sorted(why) == [990002, 990004, 990005, 990006]
    assert why[990002].startswith("left alone: run not finished and only 60s old")
    assert why[990004] == "left alone: belongs to the running session"
    assert why[990005] == "left alone: no single run tag"
    assert why[990006].startswith("left alone: protected by the exclusion list (node 'prod'")


def test_sweep_command_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(["sweep"]) == 2
    assert "sweep works on a live cluster" in capsys.readouterr().err
    monkeypatch.setenv("PVE_PASSWORD", "x")
    assert cli(["sweep", "--pve-host", "pve.example.test"]) == 2
    assert "needs a production exclusion list" in capsys.readouterr().err
