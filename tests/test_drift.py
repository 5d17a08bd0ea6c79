"""Recordings checked against the live cluster (``pytest-proxmox-mpc drift``), and replay's warnings about old
cassettes: cassettes recorded by the plugin against one simulated cluster, compared, read only, with a cluster that
changed (a config field gone, a new one, a method gone from the API schema) and with one that did not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pytest_proxmox_mpc.cli import main
from pytest_proxmox_mpc.cli.common import EXIT_DONE, EXIT_LEFT, EXIT_USAGE
from pytest_proxmox_mpc.cluster.cassettecheck import recorded_gets
from pytest_proxmox_mpc.errors import CassetteFormatError
from pytest_proxmox_mpc.model.apischema import ApiSchema
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.recording import _vcr
from pytest_proxmox_mpc.recording.provenance import Provenance, provenance_of, staleness
from pytest_proxmox_mpc.recording.recorded import Interaction, RecordedCassette
from pytest_proxmox_mpc.recording.recorder import MATCH_ON, scrub_request
from pytest_proxmox_mpc.recording.scan import files_below, scan
from pytest_proxmox_mpc.recording.shapes import compare, shape_of
from pytest_proxmox_mpc.sim.apidoc import apidoc_js
from pytest_proxmox_mpc.sim.cluster import SimCluster

TOKEN = "drift-check-token-value-0123456789"
PASSWORD = "drift-check-password-0123456789"
REMOVED_METHOD = "DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}"
RECORDING = '''
def test_reads(pve_readonly):
    pve_readonly.version.get()
    pve_readonly.cluster.resources.get(type="vm")
    pve_readonly.storage.get()
    for guest in pve_readonly.cluster.resources.get(type="vm"):
        if guest["type"] == "qemu":
            pve_readonly.nodes(guest["node"]).qemu(guest["vmid"]).config.get()
'''
# Requests the drift check must never send: a login, a guest's removal, a create (copied into a cassette).
WRITES = [("DELETE", "/api2/json/nodes/pve1/qemu/100"), ("POST", "/api2/json/nodes/pve1/qemu"),
          ("PUT", "/api2/json/nodes/pve1/qemu/101/config")]


def changed_scenario(homelab: Path, target: Path) -> Path:
    """homelab with guest 101's config without ``ostype``, guest 102's with a ``cpu`` it lacked, and the API
    schema without one method."""
    data = json.loads(homelab.read_text())
    for guest in data["guests"]:
        if guest["vmid"] == 101:
            del guest["config"]["ostype"]
        if guest["vmid"] == 102:
            guest["config"]["cpu"] = "host"
    data["api_schema"] = {"remove": [REMOVED_METHOD]}
    target.write_text(json.dumps(data))
    return target


def serve(scenario: Path, workdir: Path) -> SimCluster:
    workdir.mkdir(parents=True, exist_ok=True)
    return SimCluster(scenario, workdir, token_name="drift", token_value=Secret(TOKEN), password=Secret(PASSWORD))


@pytest.fixture(scope="module")
def recorded(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cassettes the plugin recorded (password login, phase 1) against the homelab scenario served as live, with a
    cassette that also holds writes (which the drift check must not send)."""
    base = tmp_path_factory.mktemp("drift-recorded")
    (base / "test_reads.py").write_text(RECORDING)
    sim = serve(homelab_scenario, base / "sim")
    try:
        endpoint = sim.endpoint
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")} | {"PVE_PASSWORD": PASSWORD}
        done = subprocess.run([sys.executable, "-m", "pytest", "test_reads.py", "-p", "no:cacheprovider",
                               "-p", "no:randomly", "-p", "no:xdist", "--pve-host", f"{endpoint.host}:{endpoint.port}",
                               f"--pve-ca-bundle={endpoint.verify}", "--pve-record-mode", "once",
                               "--pve-cassette-dir", "cassettes"], cwd=base, env=env, capture_output=True, text=True,
                              check=False)
    finally:
        sim.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    cassettes = base / "cassettes"
    with_writes = cassettes / "test_reads" / "test_reads.yaml"
    cassette = _vcr.open_cassette(with_writes, "all", MATCH_ON, scrub_request, lambda q, r: (q, r))
    loaded = _vcr.open_cassette(with_writes, "none", MATCH_ON, scrub_request, lambda q, r: (q, r))
    request, answer = loaded.data[0]
    for method, path in WRITES:
        _vcr.append(cassette, _vcr.Request(method, "https://pve.cassette.invalid:8006" + path, b"", {}), answer)
    for request, answer in loaded.data:
        _vcr.append(cassette, request, answer)
    _vcr.set_metadata(cassette, _vcr.metadata(loaded))
    _vcr.save(cassette)
    return cassettes


@pytest.fixture
def drift(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    monkeypatch.setenv("PVE_TOKEN_VALUE", TOKEN)

    def run(sim: SimCluster, *paths: Path, extra: tuple[str, ...] = ()) -> tuple[int, list[str], str]:
        endpoint = sim.endpoint
        code = main(["drift", *map(str, paths), "--pve-host", f"{endpoint.host}:{endpoint.port}",
                     f"--pve-ca-bundle={endpoint.verify}", "--pve-user", "root@pam", "--pve-token-name", "drift",
                     "--rootdir", str(tmp_path), *extra])
        out, err = capsys.readouterr()
        return code, out.splitlines(), err

    yield run


def changed_lines(lines: list[str]) -> set[str]:
    return {line for line in lines if line.startswith("changed: ")}


def test_cassettes_checked_against_a_changed_cluster_report_exactly_its_changes_and_send_only_gets(
        recorded: Path, homelab_scenario: Path, tmp_path: Path, drift) -> None:
    sim = serve(changed_scenario(homelab_scenario, tmp_path / "changed.json"), tmp_path / "sim")
    try:
        code, lines, err = drift(sim, recorded)
        methods = {method for method, _, _ in sim.pve.requests}
    finally:
        sim.stop()
    assert changed_lines(lines) == {
        "changed: GET /nodes/pve1/qemu/101/config: ostype: removed",
        "changed: GET /nodes/pve2/qemu/102/config: cpu: added",
        f"changed: API schema: removed: {REMOVED_METHOD}",
    }, lines
    assert code == EXIT_LEFT and err == ""
    assert lines[-2].endswith("compared: 2 change(s) in 2 answer(s), 1 in the API schema")
    assert methods == {"GET"}, "the drift check sent something other than a GET"
    assert lines[0].startswith("recorded against: PVE 9.0.10 (") and "the cluster runs PVE 9.0.10" in lines[0]
    assert not any(secret in "\n".join(lines) + err for secret in (TOKEN, PASSWORD))


def test_cassettes_checked_against_the_same_cluster_report_no_change(recorded: Path, homelab_scenario: Path,
                                                                     tmp_path: Path, drift) -> None:
    sim = serve(homelab_scenario, tmp_path / "sim")
    try:
        code, lines, err = drift(sim, recorded)
        methods = {method for method, _, _ in sim.pve.requests}
    finally:
        sim.stop()
    assert changed_lines(lines) == set() and code == EXIT_DONE and err == "", lines
    assert lines[-2].endswith("no change in the answers' shapes or the API schema")
    assert methods == {"GET"}
    audit = "".join(p.read_text() for p in (tmp_path / ".pytest_proxmox_mpc").rglob("*.jsonl"))
    assert '"method": "GET"' in audit.replace('":"', '": "') and TOKEN not in audit


def test_the_recorded_cassettes_say_what_they_were_recorded_against(recorded: Path) -> None:
    path = recorded / "test_reads" / "test_reads.yaml"
    provenance = provenance_of(path.read_text(), path)
    assert provenance.pve_version == "9.0.10" and not provenance.inferred
    assert provenance.api_schema and provenance.api_schema.startswith("9.0.10-") and provenance.api_schema_sha256
    assert provenance.recorded_at is not None
    assert (datetime.now(timezone.utc) - provenance.recorded_at).total_seconds() < 24 * 3600
    cached = json.loads((recorded / "_session" / "pve-api-schema" / f"{provenance.api_schema}.json").read_text())
    assert "snapname" in cached["parameters"]["/nodes/{node}/qemu/{vmid}/snapshot/{snapname}"]["DELETE"]
    assert scan(files_below([recorded])) == []  # what it keeps is nothing secret-looking


@pytest.mark.parametrize(("content", "problem"), [
    ("a: 1\n", "not a cassette: no 'interactions' list"),
    ("interactions: [\n", "not a cassette: not valid YAML"),
    ("interactions: []\nmetadata:\n  cassette_format: 99\nversion: 1\n", "unknown cassette format version 99"),
    ("interactions: []\nversion: 7\n", "unknown cassette format version '7'"),
])
def test_bad_cassettes_are_one_line_naming_the_file(tmp_path: Path, content: str, problem: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVE_PASSWORD", PASSWORD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    code = main(["drift", str(bad), "--pve-host", "127.0.0.1:9"])  # nothing is sent: the file is read first
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and len(err.splitlines()) == 1 and str(bad) in err and problem in err, err
    assert "Traceback" not in err


def test_replay_refuses_a_cassette_of_an_unknown_format_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("interactions: []\nmetadata:\n  cassette_format: 3\n  recorded_by_run: x\nversion: 1\n")
    with pytest.raises(CassetteFormatError) as caught:
        _vcr.open_cassette(bad, "none", MATCH_ON, scrub_request, lambda q, r: (q, r))
    assert str(caught.value).startswith(f"{bad}:3: unknown cassette format version 3")


def _set_recorded_against(path: Path, **values: str) -> None:
    text = path.read_text()
    for key, value in values.items():
        head, _, rest = text.partition(f"    {key}: ")
        text = head + f"    {key}: '{value}'\n" + rest.partition("\n")[2]
    path.write_text(text)


def test_replay_warns_about_cassettes_of_another_major_version_or_too_old(recorded: Path, pytester: pytest.Pytester,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cassettes = pytester.path / "cassettes"
    shutil.copytree(recorded, cassettes)
    pytester.makepyfile(test_reads=RECORDING)
    _set_recorded_against(cassettes / "test_reads" / "test_reads.yaml", pve_version="8.4.1",
                          recorded_at="2020-01-02T03:04:05Z")
    result = pytester.runpytest("--pve-target", "replay", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "proxmox: WARNING: 1 cassette recorded against PVE 8.4.1, not PVE 9 (9.0.10) as this run: "
        "test_reads/test_reads.yaml; *pytest-proxmox-mpc drift",
        "proxmox: WARNING: 1 cassette older than 90d (pve_cassette_max_age), the oldest recorded 2020-01-02: "
        "test_reads/test_reads.yaml; *"])
    monkeypatch.setenv("PVE_CASSETTE_MAX_AGE", "off")
    quiet = pytester.runpytest("--pve-target", "replay", "-p", "no:randomly")
    assert "older than" not in quiet.stdout.str() and "recorded against PVE 8.4.1" in quiet.stdout.str()
    younger = pytester.runpytest("--pve-target", "replay", "-p", "no:randomly", "--pve-cassette-max-age=100000d")
    assert "older than" not in younger.stdout.str()  # the option wins over the environment


def test_staleness_warns_past_the_age_given_and_for_another_major_version_only() -> None:
    now = datetime(2026, 12, 24, tzinfo=timezone.utc)
    old = {"a.yaml": Provenance("9.0.10", recorded_at=datetime(2026, 10, 1, tzinfo=timezone.utc))}  # 84 days
    assert staleness(old, "9.1.2", 90 * 86400, now) == []
    assert staleness(old, "9.1.2", 30 * 86400, now)[0].startswith("proxmox: WARNING: 1 cassette older than 30d")
    assert staleness(old, None, None, now) == [] and staleness(old, "10.0", None, now) != []


def test_shapes_compare_types_not_values_and_leave_volatile_fields_out() -> None:
    before = shape_of({"memory": 2048, "name": "a", "uptime": 5, "cpu": 0, "tags": None, "list": []})
    after = shape_of({"memory": "2048", "name": "b", "pid": 7, "cpu": 0.25, "tags": "x", "list": [{"x": 1}]})
    assert [change.line() for change in compare([before], after)] == ["memory: type number -> string"]


def test_the_schema_compares_methods_and_parameters() -> None:
    full = ApiSchema.from_bytes(apidoc_js())
    older = ApiSchema.from_bytes(apidoc_js(("POST /nodes/{node}/qemu memory", REMOVED_METHOD)))
    assert full.changes_to(older) == ["removed: POST /nodes/{node}/qemu parameter memory", f"removed: {REMOVED_METHOD}"]
    assert older.changes_to(full) == ["added: POST /nodes/{node}/qemu parameter memory", f"added: {REMOVED_METHOD}"]


def test_requests_of_the_recording_runs_own_guests_and_tasks_and_with_secrets_are_not_sent() -> None:
    def get(path: str, query: str = "") -> Interaction:
        return Interaction("GET", path, query, 200, b'{"data": {"a": 1}}')

    cassette = RecordedCassette(Path("c.yaml"), (
        get("/nodes/pve1/qemu/990001/config"), get("/nodes/pve1/lxc/100/config"),
        get("/nodes/pve1/tasks/UPID%3Apve1%3A0000%3Aqmcreate%3A990001%3Aroot%40pam%3A/status"),
        get("/access/users", "password=%2A%2A%2A"), Interaction("DELETE", "/nodes/pve1/qemu/100", "", 200, b"{}"),
        Interaction("GET", "/nodes/pve1/qemu/101/config", "", 500, b"{}")), Provenance())
    shapes, skipped = recorded_gets([cassette], (990000, 999999))
    assert list(shapes) == ["/nodes/pve1/lxc/100/config"]
    assert skipped == ["1 GET request(s): a task of the recording run",
                       "1 GET request(s): a temporary guest of the recording run",
                       "1 GET request(s): its query held a secret, masked in the cassette"]
