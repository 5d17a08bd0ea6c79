"""Temporary guests on an isolated network (``--pve-temp-network BRIDGE[:VLAN]``): the NICs of every create, clone
and config write judged; a clone (or restore) kept from starting until its inherited NICs pass; a property over
sequences of requests; and the plugin's and a tool's guests on a fakepve served as a live cluster (its request log
shows what arrived)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.model.apischema import load_schema
from pytest_proxmox_mpc.safety.credentials import sdn_problem
from pytest_proxmox_mpc.safety.nics import NetworkRule, TempNetwork, first_problem, nic_options, nic_problem
from pytest_proxmox_mpc.safety.policy import ApiRequest, PhasePolicy
from pytest_proxmox_mpc.sim.cluster import SimCluster

from .livetarget import live

SCHEMA = load_schema()
NET = TempNetwork("vmbr9")
TEMPLATE = 100
FIRST = 990_000


def test_the_setting_is_bridge_and_an_optional_vlan() -> None:
    assert TempNetwork.parse("vmbr9") == TempNetwork("vmbr9")
    assert TempNetwork.parse(" vnet1:42 ") == TempNetwork("vnet1", 42)
    for bad in ("", "vmbr9:0", "vmbr9:4095", "vmbr9:x", "9vmbr", "vmbr 9"):
        with pytest.raises(ValueError):
            TempNetwork.parse(bad)


@pytest.mark.parametrize(("value", "network", "passes"), [
    ("virtio,bridge=vmbr9", NET, True),
    ("virtio=BC:24:11:00:00:01,bridge=vmbr9,firewall=1", NET, True),
    ("name=eth0,bridge=vmbr9,ip=dhcp", NET, True),
    ("virtio,bridge=vmbr0", NET, False),
    ("virtio", NET, False),  # no bridge: user-mode networking, not the isolated one
    ("virtio,bridge=vmbr9,tag=5", NET, False),
    ("virtio,bridge=vmbr9,trunks=5;6", NET, False),
    ("virtio,bridge=vmbr9,tag=42", TempNetwork("vmbr9", 42), True),
    ("virtio,bridge=vmbr9", TempNetwork("vmbr9", 42), False),
    ("virtio,bridge=vmbr9,tag=43", TempNetwork("vmbr9", 42), False),
    ("virtio,bridge=vmbr9", None, False),
])
def test_a_nic_passes_only_on_the_isolated_bridge_and_vlan(value: str, network: TempNetwork | None,
                                                           passes: bool) -> None:
    assert (nic_problem("net0", value, network) is None) == passes, nic_options(value)


def test_without_the_setting_the_refusal_names_it() -> None:
    problem = first_problem({"net0": "virtio,bridge=vmbr0"}, None)
    assert problem is not None and "--pve-temp-network" in problem


@pytest.mark.parametrize(("permissions", "network", "wide"), [
    ({"/": {"SDN.Use": 1}}, NET, "/"),
    ({"/sdn/zones/localnetwork": {"SDN.Use": 1}}, NET, "/sdn/zones/localnetwork"),
    ({"/sdn/zones/localnetwork/vmbr0": {"SDN.Use": 1}}, NET, "/sdn/zones/localnetwork/vmbr0"),
    ({"/sdn/zones/localnetwork/vmbr9": {"SDN.Use": 1}}, TempNetwork("vmbr9", 42), "/sdn/zones/localnetwork/vmbr9"),
    ({"/sdn/zones/localnetwork/vmbr9": {"SDN.Use": 1}, "/vms": {"VM.Audit": 1}}, NET, None),
    ({"/sdn/zones/localnetwork/vmbr9/42": {"SDN.Use": 1}}, TempNetwork("vmbr9", 42), None),
    ({"/sdn/zones/localnetwork/vmbr9": {"SDN.Use": 1}}, None, "/sdn/zones/localnetwork/vmbr9"),
])
def test_the_gate_warns_when_the_credentials_may_use_other_networks(
        permissions: dict[str, dict[str, int]], network: TempNetwork | None, wide: str | None) -> None:
    warning = sdn_problem("ci@pve!t", permissions, network)
    if wide is None:
        assert warning is None
    else:
        assert warning is not None and f"SDN.Use on {wide})" in warning, warning


# -- the property: whatever a test or a tool sends, no temporary guest runs with a NIC elsewhere ---------------------

NICS = st.dictionaries(st.sampled_from(["net0", "net1", "net3"]),
                       st.sampled_from(["virtio,bridge=vmbr9", "virtio,bridge=vmbr0", "e1000=BC:24:11:00:00:01,"
                                        "bridge=vmbr9,tag=7", "virtio", "name=eth0,bridge=vmbr9,ip=dhcp",
                                        "virtio,bridge=vmbr1", "virtio,bridge=vmbr9,trunks=2"]), max_size=2)
STEPS = st.lists(st.tuples(st.sampled_from(["create", "clone", "config", "start", "restore"]),
                           st.integers(FIRST, FIRST + 3), NICS), max_size=12)


class Cluster:
    """Guests' configs as the requests the policy allowed would leave them (a template with a NIC on vmbr0)."""

    def __init__(self) -> None:
        self.configs: dict[int, dict[str, str]] = {TEMPLATE: {"net0": "virtio,bridge=vmbr0", "template": "1"}}
        self.running: set[int] = set()


@settings(deadline=None)  # the profile's examples (thousands in CI); no per-example deadline on a loaded machine
@given(steps=STEPS, template_nics=NICS)
def test_no_sequence_of_requests_starts_a_temporary_guest_with_a_nic_on_another_network(
        steps: list[tuple[str, int, dict[str, str]]], template_nics: dict[str, str]) -> None:
    cluster = Cluster()
    cluster.configs[TEMPLATE] = {**template_nics, "template": "1"}
    ledger: set[int] = set()
    policy = PhasePolicy(phase=4, schema=SCHEMA, ledger=ledger, temp_range=(FIRST, FIRST + 9),
                         lookup=lambda vmid: SimpleNamespace(template=vmid == TEMPLATE),  # type: ignore[arg-type,return-value]
                         network=NetworkRule(NET, set(), lambda vmid: cluster.configs.get(vmid)))
    for action, vmid, nics in steps:
        path, params = {
            "create": ("/nodes/pve1/qemu", {"vmid": str(vmid), **nics}),
            "restore": ("/nodes/pve1/qemu", {"vmid": str(vmid), "archive": "backup:vzdump-qemu-1.vma"}),
            "clone": (f"/nodes/pve1/qemu/{TEMPLATE}/clone", {"newid": str(vmid)}),
            "config": (f"/nodes/pve1/qemu/{vmid}/config", dict(nics)),
            "start": (f"/nodes/pve1/qemu/{vmid}/status/start", {}),
        }[action]
        decision = policy.decide(ApiRequest("POST", path, params))
        if not decision.allowed or (action in ("create", "restore", "clone") and vmid in cluster.configs):
            continue
        if action == "create":
            cluster.configs[vmid] = dict(nics)
        elif action == "restore":  # a backup's NICs, unknown to the request
            cluster.configs[vmid] = {"net0": "virtio,bridge=vmbr0"}
        elif action == "clone":
            cluster.configs[vmid] = {k: v for k, v in cluster.configs[TEMPLATE].items() if k != "template"}
        elif action == "config":
            cluster.configs[vmid].update(nics)
        else:
            cluster.running.add(vmid)
        if decision.creates is not None:
            ledger.add(decision.creates)
        for running in cluster.running:
            assert first_problem(cluster.configs[running], NET) is None, (steps, cluster.configs[running])


# -- on a fakepve served as a live cluster -------------------------------------------------------------------------

INNER = """
import pytest
import requests
from pytest_proxmox_mpc.errors import ProxmoxMpcError

pytestmark = pytest.mark.phase4


@pytest.mark.pve_expect_refusal
def test_a_nic_elsewhere(temp_vm):
    with pytest.raises(ProxmoxMpcError, match="temp-network"):
        temp_vm(net0="virtio,bridge=vmbr0")


def test_the_default_nic(temp_vm, pve_client):
    vm = temp_vm()
    print("NIC", pve_client.nodes(vm.node).qemu(vm.vmid).config.get()["net0"])


def tool(pve_proxy, method, path, **data):
    return requests.request(method, pve_proxy.base_url + path, data=data, verify=str(pve_proxy.cafile),
                            headers={"Authorization": pve_proxy.authorization()}, timeout=60)


@pytest.mark.pve_expect_refusal
def test_a_tools_create(pve_proxy):
    vmid = pve_proxy.reserve_vmid()
    answer = tool(pve_proxy, "POST", "/nodes/pve1/qemu", vmid=vmid, name="tool-vm", net0="virtio,bridge=vmbr0")
    print("CREATE", vmid, answer.status_code, answer.json()["errors"]["policy"])


@pytest.mark.pve_expect_refusal
def test_a_tools_clone(pve_proxy):
    vmid = pve_proxy.reserve_vmid()
    cloned = tool(pve_proxy, "POST", "/nodes/pve1/qemu/100/clone", newid=vmid, name="tool-clone", full=1)
    assert cloned.status_code == 200, cloned.text
    started = tool(pve_proxy, "POST", f"/nodes/pve1/qemu/{vmid}/status/start")
    print("CLONE", vmid, started.status_code, started.json()["errors"]["policy"])
"""


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory, homelab_scenario: Path) -> Iterator[SimCluster]:
    cluster = SimCluster(homelab_scenario, tmp_path_factory.mktemp("network-sim"))
    yield cluster
    cluster.stop()


def sent(cluster: SimCluster, method: str, fragment: str) -> list[str]:
    return [path for m, path, *_ in cluster.pve.requests if m == method and fragment in path]


def printed(lines: list[str], word: str) -> list[str]:
    """The words an inner test printed after ``word`` (``-s``: the line may start with pytest's progress)."""
    line = next(line for line in lines if f"{word} " in line)
    return line[line.index(f"{word} "):].split()


@pytest.mark.slow
def test_temporary_guests_stay_on_the_isolated_network_of_a_live_cluster(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, served: SimCluster) -> None:
    monkeypatch.setenv("PVE_PASSWORD", served.endpoint.password.reveal())
    pytester.makepyfile(test_net=INNER)
    target: Any = SimpleNamespace(address=f"{served.host}:{served.pve.port}", cafile=served.certfile)
    args = live(pytester, target, "--pve-temp-network", "vmbr9", "--pve-max-phase", "4", "-s", "-p", "no:xdist")
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*WARNING: the credentials root@pam may attach guests to networks beyond the isolated "
                                 "one (SDN.Use on /)*scoped to /sdn/zones/localnetwork/vmbr9*"])
    result.stdout.fnmatch_lines(["temporary guests' network: vmbr9; NICs named: vmbr9"])
    lines = result.outlines
    assert printed(lines, "NIC")[1].startswith("virtio=") and "bridge=vmbr9" in printed(lines, "NIC")[1]
    _, vmid, status, rule = printed(lines, "CREATE")[:4]
    assert (status, rule) == ("403", "phase4:temp-network:")
    _, clone, status, rule = printed(lines, "CLONE")[:4]
    assert (status, rule) == ("403", "phase4:temp-network:")
    # Refused before it was sent: fakepve never saw the creates with a NIC elsewhere, nor the clone's start.
    creates = [body for m, path, body, *_ in served.pve.requests if m == "POST" and path.endswith("/qemu")]
    assert creates and not [body for body in creates if "vmbr0" in str(body)], creates
    assert sent(served, "POST", f"/qemu/{clone}/status/start") == []
    assert sent(served, "POST", f"/qemu/{clone}/clone") == [] and sent(served, "POST", "/qemu/100/clone")
    assert not [row for row in served.pve.requests if row[0] == "POST" and f"vmid={vmid}" in str(row[2:])]
    api = ProxmoxAPI(f"{served.host}:{served.pve.port}", user="root@pam", password=served.endpoint.password.reveal(),
                     verify_ssl=served.certfile)
    assert [row["vmid"] for row in api.cluster.resources.get(type="vm") if int(row["vmid"]) >= FIRST] == []
