"""The ``pytest-proxmox-mpc`` console command. ``sweep`` removes temporary guests that earlier runs left;
``scan-secrets`` checks cassettes and audit files for secrets; ``workspace sync DIR`` and ``workspace export
DIR`` are the reference builder's two jobs (cluster to ``DIR/.proxmox/state.db``; Terraform and Ansible);
``proxy`` runs the safety proxy in front of the cluster for a tool in another process, until SIGINT/SIGTERM.

It takes the plugin's own connection settings (the same flags and environment variables, from the
same table), so ``pytest-proxmox-mpc sweep --pve-host ... --pve-exclusions ...`` reaches the cluster a
test run reached. Exit codes: 0 done, 1 a leftover could not be removed (sweep) or a secret was found
(scan-secrets), 2 usage error, 3 unreachable (or, for ``proxy`` on replay, no cassette to serve).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .cluster.client import connect_checked
from .cluster.inventory import read_inventory
from .cluster.target import TargetSession, replay_endpoint
from .config.options import OPTIONS, add_flags
from .config.phases import WRITE_PHASE
from .config.settings import RawSources, Settings, resolve
from .errors import CassetteError, SettingsError, SyncError, TargetUnavailable, one_line
from .files.private import write_private
from .files.runfiles import RunFiles
from .guests.destroy import Timeouts
from .guests.sweeper import sweep_cluster
from .proxy.relay import LOCALHOST, PROXY_CASSETTES, SafetyProxy, open_proxy, parse_listen, with_hint
from .proxy.toolguests import summary_line
from .recording.layout import cassette_name
from .recording.scan import files_below, scan
from .run import Run
from .safety.audit import new_run_id
from .safety.guard import Guard
from .safety.lookup import protected_vmids
from .safety.network import block_non_loopback
from .safety.policy import ReadOnlyPolicy
from .safety.trail import AuditTrail
from .workspace.builder import STATE_DB
from .workspace.export.iac import export_iac
from .workspace.sync import sync_database


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
    proxy = commands.add_parser("proxy", help="the safety proxy: a loopback HTTPS endpoint that polices another "
                                "process's API requests (Node.js, Terraform, Ansible) with the plugin's policy")
    proxy.add_argument("--listen", default=f"{LOCALHOST}:0", metavar="HOST:PORT",
                       help="loopback address to listen on (default: 127.0.0.1, any free port)")
    proxy.add_argument("--phase", type=int, choices=(1, 2, 3, 4), default=1,
                       help="the phase whose policy every request passes (default 1: read-only)")
    proxy.add_argument("--credentials-file", type=Path, required=True, metavar="PATH",
                       help="where to write the proxy-only credentials (JSON, mode 0600; removed when it stops)")
    proxy.add_argument("--cassette", default="proxy", metavar="NAME",
                       help="with --pve-record-mode or the replay target: the cassette _proxy/NAME.yaml below the "
                       "cassette directory (default proxy)")
    proxy.add_argument("--rootdir", type=Path, default=Path.cwd(),
                       help="the directory whose .pytest_proxmox_mpc gets the audit trail (default: here)")
    for sub in (sweep, workspace, proxy):
        add_flags(sub.add_argument)  # the plugin's settings, the same names
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "scan-secrets":
        return scan_secrets(args.paths)
    if args.command == "workspace":
        return workspace_job(args)
    if args.command == "proxy":
        return proxy_command(args)
    try:  # sweeping deletes: the settings' rules for it (an exclusion list on live) apply
        settings = _settings(args, args.rootdir, pve_sweep=True)
    except SettingsError as exc:
        return _usage(str(exc))
    if settings.target != "live":
        return _usage("sweep works on a live cluster: give --pve-host (or PVE_HOST)")
    files = RunFiles(args.rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "sweep")
    session = TargetSession(settings, args.rootdir)
    try:
        readonly, _ = connect_checked(session.endpoint, Guard(ReadOnlyPolicy(), trail))
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
    rootdir = Path.cwd()
    try:
        settings = _settings(args, rootdir)
    except SettingsError as exc:
        return _usage(str(exc))
    if settings.target == "replay":
        return _usage("workspace jobs read a cluster: use the sim or live target")
    files = RunFiles(rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "workspace")
    session = TargetSession(settings, Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-")))
    try:
        readonly, _ = connect_checked(session.endpoint, Guard(ReadOnlyPolicy(), trail))
        if args.job == "sync":
            result = sync_database(readonly, args.directory / STATE_DB)
            print(f"synced {args.directory / STATE_DB}: {result.summary()}")
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


def proxy_command(args: argparse.Namespace) -> int:
    """``proxy``: serve until SIGINT or SIGTERM; prints where, the CA file and the audit, never a secret."""
    try:
        listen = parse_listen(args.listen)
    except ValueError as exc:
        return _usage(f"--listen {exc}")
    if args.pve_max_phase not in (None, str(args.phase)):
        return _usage("the proxy's phase is --phase; --pve-max-phase cannot differ from it")
    try:  # the phase as the run's highest, so the settings' rules for it apply (an exclusion list on live)
        settings = _settings(args, args.rootdir, pve_max_phase=str(args.phase))
        run = Run.start(settings, args.rootdir, new_run_id(), "proxy")
    except SettingsError as exc:
        return _usage(str(exc))
    logging.basicConfig(format="pytest-proxmox-mpc: %(message)s", level=logging.WARNING, stream=sys.stderr)
    with _stop_on_signals() as stop:
        return _serve(args, settings, run, listen, stop)


def _serve(args: argparse.Namespace, settings: Settings, run: Run, listen: tuple[str, int],
           stop: threading.Event) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-proxy-"))
    session = TargetSession(settings, workdir / "target")
    undo_block = block_non_loopback() if settings.target == "replay" else None
    cassette = f"{PROXY_CASSETTES}/{cassette_name(args.cassette)}"
    if run.recorder is not None:
        run.recorder.push(cassette, f"--cassette {args.cassette}")
    proxy, left = None, 0
    hint = (f"record it with: pytest-proxmox-mpc proxy --cassette {args.cassette} --pve-record-mode new_episodes "
            "(on the sim target or a live cluster)")
    try:
        # On replay a stand-in token: recorded requests match without their credentials, and nothing logs in.
        endpoint = replay_endpoint(settings, by_password=False) if settings.target == "replay" else session.endpoint
        api, version = connect_checked(endpoint, run.guard(ReadOnlyPolicy()))
        try:
            protected = protected_vmids(api, settings.exclusions) if args.phase >= WRITE_PHASE else frozenset()
        except Exception as exc:  # unresolved, the exclusion list would let writes through: no proxy at all
            raise TargetUnavailable(f"cannot resolve the exclusion list against the cluster: {one_line(exc)}") from None
        tools = run.tool_guests() if args.phase >= WRITE_PHASE else None
        proxy = open_proxy(endpoint, api, run.proxy_guard(args.phase, api, protected), workdir / "proxy",
                           phase=args.phase, listen=listen, record_hint=hint, tools=tools)
        write_private(args.credentials_file, json.dumps(proxy.access.revealed(), indent=2) + "\n")
        print(f"proxy: {proxy.access.url} (phase {args.phase}, target {settings.target}, PVE {version})", flush=True)
        print(f"ca: {proxy.access.cafile}", flush=True)
        print(f"credentials: {args.credentials_file} (token {proxy.access.token_id}, user {proxy.access.user})",
              flush=True)
        print(f"audit: {run.files.audit}" + (f"; cassette: {settings.cassette_dir / cassette}.yaml"
                                             if run.recorder is not None else ""), flush=True)
        while not stop.wait(1.0):
            pass
    except TargetUnavailable as exc:
        print(f"pytest-proxmox-mpc: {exc}", file=sys.stderr)
        return 3
    except CassetteError as exc:
        print(f"pytest-proxmox-mpc: {with_hint(exc, hint)}", file=sys.stderr)
        return 3
    except OSError as exc:  # the address is taken, the credentials file cannot be written
        return _usage(one_line(exc))
    finally:
        if proxy is not None:
            left = _remove_tool_guests(proxy, run, api, protected)
            proxy.stop()
            args.credentials_file.unlink(missing_ok=True)
        run.close()  # saves the cassette
        session.close()
        if undo_block is not None:
            undo_block()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"stopped after {proxy.requests} requests", flush=True)
    return 1 if left else 0


def _remove_tool_guests(proxy: SafetyProxy, run: Run, api: Any, protected: frozenset[int]) -> int:
    """When the console proxy stops: remove what tools created through it and left; how many are left."""
    if proxy.tools is None:
        return 0
    counts = proxy.tools.finish(None, api, run.client(api, proxy.phase, protected), Timeouts(), everything=True)
    print(summary_line({"proxy": counts}), flush=True)
    for problem in counts.problems:
        print(f"pytest-proxmox-mpc: left on the cluster (pytest-proxmox-mpc sweep removes it): {problem}",
              file=sys.stderr)
    return counts.left


def _settings(args: argparse.Namespace, rootdir: Path, **overrides: str | bool) -> Settings:
    """The plugin's settings from a subcommand's flags and the environment (``SettingsError`` if bad)."""
    options: dict[str, object] = {opt.dest: getattr(args, opt.dest) for opt in OPTIONS}
    return resolve(RawSources(options={**options, **overrides}, ini={}, environ=os.environ, rootdir=rootdir))


def _usage(message: str) -> int:
    print(f"pytest-proxmox-mpc: error: {message}", file=sys.stderr)
    return 2


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event SIGINT and SIGTERM set (instead of interrupting), restoring the previous handlers after."""
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def scan_secrets(paths: list[Path]) -> int:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"pytest-proxmox-mpc: error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = list(files_below(paths))  # walked once: scanned, then counted
    findings = scan(files)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secret-looking value(s) in {len(files)} file(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
