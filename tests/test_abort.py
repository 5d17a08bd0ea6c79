"""A refused request on a live target (or with --pve-abort-on-violation) ends the whole run at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_proxmox_mpc.safety.incident import ABORT_EXIT_CODE

from .livetarget import FakePveProcess

OFFENDER = """
import pytest

SEEN = []

@pytest.fixture(scope="session")
def session_resource():
    yield
    print("SESSION-TEARDOWN-RAN")

def test_a_reads(pve_client, session_resource):
    assert pve_client.nodes.get()

def test_b_writes_by_mistake(pve_client):
    pve_client.nodes("pve1").qemu(101).status.stop.post()

def test_c_never_runs(pve_client):
    raise AssertionError("the run went on after a refused request")
"""


def incidents(root: Path) -> list[Path]:
    return sorted((root / ".pytest_proxmox_mpc" / "incidents").glob("*.json"))


def test_abort_on_violation_ends_the_run_with_its_own_exit_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_offender=OFFENDER)
    result = pytester.runpytest("--pve-abort-on-violation", "-p", "no:randomly", "-s")
    assert result.ret == ABORT_EXIT_CODE
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SESSION-TEARDOWN-RAN*"])
    (incident,) = incidents(pytester.path)
    data = json.loads(incident.read_text())
    assert data["test"] == "test_offender.py::test_b_writes_by_mistake" and data["target"] == "sim"
    (refused,) = data["refused"]
    assert (refused["method"], refused["path"], refused["rule"]) == (
        "POST", "/nodes/pve1/qemu/101/status/stop", "phase1:no-writes")
    assert refused["time"] and refused["reason"]
    assert oct(incident.stat().st_mode & 0o777) == "0o600"
    assert f"incident file {incident}" in result.stdout.str() + result.stderr.str()
    assert (result.stdout.str() + result.stderr.str()).count("proxmox: run aborted (") == 1, "printed once"


def test_without_abort_a_refusal_only_fails_its_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_offender=OFFENDER)
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=2)
    assert incidents(pytester.path) == []


@pytest.mark.slow
def test_abort_under_xdist_stops_every_worker(pytester: pytest.Pytester) -> None:
    many = OFFENDER + "".join(f"\ndef test_d{i}(pve_readonly):\n    import time; time.sleep(0.2)\n"
                              for i in range(20))
    pytester.makepyfile(test_offender=many)
    result = pytester.runpytest("--pve-abort-on-violation", "-n", "2", "-p", "no:randomly")
    assert result.ret == ABORT_EXIT_CODE
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) < 21, "the other worker went on to the end"
    assert len(incidents(pytester.path)) == 1
    result.stdout.fnmatch_lines(["*run aborted: incident file*"])


def test_live_aborts_by_default(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    pytester.makepyfile(test_offender=OFFENDER)
    result = pytester.runpytest("--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
                                "-p", "no:randomly")
    assert result.ret == ABORT_EXIT_CODE
    result.assert_outcomes(passed=1, failed=1)
    assert json.loads(incidents(pytester.path)[0].read_text())["target"] == "live"
    assert fakepve_process.password not in result.stdout.str() + result.stderr.str()
    assert fakepve_process.password not in incidents(pytester.path)[0].read_text()

    pytester.makepyfile(test_offender=OFFENDER)
    again = pytester.runpytest("--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
                               "--no-pve-abort-on-violation", "-p", "no:randomly")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    again.assert_outcomes(passed=1, failed=2)
