"""Every setting of the plugin, resolved in one place: option > environment > ini key > default.

An environment variable ranks above an ini key (as pytest-django's and pytest-timeout's do), so a CI job can
override what a committed ``pytest.ini`` says; where one does, ``Settings.overrides`` names both, and the plugin
warns.

The table ``options.OPTIONS`` is the single source of truth: ``plugin.py`` registers its command-line flags
and ini keys from it, ``resolve()`` reads each back in precedence order and parses it with its row's parser (or
takes its row's default), then checks what one setting says about another, and returns a frozen ``Settings``.
Secrets never come from a flag or an ini key: only from the environment or from a file named in the
environment. Nothing here imports pytest; errors are ``SettingsError`` and the plugin turns them into
``pytest.UsageError``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ExclusionError, SettingsError
from ..model.secret import Secret
from ..safety.exclusions import ExclusionList
from ..sim.scenario import resolve_scenario
from ..sut.profile import Profile, resolve_profile
from .options import OPTIONS, OPTIONS_BY_NAME, SECRET_ENV, Option
from .parsing import DEFAULT_PORT, vmid_range
from .secrets import secret_from_environment
from .sources import RawSources, from_ini, override_warning, raw_value


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
    api_schema: Path | None  # None: auto (the target's own schema)
    require_readonly_credentials: bool
    sources: Mapping[str, str]
    exclusions: ExclusionList
    temp_vmid_range: tuple[int, int]
    audit_log: Path | None  # None: the default path of the run
    temp_pool: str | None
    keep_on_failure: bool
    sweep: bool
    sweep_age: float
    record_mode: str | None  # None: neither record nor replay
    cassette_dir: Path
    cassette_max_age: float | None  # None: no age limit for replayed cassettes
    anonymize: bool
    abort_on_violation: bool
    usage_threshold: float
    require_backups: bool
    backup_max_age: float
    max_connection_failures: int
    report: Path | None  # the report's path without suffix: PATH.json and PATH.md
    lint_cache: Path | None  # ansible-lint results across runs; None: only within the run
    ansible_collections: tuple[Path, ...] | None  # where ansible-lint finds collections; None: Ansible's own default
    mpc_workspace: Path | None  # an existing workspace to validate (a copy of it)
    mpc_command: str | None  # a command that builds the workspace
    mpc_console: str | None  # the system under test's console, driven through a pseudo-terminal
    mpc_cli: str | None  # its non-interactive CLI
    mpc_profile: Profile  # how it is driven
    mpc_tf_provider: str
    # One line per setting whose environment variable overrode a different value of its ini key, naming both.
    overrides: tuple[str, ...] = ()

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

    def sweep_command(self) -> str | None:
        """The ``pytest-proxmox-mpc sweep`` command that reaches this run's cluster (no secret in it: the secret
        comes from the same environment variable as the run's); None off a live cluster (a simulated one goes
        with the run)."""
        if self.target != "live":
            return None
        words = ["pytest-proxmox-mpc sweep", f"--pve-host {self.host}:{self.port}", f"--pve-user {self.user}"]
        if self.token_name:
            words.append(f"--pve-token-name {self.token_name}")
        if not self.verify_ssl:
            words.append("--no-pve-verify-ssl")
        elif self.ca_bundle is not None:
            words.append(f"--pve-ca-bundle={self.ca_bundle}")
        if self.exclusions.source:
            words.append(f"--pve-exclusions={self.exclusions.source}")
        secret = "PVE_TOKEN_VALUE" if self.token_name else "PVE_PASSWORD"
        return " ".join(words) + f" (with {secret} set, as for the run)"

    @property
    def needs_schema(self) -> bool:
        """Writes are classified: phases 3 and 4, and the sweep before a run."""
        return self.max_phase >= 3 or self.sweep

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
        if self.needs_schema:
            parts.append(f"api_schema={self.api_schema or 'auto'}")
            origin = self.sources["temp_vmid_range"]
            parts.append(f"temp_vmids={self.temp_vmid_range[0]}-{self.temp_vmid_range[1]}"
                         + (f" ({origin})" if _by_hook(origin) else ""))
        parts.append(f"abort_on_violation={'on' if self.abort_on_violation else 'off'}")
        if self.mpc_workspace is not None:
            parts.append(f"workspace={self.mpc_workspace}")
        elif self.mpc_command is not None:
            parts.append(f"workspace_command={self.mpc_command!r}")
        for name, command in (("console", self.mpc_console), ("cli", self.mpc_cli)):
            if command is not None:
                parts.append(f"sut_{name}={command!r} profile={self.mpc_profile.name}")
        exclusions = self.exclusions.summary()
        if _by_hook(self.sources["exclusions"]):
            exclusions += f" ({self.sources['exclusions']})"
        lines = ["proxmox: " + " ".join(parts), "proxmox: " + exclusions]
        if self.writes_live():
            lines.append(f"proxmox: WARNING: phase {self.max_phase} tests may WRITE to the live cluster "
                         f"{self.host}:{self.port} ({self.sources['max_phase']})")
        return lines


def _fail(opt: Option, raw: Any, origin: str, problem: str) -> SettingsError:
    return SettingsError(f"setting {opt.ini or opt.name} ({origin}): {raw!r} {problem}")


def _value(opt: Option, src: RawSources, resolved: Mapping[str, Any]) -> tuple[Any, str]:
    """The setting's value and where it came from: parsed with its row's parser, or its row's default."""
    raw, origin = raw_value(opt, src)
    if raw is None:
        return opt.default_for(resolved), origin
    try:
        value = opt.parse(raw)
    except ValueError as exc:
        raise _fail(opt, raw, origin, str(exc)) from None
    return (from_ini(opt, src, value) if origin.startswith("from ini") else value), origin


def _not_certificates(path: Path) -> str | None:
    """Why ``path`` cannot verify a cluster (no PEM certificate in it), or None when it can."""
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError):
        return "holds no PEM certificate the cluster could be verified with"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def resolve(src: RawSources) -> Settings:
    """Resolve and check every setting. Raises ``SettingsError`` naming the setting and its source."""
    opts = OPTIONS_BY_NAME
    sources: dict[str, str] = {}
    values: dict[str, Any] = {"rootdir": src.rootdir}
    overrides = []
    for opt in OPTIONS:
        values[opt.name], sources[opt.name] = _value(opt, src, values)
        overrides.append(override_warning(opt, src, values[opt.name], sources[opt.name]))
    del values["rootdir"]
    host, port = values.pop("host") or (None, DEFAULT_PORT)
    token_value = secret_from_environment(SECRET_ENV["token_value"], src.environ)
    password = secret_from_environment(SECRET_ENV["password"], src.environ)
    target, ca_bundle, max_phase = values["target"], values["ca_bundle"], values["max_phase"]
    mpc_workspace, mpc_command, record_mode = values["mpc_workspace"], values["mpc_command"], values["record_mode"]
    token_name, sweep = values["token_name"], values["sweep"]

    if ca_bundle is not None and not os.access(ca_bundle, os.R_OK):
        raise _fail(opts["ca_bundle"], str(ca_bundle), sources["ca_bundle"], "is not a readable file")
    if ca_bundle is not None and not values["verify_ssl"]:
        raise _fail(opts["ca_bundle"], str(ca_bundle), sources["ca_bundle"],
                    f"is given, but TLS verification is off ({sources['verify_ssl']}), which would ignore it: "
                    "give one of them")
    if ca_bundle is not None and (problem := _not_certificates(ca_bundle)):
        raise _fail(opts["ca_bundle"], str(ca_bundle), sources["ca_bundle"], problem)
    if values["api_schema"] is not None and not os.access(values["api_schema"], os.R_OK):
        raise _fail(opts["api_schema"], str(values["api_schema"]), sources["api_schema"],
                    "is not a readable file (give auto, or a PVE apidoc.js or schema file)")
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
    try:
        values["sim_scenario"] = resolve_scenario(values["sim_scenario"], src.rootdir)
    except ValueError as exc:
        raise SettingsError(f"setting pve_sim_scenario ({sources['sim_scenario']}): {exc}") from None
    try:
        values["mpc_profile"] = resolve_profile(values["mpc_profile"], src.rootdir)
    except ValueError as exc:  # a ProfileError names file and line
        raise SettingsError(f"setting mpc_profile ({sources['mpc_profile']}): {exc}") from None
    exclusions_file = values["exclusions"]
    values["exclusions"] = _exclusions(exclusions_file, sources["exclusions"])
    if target == "live" and exclusions_file is None and (max_phase >= 3 or sweep):
        needed = "a production exclusion list: set --pve-exclusions, ini pve_exclusions or PVE_EXCLUSIONS"
        if max_phase >= 3:
            raise _fail(opts["max_phase"], max_phase, sources["max_phase"], f"writes to a live cluster, which needs "
                        f"{needed}")
        raise SettingsError(f"setting pve_sweep ({sources['sweep']}): sweeping removes guests from a live cluster, "
                            f"which needs {needed}")
    return Settings(host=host, port=port, token_value=token_value, password=password, sources=sources,
                    overrides=tuple(line for line in overrides if line), **values)


def _exclusions(path: Path | None, origin: str) -> ExclusionList:
    """The exclusion list named by the settings; a file that cannot be read or parsed is a usage error."""
    if path is None:
        return ExclusionList.empty()
    try:
        return ExclusionList.load(path)
    except ExclusionError as exc:
        raise SettingsError(f"exclusion list ({origin}): {exc}") from None


def _by_hook(origin: str) -> bool:
    return origin.startswith("from hook")


@dataclass
class PolicyAdjustment:
    """What a project's ``pytest_proxmox_mpc_adjust_policy`` hook may change: the temporary VMID range (inclusive)
    and the exclusion list. ``apply`` checks the result as it checks the setting."""

    temp_range: tuple[int, int]
    exclusions: ExclusionList

    def apply(self, settings: Settings, origin: str) -> Settings:
        """``settings`` with this adjustment; ``SettingsError`` naming ``origin`` for a value it cannot use."""
        changes: dict[str, Any] = {}
        sources = dict(settings.sources)
        if tuple(self.temp_range) != settings.temp_vmid_range:
            raw = self.temp_range
            try:
                first, last = (int(number) for number in raw)
            except (TypeError, ValueError):
                raise SettingsError(f"setting pve_temp_vmid_range (from {origin}): {raw!r} is not a pair of whole "
                                    "numbers (FIRST, LAST)") from None
            try:
                changes["temp_vmid_range"] = vmid_range(f"{first}-{last}")
            except ValueError as exc:
                raise SettingsError(f"setting pve_temp_vmid_range (from {origin}): {raw!r} {exc}") from None
            sources["temp_vmid_range"] = f"from {origin}"
        if self.exclusions is not settings.exclusions:
            if not isinstance(self.exclusions, ExclusionList):
                raise SettingsError(f"setting pve_exclusions (from {origin}): {type(self.exclusions).__name__} "
                                    "is not an ExclusionList")
            changes["exclusions"] = self.exclusions
            sources["exclusions"] = f"from {origin}"
        return replace(settings, sources=sources, **changes) if changes else settings
