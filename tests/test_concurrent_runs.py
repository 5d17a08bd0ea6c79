"""Two runs at once against one cluster (a fakepve process as ``live``), each with a tool creating guests through
its own safety proxy: both pass; a sweep from another checkout while they run deletes nothing; after both are
killed with SIGKILL, one sweep removes everything they left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.cli import main as cli

from .livetarget import FakePveProcess, in_range, live
from .test_toolguests import RUNS_TOOL, TOOL

# Each run asks its proxy for the next VMID, and only creates with it (through its tool) once the other run has
# asked too: both were free on the cluster when asked. Then one VM with temp_vm; it writes what it made and holds
# until the test lets it go (or kills it).
TOGETHER = RUNS_TOOL + '''
import time


def wait_for(predicate, what):
    deadline = time.monotonic() + 300
    while not predicate():
        assert time.monotonic() < deadline, f"waited five minutes for {what}"
        time.sleep(0.1)


@pytest.mark.phase3
def test_a_tool_and_a_factory_beside_another_run(pve_proxy, temp_vm):
    import requests

    me = os.environ["RUN_NAME"]
    nextid = requests.get(pve_proxy.base_url + "/cluster/nextid", verify=str(pve_proxy.cafile),
                          headers={"Authorization": pve_proxy.authorization()}).json()["data"]
    Path(f"asked-{me}").touch()
    wait_for(lambda: len(list(Path(".").glob("asked-*"))) == 2, "the other run's nextid")
    made = tool(pve_proxy, str(nextid))
    assert made["status"] == 200, made
    guest = temp_vm()
    Path(f"made-{me}.partial").write_text(json.dumps([made["vmid"], guest.vmid]))
    Path(f"made-{me}.partial").replace(f"made-{me}")
    wait_for(lambda: Path("go").exists(), "the test's go")
'''


def start_two(pytester: pytest.Pytester, server: FakePveProcess) -> list[subprocess.Popen[bytes]]:
    pytester.makefile(".py", tool=TOOL)
    pytester.makepyfile(test_together=TOGETHER)
    args = live(pytester, server, "-p", "no:cacheprovider")
    logs = [pytester.path / f"run-{name}.log" for name in "ab"]
    return [subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=pytester.path, stdout=log.open("wb"),
                             stderr=subprocess.STDOUT, env={**os.environ, "RUN_NAME": name})
            for name, log in zip("ab", logs, strict=True)]


def made_by_both(pytester: pytest.Pytester, runs: list[subprocess.Popen[bytes]]) -> list[int]:
    deadline = time.monotonic() + 300
    marks = [pytester.path / f"made-{name}" for name in "ab"]
    while not all(mark.exists() for mark in marks):
        if any(run.poll() is not None for run in runs) or time.monotonic() > deadline:
            for run in runs:
                run.kill()
            logs = "\n".join((pytester.path / f"run-{name}.log").read_text()[-3000:] for name in "ab")
            pytest.fail(f"a run ended before making its guests:\n{logs}")
        time.sleep(0.2)
    return [vmid for mark in marks for vmid in json.loads(mark.read_text())]


def sweep_from(folder: Path, server: FakePveProcess, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    monkeypatch.chdir(folder)
    (folder / "excl.yaml").write_text("protect:\n  tags: [production]\n  vmids: [100]\n")
    return cli(["sweep", "--pve-host", server.address, f"--pve-ca-bundle={server.cafile}",
                "--pve-exclusions", "excl.yaml", *extra])


def vmids(api: Any) -> set[int]:
    return {int(row["vmid"]) for row in in_range(api)}


@pytest.mark.slow
def test_two_runs_at_once_both_pass_and_a_sweep_from_elsewhere_takes_nothing(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    runs = start_two(pytester, fakepve_process)
    made = made_by_both(pytester, runs)
    assert len(set(made)) == 4, f"the two runs were handed the same VMID: {made}"
    assert vmids(cluster) == set(made)
    elsewhere = tmp_path / "second-checkout"
    elsewhere.mkdir()
    assert sweep_from(elsewhere, fakepve_process, monkeypatch) == 0
    assert vmids(cluster) == set(made)  # the other checkout has no ledger: it judged by the runs' liveness
    assert "removed:" not in capsys.readouterr().out
    (pytester.path / "go").touch()
    for name, run in zip("ab", runs, strict=True):
        assert run.wait(timeout=300) == 0, (pytester.path / f"run-{name}.log").read_text()[-3000:]
        log = (pytester.path / f"run-{name}.log").read_text()
        assert "1 passed" in log  # not skipped by a gate that took the other run's guests for strangers
        assert "criterion not met" not in log, log[-3000:]  # nor the other run's requests counted against it
    assert vmids(cluster) == set()


@pytest.mark.slow
def test_after_two_runs_are_killed_one_sweep_removes_everything_they_left(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    runs = start_two(pytester, fakepve_process)
    made = made_by_both(pytester, runs)
    assert sweep_from(pytester.path, fakepve_process, monkeypatch, "--dry-run") == 0
    assert "0 would remove, 4 left alone" in capsys.readouterr().out  # both are running: none is a leftover
    for run in runs:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    stranger = 995555  # in the range, untagged, and named by no ledger: not the plugin's to remove
    cluster.nodes("pve1").qemu.post(vmid=stranger, name="someone-elses")
    assert sweep_from(pytester.path, fakepve_process, monkeypatch) == 0
    out = capsys.readouterr().out
    assert all(f"removed: qemu {vmid}" in out for vmid in made), out
    assert vmids(cluster) == {stranger}


THREAD_TIMEOUT = '''
import time
from pathlib import Path

import pytest


@pytest.mark.phase3
@pytest.mark.timeout(5, func_only=True)
def test_hangs(temp_vm):
    Path("made").write_text(str(temp_vm().vmid))
    time.sleep(120)
'''


@pytest.mark.slow
def test_a_thread_timeout_is_announced_and_what_it_leaves_the_next_sweep_removes(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytester.makepyfile(test_hangs=THREAD_TIMEOUT)
    result = pytester.runpytest_subprocess(*live(pytester, fakepve_process), "--timeout-method=thread")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["proxmox: WARNING: pytest-timeout's thread method ends the whole process*"])
    vmid = int((pytester.path / "made").read_text())
    assert vmids(cluster) == {vmid}  # os._exit: no teardown ran
    assert sweep_from(pytester.path, fakepve_process, monkeypatch) == 0
    assert f"removed: qemu {vmid}" in capsys.readouterr().out
    assert vmids(cluster) == set()
