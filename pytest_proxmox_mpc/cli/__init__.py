"""The ``pytest-proxmox-mpc`` console command, one module per subcommand.

``sweep`` removes temporary guests that earlier runs left; ``scan-secrets`` checks cassettes and audit files for
secrets; ``workspace sync|export DIR`` runs the reference builder's two jobs; ``proxy`` serves the safety proxy
in front of the cluster for a tool in another process; ``sim`` serves the simulated cluster as a process; ``drift``
compares cassettes with the live cluster, read only. The
subcommands take the plugin's own settings (the same flags and environment variables, from the same table), each
only those it uses. Exit codes are in ``common.EXIT_CODES`` and every ``--help``.
"""

from __future__ import annotations

import argparse
import sys

from . import drift, proxy, scan, sim, sweep, workspace
from .common import EXIT_CODES, joined_negative_values

SUBCOMMANDS = (sweep, scan, workspace, proxy, sim, drift)
DESCRIPTION = ("Console jobs of the pytest-proxmox-mpc plugin: remove leftover temporary guests, scan files for "
               "secrets, run the reference workspace builder, serve the safety proxy or the simulated cluster, compare "
               "cassettes with the cluster.")


def parser() -> argparse.ArgumentParser:
    """The command's parser: one subparser per module of ``SUBCOMMANDS``."""
    epilog = "exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())
    top = argparse.ArgumentParser(prog="pytest-proxmox-mpc", description=DESCRIPTION, epilog=epilog)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        sub = module.add_parser(commands)
        sub.set_defaults(handler=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    args = parser().parse_args(joined_negative_values(sys.argv[1:] if argv is None else argv))
    code: int = args.handler(args)
    return code
