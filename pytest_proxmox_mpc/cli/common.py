"""What the subcommands share: their settings from the plugin's table, usage errors, exit codes, signals."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeAlias

from ..config.options import OPTIONS, add_flags
from ..config.settings import Settings, resolve
from ..config.sources import RawSources
from ..proxy.relay import LOCALHOST

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # what add_subparsers returns
EXIT_DONE, EXIT_LEFT, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_WORKSPACE = 0, 1, 2, 3, 4
EXIT_CODES = {
    EXIT_DONE: "done",
    EXIT_LEFT: "something is left: a leftover not removed (sweep), a secret found (scan-secrets), tool guests "
               "left on the cluster (proxy), answers or API schema changed since the recording (drift)",
    EXIT_USAGE: "usage error",
    EXIT_UNREACHABLE: "the cluster could not be reached or read, or refused the login (proxy on replay: no "
                      "cassette to serve)",
    EXIT_WORKSPACE: "the workspace could not be written: its state.db is corrupt or not Proxmox-MPC's (workspace)",
}
# The settings every subcommand that talks to a cluster takes: where it is, how to log in, the audit trail.
CONNECTION = ("host", "target", "user", "token_name", "verify_ssl", "ca_bundle", "timeout", "audit_log")
NEGATIVE_VALUE = re.compile(r"^-\d")  # -1h, -5: argparse would read it as a flag, not as the value


def add_listen(parser: argparse.ArgumentParser) -> None:
    """``--listen HOST:PORT``: the loopback address a serving subcommand listens on (``proxy``, ``sim``)."""
    parser.add_argument("--listen", default=f"{LOCALHOST}:0", metavar="HOST:PORT",
                        help="loopback address to listen on (default: 127.0.0.1, any free port)")


def add_settings(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """The plugin's flags of the settings ``names``, in a group of their own."""
    group = parser.add_argument_group("plugin settings (also from PVE_* environment variables)")
    add_flags(group.add_argument, frozenset(names))


def settings_of(args: argparse.Namespace, rootdir: Path, implied_by: str = "", **implied: str | bool) -> Settings:
    """The plugin's settings from a subcommand's flags and the environment (``SettingsError`` if bad); the
    settings a subcommand has no flag for come from the environment or their defaults. ``implied`` settings
    (``pve_sweep=True``) are the subcommand's own, and messages say they come from ``implied_by``."""
    options: dict[str, object] = {opt.dest: getattr(args, opt.dest, None) for opt in OPTIONS}
    return resolve(RawSources(options={**options, **implied}, ini={}, environ=os.environ, rootdir=rootdir,
                              origins=dict.fromkeys(implied, implied_by)))


def add_rootdir(parser: argparse.ArgumentParser, holds: str) -> None:
    """``--rootdir``: the folder whose ``.pytest_proxmox_mpc`` ``holds`` what the command reads or writes (checked
    with ``not_a_folder`` before anything else)."""
    parser.add_argument("--rootdir", type=Path, default=Path.cwd(),
                        help=f"the directory whose .pytest_proxmox_mpc {holds} (default: here)")


def not_a_folder(path: Path, flag: str) -> str | None:
    """The usage error for ``flag`` naming ``path`` when it is not an existing folder (a typo must not make one)."""
    if path.is_dir():
        return None
    return f"{flag} {path}: " + ("not a directory" if path.exists() else "no such directory")


def cannot_write_file(path: Path, flag: str) -> str | None:
    """The usage error for ``flag`` when a file cannot be written at ``path`` (a folder is in its place, or its
    folder is missing), checked before anything starts."""
    if path.is_dir():
        return f"{flag} {path}: a directory, not a file"
    if not path.parent.is_dir():
        return f"{flag} {path}: no such directory {path.parent}"
    return None


def usage(message: str) -> int:
    """Print a usage error in one line; its exit code."""
    print(f"pytest-proxmox-mpc: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def failure(message: object, code: int = EXIT_UNREACHABLE) -> int:
    """Print why the job could not be done in one line; ``code``."""
    print(f"pytest-proxmox-mpc: {message}", file=sys.stderr)
    return code


def joined_negative_values(argv: list[str]) -> list[str]:
    """``--pve-sweep-age -1h`` as ``--pve-sweep-age=-1h``: the setting's parser then says what is wrong with the
    value, as it does when it is given with ``=``."""
    takes_value = {opt.flag for opt in OPTIONS if opt.kind != "bool"}
    joined: list[str] = []
    for word in argv:
        if joined and joined[-1] in takes_value and NEGATIVE_VALUE.match(word):
            joined[-1] += "=" + word
        else:
            joined.append(word)
    return joined


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event SIGINT and SIGTERM set (instead of interrupting), restoring the previous handlers after."""
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
