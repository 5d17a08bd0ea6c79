"""The table of every setting: flag, ini key and its type, environment variable, default, parser and help.

One row per setting, and nothing about a setting anywhere else: ``plugin.py`` registers the flags and ini keys
from ``OPTIONS`` (the console's subcommands the same flags, with ``add_flags``), ``settings.resolve()`` reads
them back in precedence order and parses each with its row's parser, falling back to its row's default.
A yes/no setting's negative flag is ``--no-`` before its flag (``--no-pve-sweep``). Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.vmids import DEFAULT_TEMP_RANGE
from ..recording.layout import RECORD_MODES
from .parsing import (
    DEFAULT_PORT,
    as_path,
    choice,
    duration,
    fraction,
    optional_dir,
    optional_duration,
    optional_text,
    parse_bool,
    parse_host,
    path_list,
    positive_float,
    positive_int,
    report_path,
    schema_path,
    sweep_age,
    text,
    user_at_realm,
    vmid_range,
)

TARGETS = ("sim", "replay", "live")
PHASE_NUMBERS = (1, 2, 3, 4)
TF_PROVIDERS = ("bpg", "telmate")
INI_TYPES = {"string": "string", "bool": "bool", "path": "paths"}  # an option's kind -> pytest's ini type


@dataclass(frozen=True)
class Derived:
    """A default that depends on settings above it in the table (or on ``rootdir``): ``shown`` is its help text."""

    compute: Callable[[Mapping[str, Any]], Any]
    shown: str


@dataclass(frozen=True)
class Option:
    """One setting. ``parse`` turns a raw value into the setting's value or raises ``ValueError`` with the problem
    in a user's words; ``default`` is the value when nothing sets it (a ``Derived`` when it depends on others).
    ``kind`` is ``string``, ``bool`` (a flag and its ``--no-`` flag) or ``path`` (relative to the ini file when it
    comes from one)."""

    name: str
    flag: str
    env: str | None
    help: str
    parse: Callable[[Any], Any] = text
    default: Any = None
    kind: str = "string"
    metavar: str = "VALUE"
    aliases: tuple[str, ...] = ()  # older spellings of the flags, still accepted
    negatable: bool = False  # a valued setting that its --no- flag turns off (its parser then gets False)
    shown_default: str | None = None  # the default as the help shows it, when str(default) would not do

    @property
    def dest(self) -> str:
        return self.name if self.name.startswith("mpc_") else "pve_" + self.name

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def ini_type(self) -> str:
        return INI_TYPES[self.kind]

    @property
    def negative_flag(self) -> str | None:
        return "--no-" + self.flag[2:] if self.kind == "bool" or self.negatable else None

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, Derived):
            return self.default.shown
        if self.kind == "bool":
            return "on" if self.default else "off"
        return "none" if self.default is None else str(self.default)

    def full_help(self) -> str:
        return f"{self.help} (default: {self.default_text()})"

    def default_for(self, resolved: Mapping[str, Any]) -> Any:
        return self.default.compute(resolved) if isinstance(self.default, Derived) else self.default


DEFAULT_USAGE_THRESHOLD = 0.8
DEFAULT_BACKUP_MAX_AGE = 7 * 24 * 3600.0
DEFAULT_CASSETTE_MAX_AGE = 90 * 24 * 3600.0

# In resolution order: a Derived default may use only the settings above it.
OPTIONS: tuple[Option, ...] = (
    Option("host", "--pve-host", "PVE_HOST", f"the cluster's API address, HOST[:PORT] (port {DEFAULT_PORT} if omitted)",
           lambda raw: parse_host(str(raw)), metavar="HOST[:PORT]"),
    Option("target", "--pve-target", "PVE_TARGET",
           "what the run talks to: sim (in-process fakepve), replay (cassettes) or live", choice(TARGETS),
           Derived(lambda s: "live" if s["host"] else "sim", "live when a host is set, else sim"),
           metavar="{sim,replay,live}"),
    Option("user", "--pve-user", "PVE_USER", "user to log in as, USER@REALM", user_at_realm, "root@pam",
           metavar="USER@REALM"),
    Option("token_name", "--pve-token-name", "PVE_TOKEN_NAME",
           "API token name; its secret comes from PVE_TOKEN_VALUE or PVE_TOKEN_VALUE_FILE", optional_text,
           shown_default="none: password login", metavar="NAME"),
    Option("verify_ssl", "--pve-verify-ssl", "PVE_VERIFY_SSL", "verify the cluster's TLS certificate", parse_bool,
           True, "bool", aliases=("--pve-no-verify-ssl",)),
    Option("ca_bundle", "--pve-ca-bundle", "PVE_CA_BUNDLE", "CA certificate file (PEM) to verify the cluster with",
           as_path, kind="path", shown_default="the system's CAs", metavar="PATH"),
    Option("max_phase", "--pve-max-phase", "PVE_MAX_PHASE", "highest test phase allowed to run: 1 read-only, "
           "2 local DB/IaC, 3 temporary writes, 4 full workflow", choice(PHASE_NUMBERS, int), 1, metavar="{1,2,3,4}"),
    Option("sim_scenario", "--pve-sim-scenario", None, "scenario the sim target loads: a packaged name or a path "
           "to a fakepve guests JSON", text, "homelab", metavar="NAME-or-PATH"),
    Option("timeout", "--pve-timeout", "PVE_TIMEOUT", "seconds to wait for one API answer", positive_float, 30.0,
           shown_default="30", metavar="SECONDS"),
    Option("api_schema", "--pve-api-schema", "PVE_API_SCHEMA", "the PVE API schema that classifies writes (phases 3 "
           "and 4): auto, or a file (a node's apidoc.js, or a schema the plugin cached)", schema_path, kind="path",
           shown_default="auto: read from the node's /pve-docs/api-viewer/apidoc.js on live, cached beside the "
           "cassettes for replay; fakepve's copy on sim", metavar="auto|PATH"),
    Option("require_readonly_credentials", "--pve-require-readonly-credentials", "PVE_REQUIRE_READONLY_CREDENTIALS",
           "in phases 1 and 2 on a live cluster, stop with a usage error when the credentials could write (off: "
           "warn)", parse_bool, False, "bool"),
    Option("exclusions", "--pve-exclusions", "PVE_EXCLUSIONS", "YAML file of production guests, nodes and storages "
           "no test may write to", as_path, kind="path", shown_default="none; required for phase 3/4 on a live target",
           metavar="FILE"),
    Option("temp_vmid_range", "--pve-temp-vmid-range", "PVE_TEMP_VMID_RANGE",
           "VMIDs reserved for temporary guests, FIRST-LAST", vmid_range, DEFAULT_TEMP_RANGE,
           shown_default="{}-{}".format(*DEFAULT_TEMP_RANGE), metavar="FIRST-LAST"),
    Option("temp_pool", "--pve-temp-pool", "PVE_TEMP_POOL", "pool every temporary guest is added to",
           optional_text, metavar="POOL"),
    Option("keep_on_failure", "--pve-keep-on-failure", "PVE_KEEP_ON_FAILURE",
           "keep the temporary guests of failed tests for inspection (off: remove them)", parse_bool, False, "bool"),
    Option("sweep", "--pve-sweep", "PVE_SWEEP", "before the run, remove temporary guests left by earlier runs "
           "(see pytest-proxmox-mpc sweep)", parse_bool, False, "bool"),
    Option("sweep_age", "--pve-sweep-age", "PVE_SWEEP_AGE", "a leftover of a run the ledger does not show finished "
           "is swept once the run is this old: SECONDS, or with a unit s/m/h/d (at least 5m)", sweep_age, 3600.0,
           shown_default="1h", metavar="AGE"),
    Option("record_mode", "--pve-record-mode", "PVE_RECORD_MODE", "record to / play from cassettes: none (play "
           "only), once, new_episodes, all, rewrite (delete the test's cassette and record afresh)",
           choice(RECORD_MODES), Derived(lambda s: "none" if s["target"] == "replay" else None,
                                         "no cassettes on sim and live, none on replay"),
           metavar="{" + ",".join(RECORD_MODES) + "}"),
    Option("cassette_dir", "--pve-cassette-dir", "PVE_CASSETTE_DIR", "where cassettes live, one per test", as_path,
           default=Derived(lambda s: Path(s["rootdir"]) / "cassettes", "cassettes/ at the rootdir"), kind="path",
           metavar="DIR"),
    Option("cassette_max_age", "--pve-cassette-max-age", "PVE_CASSETTE_MAX_AGE", "warn when cassettes a run replays "
           "were recorded longer ago than this (SECONDS, or with a unit s/m/h/d), or against another PVE major "
           "version; --no-pve-cassette-max-age (or off): no age limit", optional_duration, DEFAULT_CASSETTE_MAX_AGE,
           shown_default="90d", metavar="AGE", negatable=True),
    Option("anonymize", "--pve-anonymize", "PVE_ANONYMIZE", "replace node names, IP and MAC addresses and user names "
           "in cassettes by stable pseudonyms", parse_bool, False, "bool"),
    Option("audit_log", "--pve-audit-log", "PVE_AUDIT_LOG", "JSONL file the audit trail is appended to", as_path,
           kind="path", shown_default=".pytest_proxmox_mpc/audit/<run id>.jsonl at the rootdir", metavar="PATH"),
    Option("abort_on_violation", "--pve-abort-on-violation", "PVE_ABORT_ON_VIOLATION",
           "end the whole run when a request is refused", parse_bool,
           Derived(lambda s: s["target"] == "live", "on for live targets, off otherwise"), "bool"),
    Option("usage_threshold", "--pve-usage-threshold", "PVE_USAGE_THRESHOLD", "CPU, memory and storage use above "
           "which writes are skipped, and a write test aborts the run: a fraction or a percentage", fraction,
           DEFAULT_USAGE_THRESHOLD, metavar="FRACTION"),
    Option("require_backups", "--pve-require-backups", "PVE_REQUIRE_BACKUPS", "skip writes unless every protected "
           "guest has a backup job or a recent backup (off: warn only)", parse_bool, False, "bool"),
    Option("backup_max_age", "--pve-backup-max-age", "PVE_BACKUP_MAX_AGE", "how recent a protected guest's latest "
           "backup must be without a backup job: SECONDS, or with a unit s/m/h/d", duration, DEFAULT_BACKUP_MAX_AGE,
           shown_default="7d", metavar="AGE"),
    Option("max_connection_failures", "--pve-max-connection-failures", "PVE_MAX_CONNECTION_FAILURES",
           "abort the run after this many consecutive connection failures", positive_int, 3, metavar="N"),
    Option("report", "--pve-report", "PVE_REPORT", "write the run report to PATH.json and PATH.md (a .json or .md "
           "suffix is dropped first)", report_path, kind="path", metavar="PATH"),
    Option("lint_cache", "--pve-lint-cache", "PVE_LINT_CACHE", "where ansible-lint results are kept across runs, "
           "by the content linted, ansible-lint's version and its config; --no-pve-lint-cache (or off) lints afresh "
           "in each run (one lint per distinct content still)", optional_dir,
           Derived(lambda s: Path(s["rootdir"]) / ".pytest_proxmox_mpc" / "lint-cache",
                   ".pytest_proxmox_mpc/lint-cache/ at the rootdir"), kind="path", metavar="DIR", negatable=True),
    Option("ansible_collections", "--pve-ansible-collections", "PVE_ANSIBLE_COLLECTIONS", "where ansible-lint finds "
           "the Ansible collections a workspace's playbooks use (folders separated by ':', as "
           "ANSIBLE_COLLECTIONS_PATH); a module of a collection not installed there is reported as not judged here, "
           "not as a defect",
           path_list, shown_default="ANSIBLE_COLLECTIONS_PATH, else ~/.ansible/collections and "
           "/usr/share/ansible/collections", metavar="DIR[:DIR...]"),
    Option("mpc_workspace", "--mpc-workspace", "MPC_WORKSPACE", "validate this existing Proxmox-MPC workspace (a copy "
           "of it; the original is never changed) instead of building one with the reference builder", as_path,
           kind="path", metavar="DIR"),
    Option("mpc_command", "--mpc-command", "MPC_COMMAND", "build the workspace by running this command (e.g. the "
           "Node.js Proxmox-MPC) in a fresh directory whose .proxmox/config.yml and PROXMOX_* variables point at the "
           "target", optional_text, metavar="CMD"),
    Option("mpc_console", "--mpc-console", "MPC_CONSOLE", "drive this command as the system under test's "
           "interactive console (through a pseudo-terminal), e.g. bin/proxmox-mpc in a Proxmox-MPC checkout",
           optional_text, metavar="CMD"),
    Option("mpc_cli", "--mpc-cli", "MPC_CLI", "run the system under test's non-interactive CLI steps with this "
           "command, e.g. 'node_modules/.bin/tsx src/cli/index.ts'", optional_text,
           shown_default="the profile's fallback", metavar="CMD"),
    Option("mpc_profile", "--mpc-profile", "MPC_PROFILE", "how the system under test is driven (prompts, init "
           "answers, each phase's steps): a packaged profile's name or a YAML file", text, "proxmox-mpc",
           metavar="NAME-or-PATH"),
    Option("mpc_tf_provider", "--mpc-tf-provider", "MPC_TF_PROVIDER", "Terraform provider the reference builder "
           "writes for: bpg (bpg/proxmox) or telmate (telmate/proxmox)", choice(TF_PROVIDERS), "bpg",
           metavar="{bpg,telmate}"),
)
OPTIONS_BY_NAME = {opt.name: opt for opt in OPTIONS}

# Secrets: environment variable, and the variable naming a file that holds it. Never a flag or an ini key.
SECRET_ENV = {"token_value": ("PVE_TOKEN_VALUE", "PVE_TOKEN_VALUE_FILE"),
              "password": ("PVE_PASSWORD", "PVE_PASSWORD_FILE")}


def default_of(name: str) -> Any:
    """The table's default of setting ``name`` (for the modules that need it as a constant)."""
    return OPTIONS_BY_NAME[name].default


def add_flags(add: Callable[..., Any], names: frozenset[str] | None = None) -> None:
    """Declare the flags of every setting (or of those ``names``) with ``add``: pytest's ``group.addoption`` or
    argparse's ``add_argument``, which take the same keywords. A yes/no setting gets its ``--no-`` flag too, and
    its older spellings. Each flag's default is None: unset, so the setting's environment variable, ini key or
    default wins."""
    for opt in OPTIONS:
        if names is not None and opt.name not in names:
            continue
        if opt.negative_flag and opt.kind != "bool":
            add(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.full_help())
            add(opt.negative_flag, action="store_const", const=False, dest=opt.dest, help=f"turn {opt.flag} off")
        elif opt.negative_flag:
            add(opt.flag, action="store_const", const=True, dest=opt.dest, default=None, help=opt.full_help())
            add(opt.negative_flag, *opt.aliases, action="store_const", const=False, dest=opt.dest,
                help=f"turn {opt.flag} off")
        else:
            add(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.full_help())
