"""The tool under test's own programs, policed: the test double's ``/apply`` (as the real Proxmox-MPC's: ``terraform
init``, ``plan -out``, ``apply`` of that plan, then ``ansible-playbook`` with the workspace's inventory,
``--check --diff`` first) driven through its console, with a playbook for ``hosts: all``. The "real" programs are
fakes later on PATH that record their argv; the fake ``ansible-playbook`` "connects" to each host it keeps with
``ssh`` from PATH, so the fake ssh's records show every host the playbook would have reached."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from pytest_proxmox_mpc.files.jsonl import JsonlFile

from .doubles.fake_programs import install_fakes, records
from .test_sut import TOOL

PLAYBOOK = "- hosts: all\n  become: true\n  tasks:\n    - ansible.builtin.apt: {upgrade: dist}\n"
INNER = f"""
import pytest

PLAYBOOK = {PLAYBOOK!r}


@pytest.mark.phase4
def test_apply_in_phase_4(mpc_tool, temp_vm):
    vm = temp_vm(ipconfig0="ip=10.99.0.5/24")
    mpc_tool.init()
    assert mpc_tool.step("sync").succeeded
    (mpc_tool.workspace / "ansible" / "playbooks" / "site.yml").write_text(PLAYBOOK, encoding="utf-8")
    run = mpc_tool.step("apply")
    assert run.succeeded, run.transcript
    print("GUEST", vm.name)


@pytest.mark.phase2
@pytest.mark.pve_expect_refusal
def test_apply_in_phase_2(mpc_tool):
    mpc_tool.init()
    assert mpc_tool.step("sync").succeeded
    (mpc_tool.workspace / "ansible" / "playbooks" / "site.yml").write_text(PLAYBOOK, encoding="utf-8")
    run = mpc_tool.step("apply")
    assert not run.succeeded
    assert "ansible-playbook refused by the safety policy: programs:ansible-no-hosts" in run.transcript
    assert run.refused and run.refused[0].startswith("EXEC ansible-playbook: programs:ansible-no-hosts")
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_tools_playbook_reaches_only_this_runs_temporary_guests_and_none_in_phase_2(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    fakes = install_fakes(tmp_path / "fakes", record)
    monkeypatch.setenv("PATH", f"{fakes}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MPC_DOUBLE_DEFECTS", "")
    pytester.makepyfile(test_apply=INNER)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "-s", "--mpc-console", TOOL,
                                "--pve-max-phase", "4", "--pve-report", "r", "-k", "phase_4")
    result.assert_outcomes(passed=1)
    guest = next(line for line in result.outlines if "GUEST " in line).split("GUEST ")[1].strip()
    host = guest.replace("-", "_")
    seen = records(record)
    playbooks = [argv for argv in seen if argv[0] == "ansible-playbook"]
    assert [argv[-2:] for argv in playbooks] == [["--limit", host]] * 2, playbooks
    assert playbooks[0][-4:-2] == ["--check", "--diff"]
    reached = [argv for argv in seen if argv[0] == "ssh"]
    assert reached and all(argv[1:3] == ["-o", "HostName=10.99.0.5"] for argv in reached), reached
    assert [argv[1] for argv in seen if argv[0] == "terraform"] == ["init", "plan", "show", "apply"]
    audit = next((pytester.path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl"))
    programs = [line for line in JsonlFile.read(audit) if line.get("method") == "EXEC"]
    assert [(line["path"], line["decision"]) for line in programs] == [
        ("terraform", "allowed"), ("terraform", "allowed"), ("terraform", "allowed"), ("ansible-playbook", "allowed"),
        ("ssh", "allowed"), ("ansible-playbook", "allowed"), ("ssh", "allowed")]
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert report["programs"]["totals"] == {"run": 7, "allowed": 7, "refused": 0}
    assert report["programs"]["by_test"] == {"test_apply.py::test_apply_in_phase_4": report["programs"]["totals"]}
    isolated = next(c for c in report["criteria"] if c["id"] == "safety-isolated-network")
    assert isolated["status"] == "met" and "7 run, 7 allowed" in isolated["evidence"], isolated
    assert "## Beyond the PVE API" in (pytester.path / "r.md").read_text(encoding="utf-8")

    record.unlink()
    monkeypatch.setenv("MPC_DOUBLE_DEFECTS", "playbook-only-apply")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--mpc-console", TOOL,
                                "--pve-max-phase", "4", "--pve-report", "r2", "-k", "phase_2")
    result.assert_outcomes(passed=1)
    assert [argv for argv in records(record) if argv[0] in ("ansible-playbook", "ssh")] == []
    report = json.loads((pytester.path / "r2.json").read_text(encoding="utf-8"))
    assert report["programs"]["totals"] == {"run": 1, "allowed": 0, "refused": 1}
    result.stdout.fnmatch_lines(["*refused EXEC ansible-playbook by test_apply.py::test_apply_in_phase_2 (phase 2): "
                                 "rule programs:ansible-no-hosts*"])


COMMAND = """
import subprocess, sys
done = subprocess.run(["ssh", "root@192.0.2.11", "reboot"], capture_output=True, text=True)
print("ssh exit", done.returncode, done.stderr.strip())
"""
USES_THE_COMMAND = """
import pytest


@pytest.mark.pve_expect_refusal
def test_workspace(mpc_workspace, pve_audit):
    print(mpc_workspace.command.output)
    programs = [(r["path"], r["decision"], r["rule"]) for r in pve_audit.records() if r["method"] == "EXEC"]
    assert programs == [("ssh", "refused", "programs:remote-no-hosts")]
"""


@pytest.mark.slow
def test_the_command_that_builds_a_workspace_runs_its_programs_through_the_shims(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("PATH", f"{install_fakes(tmp_path / 'fakes', record)}{os.pathsep}{os.environ['PATH']}")
    tool = pytester.makepyfile(tool=COMMAND)
    pytester.makepyfile(test_ws=USES_THE_COMMAND)
    result = pytester.runpytest("-s", "--pve-max-phase=2", f"--mpc-command={sys.executable} {tool}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ssh exit 126 pytest-proxmox-mpc: ssh refused by the safety policy: "
                                 "programs:remote-no-hosts*"])
    assert records(record) == []
