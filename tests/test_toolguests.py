"""Tools in other processes write through the safety proxy: their VMIDs come from the temporary range, and no
guest they make outlives the run (test end, console proxy stop, or the sweeper after a killed run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_proxmox_mpc.cli import main as cli
from pytest_proxmox_mpc.safety.ledger import read_events

from .livetarget import FakePveProcess, in_range, live
from .test_proxy import start_proxy, stop_proxy

# A tool of its own process: asks /cluster/nextid unless told a VMID, creates a VM with it, exits without removing it.
TOOL = r'''
import json, os, sys
import requests

base, auth, ca = os.environ["PROXY_BASE"], os.environ["PROXY_AUTH"], os.environ["PROXY_CA"]
session = requests.Session()
session.headers["Authorization"] = auth
session.trust_env = False
if len(sys.argv) > 1:
    vmid = int(sys.argv[1])
else:
    vmid = int(session.get(base + "/cluster/nextid", verify=ca).json()["data"])
made = session.post(base + "/nodes/pve1/qemu", data={"vmid": vmid, "name": f"tool-vm-{vmid}", "memory": 512},
                    verify=ca)
print(json.dumps({"vmid": vmid, "status": made.status_code}))
'''

RUNS_TOOL = '''
import json, os, subprocess, sys
from pathlib import Path

import pytest


def tool(pve_proxy, *args):
    env = {**os.environ, "PROXY_BASE": pve_proxy.base_url, "PROXY_AUTH": pve_proxy.authorization(),
           "PROXY_CA": str(pve_proxy.cafile)}
    done = subprocess.run([sys.executable, "tool.py", *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
'''

FORGETFUL = RUNS_TOOL + '''

@pytest.mark.phase3
def test_a_tool_asks_nextid_creates_and_forgets(pve_proxy):
    made = tool(pve_proxy)
    assert 990000 <= made["vmid"] <= 999999 and made["status"] == 200


@pytest.mark.phase3
def test_a_tool_told_a_reserved_vmid_creates_and_forgets(pve_proxy):
    vmid = pve_proxy.reserve_vmid()
    assert tool(pve_proxy, str(vmid)) == {"vmid": vmid, "status": 200}
'''


def production(api: Any) -> dict[int, tuple[Any, ...]]:
    """Every guest outside the temporary range: where it is, its state and its config digest."""
    rows = [row for row in api.cluster.resources.get(type="vm") if not 990000 <= int(row["vmid"]) <= 999999]
    return {int(r["vmid"]): (r["node"], r.get("name"), r["status"],
                             api.nodes(r["node"])(r["type"])(r["vmid"]).config.get().get("digest")) for r in rows}


@pytest.mark.slow
def test_guests_a_tool_leaves_are_removed_when_the_test_ends(pytester: pytest.Pytester,
                                                             fakepve_process: FakePveProcess, cluster: Any) -> None:
    before = production(cluster)
    pytester.makefile(".py", tool=TOOL)
    pytester.makepyfile(test_tools=FORGETFUL)
    result = pytester.runpytest(*live(pytester, fakepve_process))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["tool guests through the safety proxy: 2 created, 0 removed by the tool, "
                                 "2 removed by the plugin, 0 left"])
    assert in_range(cluster) == [], "a tool's guest outlived the run"
    assert production(cluster) == before, "a production guest changed"
    (ledger,) = (pytester.path / ".pytest_proxmox_mpc" / "ledger").glob("*.jsonl")
    tool_events = [(e["event"], e.get("by"), e["test"].split("::")[1]) for e in read_events(ledger)
                   if e.get("source") == "proxy"]
    assert sorted(tool_events) == sorted([
        ("created", None, "test_a_tool_asks_nextid_creates_and_forgets"),
        ("destroyed", "plugin", "test_a_tool_asks_nextid_creates_and_forgets"),
        ("created", None, "test_a_tool_told_a_reserved_vmid_creates_and_forgets"),
        ("destroyed", "plugin", "test_a_tool_told_a_reserved_vmid_creates_and_forgets")])


TIDY_AND_NEXTID = RUNS_TOOL + '''
import requests


def nextid(pve_proxy, vmid=None):
    answer = requests.get(pve_proxy.base_url + "/cluster/nextid", params={"vmid": vmid} if vmid else None,
                          headers={"Authorization": pve_proxy.authorization()}, verify=str(pve_proxy.cafile))
    return answer.status_code, answer.json()


REMOVED = []


@pytest.mark.phase3
def test_a_tool_that_removes_its_guest(pve_proxy, pve_readonly):
    vmid = tool(pve_proxy)["vmid"]
    gone = requests.delete(f"{pve_proxy.base_url}/nodes/pve1/qemu/{vmid}",
                           headers={"Authorization": pve_proxy.authorization()}, verify=str(pve_proxy.cafile))
    assert gone.status_code == 200
    REMOVED.append(vmid)


@pytest.mark.phase3
@pytest.mark.pve_expect_refusal
def test_a_removed_tool_guest_leaves_the_ledger(pve_client):
    from pytest_proxmox_mpc import PhaseViolation

    with pytest.raises(PhaseViolation, match="not-in-ledger"):  # its number may be someone else's guest by now
        pve_client.nodes("pve1").qemu(REMOVED[0]).config.put(description="x")


@pytest.mark.phase3
def test_nextid_answers(pve_proxy, pve_readonly):
    status, first = nextid(pve_proxy)
    assert status == 200 and 990000 <= int(first["data"]) <= 999999
    assert nextid(pve_proxy, first["data"]) == (200, {"data": first["data"]}), "the test's own reservation"
    free = str(int(first["data"]) + 7)
    assert nextid(pve_proxy, free) == (200, {"data": free})
    for taken in ("101", "5", "100", "1000000"):
        status, body = nextid(pve_proxy, taken)
        assert status == 400 and body["errors"] == {"vmid": f"VM {taken} already exists"}, taken


@pytest.mark.phase1
def test_phase1_proxies_forward_nextid(pve_proxy):
    status, body = nextid(pve_proxy)
    assert status == 200 and int(body["data"]) < 990000  # the cluster's own answer: phase 1 creates nothing
    with pytest.raises(ValueError, match="phases 3 and 4 only"):
        pve_proxy.reserve_vmid()
'''


def test_nextid_and_a_tool_that_removes_its_own_guest(pytester: pytest.Pytester) -> None:
    pytester.makefile(".py", tool=TOOL)
    pytester.makepyfile(test_tidy=TIDY_AND_NEXTID)
    result = pytester.runpytest("--pve-max-phase", "3", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["tool guests through the safety proxy: 1 created, 1 removed by the tool, "
                                 "0 removed by the plugin, 0 left"])


CONCURRENT = "".join(f'''
@pytest.mark.phase3
def test_tool_{i}(pve_proxy):
    auth = {{"Authorization": pve_proxy.authorization()}}
    got = [int(requests.get(pve_proxy.base_url + "/cluster/nextid", headers=auth,
                            verify=str(pve_proxy.cafile)).json()["data"]) for _ in range(5)]
    got.append(pve_proxy.reserve_vmid())
    Path("vmids-{i}.json").write_text(json.dumps({{"worker": os.environ["PYTEST_XDIST_WORKER"], "vmids": got}}))
''' for i in range(6))


@pytest.mark.slow
def test_concurrent_tools_under_xdist_never_get_the_same_vmid(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_concurrent="import json\nimport os\nfrom pathlib import Path\n\nimport pytest\n"
                        "import requests\n" + CONCURRENT)
    pytester.runpytest("--pve-max-phase", "3", "-n", "2").assert_outcomes(passed=6)
    tests = [json.loads((pytester.path / f"vmids-{i}.json").read_text()) for i in range(6)]
    assert all(len(set(test["vmids"])) == 6 and all(990000 <= v <= 999999 for v in test["vmids"]) for test in tests)
    by_worker: dict[str, set[int]] = {}
    for test in tests:
        by_worker.setdefault(test["worker"], set()).update(test["vmids"])
    assert len(by_worker) == 2, "both workers ran tools"
    first, second = by_worker.values()
    assert not first & second, "tools on two workers got the same VMID"


KILLED = RUNS_TOOL + '''
import time


@pytest.mark.phase3
def test_killed_after_the_tools_create(pve_proxy):
    made = tool(pve_proxy)
    Path("created").write_text(str(made["vmid"]))
    time.sleep(600)
'''


@pytest.mark.slow
def test_after_a_killed_run_the_sweeper_finds_a_tools_guest_through_the_ledger(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".py", tool=TOOL)
    pytester.makepyfile(test_killed=KILLED)
    args = live(pytester, fakepve_process)
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=pytester.path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    marker = pytester.path / "created"
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for beat in (pytester.path / ".pytest_proxmox_mpc" / "ledger").glob("*.alive"):  # two minutes later: stale
        os.utime(beat, (time.time() - 120, time.time() - 120))
    tools_vmid = int(marker.read_text())
    stranger = 995555  # in the range, untagged, and named by no ledger: not the plugin's to remove
    cluster.nodes("pve1").qemu.post(vmid=stranger, name="someone-elses")
    assert {int(row["vmid"]) for row in in_range(cluster)} == {tools_vmid, stranger}

    monkeypatch.chdir(pytester.path)
    sweep = ["sweep", "--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
             "--pve-exclusions", "excl.yaml"]  # the run is minutes old only: its dead heartbeat is what counts
    assert cli(sweep) == 0
    out = capsys.readouterr().out
    assert f"removed: qemu {tools_vmid}" in out
    assert f"qemu {stranger} 'someone-elses' on pve1: left alone: in the temporary range but without the" in out
    assert {int(row["vmid"]) for row in in_range(cluster)} == {stranger}


@pytest.mark.slow
def test_the_console_proxy_removes_what_tools_left_when_it_stops(tmp_path: Path, fakepve_process: FakePveProcess,
                                                                 cluster: Any) -> None:
    before = production(cluster)
    (tmp_path / "excl.yaml").write_text("protect:\n  tags: [production]\n")
    (tmp_path / "tool.py").write_text(TOOL)
    process, creds, _ = start_proxy(
        tmp_path, "--phase", "3", "--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
        f"--pve-exclusions={tmp_path / 'excl.yaml'}", "--rootdir", str(tmp_path), password=fakepve_process.password)
    reserved = requests.post(creds["reserve_vmid_url"], headers={"Authorization": creds["authorization"]},
                             verify=creds["cafile"]).json()["data"]
    env = {**os.environ, "PROXY_BASE": creds["base_url"], "PROXY_AUTH": creds["authorization"],
           "PROXY_CA": creds["cafile"]}
    made = [json.loads(subprocess.run([sys.executable, "tool.py", *arg], cwd=tmp_path, env=env, capture_output=True,
                                      text=True, check=True, timeout=120).stdout) for arg in ([], [str(reserved)])]
    assert [m["status"] for m in made] == [200, 200] and made[1]["vmid"] == reserved
    assert len(in_range(cluster)) == 2
    out, _ = stop_proxy(process, signal.SIGTERM)
    assert ("tool guests through the safety proxy: 2 created, 0 removed by the tool, 2 removed by the plugin, "
            "0 left") in out
    assert in_range(cluster) == [] and production(cluster) == before
