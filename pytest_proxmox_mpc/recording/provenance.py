"""What a cassette was recorded against, and its format version.

A cassette written by this plugin keeps, beside its interactions, ``cassette_format`` (``FORMAT``) and
``recorded_against``: the PVE version, the API schema's key and sha256 (see ``cluster.schemasource``) and when
(UTC). A cassette of format 1 (older, or without the key) has none of it; what it recorded tells some of it: the
newest ``Date`` header of its answers, and the PVE version of a ``GET /version`` answer it holds (``inferred``).
A format this plugin does not know (a newer plugin's, or a vcrpy ``version`` other than 1) is refused with a
``CassetteFormatError`` naming the file and line, rather than replayed wrongly. Reading the provenance reads only
the text's metadata block and header lines (no YAML parse of the interactions): cheap enough for every cassette of
a run. No vcrpy, no pytest here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import yaml

from ..errors import CassetteFormatError

FORMAT_KEY = "cassette_format"
FORMAT = 2  # 2: with recorded_against; 1 (or no FORMAT_KEY): without
KNOWN_FORMATS = (1, 2)
VCR_FORMAT = 1  # vcrpy's own, the file's top-level ``version``
RECORDED_AGAINST = "recorded_against"
SCHEMA_NOTE = "api_schema"  # what a session cassette of a writing run remembers (``run.SCHEMA_KEY``)

_VCR_VERSION = re.compile(r"(?m)^version:[ \t]*(.*?)[ \t]*$")
_METADATA = re.compile(r"(?m)^metadata:[ \t]*\n((?:[ \t]+.*\n?|\n)*)")
_DATE = re.compile(r"(?m)^[ \t]+Date:\n[ \t]+- (.+)$")
_VERSION_ANSWER = re.compile(r"/api2/json/version\n[\s\S]{0,200}?\"version\":\"([^\"]+)\"")


@dataclass(frozen=True)
class Provenance:
    """What one cassette was recorded against; None where it is not known."""

    pve_version: str | None = None
    api_schema: str | None = None  # the schema cache's key (``<version>-<sha256 prefix>``, or ``fakepve``)
    api_schema_sha256: str | None = None
    recorded_at: datetime | None = None
    inferred: bool = False  # format 1: from the answers, not from the metadata

    @property
    def major(self) -> int | None:
        head = (self.pve_version or "").split(".")[0]
        return int(head) if head.isdigit() else None

    def as_metadata(self) -> dict[str, str]:
        """The ``recorded_against`` mapping a cassette keeps."""
        values = {"pve_version": self.pve_version, "api_schema": self.api_schema,
                  "api_schema_sha256": self.api_schema_sha256,
                  "recorded_at": self.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.recorded_at else None}
        return {key: value for key, value in values.items() if value is not None}


def recorded_now(pve_version: str | None, api_schema: str | None, sha256: str | None) -> Provenance:
    return Provenance(pve_version, api_schema, sha256, datetime.now(timezone.utc).replace(microsecond=0))


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check_format(text: str, where: Path | str) -> None:
    """``CassetteFormatError`` (file and line) when the cassette's format is not one this plugin reads."""
    found = _VCR_VERSION.search(text)
    if found is not None and found.group(1) != str(VCR_FORMAT):
        raise CassetteFormatError(str(where), _line(text, found.start()),
                                  f"unknown cassette format version {found.group(1)!r} (vcrpy's 'version'; this "
                                  f"plugin reads {VCR_FORMAT}): re-record it with this plugin")
    block = _METADATA.search(text)
    if block is None:
        return
    value = _metadata(block.group(1)).get(FORMAT_KEY, 1)
    if value not in KNOWN_FORMATS:
        at = text.find(FORMAT_KEY, block.start())
        raise CassetteFormatError(str(where), _line(text, at if at >= 0 else block.start()),
                                  f"unknown cassette format version {value!r} ({FORMAT_KEY}; this plugin reads "
                                  f"{', '.join(map(str, KNOWN_FORMATS))}): written by a newer pytest-proxmox-mpc? "
                                  "upgrade it, or re-record the cassette")


def _metadata(block: str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load("metadata:\n" + block)
    except yaml.YAMLError:
        return {}
    found = data.get("metadata") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def metadata_of(text: str) -> Mapping[str, Any]:
    """The cassette's metadata mapping, read from its text alone."""
    block = _METADATA.search(text)
    return _metadata(block.group(1)) if block else {}


def provenance_of(text: str, where: Path | str) -> Provenance:
    """What the cassette whose text is ``text`` was recorded against (after ``check_format``)."""
    check_format(text, where)
    metadata = metadata_of(text)
    kept = metadata.get(RECORDED_AGAINST)
    if isinstance(kept, dict):
        return Provenance(_text(kept.get("pve_version")), _text(kept.get("api_schema")),
                          _text(kept.get("api_schema_sha256")), _when(kept.get("recorded_at")))
    dates = [when for when in (_http_date(raw) for raw in _DATE.findall(text)) if when is not None]
    version = _VERSION_ANSWER.search(text)
    return Provenance(version.group(1) if version else None, _text(metadata.get(SCHEMA_NOTE)), None,
                      max(dates) if dates else None, inferred=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _http_date(raw: str) -> datetime | None:
    try:
        return parsedate_to_datetime(raw.strip().strip("'\""))
    except (TypeError, ValueError, IndexError):
        return None


def version_of_answer(body: Any) -> str | None:
    """The ``version`` of a recorded ``GET /version`` answer's body."""
    try:
        data = json.loads(body)["data"]
    except (ValueError, TypeError, KeyError):
        return None
    return str(data["version"]) if isinstance(data, dict) and "version" in data else None


def age_text(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.0f}d" if days >= 1 else f"{seconds / 3600:.0f}h"


def staleness(provenances: Mapping[str, Provenance], reference: str | None, max_age: float | None,
              now: datetime | None = None) -> list[str]:
    """Warnings (``proxmox: WARNING: ...`` lines) about cassettes (name -> provenance) recorded against a PVE major
    version other than ``reference``'s, or longer than ``max_age`` seconds ago (None: no limit). One line per kind,
    naming the first cassettes; nothing when all is well."""
    now = now or datetime.now(timezone.utc)
    lines = []
    major = Provenance(reference).major
    other = {name: p for name, p in provenances.items() if major is not None and p.major not in (None, major)}
    if other:
        versions = sorted({str(p.pve_version) for p in other.values()})
        lines.append(f"proxmox: WARNING: {_count(other)} recorded against PVE {', '.join(versions)}, not PVE "
                     f"{major} ({reference}) as this run: {_named(other)}; compare them with the cluster: "
                     "pytest-proxmox-mpc drift")
    if max_age is not None:
        limit = now - timedelta(seconds=max_age)
        old = {name: p for name, p in provenances.items() if p.recorded_at is not None and p.recorded_at < limit}
        if old:
            oldest = min(p.recorded_at for p in old.values() if p.recorded_at is not None)
            lines.append(f"proxmox: WARNING: {_count(old)} older than {age_text(max_age)} (pve_cassette_max_age), "
                         f"the oldest recorded {oldest:%Y-%m-%d}: {_named(old)}; compare them with the cluster: "
                         "pytest-proxmox-mpc drift, or re-record them")
    return lines


def _count(found: Mapping[str, Any]) -> str:
    return f"{len(found)} cassette{'s' if len(found) != 1 else ''}"


def _named(found: Iterable[str], shown: int = 3) -> str:
    names = sorted(found)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def provenance_below(directory: Path) -> dict[str, Provenance]:
    """Cassette (relative to ``directory``) -> what it was recorded against, for every cassette below it. A file
    that cannot be read as one is left out: its test says what is wrong with it when it plays it."""
    found = {}
    for path in sorted(directory.rglob("*.yaml")) if directory.is_dir() else []:
        try:
            found[str(path.relative_to(directory))] = provenance_of(path.read_text(encoding="utf-8"), path)
        except (OSError, UnicodeDecodeError, CassetteFormatError):
            continue
    return found


def replay_warnings(directory: Path, version: str | None, max_age: float | None,
                    now: datetime | None = None) -> list[str]:
    """``staleness`` of the cassettes below ``directory`` against ``version``: the PVE version of the cluster the
    run talks to, or None on replay (no cluster: the newest major version the cassettes were recorded against)."""
    provenances = provenance_below(directory)
    if version is None:
        known = [p for p in provenances.values() if p.major is not None]
        version = max(known, key=lambda p: p.major or 0).pve_version if known else None
    return staleness(provenances, version, max_age, now)
