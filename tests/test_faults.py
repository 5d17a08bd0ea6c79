"""Faults injected in the cluster's place (``pytest_proxmox_mpc.faults``): the rules and how often they fire, each
kind as PVE answers it through the safety proxy on a fakepve process used as live (status line, body, a broken
connection), audited as injected, recorded and replayed like any answer, and never sent to the cluster: its request
log shows no faulted request."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.errors import InvalidInput, ProfileError
from pytest_proxmox_mpc.faults import KINDS, FaultPlan, parse_rule, parse_rules
from pytest_proxmox_mpc.sut.profile import PACKAGED, load_profile

from .livetarget import FakePveProcess, in_range, live


def test_a_rule_fires_always_first_n_after_n_every_kth_or_with_a_seeded_probability() -> None:
    def fired(**options: object) -> list[int]:
        plan = FaultPlan()
        plan.add([parse_rule({"fault": "error-500", "path": "/nodes/*/qemu/*/config", **options})])
        return [n for n in range(1, 13) if plan.pick("GET", f"/nodes/pve1/qemu/{n}/config") is not None]

    assert fired() == list(range(1, 13))
    assert fired(first=2) == [1, 2]
    assert fired(after=10) == [11, 12]
    assert fired(every=3) == [3, 6, 9, 12]
    assert fired(after=1, first=2) == [2, 3]
    drawn = fired(probability=0.5, seed=7)
    assert drawn == fired(probability=0.5, seed=7) and 0 < len(drawn) < 12  # the same seed, the same faults
    assert drawn != fired(probability=0.5, seed=8)


def test_a_rule_matches_methods_and_path_segments() -> None:
    plan = FaultPlan()
    plan.add([parse_rule({"fault": "permission-403", "path": "/nodes/*/qemu", "methods": ["post"]})])
    assert plan.pick("GET", "/nodes/pve1/qemu") is None
    assert plan.pick("POST", "/nodes/pve1/qemu/101/config") is None  # * is one segment
    assert plan.pick("POST", "/nodes/pve1/qemu", {"vmid": "990001"}) is not None
    plan.clear()
    plan.add([parse_rule({"fault": "permission-403", "path": "/nodes/**/config"})])
    assert plan.pick("PUT", "/nodes/pve1/lxc/200/config") is not None
    with plan.suspended():
        assert plan.pick("PUT", "/nodes/pve1/lxc/200/config") is None


def test_a_steps_rules_are_in_force_only_within_the_step() -> None:
    plan = FaultPlan()
    with plan.using(parse_rules([{"fault": "slow", "path": "/version"}])):
        assert plan.pick("GET", "/version") is not None
    assert plan.pick("GET", "/version") is None


@pytest.mark.parametrize(("given", "problem"), [
    ({"fault": "oops"}, "faults[1].fault: expected one of lock-timeout, "),
    ({"fault": "slow", "every": 0}, "faults[1].every: expected a whole number from 1, got 0"),
    ({"fault": "slow", "methods": ["PATCH"]}, "faults[1].methods: expected a list of GET, POST, PUT, DELETE"),
    ({"fault": "slow", "probability": 2}, "faults[1].probability: expected a number from 0 to 1, got 2"),
    ({"fault": "slow", "path": "nodes"}, "faults[1].path: expected an API path below /api2/json"),
    ({"fault": "slow", "often": 1}, "faults[1]: unknown key 'often'"),
])
def test_a_malformed_rule_names_its_key(given: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInput, match="^" + problem.replace("[", r"\[").replace("]", r"\]")):
        parse_rules([given])


def test_pve_shapes_of_the_lock_timeout_the_403_and_a_made_up_task() -> None:
    plan = FaultPlan()
    plan.add(parse_rules([{"fault": "lock-timeout", "path": "/nodes/*/qemu/*/config", "first": 1},
                          {"fault": "permission-403", "path": "/nodes/*/lxc/*/config", "first": 1},
                          {"fault": "task-error", "path": "/nodes/*/qemu", "methods": ["POST"]}]))
    lock = plan.pick("PUT", "/nodes/pve1/qemu/101/config")
    assert lock is not None and (lock.status, lock.reason) == (
        500, "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout")
    assert lock.json() == {"data": None, "message": "can't lock file '/var/lock/qemu-server/lock-101.conf' - got "
                                                    "timeout\n"}
    denied = plan.pick("GET", "/nodes/pve1/lxc/200/config")
    assert denied is not None and (denied.status, denied.reason) == (
        403, "Permission check failed (/vms/200, VM.Config.HWType)")
    task = plan.pick("POST", "/nodes/pve1/qemu", {"vmid": "990001"})
    assert task is not None and task.upid is not None and task.json() == {"data": task.upid}
    assert task.upid.startswith("UPID:pve1:") and ":qmcreate:990001:root@pam:" in task.upid
    status = plan.pick("GET", f"/nodes/pve1/tasks/{task.upid}/status")
    assert status is not None and status.json()["data"]["status"] == "stopped"
    assert status.json()["data"]["exitstatus"] == (
        "can't lock file '/var/lock/qemu-server/lock-990001.conf' - got timeout")


KINDS_CHECKED = '''
import socket
import ssl

import pytest
import requests


def send(pve_proxy, method, path, **data):
    return requests.request(method, pve_proxy.base_url + path, data=data or None, timeout=30,
                            headers={"Authorization": pve_proxy.authorization()}, verify=str(pve_proxy.cafile))


def raw(pve_proxy, path):
    """What the proxy sends back, byte for byte, until the connection ends."""
    context = ssl.create_default_context(cafile=str(pve_proxy.cafile))
    with socket.create_connection((pve_proxy.host, pve_proxy.port), timeout=30) as sock:
        with context.wrap_socket(sock, server_hostname=pve_proxy.host) as tls:
            tls.sendall(f"GET /api2/json{path} HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: "
                        f"{pve_proxy.authorization()}\\r\\n\\r\\n".encode())
            got = b""
            while chunk := tls.recv(65536):  # ended without close_notify: ssl reads it as the end
                got += chunk
            return got


@pytest.mark.phase3
@pytest.mark.pve_fault("lock-timeout", path="/nodes/*/qemu", methods=["POST"], first=1)
@pytest.mark.pve_fault("permission-403", path="/nodes/*/qemu/*/config", methods=["GET"])
@pytest.mark.pve_fault("timeout-596", path="/nodes/*/storage")
@pytest.mark.pve_fault("unavailable-503", path="/cluster/status")
@pytest.mark.pve_fault("error-500", path="/cluster/replication")
@pytest.mark.pve_fault("slow", path="/cluster/options", delay=0.2)
@pytest.mark.pve_fault("task-never-ends", path="/nodes/*/lxc", methods=["POST"])
def test_each_kind_as_pve_answers_it(pve_proxy):
    vmid = pve_proxy.reserve_vmid()
    locked = send(pve_proxy, "POST", "/nodes/pve1/qemu", vmid=vmid, name="faulted")
    assert (locked.status_code, locked.reason) == (500, f"can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' "
                                                        "- got timeout")
    assert locked.json() == {"data": None, "message": locked.reason + "\\n"}
    assert send(pve_proxy, "GET", "/nodes/pve1/qemu/101/config").reason == (
        "Permission check failed (/vms/101, VM.Config.HWType)")
    timed_out = send(pve_proxy, "GET", "/nodes/pve1/storage")
    assert (timed_out.status_code, timed_out.reason, timed_out.content) == (596, "Connection timed out", b"")
    assert send(pve_proxy, "GET", "/cluster/status").status_code == 503
    assert send(pve_proxy, "GET", "/cluster/replication").json()["message"] == "cluster not ready - no quorum?\\n"
    assert send(pve_proxy, "GET", "/cluster/options").status_code == 596
    upid = send(pve_proxy, "POST", "/nodes/pve1/lxc", vmid=vmid, ostemplate="local:vztmpl/x.tar.zst").json()["data"]
    for _ in range(3):
        assert send(pve_proxy, "GET", f"/nodes/pve1/tasks/{upid}/status").json()["data"]["status"] == "running"
    # The second create is not faulted (first=1): it reaches the cluster.
    created = send(pve_proxy, "POST", "/nodes/pve1/qemu", vmid=vmid, name="after-the-fault")
    assert created.status_code == 200, created.text


@pytest.mark.pve_fault("reset", path="/nodes/pve1/qemu")
@pytest.mark.pve_fault("no-answer", path="/nodes/pve2/qemu")
def test_a_broken_connection(pve_proxy):
    head, _, body = raw(pve_proxy, "/nodes/pve1/qemu").partition(b"\\r\\n\\r\\n")
    length = int(next(line for line in head.split(b"\\r\\n") if line.lower().startswith(b"content-length"))
                 .split(b":")[1])
    assert head.startswith(b"HTTP/1.1 200 ") and 0 < len(body) < length  # cut off in the middle
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        send(pve_proxy, "GET", "/nodes/pve1/qemu")
    assert raw(pve_proxy, "/nodes/pve2/qemu") == b""
    with pytest.raises(requests.ConnectionError):
        send(pve_proxy, "GET", "/nodes/pve2/qemu")
    assert send(pve_proxy, "GET", "/nodes/pve3/qemu").status_code == 200  # not faulted: it reaches the cluster
'''


@pytest.mark.slow
def test_each_kind_through_the_proxy_is_audited_as_injected_and_never_reaches_the_cluster(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    pytester.makepyfile(test_kinds=KINDS_CHECKED)
    before = len(fakepve_process.requests())
    result = pytester.runpytest(*live(pytester, fakepve_process), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    arrived = fakepve_process.requests()[before:]
    audit = [json.loads(line) for path in Path(pytester.path, ".pytest_proxmox_mpc").rglob("*.jsonl")
             for line in path.read_text().splitlines() if '"decision":"injected"' in line]
    injected = {(record["method"], record["path"]): record["rule"] for record in audit}
    assert {rule for rule in injected.values()} == {f"fault:{kind}" for kind in (
        "lock-timeout", "permission-403", "timeout-596", "unavailable-503", "error-500", "slow", "task-never-ends",
        "reset", "no-answer")}
    assert all(record["source"] == "proxy" for record in audit)
    # Faulted paths the plugin's own read-only client (its watch) never reads: none arrived.
    never = {("GET", "/cluster/replication"), ("GET", "/cluster/options"), ("POST", "/nodes/pve1/lxc")}
    assert never <= set(injected)
    assert not {(m, "/api2/json" + p) for m, p in never} & set(arrived)
    made_up = [path for _, path in injected if "/tasks/" in path]
    assert made_up and not [path for _, path in arrived if "/tasks/UPID:pve1:000FA" in path]
    # The writes that arrived: the one create after the fault was used up (first=1), and the plugin's removal of it;
    # the faulted create, two made-up tasks and the rest never did.
    writes = [(method, path) for method, path in arrived if method != "GET" and "/access/" not in path]
    assert writes == [("POST", "/api2/json/nodes/pve1/qemu"), ("DELETE", "/api2/json/nodes/pve1/qemu/990000")]


def test_every_kind_is_documented() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "how-to" / "faults.md").read_text(encoding="utf-8")
    assert [kind for kind in KINDS if f"`{kind}`" not in page] == []


FACTORY = '''
import pytest

from pytest_proxmox_mpc.errors import GuestCreateFailed

RANGE = range(990000, 1000000)


def in_range(api):
    return [int(row["vmid"]) for row in api.cluster.resources.get(type="vm") if int(row["vmid"]) in RANGE]


def injected(pve_audit, request):
    return [r["rule"] for r in pve_audit.records(request.node.nodeid) if r["decision"] == "injected"]


@pytest.mark.phase3
@pytest.mark.pve_fault("lock-timeout", path="/nodes/*/qemu", methods=["POST"], first=2)
def test_a_lock_timeout_is_retried(temp_vm, pve_readonly, pve_audit, request):
    guest = temp_vm()
    assert in_range(pve_readonly) == [guest.vmid]
    assert injected(pve_audit, request) == ["fault:lock-timeout"] * 2


@pytest.mark.phase3
@pytest.mark.parametrize(("kind", "where", "said"), [
    ("lock-timeout", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "- got timeout"),
    ("permission-403", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "403 Forbidden: Permission check failed"),
    ("error-500", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "cluster not ready - no quorum?"),
    ("unavailable-503", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "503"),
    ("timeout-596", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "596"),
    ("reset", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "connection reset in the middle of the answer"),
    ("no-answer", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "connection closed without an answer"),
    ("task-error", {"path": "/nodes/*/qemu", "methods": ["POST"]}, "failed: can't lock file"),
    ("task-error", {"path": "/nodes/*/tasks/*/status", "first": 1}, "failed: can't lock file"),
])
def test_any_other_fault_is_a_clear_error_and_leaves_nothing(temp_vm, pve_faults, pve_readonly, kind, where, said):
    pve_faults.add(kind, **where)
    with pytest.raises(GuestCreateFailed) as caught:
        temp_vm()
    assert str(caught.value).startswith(("cannot create VM 99", "creating VM 99")) and said in str(caught.value)
    pve_faults.clear()
    assert in_range(pve_readonly) == []
    assert temp_vm().vmid in in_range(pve_readonly)  # the fault cleared, the same create succeeds
'''


def writes(requests: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter((method, path) for method, path in requests if method != "GET" and "/access/" not in path)


def audited_writes(root: Path) -> tuple[Counter[tuple[str, str]], int]:
    """(the writes the audit trail says were allowed, and so sent; how many requests faults answered instead)."""
    records = [json.loads(line) for path in root.joinpath(".pytest_proxmox_mpc").rglob("audit/*.jsonl")
               for line in path.read_text().splitlines()]
    sent = Counter((r["method"], "/api2/json" + r["path"]) for r in records
                   if r["method"] != "GET" and r["decision"] == "allowed" and "/access/" not in r["path"])
    return sent, sum(1 for r in records if r["decision"] == "injected")


@pytest.mark.slow
def test_the_factory_retries_a_lock_timeout_and_gives_up_clearly_on_the_rest_leaving_nothing(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess,
        cluster: Any) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    pytester.makepyfile(test_factory=FACTORY)
    before = len(fakepve_process.requests())
    result = pytester.runpytest(*live(pytester, fakepve_process), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)
    assert in_range(cluster) == []
    sent, injected = audited_writes(pytester.path)
    assert injected >= 10
    # Every write that reached the cluster is one the audit trail says was sent; none a fault answered.
    assert writes(fakepve_process.requests()[before:]) == sent


PACKAGED_PROFILE = (PACKAGED / "proxmox-mpc.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "problem"), [
    ("fault: lock-timeout, methods: [GET], path: \"/nodes/*/qemu/*/config\", every: 3",
     "fault: lock-timeout, methods: [GET], path: \"/nodes/*/qemu/*/config\", every: 0",
     "steps.sync-config-lock-timeouts.faults[1].every: expected a whole number from 1, got 0"),
    ("fault: timeout-596,", "fault: timeout-597,",
     "steps.sync-guest-lists-time-out.faults[1].fault: expected one of lock-timeout"),
    ("    retry: create-vm\n    faults: [{fault: lock-timeout",
     "    retry: create-vn\n    faults: [{fault: lock-timeout",
     "steps.create-vm-locked.retry: no step 'create-vn' in the profile"),
])
def test_a_profile_steps_malformed_faults_name_the_file_line_and_key(tmp_path: Path, old: str, new: str,
                                                                     problem: str) -> None:
    assert old in PACKAGED_PROFILE
    path = tmp_path / "p.yaml"
    path.write_text(PACKAGED_PROFILE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), start=1) if new.split("\n")[0] in text)
    assert str(caught.value).startswith(f"{path}:{line}: {problem}")


def test_the_packaged_profile_has_faulted_steps_with_a_retry() -> None:
    profile = load_profile(PACKAGED / "proxmox-mpc.yaml")
    faulted = {step.name: (step.phase, step.retry) for step in profile.steps.values() if step.faults}
    assert faulted == {"sync-config-lock-timeouts": (2, "sync"), "sync-guest-lists-time-out": (2, "sync"),
                       "create-vm-locked": (3, "create-vm"), "create-vm-task-fails": (3, "create-vm"),
                       "create-vm-task-status-fails": (3, "create-vm")}


RECORDED = '''
import pytest
from proxmoxer import ResourceException


@pytest.mark.phase3
@pytest.mark.pve_fault("lock-timeout", path="/nodes/*/qemu/*/pending", methods=["GET"], every=2)
def test_faulted_reads(pve_client):
    seen = []
    for _ in range(4):
        try:
            pve_client.nodes("pve1").qemu(101).pending.get()
            seen.append("ok")
        except ResourceException as exc:
            seen.append(str(exc))
    assert seen == ["ok", "500 Internal Server Error: can't lock file '/var/lock/qemu-server/lock-101.conf' - got "
                    "timeout", "ok", "500 Internal Server Error: can't lock file '/var/lock/qemu-server/lock-101.conf' "
                    "- got timeout"], seen
'''


@pytest.mark.slow
def test_injected_answers_are_recorded_and_replayed_like_any_answer(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    pytester.makepyfile(test_recorded=RECORDED)
    cassettes = f"--pve-cassette-dir={pytester.path / 'cas'}"
    before = len(fakepve_process.requests())
    recorded = pytester.runpytest(*live(pytester, fakepve_process), "--pve-record-mode", "once", cassettes)
    recorded.assert_outcomes(passed=1)
    reads = [path for method, path in fakepve_process.requests()[before:] if path.endswith("/qemu/101/pending")]
    assert len(reads) == 2  # the two faulted reads never reached the cluster
    cassette = next((pytester.path / "cas").rglob("test_faulted_reads.yaml")).read_text(encoding="utf-8")
    assert cassette.count("got timeout") >= 2  # kept as answered
    monkeypatch.delenv("PVE_PASSWORD")
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", cassettes, "-p", "no:randomly")
    replayed.assert_outcomes(passed=1)
