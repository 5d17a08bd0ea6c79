"""The workspace under test: the reference builder (default), a user's workspace (copied, never changed),
a user's command run against the simulated cluster, and the console commands."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import hcl2
import pytest
import yaml

from pytest_proxmox_mpc.cli import main
from pytest_proxmox_mpc.workspace.statedb.models import open_readonly, schema_differences

USES_THE_WORKSPACE = """
import sqlite3

def test_workspace(mpc_workspace, pve_inventory):
    print("WORKSPACE", mpc_workspace.path, mpc_workspace.source)
    with sqlite3.connect(mpc_workspace.state_db) as db:
        vms = {row[0] for row in db.execute("SELECT id FROM vms")}
    assert vms == {g.vmid for g in pve_inventory.vms}
    assert (mpc_workspace.terraform_dir / "main.tf").exists()
    assert mpc_workspace.config()["node"] == "pve1"
"""


def test_by_default_the_reference_builder_makes_the_workspace(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE)
    result = pytester.runpytest("-s", "--pve-max-phase=2", "--pve-report", "r")
    result.assert_outcomes(passed=1)
    (line,) = [line[line.index("WORKSPACE"):] for line in result.stdout.lines if "WORKSPACE" in line]
    assert line.endswith(" reference")
    (workspace,) = json.loads((pytester.path / "r.json").read_text())["workspaces"]
    assert workspace["source"] == "reference" and workspace["sync"].startswith("19 discovered")
    config = yaml.safe_load((Path(line.split()[1]) / ".proxmox" / "config.yml").read_text())
    assert set(config) == {"host", "port", "username", "tokenId", "tokenSecret", "node", "rejectUnauthorized", "name",
                           "created", "version", "protocol"}
    assert config["tokenSecret"] == "" and config["rejectUnauthorized"] is True


def test_the_reference_workspace_follows_the_contract(tmp_path: Path, pve_readonly: object) -> None:
    from pytest_proxmox_mpc.workspace.builder import Connection, build_reference

    workspace = build_reference(pve_readonly, tmp_path / "ws", Connection("h", 8006, "root@pam", "pve1", True),
                                provider="telmate")
    engine = open_readonly(workspace.state_db)
    assert schema_differences(engine) == []
    engine.dispose()
    for tf in workspace.terraform_dir.rglob("*.tf"):
        with tf.open() as handle:
            hcl2.load(handle)
    assert "telmate/proxmox" in (workspace.terraform_dir / "main.tf").read_text()
    assert (workspace.ansible_dir / "inventory.yml").exists()


def digest_of(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        digest.update(str(path.relative_to(directory)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_a_users_workspace_is_copied_and_never_changed(pytester: pytest.Pytester, tmp_path: Path) -> None:
    assert main(["workspace", "sync", str(tmp_path / "mine")]) == 0
    assert main(["workspace", "export", str(tmp_path / "mine")]) == 0
    before = digest_of(tmp_path / "mine")
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE.replace('mpc_workspace.config()["node"] == "pve1"', "True")
                        + "\ndef test_change_it(mpc_workspace):\n    (mpc_workspace.path / 'x').write_text('x')\n")
    result = pytester.runpytest("-s", "--pve-max-phase=2", f"--mpc-workspace={tmp_path / 'mine'}")
    result.assert_outcomes(passed=2)
    assert any("WORKSPACE" in line and line.endswith(" copy") for line in result.stdout.lines)
    assert digest_of(tmp_path / "mine") == before


def test_a_directory_that_is_no_workspace_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE)
    result = pytester.runpytest(f"--mpc-workspace={tmp_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is not a Proxmox-MPC workspace (no .proxmox directory in it)" in result.stderr.str()


# A stand-in for the Node.js tool: reads its settings the contract's way and syncs through the token.
TOOL = """
import os, sys, yaml, proxmoxer
from pathlib import Path
from pytest_proxmox_mpc.workspace.sync import sync_database
config = yaml.safe_load(Path(".proxmox/config.yml").read_text())
assert config["host"] == os.environ["PROXMOX_HOST"] and config["tokenId"] == os.environ["PROXMOX_TOKEN_ID"]
api = proxmoxer.ProxmoxAPI(os.environ["PROXMOX_HOST"], port=int(os.environ["PROXMOX_PORT"]),
                           user=os.environ["PROXMOX_USERNAME"], token_name=os.environ["PROXMOX_TOKEN_ID"],
                           token_value=os.environ["PROXMOX_TOKEN_SECRET"],
                           verify_ssl=os.environ["REQUESTS_CA_BUNDLE"])
sync_database(api, ".proxmox/state.db")
print("synced with token", os.environ["PROXMOX_TOKEN_SECRET"])
sys.exit(int(os.environ.get("TOOL_EXIT", "0")))
"""


def test_a_users_command_builds_the_workspace_against_the_target(pytester: pytest.Pytester) -> None:
    tool = pytester.makepyfile(tool=TOOL)
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE.replace(
        'assert (mpc_workspace.terraform_dir / "main.tf").exists()', "assert mpc_workspace.command.exit_status == 0"))
    result = pytester.runpytest("-s", "--pve-max-phase=2", f"--mpc-command={sys.executable} {tool}",
                                "--pve-report", "r")
    result.assert_outcomes(passed=1)
    (workspace,) = json.loads((pytester.path / "r.json").read_text())["workspaces"]
    assert workspace["source"] == "command" and workspace["command"]["exit_status"] == 0
    assert workspace["command"]["output_tail"].strip() == "synced with token ***", "the token never reaches the report"
    assert workspace["command"]["duration_s"] > 0
    markdown = (pytester.path / "r.md").read_text()
    assert "## Workspace under test" in markdown and "| command | " in markdown
    assert f"The command exited with 0 after {workspace['command']['duration_s']} s" in markdown, (
        "the Markdown carries what the JSON does")
    assert f"\n```\n$ {sys.executable} {tool}\nsynced with token ***\n```\n" in markdown


def test_a_failing_command_fails_the_tests_that_need_it_with_its_last_line(pytester: pytest.Pytester,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    tool = pytester.makepyfile(tool=TOOL)
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE)
    monkeypatch.setenv("TOOL_EXIT", "3")
    result = pytester.runpytest("--pve-max-phase=2", f"--mpc-command={sys.executable} {tool}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*proxmox-mpc: * exited with 3: synced with token ****"])


def test_a_command_is_refused_on_the_replay_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ws=USES_THE_WORKSPACE)
    result = pytester.runpytest("--pve-target", "replay", "--mpc-command", "true")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs a cluster to answer it: use the sim or live target (the target is replay)" in result.stderr.str()


def test_the_console_sync_is_idempotent_and_reports_errors_in_one_line(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["workspace", "sync", str(tmp_path)]) == 0
    db = tmp_path / ".proxmox" / "state.db"
    first = db.read_bytes()
    assert main(["workspace", "sync", str(tmp_path)]) == 0
    assert db.read_bytes() == first
    assert "0 discovered, 0 created, 0 updated, 0 deleted" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    db.write_bytes(b"not a database" * 100)
    assert main(["workspace", "sync", str(tmp_path)]) == 4, "a corrupt state.db: the workspace's exit code"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(db) in err
    monkeypatch.setenv("PVE_PASSWORD", "not-needed-by-a-cluster-that-is-not-there")
    unreachable = ["workspace", "sync", str(tmp_path / "other"), "--pve-host", "127.0.0.9:9", "--pve-timeout", "5"]
    assert main(unreachable) == 3, "a cluster that does not answer: the unreachable exit code"
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
