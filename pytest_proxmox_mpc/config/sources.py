"""Where a setting's raw value comes from, by precedence: the command-line option, then the environment variable,
then the ini key, then the default; and the warning when an environment variable overrides an ini key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .options import Option


@dataclass(frozen=True)
class RawSources:
    """Where raw values come from: parsed flags, ini keys, the environment, and the ini file's path."""

    options: Mapping[str, Any]
    ini: Mapping[str, str | None]
    environ: Mapping[str, str]
    inifile: str | None = None
    rootdir: Path = field(default_factory=Path.cwd)
    origins: Mapping[str, str] = field(default_factory=dict)  # who set an option a user did not give (a command)



def describe_origin(opt: Option, kind: str, inifile: str | None) -> str:
    if kind == "option":
        return f"from {opt.flag}"
    if kind == "ini":
        return f"from ini key {opt.ini}" + (f" in {inifile}" if inifile else "")
    if kind == "env":
        return f"from environment variable {opt.env}"
    return "default"


def raw_value(opt: Option, src: RawSources) -> tuple[Any, str]:
    """(raw value, where it came from) by precedence; (None, 'default') when nothing sets it."""
    value = src.options.get(opt.dest)
    if value is not None:
        return value, src.origins.get(opt.dest) or describe_origin(opt, "option", None)
    if opt.env is not None and src.environ.get(opt.env, "") != "":
        return src.environ[opt.env], describe_origin(opt, "env", None)
    ini_value = src.ini.get(opt.ini)
    if ini_value not in (None, ""):
        return ini_value, describe_origin(opt, "ini", src.inifile)
    return None, "default"


def override_warning(opt: Option, src: RawSources, value: Any, origin: str) -> str | None:
    """The warning when ``opt``'s environment variable set ``value`` over a different value of its ini key (an
    ini value that does not even parse is different too); None otherwise. No value is shown: only where each came
    from."""
    ini_value = src.ini.get(opt.ini)
    if opt.env is None or origin != describe_origin(opt, "env", None) or ini_value in (None, ""):
        return None
    try:
        if from_ini(opt, src, opt.parse(ini_value)) == value:
            return None
    except ValueError:
        pass
    where = f" in {src.inifile}" if src.inifile else ""
    return f"environment variable {opt.env} overrides ini key {opt.ini}{where} (unset it to use the ini key)"


def from_ini(opt: Option, src: RawSources, value: Any) -> Any:
    """A parsed ini value as the setting takes it: a path relative to the ini file, like pytest's own ini paths."""
    if opt.kind == "path" and src.inifile and isinstance(value, Path):
        return Path(src.inifile).parent / value
    return value
