"""scan-secrets on everything the plugin writes, table-driven: the recordings of every phase (test and session
cassettes, the API schema cached beside them on a live recording), the audit trail, the ledger, the connection and
tool-steps files, the report in JSON and Markdown. Produced by the validation suite itself (phases 1-4 on the sim
with the Proxmox-MPC double as the tool, recording; then phase 3 on a live target, the fakepve process, which
caches the schema): 0 findings. Then a token, a password, a ticket and a CSRF token planted in each kind of file,
as that file's syntax would carry it, are each found, on the line they are on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_proxmox_mpc.cli import main as cli
from pytest_proxmox_mpc.recording.scan import scan

from .livetarget import EXCLUSIONS, FakePveProcess

BIN = Path(sys.executable).parent
DOUBLE = Path(__file__).parent / "doubles" / "mpc_console.py"
SECRETS = {  # kind: (as it would leak into a line, what scan-secrets calls it)
    "token": ("PVEAPIToken=ci@pve!validation=5f0c1d3e-aaaa-bbbb-cccc-1234567890ab", "an API token"),
    "password": ("username=root%40pam&password=Hunter2Hunter2", "the secret-named field 'password' holds a value"),
    "ticket": ("PVE:root@pam:6740B6E1::aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRpY2tldA==", "a PVE ticket"),
    "csrf": ("6740B6E1:Qm9ndXMgQ1NSRiB0b2tlbiBmb3IgYSB0ZXN0IHJ1bg", "a CSRF prevention token"),
}


def _first(pattern: str) -> Callable[[Path], Path]:
    def find(root: Path) -> Path:
        found = sorted(root.glob(pattern))
        assert found, f"the plugin wrote no {pattern}"
        return found[0]
    return find


KINDS = {  # a kind of file the plugin writes: where the first of its kind is, below the run's folder
    "test cassette": _first("cassettes/validation/test_phase3_lifecycle/*.yaml"),
    "session cassette": _first("cassettes/_session/_pve_connection.yaml"),
    "cached API schema": _first("cassettes/_session/pve-api-schema/*.json"),
    "audit trail": _first(".pytest_proxmox_mpc/audit/*.jsonl"),
    "ledger": _first(".pytest_proxmox_mpc/ledger/*.jsonl"),
    "connection file": _first(".pytest_proxmox_mpc/connection/*.json"),
    "tool steps": _first(".pytest_proxmox_mpc/tool-steps/*.json"),
    "report (JSON)": _first("report.json"),
    "report (Markdown)": _first("report.md"),
}


def _run(*args: str, cwd: Path, **env: str) -> None:
    plain = {name: value for name, value in os.environ.items() if not name.startswith(("PVE_", "PYTEST_XDIST"))}
    done = subprocess.run([str(BIN / "pytest"), "--pyargs", "pytest_proxmox_mpc.validation", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "-p", "no:xdist", "-q", *args], cwd=cwd, env={**plain, **env},
                          capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, fakepve_process: FakePveProcess) -> Path:
    """A folder with everything the plugin writes in a run of the validation suite that records."""
    root = tmp_path_factory.mktemp("plugin-output")
    _run("--pve-max-phase=4", "--pve-record-mode=once", "--pve-report=report", f"--mpc-console=python {DOUBLE}",
         f"--mpc-cli=python {DOUBLE}", cwd=root)
    (root / "excl.yaml").write_text(EXCLUSIONS, encoding="utf-8")
    server = fakepve_process
    _run("-m", "phase3", "-k", "lifecycle", "--pve-max-phase=3", "--pve-record-mode=new_episodes",
         f"--pve-host={server.address}", f"--pve-ca-bundle={server.cafile}", "--pve-exclusions=excl.yaml",
         "--pve-cassette-dir=live-cassettes", cwd=root, PVE_PASSWORD=server.password)
    shutil.copytree(root / "live-cassettes" / "_session" / "pve-api-schema",
                    root / "cassettes" / "_session" / "pve-api-schema")
    return root


def test_the_plugins_own_output_has_no_finding(written: Path, capsys: pytest.CaptureFixture[str]) -> None:
    every = [written / "cassettes", written / "live-cassettes", written / ".pytest_proxmox_mpc",
             *(find(written) for find in KINDS.values())]  # a kind a folder's walk leaves out, given as a file
    assert cli(["scan-secrets", *map(str, every)]) == 0, capsys.readouterr().out
    assert "0 secret-looking value(s)" in capsys.readouterr().out


def plant(path: Path, leak: str) -> int:
    """``leak`` written into ``path`` as its syntax would carry it (a YAML key, a JSON field, a JSON line, a line of
    Markdown); the line it is on."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        planted = {**data, "leaked": leak} if isinstance(data, dict) else [*data, {"leaked": leak}]
        text = json.dumps(planted, indent=2)
    elif path.suffix == ".jsonl":
        text += json.dumps({"leaked": leak}) + "\n"
    elif path.suffix == ".yaml":
        text += f"leaked: '{leak}'\n"
    else:
        text += f"\nleaked: {leak}\n"
    path.write_text(text, encoding="utf-8")
    return next(number for number, line in enumerate(text.splitlines(), start=1) if leak in line)


@pytest.mark.parametrize("secret", sorted(SECRETS))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_secret_planted_in_a_file_the_plugin_writes_is_found(kind: str, secret: str, written: Path,
                                                               tmp_path: Path) -> None:
    original = KINDS[kind](written)
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    leak, what = SECRETS[secret]
    line = plant(copy, leak)
    assert what in [finding.what for finding in scan([copy]) if finding.line == line]
