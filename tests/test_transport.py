"""How the plugin's clients reach the cluster: the environment read once (proxy variables honoured, the CA
options the only CA), guest configs read in parallel on plain connections that still pass the guard, a busy
cluster asked again, and a refused request that never leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_proxmox_mpc.cluster.bulkread import MAX_IN_FLIGHT, START_IN_FLIGHT, Window, read_many
from pytest_proxmox_mpc.cluster.client import connect, connect_checked, derive
from pytest_proxmox_mpc.cluster.direct import channel_of
from pytest_proxmox_mpc.cluster.guard import Guard
from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.errors import ReadOnlyViolation, TargetUnavailable
from pytest_proxmox_mpc.model.endpoint import Endpoint
from pytest_proxmox_mpc.safety.audit import AuditLog
from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.sim.process import free_port

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
                   "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def dead_proxy() -> str:
    return f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there


def test_https_proxy_is_honoured_and_no_proxy_spares_the_cluster(pve_endpoint: Endpoint, pve_sim: Any,
                                                                 clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HTTPS_PROXY", dead_proxy())
    before = len(pve_sim.requests)
    with pytest.raises(TargetUnavailable, match="cannot reach"):
        connect_checked(pve_endpoint, ReadOnlyPolicy())
    assert len(pve_sim.requests) == before  # it went to the proxy, not to the cluster
    clean_env.setenv("NO_PROXY", pve_endpoint.host)
    api, version = connect_checked(pve_endpoint, ReadOnlyPolicy())
    assert version and len(api.nodes.get()) == 3


def test_the_environment_is_read_once_per_client(pve_endpoint: Endpoint, clean_env: pytest.MonkeyPatch) -> None:
    api = connect(pve_endpoint, ReadOnlyPolicy())
    second = derive(api, ReadOnlyPolicy())
    clean_env.setenv("HTTPS_PROXY", dead_proxy())  # set later: these clients keep going direct
    assert len(api.nodes.get()) == len(second.nodes.get()) == 3


def test_requests_ca_bundle_does_not_replace_the_clusters_verification(
        pve_endpoint: Endpoint, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(pve_endpoint.verify, str)  # the simulated cluster's own CA
    unrelated = tmp_path / "unrelated.pem"
    unrelated.write_text(Path(requests.certs.where()).read_text())  # public CAs, none of them the cluster's
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(unrelated))
    api, _ = connect_checked(pve_endpoint, ReadOnlyPolicy())  # verified with --pve-ca-bundle's CA, not the variable's
    assert api.nodes.get()
    clean_env.setenv("REQUESTS_CA_BUNDLE", pve_endpoint.verify)
    system_cas = Endpoint(**{**pve_endpoint.__dict__, "verify": True})
    with pytest.raises(TargetUnavailable, match="TLS verification"):
        connect_checked(system_cas, ReadOnlyPolicy())  # the variable no longer stands in for the cluster's CA


def test_parallel_config_reads_are_audited_like_any_other(pve_endpoint: Endpoint, pve_sim: Any,
                                                          tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "audit.jsonl", "run")
    api = connect(pve_endpoint, Guard(ReadOnlyPolicy(), trail))
    assert channel_of(api) is not None  # this client's config reads go out on plain connections
    before = len(pve_sim.requests)
    inventory = read_inventory(api, networks=False)
    trail.close()
    configs = sorted(path for method, path, _ in pve_sim.requests[before:] if path.endswith("/config"))
    assert len(configs) == len(inventory.guests) == 12
    audited = sorted("/api2/json" + r["path"] for r in AuditLog.read(tmp_path / "audit.jsonl")
                     if r["path"].endswith("/config"))
    assert audited == configs
    assert all(guest.digest for guest in inventory.guests.values())


def test_a_busy_answer_is_asked_again_and_an_error_is_not(pve_readonly: Any, pve_sim: Any) -> None:
    path = "/nodes/pve2/qemu/102/config"
    pve_sim.fail("GET", path, 503, "too many requests in flight", times=1)
    try:
        before = len(pve_sim.requests)
        (answer,) = read_many(pve_readonly, [path.lstrip("/")])
        assert answer["digest"] and [p for _, p, _ in pve_sim.requests[before:]] == ["/api2/json" + path] * 2
        pve_sim.fail("GET", path, 500, "boom", times=1)
        with pytest.raises(Exception, match="500"):
            read_many(pve_readonly, [path.lstrip("/")])
    finally:
        pve_sim.failures.pop(("GET", path), None)


class Wrapped:
    """A caller's own object in front of the client (as a test that counts requests has): no proxmoxer inside."""

    def __init__(self, api: Any) -> None:
        self.api, self.calls = api, 0

    def __call__(self, path: str) -> Any:
        self.calls += 1
        return self.api(path)


def test_configs_are_read_through_any_object_that_acts_as_the_client(pve_readonly: Any) -> None:
    wrapped = Wrapped(pve_readonly)
    inventory = read_inventory(wrapped, networks=False)
    assert all(guest.digest for guest in inventory.guests.values())
    assert wrapped.calls == inventory.requests  # every request, configs too, went through it


def test_a_refused_request_on_a_plain_connection_never_leaves(pve_endpoint: Endpoint, pve_sim: Any) -> None:
    channel = channel_of(connect(pve_endpoint, ReadOnlyPolicy()))
    assert channel is not None
    before = len(pve_sim.requests)
    with pytest.raises(ReadOnlyViolation):
        channel.send("POST", "/api2/json/nodes/pve1/qemu/101/status/stop", {}, b"")
    assert len(pve_sim.requests) == before
    assert channel.send("GET", "/api2/json/version").status == 200
    channel.close()


def test_the_window_grows_on_fast_answers_and_backs_off_on_slow_and_busy_ones() -> None:
    window = Window()
    assert window.size == START_IN_FLIGHT
    for _ in range(2 * MAX_IN_FLIGHT):
        window.acquire()
        window.release(0.005)
    assert window.size == MAX_IN_FLIGHT  # bounded
    window.acquire()
    window.release(0.005 * 10)  # the cluster queues: one fewer
    assert window.size == MAX_IN_FLIGHT - 1
    window.acquire()
    window.release(None, busy=True)  # it says so: half
    assert window.size == (MAX_IN_FLIGHT - 1) / 2
    for _ in range(10):
        window.acquire()
        window.release(None, busy=True)
    assert window.size == 1  # never below one
