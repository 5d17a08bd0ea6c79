"""Targets as a user runs them: sim in-process, a separate fakepve process as live, and bad connections."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from pytest_proxmox_mpc import TargetUnavailable
from pytest_proxmox_mpc.cluster.client import connect, read_version
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety.policy import LOGIN_PATH, ReadOnlyPolicy
from pytest_proxmox_mpc.sim.cluster import SimCluster
from pytest_proxmox_mpc.sim.process import sim_process

from .livetarget import FakePveProcess

VALIDATION = Path(__file__).resolve().parent.parent / "validation"
PHASE1 = [str(VALIDATION), "-m", "phase1", "-p", "no:cacheprovider"]


def live_args(server: FakePveProcess, *extra: str) -> list[str]:
    return [*PHASE1, "--pve-host", server.address, "--pve-ca-bundle", server.cafile, *extra]


PHASE1_TESTS = 7  # validation/test_phase1_discovery.py
TOOL_SKIPPED = 8  # validation/test_phase1_tool.py: no --mpc-console/--mpc-cli, nothing to drive


def test_phase1_validation_passes_on_sim(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*PHASE1)
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)


def test_phase1_validation_passes_on_a_separate_fakepve_as_live(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    result = pytester.runpytest(*live_args(fakepve_process))
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    result.stdout.fnmatch_lines([f"proxmox: target=live max_phase=1 host={fakepve_process.address} "
                                 f"user=root@pam auth=password verify_ssl=ca:{fakepve_process.cafile}*"])
    (audit,) = re.findall(r"^proxmox: run \S+, audit trail (\S+)$", result.stdout.str(), re.M)
    records = [json.loads(line) for line in Path(audit).read_text().splitlines()]
    assert len(records) > 20 and {r["decision"] for r in records} == {"allowed"}
    # fakepve's command line has no API tokens, so the run logs in with a password: that one POST aside,
    # the audit holds only GET requests.
    assert [(r["method"], r["path"]) for r in records if r["method"] != "GET"] == [("POST", LOGIN_PATH)]


def test_phase1_validation_on_a_separate_cluster_process_with_a_token_sends_get_requests_only(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, homelab_scenario: Path, tmp_path: Path) -> None:
    # With an API token there is no login: every request of the run, the watch's included, is a GET.
    with sim_process(homelab_scenario, tmp_path, token_name="phase1", token_value="phase1-token-secret") as server:
        monkeypatch.setenv("PVE_TOKEN_VALUE", "phase1-token-secret")
        result = pytester.runpytest(*live_args(server, "--pve-token-name", "phase1"))
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    (audit,) = re.findall(r"^proxmox: run \S+, audit trail (\S+)$", result.stdout.str(), re.M)
    records = [json.loads(line) for line in Path(audit).read_text().splitlines()]
    assert len(records) > 20
    assert {(r["method"], r["decision"]) for r in records} == {("GET", "allowed")}


def test_token_login_and_a_wrong_token(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                       homelab_scenario: Path, tmp_path: Path) -> None:
    """fakepve's command line has no tokens (its token API stores nothing), so tokens are tested on sim."""
    monkeypatch.setenv("PVE_TOKEN_NAME", "validation")
    monkeypatch.setenv("PVE_TOKEN_VALUE", "the-token-value")
    result = pytester.runpytest(*PHASE1)
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    result.stdout.fnmatch_lines(["proxmox: target=sim*"])

    sim = SimCluster(homelab_scenario, tmp_path, token_name="validation", token_value=Secret("the-token-value"))
    try:
        wrong = dataclasses.replace(sim.endpoint, token_value=Secret("not-the-token"))
        api = connect(wrong, ReadOnlyPolicy())
        with pytest.raises(TargetUnavailable) as caught:
            read_version(api, wrong)
        assert str(caught.value) == f"{wrong.base_url} refused API token root@pam!validation: authentication failure"
    finally:
        sim.stop()


def test_sim_with_an_api_token(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVE_TOKEN_NAME", "ci")
    pytester.runpytest(*PHASE1).assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)


def one_line_errors(result: pytest.RunResult, line: str) -> None:
    """Each test errors with exactly this line and no traceback."""
    result.assert_outcomes(errors=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    assert result.stdout.lines.count(line) == PHASE1_TESTS, result.stdout.str()  # the error section: the line alone
    output = result.stdout.str()
    assert "Traceback" not in output and "proxmoxer" not in output


def test_wrong_password_is_one_clear_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                          fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", "wrong-password")
    result = pytester.runpytest(*live_args(fakepve_process))
    one_line_errors(result, f"proxmox: login as root@pam refused by https://{fakepve_process.address}/api2/json "
                            "(wrong user or password?)")
    assert "wrong-password" not in result.stdout.str()


def test_unreachable_host_is_one_clear_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_proxmox_mpc.sim.process import free_port

    monkeypatch.setenv("PVE_PASSWORD", "x")
    port = free_port("127.0.0.9")
    result = pytester.runpytest(*PHASE1, "--pve-host", f"127.0.0.9:{port}", "--pve-timeout", "5")
    one_line_errors(result, f"proxmox: cannot reach https://127.0.0.9:{port}/api2/json: connection failed "
                            "(is the host and port right, is it up?)")


def test_unverifiable_certificate_is_one_clear_line(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                    fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    result = pytester.runpytest(*PHASE1, "--pve-host", fakepve_process.address)
    one_line_errors(result, f"proxmox: TLS verification of https://{fakepve_process.address}/api2/json failed; "
                            "give the cluster's CA with --pve-ca-bundle (or --no-pve-verify-ssl on a trusted network)")
    result = pytester.runpytest(*PHASE1, "--pve-host", fakepve_process.address, "--pve-no-verify-ssl")
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    assert "InsecureRequestWarning" not in result.stdout.str()


def test_a_live_phase_1_run_never_imports_the_simulator_the_database_layer_or_the_terraform_parser(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    """fakepve is AGPL and optional: a project testing its own cluster must not load it. Phase 1 reads no state
    database and no Terraform, so it does not pay for SQLAlchemy or python-hcl2 either (about a quarter of its CPU)."""
    pytester.makepyfile(check_modules="""
        import sys

        def pytest_sessionfinish(session):
            assert "fakepve" not in sys.modules, "the simulator was imported on a live run"
            print("SIMULATOR NOT IMPORTED")
            loaded = [name for name in ("sqlalchemy", "hcl2", "lark") if name in sys.modules]
            assert not loaded, f"a phase-1 run imported {loaded}"
            print("NO DATABASE LAYER OR TERRAFORM PARSER")
    """)
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    result = pytester.runpytest_subprocess(*live_args(fakepve_process), "-p", "no:fakepve", "-p", "check_modules", "-s")
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    result.stdout.fnmatch_lines(["*SIMULATOR NOT IMPORTED*", "*NO DATABASE LAYER OR TERRAFORM PARSER*"])


@pytest.mark.slow
def test_validation_runs_under_xdist_and_timeout(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*PHASE1, "-n", "2", "--timeout", "120")
    result.assert_outcomes(passed=PHASE1_TESTS, skipped=TOOL_SKIPPED)
    result.stdout.fnmatch_lines(["created: 2/2 workers"])


def test_the_sim_logs_a_dropped_connection_as_one_line_without_a_traceback(
        homelab_scenario: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A traceback formatted on the server's thread races pytest's own on CPython 3.11 (ast.parse is not
    # thread-safe there), which once turned an abort into an internal error.
    sim = SimCluster(homelab_scenario, tmp_path)
    try:
        sim.pve.flaky_network(drop_rate=1.0)
        connect(dataclasses.replace(sim.endpoint, timeout=5), ReadOnlyPolicy())
    except TargetUnavailable:
        pass
    finally:
        sim.stop()
    dropped = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert dropped, "the dropped login was logged"
    assert all(r.exc_info is None and "ConnectionResetError: fakepve: connection dropped" in r.getMessage()
               for r in dropped)
