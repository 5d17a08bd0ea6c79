"""The table of every setting: flag, ini key, environment variable and help text.

``plugin.py`` registers flags and ini keys from ``OPTIONS`` (and the console's subcommands the same flags,
with ``add_flags``); ``settings.resolve()`` reads them back.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .parsing import DEFAULT_PORT
from .policy import DEFAULT_TEMP_RANGE


@dataclass(frozen=True)
class Option:
    """One setting: its flag, ini key, environment variable and help text."""

    name: str
    flag: str
    ini: str | None
    env: str | None
    help: str
    metavar: str = "VALUE"
    negative_flag: str | None = None  # for booleans: the flag that sets False

    @property
    def dest(self) -> str:
        return self.name if self.name.startswith("mpc_") else "pve_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("target", "--pve-target", "pve_target", "PVE_TARGET",
           "what the run talks to: sim (in-process fakepve), replay (cassettes) or live "
           "(default: live when a host is set, else sim)", metavar="{sim,replay,live}"),
    Option("host", "--pve-host", "pve_host", "PVE_HOST",
           f"the cluster's API address, HOST[:PORT] (port {DEFAULT_PORT} if omitted)", metavar="HOST[:PORT]"),
    Option("user", "--pve-user", "pve_user", "PVE_USER",
           "user to log in as, USER@REALM (default root@pam)", metavar="USER@REALM"),
    Option("token_name", "--pve-token-name", "pve_token_name", "PVE_TOKEN_NAME",
           "API token name; its secret comes from PVE_TOKEN_VALUE or PVE_TOKEN_VALUE_FILE", metavar="NAME"),
    Option("verify_ssl", "--pve-verify-ssl", "pve_verify_ssl", "PVE_VERIFY_SSL",
           "verify the cluster's TLS certificate (default)", negative_flag="--pve-no-verify-ssl"),
    Option("ca_bundle", "--pve-ca-bundle", "pve_ca_bundle", "PVE_CA_BUNDLE",
           "CA certificate file (PEM) to verify the cluster with", metavar="PATH"),
    Option("max_phase", "--pve-max-phase", "pve_max_phase", "PVE_MAX_PHASE",
           "highest test phase allowed to run: 1 read-only, 2 local DB/IaC, 3 temporary writes, "
           "4 full workflow (default 1)", metavar="{1,2,3,4}"),
    Option("sim_scenario", "--pve-sim-scenario", "pve_sim_scenario", None,
           "scenario the sim target loads: a packaged name or a path to a fakepve guests JSON "
           "(default homelab)", metavar="NAME-or-PATH"),
    Option("timeout", "--pve-timeout", "pve_timeout", "PVE_TIMEOUT",
           "seconds to wait for one API answer (default 30)", metavar="SECONDS"),
    Option("exclusions", "--pve-exclusions", "pve_exclusions", "PVE_EXCLUSIONS",
           "YAML file of production guests, nodes and storages no test may write to "
           "(required for phase 3/4 on a live target)", metavar="FILE"),
    Option("temp_vmid_range", "--pve-temp-vmid-range", "pve_temp_vmid_range", "PVE_TEMP_VMID_RANGE",
           f"VMIDs reserved for temporary guests, FIRST-LAST (default {DEFAULT_TEMP_RANGE[0]}-"
           f"{DEFAULT_TEMP_RANGE[1]})", metavar="FIRST-LAST"),
    Option("temp_pool", "--pve-temp-pool", "pve_temp_pool", "PVE_TEMP_POOL",
           "pool every temporary guest is added to (default: none)", metavar="POOL"),
    Option("keep_on_failure", "--pve-keep-on-failure", "pve_keep_on_failure", "PVE_KEEP_ON_FAILURE",
           "keep the temporary guests of failed tests for inspection (default: remove them)",
           negative_flag="--no-pve-keep-on-failure"),
    Option("sweep", "--pve-sweep", "pve_sweep", "PVE_SWEEP",
           "before the run, remove temporary guests left by earlier runs (see pytest-proxmox-mpc sweep)",
           negative_flag="--no-pve-sweep"),
    Option("sweep_age", "--pve-sweep-age", "pve_sweep_age", "PVE_SWEEP_AGE",
           "a leftover of a run the ledger does not show finished is swept once the run is this old: "
           "SECONDS, or with a unit s/m/h/d (default 1h)", metavar="AGE"),
    Option("record_mode", "--pve-record-mode", "pve_record_mode", "PVE_RECORD_MODE",
           "record to / play from cassettes: none (play only), once, new_episodes, all, rewrite (delete the "
           "test's cassette and record afresh); default: no cassettes on sim and live, none on replay",
           metavar="{none,once,new_episodes,all,rewrite}"),
    Option("cassette_dir", "--pve-cassette-dir", "pve_cassette_dir", "PVE_CASSETTE_DIR",
           "where cassettes live, one per test (default: cassettes/ at the rootdir)", metavar="DIR"),
    Option("anonymize", "--pve-anonymize", "pve_anonymize", "PVE_ANONYMIZE",
           "replace node names, IP and MAC addresses and user names in cassettes by stable pseudonyms",
           negative_flag="--no-pve-anonymize"),
    Option("audit_log", "--pve-audit-log", "pve_audit_log", "PVE_AUDIT_LOG",
           "JSONL file the audit trail is appended to (default .pytest_proxmox_mpc/audit/<run id>.jsonl "
           "at the rootdir)", metavar="PATH"),
    Option("abort_on_violation", "--pve-abort-on-violation", "pve_abort_on_violation", "PVE_ABORT_ON_VIOLATION",
           "end the whole run when a request is refused (default: on for live targets)",
           negative_flag="--no-pve-abort-on-violation"),
    Option("usage_threshold", "--pve-usage-threshold", "pve_usage_threshold", "PVE_USAGE_THRESHOLD",
           "CPU, memory and storage use above which writes are skipped, and a write test aborts the run: "
           "a fraction or a percentage (default 0.8)", metavar="FRACTION"),
    Option("require_backups", "--pve-require-backups", "pve_require_backups", "PVE_REQUIRE_BACKUPS",
           "skip writes unless every protected guest has a backup job or a recent backup (default: warn only)",
           negative_flag="--no-pve-require-backups"),
    Option("backup_max_age", "--pve-backup-max-age", "pve_backup_max_age", "PVE_BACKUP_MAX_AGE",
           "how recent a protected guest's latest backup must be without a backup job: SECONDS, or with a unit "
           "s/m/h/d (default 7d)", metavar="AGE"),
    Option("max_connection_failures", "--pve-max-connection-failures", "pve_max_connection_failures",
           "PVE_MAX_CONNECTION_FAILURES", "abort the run after this many consecutive connection failures "
           "(default 3)", metavar="N"),
    Option("report", "--pve-report", "pve_report", "PVE_REPORT",
           "write the run report to PATH.json and PATH.md (a .json or .md suffix is dropped first)", metavar="PATH"),
    Option("mpc_workspace", "--mpc-workspace", "mpc_workspace", "MPC_WORKSPACE",
           "validate this existing Proxmox-MPC workspace (a copy of it; the original is never changed) "
           "instead of building one with the reference builder", metavar="DIR"),
    Option("mpc_command", "--mpc-command", "mpc_command", "MPC_COMMAND",
           "build the workspace by running this command (e.g. the Node.js Proxmox-MPC) in a fresh directory "
           "whose .proxmox/config.yml and PROXMOX_* variables point at the target", metavar="CMD"),
    Option("mpc_tf_provider", "--mpc-tf-provider", "mpc_tf_provider", "MPC_TF_PROVIDER",
           "Terraform provider the reference builder writes for: bpg (bpg/proxmox) or telmate (telmate/proxmox) "
           "(default bpg)", metavar="{bpg,telmate}"),
)
OPTIONS_BY_NAME = {opt.name: opt for opt in OPTIONS}


def add_flags(add: Callable[..., Any], *, hide_negative: bool = False) -> None:
    """Declare every setting's flags with ``add``: pytest's ``group.addoption`` or argparse's ``add_argument``,
    which take the same keywords. A yes/no setting gets its negative flag too (left out of the help with
    ``hide_negative``). Each flag's default is None: unset, so the setting's ini, environment or default wins."""
    for opt in OPTIONS:
        if opt.negative_flag:
            add(opt.flag, action="store_const", const=True, dest=opt.dest, default=None, help=opt.help)
            add(opt.negative_flag, action="store_const", const=False, dest=opt.dest,
                help=argparse.SUPPRESS if hide_negative else "do not " + opt.help.replace(" (default)", ""))
        else:
            add(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.help)

# Secrets: environment variable, and the variable naming a file that holds it.
SECRET_ENV = {"token_value": ("PVE_TOKEN_VALUE", "PVE_TOKEN_VALUE_FILE"),
              "password": ("PVE_PASSWORD", "PVE_PASSWORD_FILE")}
