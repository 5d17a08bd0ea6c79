"""``pytest-proxmox-mpc workspace sync|export DIR``: the reference builder's two jobs, through a read-only client."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..cluster.client import connect_checked
from ..cluster.guard import Guard
from ..cluster.inventory import read_inventory
from ..config.target import TargetSession
from ..errors import SettingsError, SyncError, SyncReadError, TargetUnavailable, one_line
from ..files.runfiles import RunFiles
from ..safety.audit import new_run_id
from ..safety.policy import ReadOnlyPolicy
from ..safety.trail import AuditTrail
from ..workspace.builder import STATE_DB
from ..workspace.export.iac import export_iac
from ..workspace.sync import sync_database
from .common import CONNECTION, EXIT_DONE, EXIT_WORKSPACE, Commands, add_settings, failure, settings_of, usage

SETTINGS = (*CONNECTION, "sim_scenario", "mpc_tf_provider")


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    workspace = commands.add_parser("workspace", help="the reference Proxmox-MPC builder: sync the cluster into "
                                    "DIR/.proxmox/state.db, or export Terraform and Ansible into DIR",
                                    description="The reference Proxmox-MPC builder, reading the cluster through a "
                                    "read-only, audited client: sync writes DIR/.proxmox/state.db, export writes "
                                    "Terraform and Ansible into DIR.")
    workspace.add_argument("job", choices=("sync", "export"), help="sync: the state database; export: IaC files")
    workspace.add_argument("directory", type=Path, metavar="DIR", help="the workspace directory")
    add_settings(workspace, SETTINGS)
    return workspace


def run(args: argparse.Namespace) -> int:
    rootdir = Path.cwd()
    try:
        settings = settings_of(args, rootdir)
    except SettingsError as exc:
        return usage(str(exc))
    if settings.target == "replay":
        return usage("workspace jobs read a cluster: use the sim or live target")
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
    except (TargetUnavailable, SyncReadError) as exc:
        return failure(exc)
    except SyncError as exc:  # the database: corrupt, not Proxmox-MPC's, not writable
        return failure(exc, EXIT_WORKSPACE)
    except OSError as exc:  # the export's files cannot be written
        return failure(f"export into {args.directory}: {one_line(exc)}", EXIT_WORKSPACE)
    finally:
        trail.close()
        session.close()
    return EXIT_DONE
