"""Several runs on one cluster: a run's liveness (its processes on this host, its guests' alive tag on the
cluster) decides what a sweeper may take, and VMIDs claimed on this machine are never handed out twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import connect
from pytest_proxmox_mpc.files.heartbeat import STALE_S, liveness
from pytest_proxmox_mpc.files.vmidclaims import VmidClaims
from pytest_proxmox_mpc.guests.allocator import VmidAllocator
from pytest_proxmox_mpc.guests.destroy import GuestRef
from pytest_proxmox_mpc.guests.liveness import BEAT_S, alive_tag, renewed
from pytest_proxmox_mpc.guests.sweeper import plan_sweep
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.sim.cluster import SimCluster

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
OLD, YOUNG = "20261124-080000-aaaaaa", "20261124-115800-bbbbbb"  # four hours, two minutes before NOW


def row(vmid: int, run_id: str, *tags: str) -> dict[str, Any]:
    return {"type": "qemu", "vmid": vmid, "node": "n", "tags": ";".join(["pytest-proxmox-mpc", f"run-{run_id}", *tags])}


def verdicts(rows: list[dict[str, Any]], ledger_dir: Path | None = None, now: datetime = NOW) -> dict[int, str]:
    lives = liveness(ledger_dir, now.timestamp()) if ledger_dir else None
    plan = plan_sweep(rows, exclusions=ExclusionList.empty(), temp_range=(990000, 999999), finished=set(),
                      now=now, max_age=3600, lives=lives)
    return {leftover.vmid: leftover.verdict for leftover in [*plan.remove, *plan.left_alone]}


@pytest.fixture
def gone_pid() -> int:
    """The id of a process that ran on this host and has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def beat_file(directory: Path, run_id: str, worker: str, pid: int, age: float, now: float,
              host: str | None = None) -> None:
    path = directory / f"{run_id}.{worker}.alive"
    path.write_text(json.dumps({"host": host or socket.gethostname(), "pid": pid}))
    os.utime(path, (now - age, now - age))


def test_a_stopped_run_keeps_its_guests_and_a_killed_one_loses_them_at_once(tmp_path: Path, gone_pid: int) -> None:
    now = NOW.timestamp()
    # OLD's process exists but has not beaten for ten minutes (Ctrl-Z); YOUNG's only process has ended (SIGKILL).
    beat_file(tmp_path, OLD, "main", os.getpid(), 600, now)
    beat_file(tmp_path, YOUNG, "main", gone_pid, 1, now)
    found = verdicts([row(990001, OLD), row(990002, YOUNG)], tmp_path)
    assert found[990001] == "left alone: a process of the run is still there (heartbeat 600s ago)"
    assert found[990002] == "remove"


def test_one_living_worker_keeps_the_whole_run(tmp_path: Path, gone_pid: int) -> None:
    now = NOW.timestamp()
    beat_file(tmp_path, YOUNG, "gw0", gone_pid, 300, now)  # a killed worker
    beat_file(tmp_path, YOUNG, "main", os.getpid(), 5, now)  # the controller goes on
    assert verdicts([row(990002, YOUNG)], tmp_path)[990002].startswith("left alone: a process of the run")


def test_another_hosts_heartbeat_counts_while_fresh_then_the_age_decides(tmp_path: Path) -> None:
    now = NOW.timestamp()
    beat_file(tmp_path, OLD, "main", 4242, 5, now, host="elsewhere")
    beat_file(tmp_path, YOUNG, "main", 4242, STALE_S + 1, now, host="elsewhere")
    found = verdicts([row(990001, OLD), row(990002, YOUNG)], tmp_path)
    assert found[990001] == "left alone: the run is still running (heartbeat 5s ago)"
    assert found[990002].startswith("left alone: run not finished and only 120s old")


def test_the_alive_tag_on_the_cluster_keeps_an_old_runs_guests_from_any_checkout() -> None:
    now = NOW.timestamp()
    rows = [row(990001, OLD, alive_tag(now - 30)),  # four hours old, renewed half a minute ago
            row(990002, OLD),  # another guest of the same run: the run is alive, so is it
            row(990003, "20261124-070000-cccccc", alive_tag(now - 7200)),  # silent for two hours
            row(990004, "20261124-070000-dddddd")]  # no tag at all, five hours old
    found = verdicts(rows)
    assert found[990001] == found[990002] == (
        "left alone: the run was alive 30s ago (its guests' alive tag; sweep age 3600s)")
    assert found[990003] == found[990004] == "remove"


def test_renewing_replaces_only_the_alive_tag() -> None:
    assert renewed("pytest-proxmox-mpc;run-x;alive-1700000000;keep", 1800000000.5) == (
        "pytest-proxmox-mpc;run-x;keep;alive-1800000000")
    assert renewed("", 1800000000) == "alive-1800000000"


@pytest.fixture
def sim(tmp_path_factory: pytest.TempPathFactory, homelab_scenario: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(homelab_scenario, tmp_path_factory.mktemp("liveness-sim"))
    yield cluster
    cluster.stop()


def tags_of(api: Any, vmid: int) -> list[str]:
    return str(api.nodes("pve1").qemu(vmid).config.get().get("tags", "")).split(";")


def test_a_session_renews_its_guests_alive_tag_and_nothing_else(sim: SimCluster, tmp_path: Path) -> None:
    stranger = 101  # a production guest: the beat is told of it, the policy refuses to write to it
    with connect(sim.endpoint, phase=3, exclusions=ExclusionList.parse("protect:\n  vmids: [102]\n"),
                 temp_range=(990300, 990399), state_dir=tmp_path) as session:
        guest = session.temp_guest("qemu", node="pve1")
        (created,) = [tag for tag in tags_of(session.readonly, guest.vmid) if tag.startswith("alive-")]
        stranger_tags = tags_of(session.readonly, stranger)
        assert session.beat is not None
        session.beat.track(GuestRef(stranger, "pve1", "qemu"), 0.0)
        session.beat.clock = lambda: time.time() + BEAT_S + 120  # a beat and two minutes later
        before = len(sim.pve.requests)
        assert session.beat.renew() == 1
        tags = tags_of(session.readonly, guest.vmid)
        assert {"pytest-proxmox-mpc", f"run-{session.run_id}"} <= set(tags)
        (renewed_mark,) = [tag for tag in tags if tag.startswith("alive-")]
        assert int(renewed_mark[6:]) >= int(created[6:]) + BEAT_S
        writes = [(method, path) for method, path, *_ in sim.pve.requests[before:] if method != "GET"]
        assert writes == [("PUT", f"/api2/json/nodes/pve1/qemu/{guest.vmid}/config")]  # the stranger's never left
        assert tags_of(session.readonly, stranger) == stranger_tags


def test_two_runs_on_this_machine_never_hand_out_the_same_vmid(tmp_path: Path) -> None:
    first = VmidAllocator((990000, 990009), claims=VmidClaims(tmp_path, "run-a"))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:  # another run's process (alive) claims 990001; the first run claims 990000 when it takes it
        (tmp_path / "990001.claim").write_text(json.dumps({"run": "run-b", "host": socket.gethostname(),
                                                           "pid": holder.pid}))
        assert first.take() == 990000
        second = VmidAllocator((990000, 990009), claims=VmidClaims(tmp_path, "run-c"))
        assert second.take() == 990002  # 990000 is the first run's, 990001 the other's
        assert not second.claim(990000) and second.claim(990003)
        assert VmidClaims(tmp_path, "run-c").held_by_others() == {990000: "run-a", 990001: "run-b"}
    finally:
        holder.kill()
        holder.wait()
    assert second.claim(990001)  # its holder is gone: a tool may have the number it was passed over for
    first.release(990000)
    assert second.claim(990000)
    assert second.take() == 990004


def test_a_renewal_during_a_phase_1_test_is_not_that_tests_write() -> None:
    from pytest_proxmox_mpc.report.build import _requests

    line = {"decision": "allowed", "method": "PUT", "path": "/nodes/pve1/qemu/990000/config", "status": 200,
            "phase": 1, "test": "test_phase1.py::test_reads"}
    assert _requests([{**line, "source": "beat"}], "audit.jsonl")["writes_in_phases_1_2"] == 0
    assert _requests([line], "audit.jsonl")["writes_in_phases_1_2"] == 1
