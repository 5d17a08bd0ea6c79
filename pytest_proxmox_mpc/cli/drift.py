"""``pytest-proxmox-mpc drift CASSETTES...``: what changed on a live cluster since its cassettes were recorded.

Read only: the GET requests of the cassettes are sent again through the phase-1 policy (a login and GETs, nothing
else), and the answers' shapes and the API schema compared with the recorded ones (``cluster.cassettecheck``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cluster.cassettecheck import (
    DriftReport,
    compare_schemas,
    recorded_gets,
    recorded_schemas,
    send_again,
    summary,
)
from ..cluster.client import connect_checked
from ..cluster.guard import Guard
from ..cluster.schemasource import from_node
from ..config.target import TargetSession
from ..errors import FileProblem, SettingsError, TargetUnavailable
from ..files.runfiles import RunFiles
from ..recording.recorded import cassette_files, read_cassette
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

SETTINGS = (*CONNECTION, "temp_vmid_range", "cassette_max_age")


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    drift = commands.add_parser("drift", help="compare cassettes with the live cluster, read only (exits 1 if the "
                                "answers' shapes or the API schema changed)",
                                description="Send the GET requests of recorded cassettes again to a live cluster "
                                "(read only: nothing but GETs and the login) and report, per request, the fields "
                                "added, removed or of another type in its answer, and the API schema's methods and "
                                "parameters added or removed since the recording; exits 1 if anything changed.")
    drift.add_argument("paths", nargs="+", type=Path, metavar="CASSETTES",
                       help="a cassette, or a directory of cassettes (its _session/pve-api-schema holds the "
                       "recorded API schema)")
    add_rootdir(drift, "gets the audit trail")
    add_settings(drift, SETTINGS)
    return drift


def run(args: argparse.Namespace) -> int:
    if problem := not_a_folder(args.rootdir, "--rootdir"):
        return usage(problem)
    try:
        settings = settings_of(args, args.rootdir)
        cassettes = [read_cassette(path) for path in cassette_files(args.paths)]
    except (SettingsError, FileProblem) as exc:  # before anything is sent
        return usage(str(exc))
    if settings.target != "live":
        return usage("drift compares cassettes with a live cluster: give --pve-host (or PVE_HOST)")
    if not cassettes:
        return usage(f"no cassette (.yaml) in {', '.join(map(str, args.paths))}")
    recorded, skipped = recorded_gets(cassettes, settings.temp_vmid_range)
    schemas, unnamed = recorded_schemas(cassettes, [p for p in args.paths if p.is_dir()])
    files = RunFiles(args.rootdir, new_run_id(), settings.audit_log)
    trail = AuditTrail(files.audit, files.run_id, "drift")
    endpoint = TargetSession(settings, args.rootdir).endpoint
    try:
        api, version = connect_checked(endpoint, Guard(ReadOnlyPolicy(), trail))
        live_schema, live_source = from_node(endpoint, Guard(ReadOnlyPolicy(), trail, source="schema"), version)
        paths, unanswered, compared = send_again(api, endpoint, recorded)
    except TargetUnavailable as exc:
        return failure(exc)
    finally:
        trail.close()
    report = DriftReport(len(cassettes), paths=paths, compared=compared)
    report.recorded, report.warnings = summary(cassettes, version, settings.cassette_max_age)
    report.schema, notes = compare_schemas(schemas, live_schema, live_source, unnamed)
    report.not_compared = [*unanswered, *skipped, *notes]
    for line in report.lines():
        print(line, file=sys.stdout)
    print(f"audit: {files.audit}")
    return EXIT_LEFT if report.drifted else EXIT_DONE
