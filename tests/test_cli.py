"""The console command as a user meets it: each subcommand's help lists the flags it uses, usage errors are one line
naming what the user gave, and ``sim`` serves the whole simulated cluster as a process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from pytest_proxmox_mpc.cli import main as cli
from pytest_proxmox_mpc.sim.scenario import load_scenario, resolve_scenario

from .livetarget import EXCLUSIONS

# What each subcommand must offer, and flags it must not (they belong to the test run or to another subcommand).
OFFERS = {
    "sweep": (["--dry-run", "--pve-host", "--pve-exclusions", "--pve-sweep-age", "--pve-api-schema",
               "--no-pve-verify-ssl"], ["--mpc-command", "--pve-max-phase", "--pve-sweep ", "--pve-record-mode"]),
    "workspace": (["--pve-host", "--mpc-tf-provider", "--pve-sim-scenario"],
                  ["--pve-exclusions", "--mpc-command", "--pve-sweep-age", "--pve-max-phase"]),
    "proxy": (["--phase", "--listen", "--pve-exclusions", "--pve-record-mode", "--pve-api-schema",
               "--no-pve-anonymize"], ["--mpc-command", "--pve-max-phase", "--pve-sweep-age", "--mpc-tf-provider"]),
    "scan-secrets": (["PATH"], ["--pve-host"]),
    "sim": (["--listen", "--token-name", "--workdir", "SCENARIO"], ["--pve-host", "--mpc-command"]),
    "drift": (["CASSETTES", "--pve-host", "--pve-token-name", "--pve-temp-vmid-range", "--pve-cassette-max-age"],
              ["--pve-exclusions", "--pve-record-mode", "--pve-max-phase", "--pve-api-schema"]),
}


def help_of(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        cli([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(OFFERS))
def test_each_subcommand_lists_only_the_flags_it_uses(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys=capsys)
    offered, foreign = OFFERS[command]
    assert [flag for flag in offered if flag not in text] == []
    assert [flag for flag in foreign if re.search(re.escape(flag) + r"\b", text)] == []


def test_the_top_level_help_describes_the_command_whole_and_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys=capsys).split())
    assert "serve the safety proxy or the simulated cluster, compare cassettes with the cluster." in text
    codes = ("0 done", "2 usage error", "3 the cluster could not be reached", "4 the workspace could not be written")
    assert [code for code in codes if code not in text] == []


def test_sweep_without_an_exclusion_list_names_the_command_not_a_flag_never_given(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PVE_PASSWORD", "never-shown-4711")
    assert cli(["sweep", "--pve-host", "pve.example.test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pytest-proxmox-mpc: error: setting pve_sweep (the sweep command): sweeping removes guests from a "
                   "live cluster, which needs a production exclusion list: set --pve-exclusions, ini pve_exclusions "
                   "or PVE_EXCLUSIONS"]


@pytest.mark.parametrize("argv", [["--pve-sweep-age", "-1h"], ["--pve-sweep-age=-1h"]])
def test_a_negative_age_is_one_clear_error_with_or_without_equals(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  pytester: pytest.Pytester) -> None:
    monkeypatch.setenv("PVE_PASSWORD", "never-shown-4711")
    assert cli(["sweep", "--pve-host", "pve.example.test", *argv]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "pytest-proxmox-mpc: error: setting pve_sweep_age (from --pve-sweep-age): '-1h' must not be negative"]
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest_subprocess(*argv)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    # pytest's own parser reads -1h as a flag, before any plugin sees it: its one line names the flag.
    errors = [line for line in result.stderr.lines if "--pve-sweep-age" in line]
    assert errors in (["python -m pytest: error: argument --pve-sweep-age: expected one argument"],
                      ["ERROR: setting pve_sweep_age (from --pve-sweep-age): '-1h' must not be negative"])
    assert "Traceback" not in result.stderr.str()


SimCommand = tuple[subprocess.Popen[str], dict[str, str], dict[str, str]]


@pytest.fixture
def sim_command(tmp_path: Path) -> Iterator[SimCommand]:
    """``pytest-proxmox-mpc sim homelab`` as a process; (it, the PVE_* settings it printed for phases 1 and 2, those
    it printed to change for phases 3 and 4)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    process = subprocess.Popen([sys.executable, "-m", "pytest_proxmox_mpc.cli", "sim", "homelab", "--workdir",
                                str(tmp_path / "sim")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(6)]
    assert lines[0].startswith("sim: https://127.0.0.1:"), [*lines, process.stderr.read() if process.stderr else ""]
    assert lines[4].startswith("export ") and lines[5].startswith("then, for phases 3 and 4: export "), lines
    settings = dict(word.split("=", 1) for word in lines[4].split()[1:])
    writes = dict(word.split("=", 1) for word in lines[5].split("export ", 1)[1].split())
    try:
        yield process, settings, writes
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


READS = """
import pytest

def test_nodes(pve_readonly):
    assert pve_readonly.nodes.get()
"""

WRITES = """
import pytest

@pytest.mark.phase3
def test_vm(temp_vm, pve_client):
    vm = temp_vm(cores=1, memory=512)
    assert pve_client.nodes(vm.node).qemu(vm.vmid).status.current.get()["status"] == "stopped"
"""


@pytest.mark.slow
def test_sim_serves_the_whole_scenario_with_a_read_only_token_and_one_that_writes(
        sim_command: SimCommand, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    process, settings, writes = sim_command
    assert sorted(settings) == ["PVE_CA_BUNDLE", "PVE_HOST", "PVE_TOKEN_NAME", "PVE_TOKEN_VALUE_FILE", "PVE_USER"]
    assert settings["PVE_USER"] == "auditor@pve" and sorted(writes) == ["PVE_TOKEN_VALUE_FILE", "PVE_USER"]
    reader, writer = (Path(found["PVE_TOKEN_VALUE_FILE"]).read_text().strip() for found in (settings, writes))
    assert reader != writer, "each token has a secret of its own"
    assert [oct(Path(found["PVE_TOKEN_VALUE_FILE"]).stat().st_mode & 0o777) for found in (settings, writes)] == [
        "0o600", "0o600"]
    apidoc = requests.get(f"https://{settings['PVE_HOST']}/pve-docs/api-viewer/apidoc.js",
                          verify=settings["PVE_CA_BUNDLE"], timeout=30)
    assert apidoc.status_code == 200 and apidoc.text.startswith("const apiSchema = [")  # no login needed
    api = ProxmoxAPI(settings["PVE_HOST"], user=writes["PVE_USER"], token_name="sim", token_value=writer,
                     verify_ssl=settings["PVE_CA_BUNDLE"])
    scenario = load_scenario(resolve_scenario("homelab", Path.cwd()))
    assert {s["storage"] for s in api.storage.get()} >= set(scenario["storages"])  # all of it, not just guests
    assert {p["poolid"] for p in api.pools.get()} == set(scenario.get("pools", {}))
    auditor = ProxmoxAPI(settings["PVE_HOST"], user="auditor@pve", token_name="sim", token_value=reader,
                         verify_ssl=settings["PVE_CA_BUNDLE"])
    assert {n["node"] for n in auditor.nodes.get()} == {n["node"] for n in api.nodes.get()}
    with pytest.raises(ResourceException, match="403"):  # the cluster itself refuses the read-only token a write
        auditor.nodes("pve1").qemu(101).status.stop.post()

    # Phases 1 and 2 with the printed settings: the credentials are read-only, so nothing to warn about.
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_reads=READS)
    read = pytester.runpytest("--pve-require-readonly-credentials", "-p", "no:cacheprovider")
    read.assert_outcomes(passed=1)
    assert [line for line in read.outlines if "WARNING" in line or "could write" in line] == []

    # Phase 3 with the writing token's settings on top.
    for name, value in writes.items():
        monkeypatch.setenv(name, value)
    (pytester.path / "test_reads.py").unlink()
    pytester.makepyfile(test_vm=WRITES)
    pytester.makefile(".yaml", excl=EXCLUSIONS)
    result = pytester.runpytest("--pve-exclusions=excl.yaml", "--pve-max-phase", "3")  # the cluster: sim's PVE_*
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["proxmox: API schema: node https://*/pve-docs/api-viewer/apidoc.js (449 paths, *"])
    assert [r for r in api.cluster.resources.get(type="vm") if 990000 <= int(r["vmid"]) <= 999999] == []
    assert reader not in result.stdout.str() and writer not in result.stdout.str()

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.strip().endswith("stopped"), err
    assert json.dumps(reader) not in out + err and json.dumps(writer) not in out + err
