"""The read-only client: every write in the PVE schema is refused before it leaves the process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import AuthenticationError, ProxmoxAPI

from pytest_proxmox_mpc import ReadOnlyViolation
from pytest_proxmox_mpc.cluster.client import connect
from pytest_proxmox_mpc.cluster.guard import Guard, police
from pytest_proxmox_mpc.errors import UnsupportedClient
from pytest_proxmox_mpc.safety.audit import AuditLog
from pytest_proxmox_mpc.safety.policy import ApiRequest, ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.sim.cluster import SimCluster

SWEEP = '''
import gzip
import json
import re
from importlib import resources

import pytest

from pytest_proxmox_mpc import ReadOnlyViolation

VALUES = {"node": "pve1", "vmid": "101", "storage": "local", "poolid": "prod"}


def schema_methods():
    raw = (resources.files("fakepve") / "data" / "pve-api.json.gz").read_bytes()
    paths = json.loads(gzip.decompress(raw))["paths"]
    return [(method, template) for template, methods in sorted(paths.items()) for method in sorted(methods)]


def concrete(template):
    return re.sub(r"\\{([^}]+)\\}", lambda m: VALUES.get(m.group(1), m.group(1) + "-x"), template)


@pytest.mark.pve_expect_refusal
def test_every_write_of_the_schema_is_refused_and_never_sent(pve_readonly, pve_sim):
    writes = [(m, t) for m, t in schema_methods() if m != "GET"]
    assert len(writes) == 338, "the PVE 9 schema has 338 non-GET methods"
    before = len(pve_sim.requests)
    refused = 0
    for method, template in writes:
        path = concrete(template)
        call = getattr(pve_readonly(path.lstrip("/")), method.lower())
        if (method, template) == ("POST", "/access/ticket"):
            continue  # the login: the one write a read-only client may send (tested on its own)
        with pytest.raises(ReadOnlyViolation) as caught:
            call(comment="must never arrive")
        assert (caught.value.method, caught.value.path) == (method, path)
        assert caught.value.rule == "read-only:no-writes"
        refused += 1
    assert refused == 337
    assert pve_sim.requests[before:] == [], "a refused request reached the cluster"


def test_reads_still_reach_the_cluster(pve_readonly, pve_sim):
    before = len(pve_sim.requests)
    assert pve_readonly.nodes.get()
    assert [(m, p) for m, p, _ in pve_sim.requests[before:]] == [("GET", "/api2/json/nodes")]
'''


def test_pve_readonly_refuses_every_schema_write(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sweep=SWEEP)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


@pytest.fixture
def sim(homelab_scenario: Path, tmp_path: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(homelab_scenario, tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def raw_client(sim: SimCluster) -> Any:
    endpoint = sim.endpoint
    assert endpoint.password is not None
    return ProxmoxAPI(endpoint.netloc, user=endpoint.user, password=endpoint.password.reveal(),
                      verify_ssl=endpoint.verify)


def test_resources_made_before_the_guard_are_guarded_too(sim: SimCluster) -> None:
    api = raw_client(sim)
    start = api.nodes("pve1").qemu(101).status.start
    config = api.nodes("pve1").qemu(101).config
    police(api, ReadOnlyPolicy())
    before = len(sim.pve.requests)
    with pytest.raises(ReadOnlyViolation):
        start.post()
    with pytest.raises(ReadOnlyViolation):
        config.put(memory=1)
    assert sim.pve.requests[before:] == []
    assert sim.pve.vm(101).status == "running"


def test_the_login_is_the_only_write_and_it_is_sent(sim: SimCluster) -> None:
    connect(sim.endpoint, ReadOnlyPolicy())
    logins = [(m, p) for m, p, _ in sim.pve.requests if m != "GET"]
    assert logins == [("POST", "/api2/json/access/ticket")]
    decision = ReadOnlyPolicy().decide(ApiRequest.from_http("POST", "https://h/api2/json/access/ticket"))
    assert decision.allowed and decision.rule == "read-only:login"


@pytest.mark.parametrize("url", [
    "https://h/api2/json/access/ticket/../../nodes/pve1/qemu/101/status/stop",
    "https://h/api2/json/access/ticket/",
    "https://h/somewhere/else/access/ticket",
])
def test_anything_that_only_looks_like_the_login_is_refused(url: str) -> None:
    decision = ReadOnlyPolicy().decide(ApiRequest.from_http("POST", url))
    assert not decision.allowed


def test_the_policy_sees_the_path_the_server_will_see() -> None:
    request = ApiRequest.from_http("POST", "https://h/api2/json/nodes/pve1/qemu/%31%30%31/status/stop")
    assert request.path == "/nodes/pve1/qemu/101/status/stop"


def test_other_proxmoxer_backends_are_refused_not_left_unguarded() -> None:
    local = ProxmoxAPI(backend="local")
    with pytest.raises(UnsupportedClient, match="'local' backend"):
        police(local, ReadOnlyPolicy())


def test_violation_messages_carry_no_parameters() -> None:
    request = ApiRequest.from_http("PUT", "https://h/api2/json/access/password", b"userid=a@pam&password=hunter2")
    assert request.params["password"] == "hunter2"
    with pytest.raises(ReadOnlyViolation) as caught:
        ReadOnlyPolicy().decide(request).raise_if_refused(request)
    assert "hunter2" not in str(caught.value)
    assert str(caught.value) == ("refused PUT /access/password: a read-only client sends only GET requests "
                                 "(and the login) (rule read-only:no-writes)")


def test_a_ticket_renewal_goes_through_the_guard_and_is_audited(sim: SimCluster, tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl", "R")
    api = connect(sim.endpoint, Guard(ReadOnlyPolicy(), trail))
    api._backend.auth.birth_time -= 7200  # two hours later: proxmoxer renews the ticket before the next call
    # PVE renews a ticket sent as the password; fakepve 0.5 does not, and answers 401.
    with pytest.raises(AuthenticationError):
        api.version.get()
    trail.close()
    records = AuditLog.read(tmp_path / "audit.jsonl")
    assert [(r["method"], r["path"], r["rule"], r["status"]) for r in records] == [
        ("POST", "/access/ticket", "read-only:login", 200), ("POST", "/access/ticket", "read-only:login", 401)]
    assert {r["params"]["password"] for r in records} == {"***"}
    assert [(m, p) for m, p, _ in sim.pve.requests] == [(r["method"], "/api2/json" + r["path"]) for r in records]
    assert api.get_tokens()[0] not in (tmp_path / "audit.jsonl").read_text()
