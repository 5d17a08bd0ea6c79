"""The ``pytest-proxmox-mpc`` console command. ``sweep`` removes temporary guests that earlier runs left;
``scan-secrets`` checks cassettes and audit files for secrets; ``workspace sync DIR`` and ``workspace export
DIR`` are the reference builder's two jobs (cluster to ``DIR/.proxmox/state.db``; Terraform and Ansible).

It takes the plugin's own connection settings (the same flags and environment variables, from the
same table), so ``pytest-proxmox-mpc sweep --pve-host ... --pve-exclusions ...`` reaches the cluster a
test run reached. Exit codes: 0 done, 1 a leftover could not be removed (sweep) or a secret was found
(scan-secrets), 2 usage error, 3 unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .audit import new_run_id
from .client import connect, read_version
from .errors import SettingsError, TargetUnavailable
from .guard import Guard
from .iac import export_iac
from .inventory import read_inventory
from .mpcsync import SyncError, sync_database
from .options import OPTIONS
from .policy import ReadOnlyPolicy
from .runfiles import RunFiles
from .scan import files_below, scan
from .settings import RawSources, resolve
from .sweeper import sweep_cluster
from .target import TargetSession
from .trail import AuditTrail


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-proxmox-mpc", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("sweep", help="remove temporary guests left behind by earlier runs")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    sweep.add_argument("--rootdir", type=Path, default=Path.cwd(),
                       help="the directory whose .pytest_proxmox_mpc holds the runs' ledgers (default: here)")
    secrets = commands.add_parser("scan-secrets", help="find secret-looking values in cassettes and audit files "
                                  "(exits 1 if there are any; for pre-commit hooks)")
    secrets.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file, or a directory to search")
    workspace = commands.add_parser("workspace", help="the reference Proxmox-MPC builder: sync the cluster into "
                                    "DIR/.proxmox/state.db, or export Terraform and Ansible into DIR")
    workspace.add_argument("job", choices=("sync", "export"), help="sync: the state database; export: IaC files")
    workspace.add_argument("directory", type=Path, metavar="DIR", help="the workspace directory")
    for sub in (sweep, workspace):
        _connection_arguments(sub)
    return parser


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The plugin's settings as flags of a subcommand (the same table, the same names)."""
    for opt in OPTIONS:
        if opt.negative_flag:
            parser.add_argument(opt.flag, dest=opt.dest, action="store_const", const=True, default=None,
                                help=opt.help)
            parser.add_argument(opt.negative_flag, dest=opt.dest, action="store_const", const=False,
                                help=argparse.SUPPRESS)
        else:
            parser.add_argument(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.help)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "scan-secrets":
        return scan_secrets(args.paths)
    if args.command == "workspace":
        return workspace_job(args)
    options = {opt.dest: getattr(args, opt.dest) for opt in OPTIONS}
    options["pve_sweep"] = True  # sweeping deletes: the settings' rules for it (an exclusion list on live) apply
    try:
        settings = resolve(RawSources(options=options, ini={}, environ=os.environ, rootdir=args.rootdir))
    except SettingsError as exc:
        print(f"pytest-proxmox-mpc: error: {exc}", file=sys.stderr)
        return 2
    if settings.target != "live":
        print("pytest-proxmox-mpc: error: sweep works on a live cluster: give --pve-host (or PVE_HOST)",
              file=sys.stderr)
        return 2
    files = RunFiles(args.rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "sweep")
    session = TargetSession(settings, args.rootdir)
    try:
        readonly = connect(session.endpoint, Guard(ReadOnlyPolicy(), trail))
        read_version(readonly, session.endpoint)
        plan, failed = sweep_cluster(readonly, exclusions=settings.exclusions, temp_range=settings.temp_vmid_range,
                                       schema=None, ledger_dir=files.ledger_dir, max_age=settings.sweep_age,
                                       trail=trail, dry_run=args.dry_run)
    except TargetUnavailable as exc:
        print(f"pytest-proxmox-mpc: {exc}", file=sys.stderr)
        return 3
    finally:
        trail.close()
    verb = "would remove" if args.dry_run else "removed"
    for leftover in plan.remove:
        if leftover not in failed:
            print(f"{verb}: {leftover.line()}")
    for leftover in plan.left_alone:
        print(leftover.line())
    for leftover, why in failed.items():
        print(leftover.failure(why), file=sys.stderr)
    print(f"{len(plan.remove) - len(failed)} {verb}, {len(plan.left_alone)} left alone, {len(failed)} failed "
          f"(audit: {files.audit})")
    return 1 if failed else 0


def workspace_job(args: argparse.Namespace) -> int:
    """``workspace sync DIR`` / ``workspace export DIR`` through a read-only, audited client."""
    options = {opt.dest: getattr(args, opt.dest) for opt in OPTIONS}
    rootdir = Path.cwd()
    try:
        settings = resolve(RawSources(options=options, ini={}, environ=os.environ, rootdir=rootdir))
    except SettingsError as exc:
        print(f"pytest-proxmox-mpc: error: {exc}", file=sys.stderr)
        return 2
    if settings.target == "replay":
        print("pytest-proxmox-mpc: error: workspace jobs read a cluster: use the sim or live target", file=sys.stderr)
        return 2
    files = RunFiles(rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "workspace")
    session = TargetSession(settings, Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-")))
    try:
        readonly = connect(session.endpoint, Guard(ReadOnlyPolicy(), trail))
        read_version(readonly, session.endpoint)
        if args.job == "sync":
            result = sync_database(readonly, args.directory / ".proxmox" / "state.db")
            print(f"synced {args.directory / '.proxmox' / 'state.db'}: {result.summary()}")
        else:
            written = export_iac(read_inventory(readonly, networks=False), args.directory,
                                 provider=settings.mpc_tf_provider)
            print(f"exported {len(written)} files into {args.directory} ({settings.mpc_tf_provider} provider)")
    except (TargetUnavailable, SyncError) as exc:
        print(f"pytest-proxmox-mpc: {exc}", file=sys.stderr)
        return 3
    finally:
        trail.close()
        session.close()
    return 0


def scan_secrets(paths: list[Path]) -> int:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"pytest-proxmox-mpc: error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    findings = scan(paths)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secret-looking value(s) in {sum(1 for _ in files_below(paths))} file(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
