"""Parsers for setting values: each takes the raw text and returns the value or raises ``ValueError``
with the problem in words a user understands (the caller adds which setting and where it came from)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model.vmids import VMID_MAX, VMID_MIN

DEFAULT_PORT = 8006
HOST_CHARACTERS = re.compile(r"[A-Za-z0-9._:%-]+")  # names, IPv4, IPv6 (with a zone after %)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


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
            port = port_number(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = port_number(port_text)
    if not host:
        raise ValueError("has no host name")
    if not HOST_CHARACTERS.fullmatch(host):
        raise ValueError("has characters no host name or address has (a space, a quote, ...)")
    return host, port


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("has a port that is not a number from 1 to 65535")
    return int(text)


def choice(choices: tuple[Any, ...], convert: Callable[[str], Any] = str) -> Callable[[Any], Any]:
    def parse(raw: Any) -> Any:
        try:
            value = convert(str(raw).strip())
        except ValueError:
            value = None
        if value not in choices:
            raise ValueError("is not one of " + ", ".join(str(c) for c in choices))
        return value
    return parse


def positive_float(raw: Any) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("is not a number of seconds") from None
    if not value > 0:
        raise ValueError("must be more than 0 seconds")
    return value


def user_at_realm(raw: Any) -> str:
    text = str(raw).strip()
    name, at, realm = text.partition("@")
    if not (name and at and realm):
        raise ValueError("should be USER@REALM, e.g. root@pam")
    return text


def fraction(raw: Any) -> float:
    """A share of a whole: ``0.8`` or ``80%`` (more than 0, at most 1)."""
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError("is not a fraction; use e.g. 0.8 or 80%") from None
    if not 0 < value <= 1:
        raise ValueError("must be more than 0 and at most 1 (100%)")
    return value


def positive_int(raw: Any) -> int:
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError("is not a whole number of at least 1")
    return int(text)


def vmid_range(raw: Any, lowest: int = VMID_MIN, highest: int = VMID_MAX) -> tuple[int, int]:
    """``A-B`` with ``lowest <= A <= B <= highest``: an inclusive range of VMIDs."""
    first, dash, last = str(raw).strip().partition("-")
    if not (dash and first.strip().isdigit() and last.strip().isdigit()):
        raise ValueError("should be a VMID range FIRST-LAST, e.g. 990000-999999")
    low, high = int(first), int(last)
    if not lowest <= low <= high <= highest:
        raise ValueError(f"should have {lowest} <= FIRST <= LAST <= {highest}")
    return low, high


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_SWEEP_AGE = 300.0  # a run younger than this may still be setting up: its guests are never swept by age


def duration(raw: Any) -> float:
    """Seconds, or a number with a unit s/m/h/d: ``90``, ``30m``, ``1h``, ``2d``."""
    text = str(raw).strip().lower()
    factor = UNITS.get(text[-1:], 0) if text else 0
    number = text[:-1] if factor else text
    try:
        value = float(number) * (factor or 1)
    except ValueError:
        raise ValueError("is not a duration; use SECONDS or a number with s, m, h or d (e.g. 1h)") from None
    if not value >= 0:
        raise ValueError("must not be negative")
    return value


def optional_duration(raw: Any) -> float | None:
    """A ``duration``, or None for ``off`` (``--no-`` flag: False; also no, none, false, 0)."""
    if raw is False or str(raw).strip().lower() in ("off", "no", "none", "false", "0"):
        return None
    return duration(raw)


def text(raw: Any) -> str:
    """A value as text, surrounding blanks dropped."""
    return str(raw).strip()


def optional_text(raw: Any) -> str | None:
    """Text, or None when blank."""
    return str(raw).strip() or None


def as_path(raw: Any) -> Path:
    """A path, ``~`` expanded."""
    return Path(str(raw).strip()).expanduser()


def optional_dir(raw: Any) -> Path | None:
    """A directory path, or None for ``off`` (``--no-`` flag: False; also no, none, false, 0)."""
    if raw is False or str(raw).strip().lower() in ("off", "no", "none", "false", "0"):
        return None
    return as_path(raw)


def path_list(raw: Any) -> tuple[Path, ...] | None:
    """Folders separated by ``:`` (the platform's path separator), each ``~`` expanded; None when blank."""
    parts = [part.strip() for part in str(raw).split(os.pathsep) if part.strip()]
    return tuple(Path(part).expanduser() for part in parts) or None


def schema_path(raw: Any) -> Path | None:
    """``auto`` (None: the target's own schema) or the path of a PVE API schema file."""
    return None if str(raw).strip().lower() == "auto" else as_path(raw)


def report_path(raw: Any) -> Path:
    """A report path without a ``.json`` or ``.md`` suffix: the report writes both."""
    path = as_path(raw)
    return path.with_suffix("") if path.suffix.lower() in (".json", ".md") else path


def sweep_age(raw: Any) -> float:
    """A duration of at least ``MIN_SWEEP_AGE`` (5 minutes)."""
    value = duration(raw)
    if value < MIN_SWEEP_AGE:
        raise ValueError("must be at least 5m: a younger run may still be starting (a running run is never swept, "
                         "and one that died is swept whatever its age)")
    return value
