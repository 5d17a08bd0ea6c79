"""``pytest-proxmox-mpc sweep``: remove the temporary guests earlier runs left on a live cluster."""

from __future__ import annotations

import argparse
import sys

from ..cluster.client import connect_checked
from ..cluster.guard import Guard
from ..cluster.schemasource import from_node, from_setting
from ..config.target import TargetSession
from ..errors import SettingsError, TargetUnavailable
from ..files.runfiles import RunFiles
from ..guests.sweeper import sweep_cluster
from ..safety.audit import new_run_id
from ..safety.policy import ReadOnlyPolicy
from ..safety.trail import AuditTrail
from .common import (
    CONNECTION,
    EXIT_DONE,
    EXIT_LEFT,
    Commands,
    add_rootdir,
    add_settings,
    failure,
    not_a_folder,
    settings_of,
    usage,
)

SETTINGS = (*CONNECTION, "exclusions", "temp_vmid_range", "sweep_age", "api_schema")


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    sweep = commands.add_parser("sweep", help="remove temporary guests left behind by earlier runs",
                                description="Remove the temporary guests earlier runs left on a live cluster: only "
                                "guests in the temporary range that a run's ledger or tag names as the plugin's, "
                                "never a protected one, never one of a run still in progress.")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    add_rootdir(sweep, "holds the runs' ledgers")
    add_settings(sweep, SETTINGS)
    return sweep


def run(args: argparse.Namespace) -> int:
    if problem := not_a_folder(args.rootdir, "--rootdir"):
        return usage(problem)
    try:  # sweeping deletes: the settings' rules for it (an exclusion list on live) apply
        settings = settings_of(args, args.rootdir, "the sweep command", pve_sweep=True)
        given = from_setting(settings.api_schema, settings.sources["api_schema"]) if settings.api_schema else None
    except SettingsError as exc:  # a bad setting, or a schema file that is none: before anything is sent
        return usage(str(exc))
    if settings.target != "live":
        return usage("sweep works on a live cluster: give --pve-host (or PVE_HOST)")
    files = RunFiles(args.rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "sweep")
    session = TargetSession(settings, args.rootdir)
    try:
        readonly, version = connect_checked(session.endpoint, Guard(ReadOnlyPolicy(), trail))
        schema, source = given or from_node(session.endpoint, Guard(ReadOnlyPolicy(), trail, source="schema"),
                                            version)
        if schema is None:
            print(source.describe(), file=sys.stderr)
        plan, failed = sweep_cluster(readonly, exclusions=settings.exclusions, temp_range=settings.temp_vmid_range,
                                       schema=schema, ledger_dir=files.ledger_dir, max_age=settings.sweep_age,
                                       trail=trail, dry_run=args.dry_run)
    except TargetUnavailable as exc:
        return failure(exc)
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
    return EXIT_LEFT if failed else EXIT_DONE
