"""``pytest-proxmox-mpc scan-secrets PATH...``: secret-looking values in cassettes and audit files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..recording.scan import files_below, scan
from .common import EXIT_DONE, EXIT_LEFT, Commands, usage


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    secrets = commands.add_parser("scan-secrets", help="find secret-looking values in cassettes and audit files "
                                  "(exits 1 if there are any; for pre-commit hooks)",
                                  description="Find secret-looking values (tokens, passwords, tickets, CSRF "
                                  "tokens) in cassettes, audit trails and reports; exits 1 if there are any.")
    secrets.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file, or a directory to search")
    return secrets


def run(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        return usage(f"no such file or directory: {', '.join(missing)}")
    files = list(files_below(args.paths))  # walked once: scanned, then counted
    findings = scan(files)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secret-looking value(s) in {len(files)} file(s)")
    return EXIT_LEFT if findings else EXIT_DONE
