"""The Python API's session (``pytest_proxmox_mpc.connect``) on a fakepve cluster: the phase's policy before anything
is sent (fakepve's request log shows what arrived), temporary guests removed on every way out of the session, a
proxy whose tools' guests are removed too, and its state where the caller said."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_proxmox_mpc import (
    ClusterSession,
    Endpoint,
    ExclusionList,
    ExclusionViolation,
    InvalidInput,
    PhaseViolation,
    ReadOnlyViolation,
    Secret,
    TargetUnavailable,
    connect,
)
from pytest_proxmox_mpc.sim.cluster import SimCluster

RANGE = (990200, 990299)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, homelab_scenario: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(homelab_scenario, tmp_path_factory.mktemp("session-sim"))
    yield cluster
    cluster.stop()


def sent_since(sim: SimCluster, before: int) -> list[tuple[str, str]]:
    return [(method, path) for method, path, *_ in sim.pve.requests[before:]]


def in_range(sim: SimCluster, state_dir: Path) -> list[int]:
    """The guests in the session tests' temporary range now, as a phase-1 session reads them."""
    with connect(sim.endpoint, state_dir=state_dir) as look:
        return sorted(vmid for vmid in look.inventory(guest_configs=False, networks=False).guests
                      if RANGE[0] <= vmid <= RANGE[1])


def test_phase_1_reads_and_refuses_a_write_before_it_is_sent(sim: SimCluster, tmp_path: Path) -> None:
    with connect(sim.endpoint, phase=1, state_dir=tmp_path) as cluster:
        assert isinstance(cluster, ClusterSession)
        assert len(cluster.inventory().guests) == 12
        before = len(sim.pve.requests)
        with pytest.raises(ReadOnlyViolation):
            cluster.api.nodes("pve1").qemu(101).status.stop.post()
        with pytest.raises(PhaseViolation, match="phase 3"):
            cluster.temp_guest("qemu")
        assert sent_since(sim, before) == []
    audit = list((tmp_path / ".pytest_proxmox_mpc").rglob("*.jsonl"))
    assert audit, "the audit trail is in the state directory the caller named"
    password = sim.endpoint.password
    assert password is not None
    assert not [path for path in audit if password.reveal() in path.read_text()]


def test_phase_3_writes_only_to_its_own_guests_and_removes_them(sim: SimCluster, tmp_path: Path) -> None:
    exclusions = ExclusionList.parse("protect:\n  names: [db-*]\n  vmids: [102]\n")
    with connect(sim.endpoint, phase=3, exclusions=exclusions, temp_range=RANGE, state_dir=tmp_path) as cluster:
        before = len(sim.pve.requests)
        with pytest.raises(PhaseViolation):  # a production guest the session did not create
            cluster.api.nodes("pve1").qemu(101).status.stop.post()
        with pytest.raises(ExclusionViolation):  # protected by the exclusion list
            cluster.api.nodes("pve1").qemu(102).config.put(description="x")
        # Judging a write may read the guest's facts first; the writes themselves never arrived.
        assert [sent for sent in sent_since(sim, before) if sent[0] != "GET"] == []
        guest = cluster.temp_guest("qemu", memory=512)
        assert RANGE[0] <= guest.vmid <= RANGE[1]
        cluster.api.nodes(guest.node).qemu(guest.vmid).config.put(description="its own guest")
        assert in_range(sim, tmp_path) == [guest.vmid]
    assert in_range(sim, tmp_path) == []


def test_a_session_left_by_an_exception_still_removes_its_guests(sim: SimCluster, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the caller's own failure"), \
            connect(sim.endpoint, phase=3, temp_range=RANGE, state_dir=tmp_path) as cluster:
        cluster.temp_guest("lxc")
        cluster.temp_guest("qemu")
        raise RuntimeError("the caller's own failure")
    assert in_range(sim, tmp_path) == []


def test_a_tools_guests_made_through_the_proxy_are_removed_with_the_session(sim: SimCluster, tmp_path: Path) -> None:
    with connect(sim.endpoint, phase=3, temp_range=RANGE, state_dir=tmp_path) as cluster, cluster.proxy() as proxy:
        access: Any = proxy.access
        headers, ca = {"Authorization": access.authorization()}, str(access.cafile)
        vmid = int(requests.get(access.base_url + "/cluster/nextid", headers=headers, verify=ca).json()["data"])
        assert RANGE[0] <= vmid <= RANGE[1], "the proxy hands tools VMIDs of the temporary range"
        made = requests.post(access.base_url + "/nodes/pve1/qemu", headers=headers, verify=ca,
                             data={"vmid": vmid, "name": f"tool-{vmid}", "memory": 512})
        assert made.status_code == 200, made.text
        refused = requests.post(access.base_url + "/nodes/pve1/qemu/101/status/stop", headers=headers, verify=ca)
        assert refused.status_code == 403
    assert in_range(sim, tmp_path) == []


def test_a_phase_that_does_not_exist_is_refused_before_anything_is_sent(sim: SimCluster, tmp_path: Path) -> None:
    before = len(sim.pve.requests)
    with pytest.raises(InvalidInput, match="phase must be one of 1, 2, 3, 4, not 5"):
        connect(sim.endpoint, phase=5, state_dir=tmp_path)
    assert sent_since(sim, before) == []


def test_wrong_credentials_are_one_line_without_the_secret(sim: SimCluster, tmp_path: Path) -> None:
    endpoint = sim.endpoint
    wrong = Endpoint(endpoint.host, endpoint.port, endpoint.user, password=Secret("not-the-password-xyz"),
                     verify=endpoint.verify)
    with pytest.raises(TargetUnavailable) as failure:
        connect(wrong, state_dir=tmp_path)
    assert "\n" not in str(failure.value) and "not-the-password-xyz" not in str(failure.value)
