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
from .scenario import resolve_scenario
from .secret import Secret

TARGETS = ("sim", "replay", "live")
PHASE_NUMBERS = (1, 2, 3, 4)
DEFAULT_PORT = 8006
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


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
        return "pve_" + self.name


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
)
OPTIONS_BY_NAME = {opt.name: opt for opt in OPTIONS}

# Secrets: environment variable, and the variable naming a file that holds it.
SECRET_ENV = {"token_value": ("PVE_TOKEN_VALUE", "PVE_TOKEN_VALUE_FILE"),
              "password": ("PVE_PASSWORD", "PVE_PASSWORD_FILE")}


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
        if self.target == "live":
            parts += [f"host={self.host}:{self.port}", f"user={self.user}", f"auth={self.auth}"]
            if self.token_name:
                parts.append(f"token_name={self.token_name}")
            verify = f"ca:{self.ca_bundle}" if self.ca_bundle and self.verify_ssl else str(self.verify_ssl).lower()
            parts.append(f"verify_ssl={verify}")
        parts.append(f"timeout={self.timeout:g}s")
        lines = ["proxmox: " + " ".join(parts)]
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


def parse_bool(text: Any) -> bool:
    """PVE-style booleans: 1/true/yes/on and 0/false/no/off; anything else is a ValueError."""
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("is not a boolean; use one of " + "/".join(TRUE_WORDS + FALSE_WORDS))


def parse_host(text: str) -> tuple[str, int]:
    """Split HOST[:PORT] (IPv6 as [ADDR]:PORT); a scheme or path is an error."""
    text = text.strip()
    if "://" in text or "/" in text:
        raise ValueError("should be HOST[:PORT], without a scheme or path")
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        host = addr
        if rest:
            if not rest.startswith(":"):
                raise ValueError("should be [IPV6]:PORT")
            port = _port(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text)
    if not host:
        raise ValueError("has no host name")
    return host, port


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("has a port that is not a number from 1 to 65535")
    return int(text)


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


def _choice(choices: tuple[Any, ...], convert: Callable[[str], Any] = str) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        try:
            value = convert(str(raw).strip())
        except ValueError:
            value = None
        if value not in choices:
            raise ValueError("is not one of " + ", ".join(str(c) for c in choices))
        return value
    return parse


def _positive_float(raw: Any) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("is not a number of seconds") from None
    if not value > 0:
        raise ValueError("must be more than 0 seconds")
    return value


def _user(raw: Any) -> str:
    text = str(raw).strip()
    name, at, realm = text.partition("@")
    if not (name and at and realm):
        raise ValueError("should be USER@REALM, e.g. root@pam")
    return text


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

    host_port = take("host", lambda raw: parse_host(str(raw)), None)
    host, port = host_port if host_port else (None, DEFAULT_PORT)
    target = take("target", _choice(TARGETS), "live" if host else "sim")
    user = take("user", _user, "root@pam")
    token_name = take("token_name", lambda raw: str(raw).strip() or None, None)
    verify_ssl = take("verify_ssl", parse_bool, True)
    ca_bundle = take("ca_bundle", lambda raw: Path(str(raw)).expanduser(), None)
    max_phase = take("max_phase", _choice(PHASE_NUMBERS, int), 1)
    timeout = take("timeout", _positive_float, 30.0)
    scenario_name = take("sim_scenario", lambda raw: str(raw).strip(), "homelab")
    token_value = _secret(SECRET_ENV["token_value"], src.environ)
    password = _secret(SECRET_ENV["password"], src.environ)

    if ca_bundle is not None and not os.access(ca_bundle, os.R_OK):
        raise _fail(opts["ca_bundle"], str(ca_bundle), sources["ca_bundle"], "is not a readable file")
    if target == "replay":
        raise _fail(opts["target"], target, sources["target"],
                    "cannot be used yet: recording and replay are not part of this version; use sim or live")
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

    return Settings(target=target, host=host, port=port, user=user, token_name=token_name,
                    token_value=token_value, password=password, verify_ssl=verify_ssl, ca_bundle=ca_bundle,
                    max_phase=max_phase, sim_scenario=scenario, timeout=timeout, sources=sources)
