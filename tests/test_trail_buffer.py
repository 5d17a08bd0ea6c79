"""The audit trail's buffered lines: the same lines as before, and in the file whenever someone may look."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_proxmox_mpc.safety.audit import AuditLog, AuditRecord, iso_of
from pytest_proxmox_mpc.safety.policy import ApiRequest, Decision, ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail, AuditView

BASE = "https://pve.example:8006/api2/json"


def lines(path: Path) -> list[dict[str, object]]:
    return AuditLog.read(path) if path.exists() else []


def allowed(path: str, **params: str) -> tuple[ApiRequest, Decision]:
    request = ApiRequest.from_http("GET", f"{BASE}{path}" + ("?" + "&".join(f"{k}={v}" for k, v in params.items())
                                                           if params else ""), None)
    return request, ReadOnlyPolicy().decide(request)


@pytest.mark.parametrize("params", [{}, {"type": "vm"}, {"password": "never-logged", "full": "1"}])
@pytest.mark.parametrize("context", [(None, None, None), ("t.py::test_x", 3, "watch")])
def test_an_allowed_line_is_the_line_an_audit_record_makes(tmp_path: Path, params: dict[str, str],
                                                           context: tuple[str | None, int | None, str | None]) -> None:
    test, phase, source = context
    trail = AuditTrail(tmp_path / "audit.jsonl", "20261201-120000-abcdef", "gw1")
    if test is not None:
        trail.begin_test(test, phase)
    request, decision = allowed("/cluster/resources", **params)
    trail.record(request, decision, 200, 1.23456, "UPID:pve1:x", source=source)
    trail.flush()
    (line,) = (tmp_path / "audit.jsonl").read_text().splitlines()
    record = AuditRecord(**{**json.loads(line)})
    assert line == record.to_json()
    assert record.test == test and record.phase == phase and record.source == source
    assert record.duration_ms == 1.235 and record.status == 200 and record.upid == "UPID:pve1:x"
    assert "never-logged" not in line and (record.params.get("password") in (None, "***"))


def test_the_clock_writes_what_isoformat_writes() -> None:
    for epoch in (0.0, 1764590400.0, 1764590400.9996, 1764590401.0004, 1764590459.123):
        expected = datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
        assert iso_of(epoch) == expected.replace("+00:00", "Z")


def test_a_refusal_writes_itself_and_every_line_before_it_at_once(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, "run", "main")
    trail.begin_test("t.py::test_refused", 1)
    for _ in range(3):
        trail.record(*allowed("/nodes"), 200, 1.0)
    assert lines(path) == []  # buffered
    write = ApiRequest.from_http("POST", f"{BASE}/nodes/pve1/qemu/101/status/stop", b"")
    refusal = ReadOnlyPolicy().decide(write)
    assert not refusal.allowed
    trail.record(write, refusal)
    # No flush, no close: were the process killed now, the file would hold all four.
    assert [(r["method"], r["decision"]) for r in lines(path)] == [("GET", "allowed")] * 3 + [("POST", "refused")]
    assert [r.record.path for r in trail.end_test()] == ["/nodes/pve1/qemu/101/status/stop"]


def test_a_test_end_a_view_and_close_each_flush(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, "run", "main")
    trail.begin_test("t.py::test_a", 1)
    trail.record(*allowed("/version"), 200, 1.0)
    assert [r["path"] for r in AuditView(path, "run").records("t.py::test_a")] == ["/version"]  # mid-test
    trail.record(*allowed("/nodes"), 200, 1.0)
    trail.end_test()
    assert [r["path"] for r in lines(path)] == ["/version", "/nodes"]
    trail.record(*allowed("/storage"), 200, 1.0)  # outside any test
    trail.close()
    assert [(r["path"], r["test"]) for r in lines(path)][-1] == ("/storage", None)


def test_a_full_buffer_is_written_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trail = AuditTrail(path, "run", "main")
    for _ in range(AuditTrail.FLUSH_LINES):
        trail.record(*allowed("/nodes"), 200, 1.0)
    assert len(lines(path)) == AuditTrail.FLUSH_LINES
    trail.close()
