"""The PVE API schema that classifies writes: read from the node's API viewer (``--pve-api-schema auto``), from a
file, or from the cassettes' cache on replay; none at all refuses every write, naming the flag. And the check that
phase-1/2 credentials could not write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakepve.shapes import ROLES

from pytest_proxmox_mpc.model.apischema import ApiSchema, fakepve_schema_file
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety.credentials import readonly_problem, write_privileges
from pytest_proxmox_mpc.sim.apidoc import VIEWER_CODE, apidoc_js, apidoc_tree
from pytest_proxmox_mpc.sim.cluster import SimCluster
from pytest_proxmox_mpc.sim.process import fakepve_process as plain_fakepve

from .livetarget import PASSWORD, FakePveProcess, in_range, live

TEMP_VM = """
import pytest

@pytest.mark.phase3
def test_temp_vm(temp_vm, pve_client):
    vm = temp_vm(cores=1, memory=512)
    assert pve_client.nodes(vm.node).qemu(vm.vmid).config.get()["name"] == vm.name
"""


def test_the_api_viewers_file_reads_as_the_schema_fakepve_keeps() -> None:
    fakepve = ApiSchema.from_file(fakepve_schema_file())  # type: ignore[arg-type]
    served = ApiSchema.from_bytes(apidoc_js())
    assert served.methods == fakepve.methods and len(served) > 400
    assert served.match("/nodes/pve1/qemu/100/config").template == "/nodes/{node}/qemu/{vmid}/config"  # type: ignore[union-attr]


def test_an_apidoc_is_read_as_json_and_never_run() -> None:
    tree = apidoc_tree({"/nodes/{node}/qemu": {"GET": {}, "POST": {}}, "/version": {"GET": {}}})
    text = b"// the viewer\nvar apiSchema = " + json.dumps(tree).encode() + b";" + VIEWER_CODE
    schema = ApiSchema.from_bytes(text)
    assert schema.methods == {"/nodes/{node}/qemu": {"GET", "POST"}, "/version": {"GET"}}  # parents without methods
    with pytest.raises(ValueError, match="its apiSchema is not JSON"):
        ApiSchema.from_bytes(b"const apiSchema = [{path: '/x'}];")  # JavaScript, not JSON: nothing is evaluated
    with pytest.raises(ValueError, match=r"neither a PVE apidoc\.js nor a schema file"):
        ApiSchema.from_bytes(b"<html>login</html>")


@pytest.mark.parametrize(("content", "problem"), [
    ("<html>not it</html>", 'not a PVE API schema: it is neither a PVE apidoc.js nor a schema file with "paths"'),
    ('{"paths": {}}', "not a PVE API schema: it lists no API paths"),
])
def test_a_schema_file_that_is_none_is_a_usage_error_naming_it(pytester: pytest.Pytester, content: str,
                                                               problem: str) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    (pytester.path / "schema.js").write_text(content)
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-api-schema=schema.js")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [f"ERROR: setting pve_api_schema (from --pve-api-schema): schema.js: {problem}"]


def test_a_missing_schema_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pve-max-phase", "3", "--pve-api-schema=nowhere.js")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == ("ERROR: setting pve_api_schema (from --pve-api-schema): 'nowhere.js' is not a "
                                      "readable file (give auto, or a PVE apidoc.js or schema file)")


@pytest.mark.slow
def test_auto_reads_the_nodes_schema_and_a_replay_uses_its_cached_copy(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess,
        cluster: Any) -> None:
    pytester.makepyfile(test_vm=TEMP_VM)
    recorded = pytester.runpytest(*live(pytester, fakepve_process, "--pve-record-mode", "once"))
    recorded.assert_outcomes(passed=1)
    assert in_range(cluster) == []
    cached = list((pytester.path / "cassettes" / "_session" / "pve-api-schema").glob("*.json"))
    assert len(cached) == 1 and cached[0].name.startswith("9.")
    recorded.stdout.fnmatch_lines([f"proxmox: API schema: node https://{fakepve_process.address}"
                                   "/pve-docs/api-viewer/apidoc.js (449 paths, PVE 9.*, sha256 *)"])
    audit = [json.loads(line) for path in (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
             for line in path.read_text().splitlines()]
    assert [(r["source"], r["method"]) for r in audit if r["path"] == "<not an API path>"] == [("schema", "GET")], \
        "the schema GET is audited"

    monkeypatch.delenv("PVE_PASSWORD")
    replayed = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "--pve-exclusions=excl.yaml")
    replayed.assert_outcomes(passed=1)
    replayed.stdout.fnmatch_lines([f"proxmox: API schema: cache {cached[0]} (449 paths, PVE 9.*"])

    cached[0].unlink()  # without it the replay has no schema: its writes are refused, and the line says why
    refused = pytester.runpytest("--pve-target", "replay", "--pve-max-phase", "3", "--pve-exclusions=excl.yaml")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*phase3:no-schema*see --pve-api-schema*",
                                  "proxmox: API schema: none (the cassettes' schema * cannot be read *): every write "
                                  "is refused; give --pve-api-schema=PATH *"])


@pytest.fixture(scope="module")
def schemaless_node(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePveProcess]:
    """fakepve's own command-line server: a node that does not serve the API viewer."""
    with plain_fakepve(homelab_scenario, tmp_path_factory.mktemp("plain-fakepve"), password=PASSWORD,
                       host="127.0.0.4") as server:
        yield server


@pytest.mark.slow
def test_no_schema_refuses_every_write_and_says_which_flag_gives_one(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, schemaless_node: FakePveProcess) -> None:
    monkeypatch.setenv("PVE_PASSWORD", schemaless_node.password)
    pytester.makepyfile(test_vm=TEMP_VM)
    result = pytester.runpytest(*live(pytester, schemaless_node, "--no-pve-abort-on-violation"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"proxmox: API schema: none (GET https://{schemaless_node.address}/pve-docs/"
                                 "api-viewer/apidoc.js answered 401): every write is refused; give "
                                 "--pve-api-schema=PATH (a node's apidoc.js) to classify writes"])
    rows = [json.loads(line) for path in (pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
            for line in path.read_text().splitlines()]
    refused = [r for r in rows if r["decision"] == "refused"]
    assert refused and {r["rule"] for r in refused} == {"phase3:no-schema"}
    sent = [r for r in rows if r["method"] == "POST" and r["path"] != "/access/ticket" and r["decision"] != "refused"]
    assert sent == [], "no write left the process"

    (pytester.path / "schema.json.gz").write_bytes(fakepve_schema_file().read_bytes())  # type: ignore[union-attr]
    given = pytester.runpytest(*live(pytester, schemaless_node, "--pve-api-schema=schema.json.gz"))
    given.assert_outcomes(passed=1)
    given.stdout.fnmatch_lines(["proxmox: API schema: file schema.json.gz (449 paths, *"])


def test_privileges_that_could_write_are_named_and_audit_ones_are_not() -> None:
    auditor = {"/": dict.fromkeys(ROLES["PVEAuditor"], 1)}
    assert write_privileges(auditor) == {} and readonly_problem("ci@pve!ro", auditor) is None
    admin = {"/": dict.fromkeys(ROLES["Administrator"], 1)}
    problem = readonly_problem("root@pam", admin)
    assert problem is not None and problem.startswith("the credentials root@pam could write (Datastore.Allocate, ")
    assert "and " in problem and "on /)" in problem and "PVEAuditor" in problem
    unknown = {"/vms": {"VM.Future.Thing": 1, "Sys.Audit": 1}}  # fail closed: unknown privileges could write
    assert write_privileges(unknown) == {"/vms": ["VM.Future.Thing"]}
    assert "could not be read (GET /access/permissions answered 403)" in str(
        readonly_problem("ci@pve", None, "GET /access/permissions answered 403"))


@pytest.fixture
def node_with_users(homelab_scenario: Path, tmp_path: Path) -> Iterator[SimCluster]:
    """A simulated node in this process with an auditor and an operator besides root."""
    (tmp_path / "node").mkdir()
    sim = SimCluster(homelab_scenario, tmp_path / "node", password=Secret("root-password-1"))
    sim.pve.users.update({"auditor@pve": "auditor-password-1", "operator@pve": "operator-password-1"})
    sim.pve.grant("auditor@pve", "/", *ROLES["PVEAuditor"])
    sim.pve.grant("operator@pve", "/", *ROLES["PVEAuditor"])
    sim.pve.grant("operator@pve", "/vms", "VM.PowerMgmt", "VM.Config.Disk")
    yield sim
    sim.stop()


READ = "def test_read(pve_readonly):\n    assert pve_readonly.nodes.get()\n"


@pytest.mark.parametrize(("user", "password", "warned"), [
    ("auditor@pve", "auditor-password-1", None),
    ("operator@pve", "operator-password-1", "the credentials operator@pve could write (VM.Config.Disk, VM.PowerMgmt "
                                            "on /vms)"),
])
def test_credentials_that_could_write_are_warned_about_in_phase_1(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, node_with_users: SimCluster, user: str,
        password: str, warned: str | None) -> None:
    pytester.makepyfile(test_read=READ)
    endpoint = node_with_users.endpoint
    monkeypatch.setenv("PVE_PASSWORD", password)
    args = ["--pve-host", endpoint.netloc, f"--pve-ca-bundle={endpoint.verify}", "--pve-user", user]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    warnings = [line for line in result.outlines if "WARNING" in line]
    if warned is None:
        assert warnings == []
        strict = pytester.runpytest(*args, "--pve-require-readonly-credentials")
        strict.assert_outcomes(passed=1)
        return
    assert warnings == [f"proxmox: WARNING: {warned}: phases 1 and 2 need only a read-only token (role PVEAuditor); "
                        "--pve-require-readonly-credentials makes this an error"]
    strict = pytester.runpytest(*args, "--pve-require-readonly-credentials")
    assert strict.ret == pytest.ExitCode.USAGE_ERROR
    assert (f"ERROR: setting pve_require_readonly_credentials (from --pve-require-readonly-credentials): {warned}"
            in strict.stdout.str() + strict.stderr.str())
    assert password not in strict.stdout.str() + strict.stderr.str() and "Traceback" not in strict.stdout.str()


def test_a_recording_run_still_refuses_credentials_that_could_write_when_told_to(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, node_with_users: SimCluster) -> None:
    """What a recording keeps of the cluster (its PVE version, its schema) is learnt at the same moment as the
    credentials are checked: recording (the CI record job's settings) must not skip the check."""
    pytester.makepyfile(test_read=READ)
    endpoint = node_with_users.endpoint
    monkeypatch.setenv("PVE_PASSWORD", "operator-password-1")
    strict = pytester.runpytest("--pve-host", endpoint.netloc, f"--pve-ca-bundle={endpoint.verify}", "--pve-user",
                                "operator@pve", "--pve-record-mode", "rewrite", "--pve-require-readonly-credentials")
    assert strict.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: setting pve_require_readonly_credentials" in strict.stdout.str() + strict.stderr.str()
