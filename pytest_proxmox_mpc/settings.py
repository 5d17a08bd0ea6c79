"""Every setting of the plugin, resolved in one place: option > ini key > environment > default.

The table ``OPTIONS`` is the single source of truth: ``plugin.py`` registers its command-line flags
and ini keys from it, ``resolve()`` reads them back in precedence order, checks them, and returns a
frozen ``Settings``. Secrets never come from a flag or an ini key: only from the environment or from
a file named in the environment. Nothing here imports pytest; errors are ``SettingsError`` and the
plugin turns them into ``pytest.UsageError``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SettingsError
from .exclusions import ExclusionError, ExclusionList
from .gates import DEFAULT_BACKUP_MAX_AGE, DEFAULT_USAGE_THRESHOLD
from .options import OPTIONS_BY_NAME, SECRET_ENV, Option
from .parsing import (
    DEFAULT_PORT,
    choice,
    duration,
    fraction,
    parse_bool,
    parse_host,
    positive_float,
    positive_int,
    user_at_realm,
    vmid_range,
)
from .policy import DEFAULT_TEMP_RANGE
from .recorder import RECORD_MODES
from .scenario import resolve_scenario
from .secret import Secret

TARGETS = ("sim", "replay", "live")
TF_PROVIDERS = ("bpg", "telmate")
PHASE_NUMBERS = (1, 2, 3, 4)




@dataclass(frozen=True)
class RawSources:
    """Where raw values come from: parsed flags, ini keys, the environment, and the ini file's path."""

    options: Mapping[str, Any]
    ini: Mapping[str, str | None]
    environ: Mapping[str, str]
    inifile: str | None = None
    rootdir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class Settings:
    """The resolved settings of a run. ``sources`` tells where each value came from."""

    target: str
    host: str | None
    port: int
    user: str
    token_name: str | None
    token_value: Secret | None
    password: Secret | None
    verify_ssl: bool
    ca_bundle: Path | None
    max_phase: int
    sim_scenario: Path
    timeout: float
    sources: Mapping[str, str]
    exclusions: ExclusionList = field(default_factory=ExclusionList.empty)
    temp_vmid_range: tuple[int, int] = DEFAULT_TEMP_RANGE
    audit_log: Path | None = None  # None: the default path of the run
    temp_pool: str | None = None
    keep_on_failure: bool = False
    sweep: bool = False
    sweep_age: float = 3600.0
    record_mode: str | None = None  # None: neither record nor replay
    cassette_dir: Path = Path("cassettes")
    anonymize: bool = False
    abort_on_violation: bool = False
    usage_threshold: float = DEFAULT_USAGE_THRESHOLD
    require_backups: bool = False
    backup_max_age: float = DEFAULT_BACKUP_MAX_AGE
    max_connection_failures: int = 3
    report: Path | None = None  # the report's path without suffix: PATH.json and PATH.md
    mpc_workspace: Path | None = None  # an existing workspace to validate (a copy of it)
    mpc_command: str | None = None  # a command that builds the workspace
    mpc_tf_provider: str = "bpg"

    @property
    def auth(self) -> str:
        """``token`` or ``password``: how the run logs in to a live cluster."""
        return "token" if self.token_name else "password"

    @property
    def verify(self) -> bool | str:
        """What requests' ``verify`` takes: False, True, or the CA bundle's path."""
        if not self.verify_ssl:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True

    def writes_live(self) -> bool:
        """True when phase 3/4 writes may reach a real cluster: the header shows a warning."""
        return self.target == "live" and self.max_phase >= 3

    def header_lines(self) -> list[str]:
        """The resolved values for the report header. Secrets appear only as 'set' or 'unset'."""
        parts = [f"target={self.target}", f"max_phase={self.max_phase}"]
        if self.target == "sim":
            parts.append(f"scenario={self.sim_scenario}")
        if self.record_mode is not None:
            parts.append(f"record_mode={self.record_mode} cassettes={self.cassette_dir}")
        if self.target == "live":
            parts += [f"host={self.host}:{self.port}", f"user={self.user}", f"auth={self.auth}"]
            if self.token_name:
                parts.append(f"token_name={self.token_name}")
            verify = f"ca:{self.ca_bundle}" if self.ca_bundle and self.verify_ssl else str(self.verify_ssl).lower()
            parts.append(f"verify_ssl={verify}")
        parts.append(f"timeout={self.timeout:g}s")
        if self.max_phase >= 3:
            parts.append(f"temp_vmids={self.temp_vmid_range[0]}-{self.temp_vmid_range[1]}")
        parts.append(f"abort_on_violation={'on' if self.abort_on_violation else 'off'}")
        if self.mpc_workspace is not None:
            parts.append(f"workspace={self.mpc_workspace}")
        elif self.mpc_command is not None:
            parts.append(f"workspace_command={self.mpc_command!r}")
        lines = ["proxmox: " + " ".join(parts), "proxmox: " + self.exclusions.summary()]
        if self.writes_live():
            lines.append(f"proxmox: WARNING: phase {self.max_phase} tests may WRITE to the live cluster "
                         f"{self.host}:{self.port} ({self.sources['max_phase']})")
        return lines


def _describe(opt: Option, kind: str, inifile: str | None) -> str:
    if kind == "option":
        return f"from {opt.flag}"
    if kind == "ini":
        return f"from ini key {opt.ini}" + (f" in {inifile}" if inifile else "")
    if kind == "env":
        return f"from environment variable {opt.env}"
    return "default"


def _raw(opt: Option, src: RawSources) -> tuple[Any, str]:
    """(raw value, where it came from) by precedence; (None, 'default') when nothing sets it."""
    value = src.options.get(opt.dest)
    if value is not None:
        return value, _describe(opt, "option", None)
    if opt.ini is not None:
        ini_value = src.ini.get(opt.ini)
        if ini_value not in (None, ""):
            return ini_value, _describe(opt, "ini", src.inifile)
    if opt.env is not None and src.environ.get(opt.env, "") != "":
        return src.environ[opt.env], _describe(opt, "env", None)
    return None, "default"


def _fail(opt: Option, raw: Any, origin: str, problem: str) -> SettingsError:
    return SettingsError(f"setting {opt.ini or opt.name} ({origin}): {raw!r} {problem}")


def _secret(names: tuple[str, str], environ: Mapping[str, str]) -> Secret | None:
    direct, file_var = names
    if environ.get(direct):
        return Secret(environ[direct])
    path = environ.get(file_var)
    if not path:
        return None
    try:
        return Secret(Path(path).read_text(encoding="utf-8").rstrip("\r\n"))
    except OSError as exc:
        raise SettingsError(f"environment variable {file_var}: cannot read {path}: {exc.strerror}") from None


def _checked(opt: Option, src: RawSources, parse: Callable[[Any], Any], default: Any) -> tuple[Any, str]:
    raw, origin = _raw(opt, src)
    if raw is None:
        return default, origin
    try:
        return parse(raw), origin
    except ValueError as exc:
        raise _fail(opt, raw, origin, str(exc)) from None


def simulator_installed() -> bool:
    """True when fakepve can be imported (checked without importing it)."""
    return importlib.util.find_spec("fakepve") is not None


def resolve(src: RawSources) -> Settings:
    """Resolve and check every setting. Raises ``SettingsError`` naming the setting and its source."""
    opts = OPTIONS_BY_NAME
    sources: dict[str, str] = {}

    def take(name: str, parse: Callable[[Any], Any], default: Any) -> Any:
        value, sources[name] = _checked(opts[name], src, parse, default)
        return value

    def path(name: str) -> Path | None:
        # A relative path in an ini file is relative to that file, like pytest's own ini paths.
        located: Path | None = take(name, lambda raw: Path(str(raw).strip()).expanduser(), None)
        if located is not None and src.inifile and sources[name].startswith("from ini"):
            located = Path(src.inifile).parent / located
        return located

    host_port = take("host", lambda raw: parse_host(str(raw)), None)
    host, port = host_port if host_port else (None, DEFAULT_PORT)
    target = take("target", choice(TARGETS), "live" if host else "sim")
    user = take("user", user_at_realm, "root@pam")
    token_name = take("token_name", lambda raw: str(raw).strip() or None, None)
    verify_ssl = take("verify_ssl", parse_bool, True)
    ca_bundle = path("ca_bundle")
    max_phase = take("max_phase", choice(PHASE_NUMBERS, int), 1)
    timeout = take("timeout", positive_float, 30.0)
    exclusions_file = path("exclusions")
    temp_range = take("temp_vmid_range", vmid_range, DEFAULT_TEMP_RANGE)
    audit_log = path("audit_log")
    abort_on_violation = take("abort_on_violation", parse_bool, target == "live")
    temp_pool = take("temp_pool", lambda raw: str(raw).strip() or None, None)
    keep_on_failure = take("keep_on_failure", parse_bool, False)
    sweep = take("sweep", parse_bool, False)
    sweep_age = take("sweep_age", duration, 3600.0)
    record_mode = take("record_mode", choice(RECORD_MODES), "none" if target == "replay" else None)
    cassette_dir = path("cassette_dir") or src.rootdir / "cassettes"
    anonymize = take("anonymize", parse_bool, False)
    usage_threshold = take("usage_threshold", fraction, DEFAULT_USAGE_THRESHOLD)
    require_backups = take("require_backups", parse_bool, False)
    backup_max_age = take("backup_max_age", duration, DEFAULT_BACKUP_MAX_AGE)
    max_connection_failures = take("max_connection_failures", positive_int, 3)
    report = path("report")
    if report is not None and report.suffix.lower() in (".json", ".md"):
        report = report.with_suffix("")
    mpc_workspace = path("mpc_workspace")
    mpc_command = take("mpc_command", lambda raw: str(raw).strip() or None, None)
    mpc_tf_provider = take("mpc_tf_provider", choice(TF_PROVIDERS), "bpg")
    scenario_name = take("sim_scenario", lambda raw: str(raw).strip(), "homelab")
    token_value = _secret(SECRET_ENV["token_value"], src.environ)
    password = _secret(SECRET_ENV["password"], src.environ)

    if ca_bundle is not None and not os.access(ca_bundle, os.R_OK):
        raise _fail(opts["ca_bundle"], str(ca_bundle), sources["ca_bundle"], "is not a readable file")
    if mpc_workspace is not None and not (mpc_workspace / ".proxmox").is_dir():
        raise _fail(opts["mpc_workspace"], str(mpc_workspace), sources["mpc_workspace"],
                    "is not a Proxmox-MPC workspace (no .proxmox directory in it)")
    if mpc_workspace is not None and mpc_command is not None:
        raise _fail(opts["mpc_command"], mpc_command, sources["mpc_command"],
                    f"and mpc_workspace ({sources['mpc_workspace']}) both choose the workspace: give one")
    if mpc_command is not None and target == "replay":
        # The command talks to the safety proxy, which polices it on sim and live alike. On replay the proxy could
        # serve it from the mpc_workspace fixture's cassette, but a tool replays only if it repeats its recorded
        # requests exactly, which nothing here can promise.
        raise _fail(opts["mpc_command"], mpc_command, sources["mpc_command"],
                    f"runs an external tool, which needs a cluster to answer it: use the sim or live target "
                    f"(the target is {target})")
    if target == "replay" and record_mode != "none":
        raise _fail(opts["record_mode"], record_mode, sources["record_mode"],
                    "cannot record on the replay target, which only plays back: use none, or record on sim or live")
    if target == "live":
        if host is None:
            raise _fail(opts["target"], target, sources["target"],
                        "needs a host: set --pve-host, ini pve_host or PVE_HOST")
        if token_name and token_value is None:
            raise SettingsError(f"setting pve_token_name ({sources['token_name']}): token {token_name!r} "
                                "needs its secret in PVE_TOKEN_VALUE or PVE_TOKEN_VALUE_FILE")
        if not token_name and password is None:
            raise _fail(opts["target"], target, sources["target"],
                        "needs a secret: set PVE_PASSWORD (or PVE_PASSWORD_FILE), or --pve-token-name "
                        "with PVE_TOKEN_VALUE")
    if target == "sim" and not simulator_installed():
        raise _fail(opts["target"], target, sources["target"],
                    "needs the simulated cluster: pip install 'pytest-proxmox-mpc[sim]'")
    try:
        scenario = resolve_scenario(scenario_name, src.rootdir)
    except ValueError as exc:
        raise SettingsError(f"setting pve_sim_scenario ({sources['sim_scenario']}): {exc}") from None
    exclusions = _exclusions(exclusions_file, sources["exclusions"])
    if target == "live" and exclusions_file is None and (max_phase >= 3 or sweep):
        name, value = ("max_phase", max_phase) if max_phase >= 3 else ("sweep", sweep)
        raise _fail(opts[name], value, sources[name], "writes to a live cluster, which needs a production "
                    "exclusion list: set --pve-exclusions, ini pve_exclusions or PVE_EXCLUSIONS")

    return Settings(target=target, host=host, port=port, user=user, token_name=token_name,
                    token_value=token_value, password=password, verify_ssl=verify_ssl, ca_bundle=ca_bundle,
                    max_phase=max_phase, sim_scenario=scenario, timeout=timeout, sources=sources,
                    exclusions=exclusions, temp_vmid_range=temp_range, audit_log=audit_log,
                    abort_on_violation=abort_on_violation, temp_pool=temp_pool, keep_on_failure=keep_on_failure,
                    sweep=sweep, sweep_age=sweep_age, record_mode=record_mode, cassette_dir=cassette_dir,
                    anonymize=anonymize, usage_threshold=usage_threshold, require_backups=require_backups,
                    backup_max_age=backup_max_age, max_connection_failures=max_connection_failures, report=report,
                    mpc_workspace=mpc_workspace, mpc_command=mpc_command, mpc_tf_provider=mpc_tf_provider)


def _exclusions(path: Path | None, origin: str) -> ExclusionList:
    """The exclusion list named by the settings; a file that cannot be read or parsed is a usage error."""
    if path is None:
        return ExclusionList.empty()
    try:
        return ExclusionList.load(path)
    except ExclusionError as exc:
        raise SettingsError(f"exclusion list ({origin}): {exc}") from None
