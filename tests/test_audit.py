"""The audit trail and the redaction it relies on: nothing secret is written, no line is ever torn."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import stat
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.files.runfiles import RunFiles
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety import audit
from pytest_proxmox_mpc.safety.audit import (
    AuditLog,
    AuditRecord,
    AuditSummary,
    new_run_id,
    now_iso,
    run_started,
    upid_of,
)
from pytest_proxmox_mpc.safety.redact import (
    REDACTED,
    SECRET_HEADERS,
    SECRET_PARAM_NAMES,
    is_secret_name,
    redact_params,
)

UPID = "UPID:pve1:0000C530:001C5B8B:6740B6E1:qmstart:101:root@pam:"


def record(**changes: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "time": "2026-11-24T10:00:00.123Z", "run_id": "20261124T100000Z-abcdef", "worker": "main",
        "test": "tests/x.py::test_y", "phase": 1, "method": "GET", "path": "/nodes", "params": {},
        "decision": "allowed", "rule": "read-only:get", "status": 200, "duration_ms": 12.5, "upid": None,
    }
    values.update(changes)
    return AuditRecord(**values)


def as_read(rec: AuditRecord) -> dict[str, Any]:
    """The record as AuditLog.read gives it back."""
    decoded: dict[str, Any] = json.loads(rec.to_json())
    return decoded


# --- redaction -------------------------------------------------------------------------------------------------

SECRET_SPELLINGS = [
    *sorted(SECRET_PARAM_NAMES | SECRET_HEADERS),
    "PASSWORD", "Password", "CSRFPreventionToken", "Authorization", "Set-Cookie", "bindpassword", "spiceticket",
    "clientsecret", "access-token", "Private_Key_File", "ssh-passphrase", "api_key",
]
VISIBLE = [
    "tokenid", "TokenID", "token-id", "token_name", "userid", "username", "sshkeys", "master-pubkey", "fingerprint",
    "eab-kid", "privsep", "privs", "vmid", "node", "keyboard", "comment", "expire", "smbios1", "delete",
]


@pytest.mark.parametrize("name", SECRET_SPELLINGS)
def test_secret_names_are_redacted(name: str) -> None:
    assert is_secret_name(name)
    assert redact_params({name: "s3cr3t", "vmid": 101}) == {name: REDACTED, "vmid": 101}


@pytest.mark.parametrize("name", VISIBLE)
def test_identifying_names_stay_visible(name: str) -> None:
    assert not is_secret_name(name)
    assert redact_params({name: "shown"}) == {name: "shown"}


def test_redaction_reaches_into_nested_dicts_and_lists() -> None:
    params: dict[str, Any] = {
        "userid": "root@pam",
        "storage": {"server": "pbs1", "Password": "p", "encryption-key": {"kdf": "scrypt"}},
        "targets": [{"token": "t", "url": "https://gotify"}, "plain", ("x", {"secret": "s"})],
        "anything": Secret("hidden-by-its-type"),
    }
    assert redact_params(params) == {
        "userid": "root@pam",
        "storage": {"server": "pbs1", "Password": REDACTED, "encryption-key": REDACTED},
        "targets": [{"token": REDACTED, "url": "https://gotify"}, "plain", ["x", {"secret": REDACTED}]],
        "anything": REDACTED,
    }
    assert params["storage"]["Password"] == "p", "the input is left alone"


# --- records ---------------------------------------------------------------------------------------------------

def test_to_json_is_one_line_in_field_order_and_round_trips() -> None:
    rec = record(params={"description": "two\nlines\r\u2028", "n": 1}, upid=UPID, status=None, duration_ms=None)
    line = rec.to_json()
    assert "\n" not in line and "\r" not in line
    decoded = json.loads(line)
    assert list(decoded) == [f.name for f in fields(AuditRecord)]
    assert AuditRecord(**decoded) == rec


def test_now_iso_and_run_ids_follow_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 12, 31, 23, 59, 58, 123456, tzinfo=timezone.utc)
    clock = iter(start + timedelta(seconds=step) for step in range(10))
    monkeypatch.setattr(audit, "_utcnow", lambda: next(clock))
    assert now_iso() == "2026-12-31T23:59:58.123Z"
    ids = [new_run_id() for _ in range(9)]
    assert ids[0].startswith("20261231-235959-")
    assert run_started(ids[0]) == datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert run_started("not-a-run") is None
    assert sorted(ids) == ids and len(set(ids)) == len(ids)


def test_run_ids_are_unique_and_well_formed() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run_id) for run_id in ids)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_iso())


def test_run_files_live_below_the_state_directory(tmp_path: Path) -> None:
    files = RunFiles(tmp_path, "R")
    assert files.audit == tmp_path / ".pytest_proxmox_mpc" / "audit" / "R.jsonl"
    assert RunFiles(tmp_path, "R", tmp_path / "mine.jsonl").audit == tmp_path / "mine.jsonl"
    assert files.incident("gw1") == tmp_path / ".pytest_proxmox_mpc" / "incidents" / "R.gw1.json"


@pytest.mark.parametrize(("answer", "expected"), [
    ({"data": UPID}, UPID),
    (UPID, UPID),
    ({"data": None}, None),
    ({"data": "OK"}, None),
    ({"data": {"upid": UPID}}, None),
    ([UPID], None),
    (None, None),
    ("upid:lower-case", None),
])
def test_upid_of(answer: Any, expected: str | None) -> None:
    assert upid_of(answer) == expected


# --- the log file ----------------------------------------------------------------------------------------------

def test_write_redacts_even_unredacted_params(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "run.jsonl"
    with AuditLog(path) as log:
        log.write(record(method="POST", path="/access/ticket", params={
            "username": "root@pam", "password": "hunter2-SECRET", "more": {"CSRFPreventionToken": "hunter2-SECRET"},
        }))
    text = path.read_text()
    assert "hunter2-SECRET" not in text
    assert AuditLog.read(path)[0]["params"] == {
        "username": "root@pam", "password": REDACTED, "more": {"CSRFPreventionToken": REDACTED},
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_appends_and_close_is_final(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    for method in ("GET", "PUT"):
        log = AuditLog(path)
        log.write(record(method=method))
        log.close()
        log.close()
    assert [r["method"] for r in AuditLog.read(path)] == ["GET", "PUT"]
    with pytest.raises(ValueError, match="closed"):
        log.write(record())


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", "", '{"torn": '])
def test_read_names_file_and_line_of_a_bad_line(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text(record().to_json() + "\n" + bad + "\n" + record().to_json() + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: not a JSON line")):
        AuditLog.read(path)


# --- concurrency -----------------------------------------------------------------------------------------------

WRITERS, PER_WRITER = 4, 500


def _write_many(path: str, worker: str, log: AuditLog | None = None) -> None:
    """Runs in a child process: one worker's share of records, each about 2 KB."""
    own = log is None
    log = AuditLog(path) if log is None else log
    for seq in range(PER_WRITER):
        log.write(record(worker=worker, params={"seq": seq, "blob": worker * (2048 // len(worker))}))
    if own:
        log.close()


def _check_lines(path: Path) -> None:
    raw = path.read_bytes()
    assert raw.count(b"\n") == WRITERS * PER_WRITER and raw.endswith(b"\n")
    records = AuditLog.read(path)  # raises on any torn or interleaved line
    assert len(records) == WRITERS * PER_WRITER
    seen = {(r["worker"], r["params"]["seq"]) for r in records}
    assert len(seen) == WRITERS * PER_WRITER
    assert all(r["params"]["blob"] == r["worker"] * (2048 // len(r["worker"])) for r in records)


def _run_all(processes: list[Any]) -> None:
    """Start every writer at once, then wait for each to end cleanly."""
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0


def test_concurrent_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "run.jsonl"
    context = multiprocessing.get_context("spawn")
    _run_all([context.Process(target=_write_many, args=(str(path), f"gw{n}")) for n in range(WRITERS)])
    _check_lines(path)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_forked_children_sharing_one_log_never_interleave(tmp_path: Path) -> None:
    # A log opened before a fork shares one file description (and so one flock) with its children.
    path = tmp_path / "run.jsonl"
    with AuditLog(path) as log:
        context = multiprocessing.get_context("fork")
        _run_all([context.Process(target=_write_many, args=(str(path), f"gw{n}", log)) for n in range(WRITERS)])
    _check_lines(path)
    assert os.path.getsize(path) > WRITERS * PER_WRITER * 2048


# --- summary ---------------------------------------------------------------------------------------------------

def test_summary_counts_and_lines() -> None:
    stop = "/nodes/pve1/qemu/101/status/stop"
    records = [as_read(record()) for _ in range(3)] + [
        as_read(record(method="post", path=stop, decision="refused", rule="read-only:no-writes", status=None)),
        as_read(record(method="DELETE", path="/pools/x", decision="refused", rule="read-only:no-writes", test=None,
               phase=None)),
        as_read(record(method="POST", path="/access/ticket", rule="read-only:login")),
    ]
    summary = AuditSummary.of(records)
    assert summary.by_method_decision == {("GET", "allowed"): 3, ("POST", "refused"): 1, ("DELETE", "refused"): 1,
                                          ("POST", "allowed"): 1}
    assert [r["path"] for r in summary.refusals] == [stop, "/pools/x"]
    assert summary.lines() == [
        "DELETE refused: 1",
        "GET allowed: 3",
        "POST allowed: 1",
        "POST refused: 1",
        f"refused POST {stop} by tests/x.py::test_y (phase 1): rule read-only:no-writes",
        "refused DELETE /pools/x by (no test): rule read-only:no-writes",
    ]
    assert AuditSummary.of([]).lines() == []
