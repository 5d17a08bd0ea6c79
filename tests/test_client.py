"""The phase-policed client as a test meets it: per-phase rules, the ledger, exclusions, refusals."""

from __future__ import annotations

import pytest

SWEEP = r'''
import re

import pytest

from pytest_proxmox_mpc import PhaseViolation, SafetyViolation
from pytest_proxmox_mpc.model.apischema import load_schema

VALUES = {"node": "pve1", "storage": "local", "poolid": "prod"}


def concrete(template, vmid):
    values = dict(VALUES, vmid=str(vmid))
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(1) + "-x"), template)


def sweep(client, sim, writes, vmid, rule_prefix, violation=PhaseViolation):
    before = len(sim.requests)
    for method, template in writes:
        path = concrete(template, vmid)
        with pytest.raises(violation) as caught:
            getattr(client(path.lstrip("/")), method.lower())(comment="must never arrive")
        assert caught.value.rule.startswith(rule_prefix), (method, path, caught.value.rule)
    assert sim.requests[before:] == [], "a refused request reached the cluster"


WRITES = [w for w in load_schema().writes() if w != ("POST", "/access/ticket")]
GUEST_WRITES = [(m, t) for m, t in WRITES if "{vmid}" in t]


def test_the_schema_has_every_write():
    assert len(WRITES) == 337 and len(GUEST_WRITES) == 88


@pytest.mark.pve_expect_refusal
@pytest.mark.phase1
def test_phase1_refuses_every_write(pve_client, pve_sim):
    sweep(pve_client, pve_sim, WRITES, 101, "phase1:no-writes")


@pytest.mark.pve_expect_refusal
@pytest.mark.phase2
def test_phase2_refuses_every_write(pve_client, pve_sim):
    sweep(pve_client, pve_sim, WRITES, 101, "phase2:no-writes")


@pytest.mark.pve_expect_refusal
@pytest.mark.phase3
@pytest.mark.parametrize("vmid", [101, 100, 990500])
def test_phase3_refuses_every_write_to_a_guest_outside_the_ledger(pve_client, pve_sim, vmid):
    sweep(pve_client, pve_sim, GUEST_WRITES, vmid, "phase3:")


@pytest.mark.pve_expect_refusal
@pytest.mark.phase4
@pytest.mark.parametrize("vmid", [101, 100, 990500])
def test_phase4_refuses_every_write_to_a_guest_outside_the_ledger(pve_client, pve_sim, vmid):
    sweep(pve_client, pve_sim, GUEST_WRITES, vmid, "phase4:")
'''


def test_every_write_is_refused_by_phase_and_never_sent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sweep=SWEEP)
    result = pytester.runpytest("--pve-max-phase", "4")
    result.assert_outcomes(passed=9)


LIFECYCLE = r'''
import time

import pytest

from pytest_proxmox_mpc import ExclusionViolation, PhaseViolation


def wait(client, upid):
    for _ in range(200):
        status = client.nodes("pve1").tasks(upid).status.get()
        if status["status"] == "stopped":
            return status["exitstatus"]
        time.sleep(0.01)
    raise AssertionError("task did not end")


@pytest.mark.phase3
def test_a_created_guest_joins_the_ledger_and_can_be_changed_and_deleted(pve_client, pve_sim, pve_audit, request):
    upid = pve_client.nodes("pve1").qemu.post(vmid=990001, name="pytest-tmp", memory=512, cores=1)
    assert wait(pve_client, upid) == "OK"
    pve_client.nodes("pve1").qemu(990001).config.put(memory=1024)
    assert pve_sim.vm(990001).config["memory"] in (1024, "1024")
    assert wait(pve_client, pve_client.nodes("pve1").qemu(990001).delete(purge=1)) == "OK"
    assert pve_sim.vm(990001) is None
    records = pve_audit.records(test=request.node.nodeid)
    writes = [r for r in records if r["method"] != "GET" and r["path"] != "/access/ticket"]
    assert [(r["method"], r["path"], r["rule"], r["status"]) for r in writes] == [
        ("POST", "/nodes/pve1/qemu", "phase3:create-temporary", 200),
        ("PUT", "/nodes/pve1/qemu/990001/config", "phase3:ledger-guest", 200),
        ("DELETE", "/nodes/pve1/qemu/990001", "phase3:ledger-guest", 200),
    ]
    assert writes[0]["upid"] == upid and writes[0]["params"]["vmid"] == "990001"
    assert writes[0]["phase"] == 3 and writes[0]["test"] == request.node.nodeid


@pytest.mark.pve_expect_refusal
@pytest.mark.phase3
def test_creates_outside_the_range_and_node_writes_are_refused(pve_client, pve_sim):
    before = len(pve_sim.requests)
    with pytest.raises(PhaseViolation, match="create-outside-temporary-range"):
        pve_client.nodes("pve1").qemu.post(vmid=4242, name="x")
    with pytest.raises(PhaseViolation, match="not-temporary"):
        pve_client.nodes("pve1").stopall.post()
    assert pve_sim.requests[before:] == []


@pytest.mark.pve_expect_refusal
@pytest.mark.phase3
def test_a_guest_tagged_production_during_the_run_is_protected_at_write_time(pve_client, pve_sim):
    assert wait(pve_client, pve_client.nodes("pve1").qemu.post(vmid=990002, name="pytest-tmp2")) == "OK"
    pve_sim.vm(990002).config["tags"] = "production"  # someone tags it while the run is going on
    before = len(pve_sim.requests)
    with pytest.raises(ExclusionViolation) as caught:
        pve_client.nodes("pve1").qemu(990002).config.put(memory=2048)
    assert caught.value.rule == "exclusion:guest" and "production" in caught.value.reason
    assert [m for m, _, _ in pve_sim.requests[before:]] == ["GET"]  # the write-time lookup, nothing else


@pytest.mark.pve_expect_refusal
@pytest.mark.phase3
def test_a_guest_protected_at_session_start_stays_protected_after_a_rename(pve_client, pve_sim):
    vm = pve_sim.vm(101)
    vm.name = vm.config["name"] = "renamed"
    with pytest.raises(ExclusionViolation) as caught:
        pve_client.nodes("pve1").qemu(101).status.start.post()
    assert caught.value.rule == "exclusion:vmid"
    assert caught.value.reason == "vmid 101 was protected when the session started"


@pytest.mark.phase3
def test_pve_exclusions_is_the_loaded_list(pve_exclusions):
    assert pve_exclusions.protects(name="web-01") and pve_exclusions.protects(node="pve3")
    assert not pve_exclusions.protects(vmid=990001, name="pytest-tmp")
'''

EXCLUSIONS = """\
protect:
  names: ["web-*"]
  tags: [production]
  nodes: [pve3]
"""


def test_phase3_lifecycle_ledger_and_exclusions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lifecycle=LIFECYCLE)
    pytester.makefile(".yaml", exclusions=EXCLUSIONS)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-exclusions", "exclusions.yaml", "-p", "no:randomly")
    result.assert_outcomes(passed=5)


SWALLOWED = """
import pytest

def test_code_under_test_swallows_the_violation(pve_client):
    try:
        pve_client.nodes("pve1").qemu(101).status.stop.post()
    except Exception:
        pass  # a careless tool: the refusal must still fail the test

@pytest.mark.pve_expect_refusal
def test_a_test_that_probes_the_policy(pve_client):
    try:
        pve_client.nodes("pve1").qemu(101).status.stop.post()
    except Exception:
        pass

def test_reads_only(pve_client):
    assert pve_client.nodes.get()
"""


def test_a_refused_request_fails_the_test_even_when_swallowed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_swallowed=SWALLOWED)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "proxmox: the policy refused requests of this test:",
        "POST /nodes/pve1/qemu/101/status/stop: phase1:no-writes (phase 1 sends only GET requests (and the login))",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
