"""Record on sim, replay offline: same outcomes, no secrets in cassettes, clear errors for broken ones."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import pytest
import requests
from vcr.cassette import Cassette

from pytest_proxmox_mpc.recording.recorder import Recorder

from .livetarget import FakePveProcess

SUITE = """
import socket

import pytest

from pytest_proxmox_mpc import PhaseViolation
from pytest_proxmox_mpc.errors import NetworkBlocked


@pytest.mark.phase3
def test_lifecycle(temp_vm, pve_client):
    vm = temp_vm()
    config = pve_client.nodes(vm.node).qemu(vm.vmid).config.get()
    assert config["name"] == vm.name and config["tags"].endswith(vm.name.split("-", 1)[1].rsplit("-", 1)[0])
    pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()


def test_inventory(pve_readonly):
    assert sorted(n["node"] for n in pve_readonly.nodes.get()) == ["pve1", "pve2", "pve3"]
    assert len(pve_readonly.cluster.resources.get(type="vm")) == 12


@pytest.mark.pve_expect_refusal
def test_refusals_are_not_recorded(pve_client):
    with pytest.raises(PhaseViolation):
        pve_client.nodes("pve1").qemu(101).status.stop.post()


def test_state(pve_recording, pve_target):
    if pve_target.kind == "replay":
        assert pve_recording.state == "replaying"
        with pytest.raises(NetworkBlocked):
            socket.create_connection(("192.0.2.1", 8006), timeout=1)
    else:
        assert pve_recording.state == "recording"
"""


def cassettes(root: Path) -> list[Path]:
    return sorted((root / "cassettes").rglob("*.yaml"))


_RECORDED: dict[str, Path] = {}  # per test process: SUITE's recorded cassettes, made by the first test that asks


@pytest.fixture
def recorded_suite(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``SUITE`` recorded once per test process (``--pve-max-phase 3 --pve-record-mode once`` on sim, in the first
    asking test's folder, which is then left clean): a folder holding its ``cassettes/``."""
    if "suite" not in _RECORDED:
        pytester.makepyfile(test_suite=SUITE)
        pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once").assert_outcomes(passed=4)
        keep = tmp_path_factory.mktemp("recorded-suite")
        shutil.move(pytester.path / "cassettes", keep / "cassettes")
        shutil.rmtree(pytester.path / ".pytest_proxmox_mpc", ignore_errors=True)
        _RECORDED["suite"] = keep
    return _RECORDED["suite"]


def start_from(pytester: pytest.Pytester, recorded: Path) -> Path:
    """A copy of the recorded suite (its test file and cassettes) in ``pytester``'s folder; the test file."""
    shutil.copytree(recorded / "cassettes", pytester.path / "cassettes")
    return pytester.makepyfile(test_suite=SUITE)


@pytest.mark.slow
def test_a_suite_recorded_on_sim_replays_with_the_same_outcomes(pytester: pytest.Pytester,
                                                               recorded_suite: Path) -> None:
    start_from(pytester, recorded_suite)
    names = [str(p.relative_to(pytester.path)) for p in cassettes(pytester.path)]
    # test_state sends nothing, so it needs no cassette; the refused request is not in any. The watch's
    # snapshots (first when the session connects, second at its end) and the gates before the first write
    # have their own session cassettes.
    assert names == ["cassettes/_session/_pve_connection.yaml", "cassettes/_session/_pve_gates.yaml",
                     "cassettes/_session/_pve_watch.yaml",
                     "cassettes/test_suite/test_inventory.yaml", "cassettes/test_suite/test_lifecycle.yaml"]
    assert "status/stop" not in "".join(p.read_text() for p in cassettes(pytester.path))

    for args in ([], ["-n", "2"]):
        replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly", *args)
        replayed.assert_outcomes(passed=4)


@pytest.mark.slow
def test_recorded_under_xdist_replays_serially(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once", "-n", "2").assert_outcomes(passed=4)
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly")
    replayed.assert_outcomes(passed=4)


def test_no_secret_reaches_a_cassette_or_audit_file(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("PVE_TOKEN_NAME", "ci")
    monkeypatch.setenv("PVE_TOKEN_VALUE", "token-secret-0815")
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once").assert_outcomes(passed=4)
    text = "".join(p.read_text() for p in pytester.path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".jsonl"))
    assert "token-secret-0815" not in text and "PVEAPIToken" not in text and "Authorization" not in text
    assert "pve.cassette.invalid" in text and "127.0.0.1" not in text


def test_password_logins_are_scrubbed_and_replay(pytester: pytest.Pytester, recorded_suite: Path) -> None:
    start_from(pytester, recorded_suite)
    login = (pytester.path / "cassettes" / "_session" / "_pve_connection.yaml").read_text()
    assert "password=%2A%2A%2A" in login and '"ticket":"***"' in login and '"CSRFPreventionToken":"***"' in login
    assert "PVE:root@pam" not in login and "Cookie" not in login and "Content-Length" not in login
    pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3").assert_outcomes(passed=4)


def test_a_missing_or_broken_cassette_fails_with_one_line_naming_it(pytester: pytest.Pytester,
                                                                   recorded_suite: Path) -> None:
    start_from(pytester, recorded_suite)
    (pytester.path / "cassettes" / "test_suite" / "test_inventory.yaml").unlink()
    broken = pytester.path / "cassettes" / "test_suite" / "test_lifecycle.yaml"
    broken.write_text("interactions:\n- request: [\n")
    result = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([f"proxmox: cassette {broken}:3: not valid YAML (*); re-record it or restore it*"])
    assert "Traceback" not in out and "recorder.py" not in out
    assert ("proxmox: no recorded answer for GET /api2/json/nodes in cassette "
            f"{pytester.path / 'cassettes' / 'test_suite' / 'test_inventory.yaml'} (the file does not exist); "
            "record it with: pytest 'test_suite.py::test_inventory' --pve-record-mode new_episodes") in out


NEW_TEST = """

def test_added_later(pve_readonly):
    names = sorted(node["node"] for node in pve_readonly.nodes.get())
    assert pve_readonly.nodes(names[-1]).network.get() is not None
"""


@pytest.mark.parametrize("mode", ["once", "new_episodes"])
def test_a_test_added_to_a_recorded_suite_is_recorded_with_a_real_login_and_replays(
        pytester: pytest.Pytester, mode: str, recorded_suite: Path) -> None:
    """The recorded login's ticket is scrubbed (and a sim is new each run): a new test's requests need the
    run's own login, while the recorded tests still play from their cassettes."""
    suite = start_from(pytester, recorded_suite)
    suite.write_text(suite.read_text() + NEW_TEST)
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", mode).assert_outcomes(passed=5)
    login = (pytester.path / "cassettes" / "_session" / "_pve_connection.yaml").read_text()
    assert login.count("/access/ticket") == 1, "the login is kept once, not once per recording run"
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly")
    replayed.assert_outcomes(passed=5)


def test_rewrite_records_a_cassette_afresh(pytester: pytest.Pytester, recorded_suite: Path) -> None:
    start_from(pytester, recorded_suite)
    inventory = pytester.path / "cassettes" / "test_suite" / "test_inventory.yaml"
    inventory.write_text(inventory.read_text() + "# a stale edit\n")
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "rewrite", "-k", "inventory").assert_outcomes(
        passed=1, deselected=3)
    assert "# a stale edit" not in inventory.read_text()
    assert inventory.read_text().count("uri:") == 2


ANON = """
import pytest


def test_nodes(pve_readonly):
    nodes = [n["node"] for n in pve_readonly.nodes.get()]
    assert len(nodes) == 3
    for node in nodes:
        assert pve_readonly.nodes(node).status.get()


def test_storage(pve_readonly):
    assert any(s.get("server") for s in pve_readonly.storage.get())


@pytest.mark.phase3
def test_guest(temp_vm, pve_client):
    vm = temp_vm()
    assert pve_client.nodes(vm.node).qemu(vm.vmid).config.get()["name"] == vm.name
"""


@pytest.mark.slow
def test_anonymized_cassettes_hold_pseudonyms_only_and_replay(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_anon=ANON)
    # The guest's NIC (on the isolated network) gives its config a MAC address to anonymize.
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once", "--pve-anonymize", "-n", "2",
                       "--pve-temp-network", "vmbr0").assert_outcomes(passed=3)
    texts = {p.name: p.read_text() for p in cassettes(pytester.path)}
    everything = "".join(texts.values())
    for real in ("pve1", "pve2", "pve3", "root@pam", "192.0.2.50"):
        assert real not in everything, real
    macs = re.findall(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])", everything)
    assert macs and all(mac.startswith("02:00:") for mac in macs), "a real MAC address is in a cassette"
    nodes_seen = {name: set(re.findall(r"node-[0-9a-f]{6}", text)) for name, text in texts.items()}
    assert len(nodes_seen["test_nodes.yaml"]) == 3
    assert nodes_seen["test_guest.yaml"] <= nodes_seen["test_nodes.yaml"], "workers chose different pseudonyms"
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-p", "no:randomly",
                                  "--pve-temp-network", "vmbr0")
    replayed.assert_outcomes(passed=3)


POLLING = """
import pytest

from pytest_proxmox_mpc.cluster.tasks import wait_for_task


@pytest.mark.phase3
def test_slow_start(temp_vm, pve_client, pve_target, pve_audit, request):
    vm = temp_vm()
    if pve_target.kind == "sim":
        sim = request.getfixturevalue("pve_sim")
        sim.time_scale = 1  # this start takes a real second, so the wait polls several times
        sim.vm(vm.vmid).start_secs = 1
    upid = pve_client.nodes(vm.node).qemu(vm.vmid).status.start.post()
    assert wait_for_task(pve_client, upid) == "OK"
    polls = [r for r in pve_audit.records(test=request.node.nodeid) if "/tasks/" in r["path"]]
    print(f"POLLS={len(polls)}")
"""


def test_task_polling_replays_the_recorded_polls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_polling=POLLING)
    recorded = pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once", "-s")
    recorded.assert_outcomes(passed=1)
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-s")
    replayed.assert_outcomes(passed=1)
    counts = [int(line.split("POLLS=")[1].split()[0]) for result in (recorded, replayed)
              for line in result.stdout.lines if "POLLS=" in line]
    assert counts[0] > 2 and counts[0] == counts[1], counts


LIVE = """
def test_inventory(pve_readonly):
    assert len(pve_readonly.nodes.get()) == 3
    assert len(pve_readonly.cluster.resources.get(type="vm")) == 12
"""


def test_recording_a_live_cluster_with_a_password_keeps_no_trace_of_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    pytester.makepyfile(test_live=LIVE)
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    recorded = pytester.runpytest("--pve-host", fakepve_process.address,
                                  f"--pve-ca-bundle={fakepve_process.cafile}", "--pve-record-mode", "once")
    recorded.assert_outcomes(passed=1)
    monkeypatch.delenv("PVE_PASSWORD")
    files = [p for p in pytester.path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".jsonl")]
    assert len(files) >= 3
    for path in files:
        text = path.read_text()
        assert fakepve_process.password not in text and fakepve_process.host not in text, path
    pytester.runpytest("--pve-target", "replay").assert_outcomes(passed=1)


MODULE_SCOPED = """
import pytest


@pytest.fixture(scope="module")
def inventory(pve_readonly):
    yield pve_readonly.cluster.resources.get(type="vm")
    pve_readonly.version.get()  # teardown traffic belongs to the fixture's cassette too


@pytest.mark.phase3
def test_uses_a_module_factory(temp_vm_module, inventory):
    assert len(inventory) == 12
    temp_vm_module()


def test_also_uses_it(inventory):
    assert inventory
"""


def test_module_scoped_fixtures_record_into_cassettes_of_their_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module=MODULE_SCOPED)
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once", "-p", "no:randomly").assert_outcomes(
        passed=2)
    module = pytester.path / "cassettes" / "test_module" / "_module"
    assert sorted(p.name for p in module.glob("*.yaml")) == ["inventory.yaml", "temp_vm_module.yaml"]
    inventory = (module / "inventory.yaml").read_text()
    assert "/cluster/resources" in inventory and "/version" in inventory
    assert "DELETE" in (module / "temp_vm_module.yaml").read_text()  # the factory's teardown
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "-k", "also")
    replayed.assert_outcomes(passed=1, deselected=1)  # the fixture's answers are found without the first test


def _answer(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response.reason, response._content = 200, "OK", body
    return response


def test_a_request_arriving_while_cassettes_are_written_waits_and_is_kept(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool behind the safety proxy can still be sending when the run ends and writes its cassettes."""
    recorder = Recorder(tmp_path, "once")
    recorder.push("tool", "tests/test_tool.py")
    first = requests.Request("GET", "https://127.0.0.1:8006/api2/json/version").prepare()
    late = requests.Request("GET", "https://127.0.0.1:8006/api2/json/nodes").prepare()
    recorder.send(first, lambda: _answer(b'{"data": {"version": "9.0"}}'))
    writing, release = threading.Event(), threading.Event()
    write = Cassette._save

    def slow_write(self: Cassette, *args: object, **kwargs: object) -> None:
        writing.set()
        release.wait(10)
        write(self, *args, **kwargs)

    monkeypatch.setattr(Cassette, "_save", slow_write)
    saver = threading.Thread(target=recorder.save)
    saver.start()
    assert writing.wait(10)
    sender = threading.Thread(target=recorder.send, args=(late, lambda: _answer(b'{"data": []}')))
    sender.start()
    sender.join(0.5)
    assert sender.is_alive(), "the late answer waits until the cassette is written"
    release.set()
    saver.join(10)
    sender.join(10)
    assert "/nodes" not in (tmp_path / "tool.yaml").read_text(), "the file written holds what came before"
    recorder.save()
    assert "/nodes" in (tmp_path / "tool.yaml").read_text(), "and the late answer is written by the next save"


OUTSIDE = """
def test_nodes(pve_readonly, pve_recording):
    assert pve_recording.state in ("recording", "replaying")
    assert len(pve_readonly.nodes.get()) == 3
"""


def test_modules_outside_the_rootdir_record_into_folders_of_their_own(pytester: pytest.Pytester) -> None:
    """A test file outside the rootdir has no path in its node ID: two such files with the same test names still
    get cassettes of their own, and replay."""
    for suite in ("one", "two"):
        (pytester.path / "suites" / suite).mkdir(parents=True)
        (pytester.path / "suites" / suite / "test_outside.py").write_text(OUTSIDE)
    (pytester.path / "project").mkdir()
    files = [str(pytester.path / "suites" / suite / "test_outside.py") for suite in ("one", "two")]
    common = ["--rootdir", str(pytester.path / "project"), f"--pve-cassette-dir={pytester.path / 'cassettes'}",
              "--import-mode=importlib"]  # two modules of one name
    pytester.runpytest(*files, *common, "--pve-record-mode", "once").assert_outcomes(passed=2)
    names = [str(p.relative_to(pytester.path / "cassettes")) for p in cassettes(pytester.path)]
    assert "one/test_outside/test_nodes.yaml" in names and "two/test_outside/test_nodes.yaml" in names, names
    pytester.runpytest(*files, *common, "--pve-target", "replay").assert_outcomes(passed=2)
