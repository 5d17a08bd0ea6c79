"""Bad input, table-driven: the tool driven (``--mpc-console``, ``--mpc-cli``, a profile's step) given a command
that cannot start or a step the tool does not know, and the subcommands of ``pytest-proxmox-mpc`` given a path or
a value they cannot use. Each row: the exit code (a usage error before anything starts where the mistake is in
the command line, else the test that needed the tool fails), one line naming what was wrong, no traceback, no
secret, no file changed (``tests/badinput.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc.sut.profile import PACKAGED

from .badinput import CLI_USAGE, FAILED, LIVE, SECRET, USAGE, Mistake, check

DOUBLE = str(Path(__file__).parent / "doubles" / "mpc_console.py")
PROFILE = (PACKAGED / "proxmox-mpc.yaml").read_text(encoding="utf-8")
SUITE = ("--pyargs", "pytest_proxmox_mpc.validation", "-m", "phase1")
STATUS = (*SUITE, "-k", "test_status_reports")
CLI_STEP = (*SUITE, "-k", "test_the_cli_reads_the_cluster_and_reports_what_it_found and test-connection")
CANNOT_START = "usage error: setting mpc_console: cannot start"


def tool(*args: str, says: str, ret: int = FAILED, **files: str) -> Mistake:
    return Mistake(args=args, says=says, ret=ret, files=files)


def cli(*args: str, says: str, env: dict[str, str] | None = None, **files: str) -> Mistake:
    return Mistake(args=args, says=says, ret=CLI_USAGE, cli=True, env=env or {}, files=files)


EXCLUSIONS = {"ex.yaml": "protect:\n  vmids: [100]\n"}
MISTAKES = {
    # the tool's console and CLI
    "console-not-on-path": tool(*STATUS, "--mpc-console=nosuchcommand", says=f"{CANNOT_START} 'nosuchcommand'"),
    "console-missing-file": tool(*STATUS, "--mpc-console=/nonexistent/bin/proxmox-mpc",
                                 says=f"{CANNOT_START} '/nonexistent/bin/proxmox-mpc'"),
    "console-a-directory": tool(*STATUS, "--mpc-console=/tmp", says=f"{CANNOT_START} '/tmp'"),
    "console-not-executable": tool(*STATUS, "--mpc-console=./tool.sh", says=f"{CANNOT_START}",
                                   **{"tool.sh": "echo hi\n"}),
    "console-unclosed-quote": tool(*STATUS, "--mpc-console=python 'x", ret=USAGE,
                                   says="setting mpc_console (from --mpc-console): \"python 'x\" is not a command "
                                        "line"),
    "cli-unclosed-quote": tool(*STATUS, '--mpc-cli=tsx "src', ret=USAGE, says="setting mpc_cli (from --mpc-cli)"),
    "command-unclosed-quote": tool("--mpc-command=build 'x", ret=USAGE,
                                   says="setting mpc_command (from --mpc-command)"),
    "cli-not-on-path": tool(*CLI_STEP, f"--mpc-console=python {DOUBLE}", "--mpc-cli=nosuchcli",
                            says="cannot run 'nosuchcli test-connection': No such file or directory"),
    "cli-a-directory": tool(*CLI_STEP, f"--mpc-console=python {DOUBLE}", "--mpc-cli=/tmp",
                            says="cannot run '/tmp test-connection': Permission denied"),
    "console-exits-at-start": tool(*STATUS, f"--mpc-console=python {DOUBLE} --defect nosuch",
                                   says="the console exited (status 1) instead of to show its prompt after starting"),
    "step-unknown-to-the-tool": tool(*STATUS, "--mpc-profile=p.yaml", f"--mpc-console=python {DOUBLE}",
                                     says="'/nosuchcommand' (status): failure: printed '❌ Unknown slash command",
                                     **{"p.yaml": PROFILE.replace("    run: /status\n", "    run: /nosuchcommand\n")}),
    # the subcommands of pytest-proxmox-mpc
    "sweep-rootdir-typo": cli("sweep", "--rootdir=nosuch", *LIVE, "--pve-exclusions=ex.yaml", env={
        "PVE_PASSWORD": SECRET}, says="--rootdir nosuch: no such directory", **EXCLUSIONS),
    "sweep-rootdir-a-file": cli("sweep", "--rootdir=ex.yaml", "--dry-run", says="--rootdir ex.yaml: not a directory",
                                **EXCLUSIONS),
    "proxy-credentials-a-directory": cli("proxy", "--credentials-file=.", says="--credentials-file .: a directory"),
    "proxy-credentials-folder-missing": cli("proxy", "--credentials-file=nosuch/creds.json",
                                            says="--credentials-file nosuch/creds.json: no such directory nosuch"),
    "proxy-rootdir-typo": cli("proxy", "--credentials-file=c.json", "--rootdir=nosuch",
                              says="--rootdir nosuch: no such directory"),
    "drift-rootdir-typo": cli("drift", "cassettes", "--rootdir=nosuch", says="--rootdir nosuch: no such directory"),
    "proxy-listen-not-loopback": cli("proxy", "--credentials-file=c.json", "--listen=0.0.0.0:0", says="--listen"),
    "proxy-phase3-live-without-exclusions": cli("proxy", "--credentials-file=c.json", "--phase=3", *LIVE,
                                                env={"PVE_PASSWORD": SECRET}, says="production exclusion list"),
    "scan-secrets-missing-path": cli("scan-secrets", "nosuch", says="no such file or directory: nosuch"),
    "sweep-on-sim": cli("sweep", says="sweep works on a live cluster"),
    "workspace-unknown-step": cli("workspace", "rebuild", "ws", says="invalid choice: 'rebuild'"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistaken_tool_command_is_one_line(name: str, pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    check(MISTAKES[name], pytester, monkeypatch)
