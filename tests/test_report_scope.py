"""Whose run is judged: a session that validates a cluster gets the summary and the success criteria; one that only
uses the plugin's fixtures as a test harness (a project testing its own tooling, the plugin's own tests) is not
judged against the plan's criteria and sees the plugin's lines only when something needs attention."""

from __future__ import annotations

import pytest

# A harness: the plugin's fixtures, no phase or criterion marker. One answer fails on purpose, which a run that
# validates counts against the plan's "99%+ API operation success rate".
HARNESS = """
import pytest

def test_a_busy_cluster_is_reported(pve_readonly, pve_sim):
    pve_sim.fail("GET", "/nodes", 503, "too many requests in flight", times=1)
    with pytest.raises(Exception, match="503"):
        pve_readonly.nodes.get()
    assert pve_readonly.nodes.get()
"""

MARKED = """
import pytest

@pytest.mark.phase1
def test_nodes(pve_readonly):
    assert pve_readonly.nodes.get()
"""

REFUSED = """
def test_a_write_by_mistake(pve_client):
    try:
        pve_client.nodes("pve1").qemu(100).status.start.post()
    except Exception:
        pass  # the code under test swallows it: the plugin still fails the test and names the request
"""


def judged(result: pytest.RunResult) -> list[str]:
    """The run's summary and criteria lines."""
    return [line for line in result.outlines
            if "proxmox audit" in line or line.startswith(("criteri", "GET allowed", "API latency"))
            or " requests in " in line]


@pytest.mark.parametrize("settings", [[], ["--pve-max-phase", "1", "--pve-timeout", "20"]],
                         ids=["no-setting", "settings-given"])
def test_a_harness_session_is_not_judged(pytester: pytest.Pytester, settings: list[str]) -> None:
    pytester.makepyfile(test_harness=HARNESS)
    result = pytester.runpytest("-p", "no:cacheprovider", *settings)
    result.assert_outcomes(passed=1)
    assert judged(result) == [], result.stdout.str()
    result.stdout.fnmatch_lines(["proxmox: run *, audit trail */.pytest_proxmox_mpc/audit/*.jsonl"])  # still told


@pytest.mark.parametrize("asks", [["--pve-report", "reports/run"], ["-m", "phase1"]], ids=["report", "phase"])
def test_a_session_that_chooses_the_plugin_is_judged(pytester: pytest.Pytester, asks: list[str]) -> None:
    pytester.makepyfile(test_harness=HARNESS)
    result = pytester.runpytest("-p", "no:cacheprovider", *asks)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= proxmox audit =*", "* requests in *", "criteria: * met, 1 not met, *",
                                 "criterion not met: 99%+ API operation success rate *"])


def test_a_session_with_a_test_marked_by_its_author_is_judged(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_harness=HARNESS, test_marked=MARKED)
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2")  # under xdist too: the controller judges
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*= proxmox audit =*", "criteria: * met, 1 not met, *",
                                 "criterion not met: 99%+ API operation success rate *"])


def test_a_harness_session_still_sees_a_refused_request(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_refused=REFUSED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*= proxmox audit =*",
                                 "refused POST /nodes/pve1/qemu/100/status/start by test_refused.py::"
                                 "test_a_write_by_mistake (phase 1): rule *"])
    assert [line for line in judged(result) if "proxmox audit" not in line] == [], result.stdout.str()
