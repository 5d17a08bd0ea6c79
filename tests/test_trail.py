"""The audit trail as a user reads it: one line per request, refused ones too, no secret, one run id."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc.safety.audit import AuditLog

from .livetarget import FakePveProcess

FIELDS = ["time", "run_id", "worker", "test", "phase", "method", "path", "params", "decision", "rule", "status",
          "duration_ms", "upid", "source"]

# Marked phase 1: a session of tests marked with a phase validates, and its summary counts the requests.
COMPLETE = """
import pytest

pytestmark = pytest.mark.phase1

def test_reads(pve_readonly, pve_client):
    pve_readonly.nodes.get()
    pve_client.cluster.resources.get(type="vm")
    pve_client.nodes("pve1").qemu.get(full=1)

@pytest.mark.pve_expect_refusal
def test_refused(pve_client):
    with pytest.raises(Exception):
        pve_client.nodes("pve1").qemu(101).config.put(memory=64, password="never-logged")

def test_zz_the_audit_matches_what_the_cluster_saw(pve_audit, pve_sim, pve_readonly):
    records = pve_audit.records()
    sent = [(r["method"], "/api2/json" + r["path"]) for r in records if r["decision"] == "allowed"]
    # The watch reads guest configs concurrently: the same requests, not necessarily in the same order.
    assert sorted(sent) == sorted((m, p) for m, p, _ in pve_sim.requests)
    assert {r["source"] for r in records} == {None, "watch"}
    assert all(r["method"] == "GET" for r in records if r["source"] == "watch")
    refused = [r for r in records if r["decision"] == "refused"]
    assert [(r["method"], r["path"], r["rule"], r["status"]) for r in refused] == [
        ("PUT", "/nodes/pve1/qemu/101/config", "phase1:no-writes", None)]
    assert refused[0]["params"] == {"memory": "64", "password": "***"}
    assert all(list(r) == FIELDS for r in records)
    assert all(r["status"] == 200 and r["duration_ms"] > 0 for r in records if r["decision"] == "allowed")
    assert [r["params"] for r in records if r["path"] == "/access/ticket"] == [
        {"username": "root@pam", "password": "***"}]
    text = pve_audit.path.read_text()
    ticket, csrf = pve_readonly.get_tokens()
    for secret in (pve_sim.password, ticket, csrf, "never-logged"):
        assert secret not in text
"""


def test_every_request_is_one_line_and_none_holds_a_secret(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_complete=COMPLETE.replace("FIELDS", repr(FIELDS)))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "*= proxmox audit =*",
        "* requests in */.pytest_proxmox_mpc/audit/*.jsonl, and * by the watch (snapshots, gates, checks)",
        "GET allowed: *",
        "POST allowed: 1",
        "PUT refused: 1",
        "refused PUT /nodes/pve1/qemu/101/config by test_complete.py::test_refused (phase 1): rule phase1:no-writes",
    ])


def secrets_in(root: Path, *secrets: str) -> list[str]:
    """Every file below ``root`` holding one of ``secrets``, as 'path: secret'."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in secrets if s.encode() in data]
    return found


READS = """
import pytest

pytestmark = pytest.mark.phase1

def test_reads(pve_client, pve_readonly):
    assert pve_client.nodes.get() and pve_readonly.version.get()
"""


def test_password_and_token_logins_leave_no_secret_in_any_file(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    pytester.makepyfile(test_reads=READS)
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    live = pytester.runpytest("--pve-host", fakepve_process.address,
                              f"--pve-ca-bundle={fakepve_process.cafile}", "--junitxml=live.xml")
    live.assert_outcomes(passed=1)
    monkeypatch.delenv("PVE_PASSWORD")
    monkeypatch.setenv("PVE_TOKEN_NAME", "ci")
    monkeypatch.setenv("PVE_TOKEN_VALUE", "token-secret-4711")
    token = pytester.runpytest("--junitxml=sim.xml")
    token.assert_outcomes(passed=1)

    audits = sorted((pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl"))
    assert len(audits) == 2
    logins = [r for path in audits for r in AuditLog.read(path) if r["path"] == "/access/ticket"]
    assert [r["params"]["password"] for r in logins] == ["***"], "the password login is audited, redacted"
    own = [r for path in audits for r in AuditLog.read(path) if r["source"] != "watch"]
    permissions = [r for r in own if r["path"] == "/access/permissions"]
    assert len(permissions) == 1, "the live run reads once what its credentials may do (not the sim run)"
    assert len(own) == 1 + 2 + 2 + 2 + 1
    output = live.stdout.str() + live.stderr.str() + token.stdout.str() + token.stderr.str()
    assert fakepve_process.password not in output and "token-secret-4711" not in output
    assert secrets_in(pytester.path, fakepve_process.password, "token-secret-4711") == []


PARALLEL = "import pytest\n\npytestmark = pytest.mark.phase1\n" + "".join(f"""
def test_{i}(pve_client):
    for _ in range(5):
        pve_client.nodes.get()
""" for i in range(8))


@pytest.mark.slow
def test_xdist_workers_share_one_run_and_never_interleave_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_parallel=PARALLEL)
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=8)
    (audit,) = (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
    records = AuditLog.read(audit)  # raises on any line that is not one whole JSON object
    assert {r["run_id"] for r in records} == {audit.stem}
    workers = {r["worker"] for r in records}
    assert workers <= {"gw0", "gw1"} and workers
    per_worker_setup = 2  # the login and GET /version
    own = [r for r in records if r["source"] != "watch"]
    assert len(own) == 8 * 5 + per_worker_setup * len(workers)
    assert sorted(r["test"] for r in records if r["path"] == "/nodes")[:5] == ["test_parallel.py::test_0"] * 5
    result.stdout.fnmatch_lines([f"{len(own)} requests in {audit}, and {len(records) - len(own)} by the watch *"])


def test_a_chosen_audit_file_keeps_earlier_runs_and_shows_only_this_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reads=READS)
    for _ in range(2):
        result = pytester.runpytest("--pve-audit-log", "trail.jsonl")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["4 requests in *trail.jsonl, and * by the watch *"])
    records = [r for r in AuditLog.read(pytester.path / "trail.jsonl") if r["source"] != "watch"]
    assert len(records) == 8 and len({r["run_id"] for r in records}) == 2


def test_a_malformed_exclusion_file_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reads=READS)
    pytester.makefile(".yaml", excl="protect:\n  vmids: [100, '300-200']\n")
    result = pytester.runpytest("--pve-exclusions", "excl.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: exclusion list (from --pve-exclusions): excl.yaml:2: "
        "vmids: '300-200' is not a valid range (start after end)"]
    assert "passed" not in result.stdout.str() and not (pytester.path / ".pytest_proxmox_mpc").exists()
