"""The phase policy, judged over the whole PVE schema, not a sample of endpoints."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_proxmox_mpc.errors import ExclusionViolation, PhaseViolation, ReadOnlyViolation
from pytest_proxmox_mpc.model.apischema import ApiSchema, load_schema
from pytest_proxmox_mpc.model.inventory import GuestFacts
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.safety.policy import (
    DEFAULT_TEMP_RANGE,
    GUEST_PATH,
    LEAVES_CLUSTER_OPS,
    PHASE4_GUEST_OPS,
    ApiRequest,
    GuestState,
    PhasePolicy,
    ReadOnlyPolicy,
)

SCHEMA = load_schema()
assert SCHEMA is not None, "fakepve's schema data must be installed for the tests"
WRITES = SCHEMA.writes()
TEMP = DEFAULT_TEMP_RANGE[0]
LEDGER = frozenset({TEMP, TEMP + 1})


def concrete(template: str, vmid: int = 101, node: str = "pve1", storage: str = "local") -> str:
    values = {"vmid": str(vmid), "node": node, "storage": storage}
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(1) + "-x"), template)


def request(method: str, path: str, **params: str) -> ApiRequest:
    return ApiRequest(method=method, path=path, params=params)


def test_the_schema_has_the_pve9_write_methods() -> None:
    assert len(WRITES) == 338
    match = SCHEMA.match("/nodes/pve1/qemu/101/status/start")
    assert match is not None and match.template == "/nodes/{node}/qemu/{vmid}/status/start"
    assert match.variables == {"node": "pve1", "vmid": "101"} and match.methods == {"POST"}


@pytest.mark.parametrize("phase", [1, 2])
def test_phases_1_and_2_refuse_every_write(phase: int) -> None:
    policy = PhasePolicy(phase=phase, schema=SCHEMA, ledger=LEDGER)
    for method, template in WRITES:
        decision = policy.decide(request(method, concrete(template, vmid=TEMP), vmid=str(TEMP)))
        if (method, template) == ("POST", "/access/ticket"):
            assert decision.allowed and decision.rule == f"phase{phase}:login"
            continue
        assert not decision.allowed, (method, template)
        assert decision.violation is PhaseViolation and decision.rule == f"phase{phase}:no-writes"


@pytest.mark.parametrize("phase", [3, 4])
def test_every_write_to_a_guest_outside_the_ledger_is_refused(phase: int) -> None:
    policy = PhasePolicy(phase=phase, schema=SCHEMA, ledger=LEDGER)
    guest_writes = [(m, t) for m, t in WRITES if GUEST_PATH.match(t)]
    assert len(guest_writes) > 80
    for vmid in (101, TEMP + 5):  # a production guest, and a stranger inside the temporary range
        for method, template in guest_writes:
            decision = policy.decide(request(method, concrete(template, vmid=vmid), newid=str(TEMP + 9)))
            assert not decision.allowed, (phase, vmid, method, template, decision.rule)


@pytest.mark.parametrize("phase", [3, 4])
def test_writes_to_ledger_guests_are_allowed_by_phase(phase: int) -> None:
    policy = PhasePolicy(phase=phase, schema=SCHEMA, ledger=LEDGER)
    for method, template in WRITES:
        guest = GUEST_PATH.match(template)
        if not guest:
            continue
        op = guest.group(2) or ""
        decision = policy.decide(request(method, concrete(template, vmid=TEMP), newid=str(TEMP + 9)))
        expected = op not in LEAVES_CLUSTER_OPS and (phase == 4 or op not in PHASE4_GUEST_OPS)
        assert decision.allowed is expected, (phase, method, template, decision.rule)


@pytest.mark.parametrize("phase", [3, 4])
def test_cluster_node_storage_access_and_pool_writes_are_refused(phase: int) -> None:
    policy = PhasePolicy(phase=phase, schema=SCHEMA, ledger=LEDGER)
    others = [(m, t) for m, t in WRITES if not GUEST_PATH.match(t)
              and t not in ("/nodes/{node}/qemu", "/nodes/{node}/lxc", "/nodes/{node}/vzdump", "/access/ticket")]
    assert len(others) > 200
    for method, template in others:
        decision = policy.decide(request(method, concrete(template), vmid=str(TEMP)))
        assert not decision.allowed, (method, template)
        assert decision.rule == f"phase{phase}:not-temporary", (method, template, decision.rule)


def test_creating_guests_only_inside_the_temporary_range() -> None:
    policy = PhasePolicy(phase=3, schema=SCHEMA)
    assert policy.decide(request("POST", "/nodes/pve1/qemu", vmid=str(TEMP + 3))).allowed
    assert policy.decide(request("POST", "/nodes/pve1/lxc", vmid=str(TEMP + 3))).allowed
    for vmid in ("150", str(TEMP - 1), str(DEFAULT_TEMP_RANGE[1] + 1), "", "abc"):
        decision = policy.decide(request("POST", "/nodes/pve1/qemu", vmid=vmid))
        assert not decision.allowed and decision.rule == "phase3:create-outside-temporary-range"


def test_phase4_clone_from_a_template_or_ledger_guest_into_the_range() -> None:
    templates = {100: GuestState(GuestFacts(100, name="tmpl"), template=True),
                 101: GuestState(GuestFacts(101, name="web"), template=False)}
    policy = PhasePolicy(phase=4, schema=SCHEMA, ledger=LEDGER, lookup=templates.get)
    assert policy.decide(request("POST", "/nodes/pve1/qemu/100/clone", newid=str(TEMP + 2))).allowed
    assert policy.decide(request("POST", f"/nodes/pve1/qemu/{TEMP}/clone", newid=str(TEMP + 2))).allowed
    assert not policy.decide(request("POST", "/nodes/pve1/qemu/101/clone", newid=str(TEMP + 2))).allowed
    assert not policy.decide(request("POST", "/nodes/pve1/qemu/100/clone", newid="500")).allowed
    phase3 = PhasePolicy(phase=3, schema=SCHEMA, ledger=LEDGER, lookup=templates.get)
    clone = request("POST", "/nodes/pve1/qemu/100/clone", newid=str(TEMP + 2))
    assert phase3.decide(clone).rule == "phase3:needs-phase4"


def test_vzdump_only_of_ledger_guests_in_phase4() -> None:
    phase4 = PhasePolicy(phase=4, schema=SCHEMA, ledger=LEDGER)
    assert phase4.decide(request("POST", "/nodes/pve1/vzdump", vmid=f"{TEMP},{TEMP + 1}")).allowed
    assert not phase4.decide(request("POST", "/nodes/pve1/vzdump", vmid=f"{TEMP},101")).allowed
    assert not phase4.decide(request("POST", "/nodes/pve1/vzdump", all="1")).allowed
    assert not phase4.decide(request("POST", "/nodes/pve1/vzdump", vmid=str(TEMP), pool="prod")).allowed
    assert not PhasePolicy(phase=3, schema=SCHEMA, ledger=LEDGER).decide(
        request("POST", "/nodes/pve1/vzdump", vmid=str(TEMP))).allowed


@pytest.mark.parametrize(("req", "rule"), [
    (ApiRequest("POST", None), "phase4:unclassifiable-path"),
    (ApiRequest("POST", f"/nodes/pve1/qemu/{TEMP}/../../../cluster/options"), "phase4:unclassifiable-path"),
    (ApiRequest("PUT", f"/nodes/pve1/qemu/{TEMP}/config", opaque_body=True), "phase4:unreadable-body"),
    (ApiRequest("POST", "/nodes/pve1/no-such-endpoint"), "phase4:not-in-schema"),
    (ApiRequest("PATCH", f"/nodes/pve1/qemu/{TEMP}/config"), "phase4:unknown-method"),
    (ApiRequest("GET", "/cluster/resources"), "phase4:get"),
])
def test_what_cannot_be_classified_is_refused(req: ApiRequest, rule: str) -> None:
    decision = PhasePolicy(phase=4, schema=SCHEMA, ledger=LEDGER).decide(req)
    assert decision.rule == rule
    assert decision.allowed is (rule == "phase4:get")


def test_without_a_schema_every_write_is_refused() -> None:
    decision = PhasePolicy(phase=4, schema=None, ledger=LEDGER).decide(request("DELETE", f"/nodes/pve1/qemu/{TEMP}"))
    assert not decision.allowed and decision.rule == "phase4:no-schema"


EXCLUSIONS = ExclusionList.parse("""
protect:
  vmids: [101, "990500-990599"]
  names: ["prod-*"]
  tags: [production]
  pools: [prod]
  nodes: [pve-prod-1]
  storages: [ceph-prod]
""")


@pytest.mark.parametrize(("req", "rule"), [
    (request("POST", "/nodes/pve1/qemu", vmid="990510"), "exclusion:vmid"),
    (request("POST", "/nodes/pve-prod-1/qemu", vmid=str(TEMP)), "exclusion:node"),
    (request("POST", "/nodes/pve1/qemu", vmid=str(TEMP), scsi0="ceph-prod:32"), "exclusion:storage"),
    (request("POST", "/nodes/pve1/lxc", vmid=str(TEMP), rootfs="local-lvm:8", hostname="prod-db"), "exclusion:guest"),
    (request("POST", "/nodes/pve1/qemu", vmid=str(TEMP), pool="prod"), "exclusion:guest"),
    (request("POST", "/nodes/pve1/qemu", vmid=str(TEMP), tags="lab;Production"), "exclusion:guest"),
    (request("POST", f"/nodes/pve1/qemu/{TEMP}/migrate", target="pve-prod-1"), "exclusion:node"),
    (request("POST", f"/nodes/pve1/qemu/{TEMP}/move_disk", disk="scsi0", storage="ceph-prod"), "exclusion:storage"),
    (request("POST", "/nodes/pve1/qemu/100/clone", newid="990501"), "exclusion:vmid"),
    (request("POST", "/nodes/pve1/vzdump", vmid=f"{TEMP},101"), "exclusion:vmid"),
])
def test_the_exclusion_list_wins_over_the_ledger(req: ApiRequest, rule: str) -> None:
    ledger = LEDGER | {990510, 101}  # even a ledger guest in a protected range stays protected
    decision = PhasePolicy(phase=4, schema=SCHEMA, ledger=ledger, exclusions=EXCLUSIONS).decide(req)
    assert not decision.allowed and decision.rule == rule and decision.violation is ExclusionViolation


def test_current_guest_facts_are_checked_at_write_time() -> None:
    renamed = {TEMP: GuestState(GuestFacts(TEMP, name="prod-web", node="pve1"))}
    policy = PhasePolicy(phase=3, schema=SCHEMA, ledger=LEDGER, exclusions=EXCLUSIONS, lookup=renamed.get)
    decision = policy.decide(request("POST", f"/nodes/pve1/qemu/{TEMP}/status/stop"))
    assert not decision.allowed and decision.rule == "exclusion:guest" and "prod-*" in decision.reason

    def broken(vmid: int) -> GuestState | None:
        raise ConnectionError("cluster unreachable")
    policy = PhasePolicy(phase=3, schema=SCHEMA, ledger=LEDGER, exclusions=EXCLUSIONS, lookup=broken)
    assert policy.decide(request("DELETE", f"/nodes/pve1/qemu/{TEMP}")).rule == "exclusion:unverifiable"


def test_read_only_policy_is_phase1_with_its_own_violation() -> None:
    decision = ReadOnlyPolicy().decide(request("DELETE", f"/nodes/pve1/qemu/{TEMP}"))
    assert decision.violation is ReadOnlyViolation and decision.rule == "read-only:no-writes"


# -- property: no write touching anything protected is ever allowed, in any phase --------------------

NODES = ("pve1", "pve2", "pve-prod-1")
STORAGES = ("local", "local-lvm", "ceph-prod", "nfs")
VMIDS = st.one_of(st.integers(100, 300), st.integers(TEMP, TEMP + 20))
GUEST_TEMPLATES = [(m, t) for m, t in WRITES if "{vmid}" in t or t in ("/nodes/{node}/qemu", "/nodes/{node}/lxc")]


@st.composite
def exclusion_lists(draw: st.DrawFn) -> ExclusionList:
    vmids = draw(st.lists(VMIDS, max_size=4))
    low = draw(VMIDS)
    ranges = [f"{low}-{low + draw(st.integers(0, 10))}"] if draw(st.booleans()) else []
    nodes = draw(st.lists(st.sampled_from(NODES), max_size=2))
    storages = draw(st.lists(st.sampled_from(STORAGES), max_size=2))
    items = [str(v) for v in vmids] + [f'"{r}"' for r in ranges]
    return ExclusionList.parse(f"protect:\n  vmids: [{', '.join(items)}]\n  nodes: [{', '.join(nodes)}]\n"
                               f"  storages: [{', '.join(storages)}]\n")


@st.composite
def guest_requests(draw: st.DrawFn) -> tuple[ApiRequest, int, str, str, int]:
    method, template = draw(st.sampled_from(GUEST_TEMPLATES))
    vmid, node, storage, other = draw(VMIDS), draw(st.sampled_from(NODES)), draw(st.sampled_from(STORAGES)), draw(VMIDS)
    params = {"vmid": str(vmid if "{vmid}" not in template else other)}
    if draw(st.booleans()):
        params[draw(st.sampled_from(["scsi0", "rootfs", "storage", "target-storage", "mp1"]))] = f"{storage}:8"
    if draw(st.booleans()):
        params["newid"] = str(other)
    if draw(st.booleans()):
        params["target"] = draw(st.sampled_from(NODES))
    return ApiRequest(method, concrete(template, vmid=vmid, node=node, storage=storage), params), vmid, node, \
        storage, other


def touches_protected(excl: ExclusionList, req: ApiRequest, vmid: int, node: str) -> bool:
    """The test's own oracle: every vmid, node and storage the request names, read naively."""
    vmids = {vmid} | {int(req.params[k]) for k in ("vmid", "newid") if k in req.params}
    nodes = {node} | ({req.params["target"]} if "target" in req.params else set())
    storages = {v.split(":")[0] for k, v in req.params.items() if k in ("scsi0", "rootfs", "storage",
                                                                       "target-storage", "mp1")}
    if req.path and "/storage/" in req.path:
        storages.add(req.path.split("/storage/")[1].split("/")[0])
    return (any(excl.protects(vmid=v) for v in vmids) or any(excl.protects(node=n) for n in nodes)
            or any(excl.protects(storage=s) for s in storages))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile's (conftest.py)
@given(excl=exclusion_lists(), drawn=guest_requests(), phase=st.integers(1, 4),
       ledger=st.frozensets(VMIDS, max_size=8))
def test_no_write_touching_a_protected_guest_node_or_storage_is_ever_allowed(
        excl: ExclusionList, drawn: tuple[ApiRequest, int, str, str, int], phase: int, ledger: frozenset[int]) -> None:
    req, vmid, node, _, _ = drawn
    decision = PhasePolicy(phase=phase, schema=SCHEMA, ledger=ledger, exclusions=excl).decide(req)
    if touches_protected(excl, req, vmid, node):
        assert not decision.allowed, (req, decision)


def test_schema_matching_prefers_literal_segments() -> None:
    schema = ApiSchema({"/nodes/{node}/qemu": frozenset({"POST"}), "/nodes/{node}/{kind}": frozenset({"PUT"})})
    match = schema.match("/nodes/pve1/qemu")
    assert match is not None and match.template == "/nodes/{node}/qemu"
    other = schema.match("/nodes/pve1/lxc")
    assert other is not None and other.variables == {"node": "pve1", "kind": "lxc"}
