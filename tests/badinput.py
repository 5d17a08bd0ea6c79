"""The bad-input tables' one assertion (tests/test_bad_input_*.py): a mistake a user makes, run as that user runs
it (pytest in a fresh process, or the command line), gives the expected exit code, one line naming what was wrong
and where, no traceback, no secret, and leaves every file of the user's as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

SECRET = "5f0c1d3e-aaaa-bbbb-cccc-1234567890ab"
A_TEST = "def test_x():\n    pass\n"
LIVE = ("--pve-host=pve1.example.org",)
TOKEN = ("--pve-host=pve1.example.org", "--pve-token-name=ci")
NOT_YAML = "protect:\n  names: [unclosed\n"
USAGE = int(pytest.ExitCode.USAGE_ERROR)
FAILED = int(pytest.ExitCode.TESTS_FAILED)
CLI_USAGE = 2  # the command line's usage error (cli/common.py)


@dataclass(frozen=True)
class Mistake:
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    ini: str = ""
    files: dict[str, str | bytes] = field(default_factory=dict)
    says: str = ""  # a piece of the one line that names the mistake
    ret: int = USAGE
    test: str = A_TEST  # the test file the run collects
    cli: bool = False  # the args are a pytest-proxmox-mpc command line, not pytest's
    fifos: tuple[str, ...] = ()  # named pipes made in the run's folder (nobody ever writes to them)


def flag(text: str, says: str, **files: str | bytes) -> Mistake:
    return Mistake(args=(text,), says=says, files=files)


def env(name: str, value: str, says: str, *args: str, **files: str | bytes) -> Mistake:
    return Mistake(args=args, env={name: value}, says=says, files=files)


def ini(line: str, says: str, **files: str | bytes) -> Mistake:
    return Mistake(ini=line, says=says, files=files)


def check(mistake: Mistake, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run ``mistake`` and assert what every row of every table asserts; the run's output."""
    pytester.makepyfile(test_x=mistake.test)
    if mistake.ini:
        pytester.makeini(f"[pytest]\n{mistake.ini}\n")
    for relative, content in mistake.files.items():
        path = pytester.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for fifo in mistake.fifos:
        os.mkfifo(pytester.path / fifo)
    for variable, value in mistake.env.items():
        monkeypatch.setenv(variable, value)
    gives_secret = any(variable.startswith(("PVE_PASSWORD", "PVE_TOKEN_VALUE")) for variable in mistake.env)
    if not gives_secret and any(arg.startswith("--pve-host") for arg in mistake.args):
        monkeypatch.setenv("PVE_TOKEN_VALUE" if "--pve-token-name=ci" in mistake.args else "PVE_PASSWORD", SECRET)
    before = {path: path.read_bytes() for path in pytester.path.rglob("*") if path.is_file()}
    if mistake.cli:
        done = subprocess.run([sys.executable, "-m", "pytest_proxmox_mpc.cli", *mistake.args], cwd=pytester.path,
                              capture_output=True, text=True, timeout=600, check=False)
        ret, out, err = done.returncode, done.stdout, done.stderr
    else:
        result = pytester.runpytest_subprocess(*mistake.args, "-p", "no:cacheprovider", "-p", "no:randomly")
        ret, out, err = int(result.ret), result.stdout.str(), result.stderr.str()
    output = out + err
    assert ret == mistake.ret, output
    if ret == USAGE and not mistake.cli:
        errors = [line for line in err.splitlines() if line.startswith("ERROR: ")]
        assert len(errors) == 1 and mistake.says in errors[0], output
    else:
        assert any(mistake.says in line for line in output.splitlines()), output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert SECRET not in output and SECRET[:8] not in output
    after = {path: path.read_bytes() for path in before if path.is_file()}
    assert after == before, "a user's file was changed or lost"
    return output

