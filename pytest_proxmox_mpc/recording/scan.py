"""Scanning cassettes and audit files for anything that looks like a secret (a pre-commit check).

Looks for PVE tickets, CSRF tokens, API token headers, private keys, credential headers, and any
secret-named field (password, ticket, token, secret, ...) whose value is not the ``***`` the plugin
writes. Nothing here imports pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..safety.redact import REDACTED, is_secret_name
from .layout import SCHEMA_CACHE_DIR, SESSION_DIR

SCANNED = (".yaml", ".yml", ".json", ".jsonl")
PATTERNS = (
    ("a PVE ticket", re.compile(r"PVE:[^:\s\"']+:[0-9A-F]{8}::[A-Za-z0-9+/=]{16,}")),
    ("a CSRF prevention token", re.compile(r"\b[0-9A-F]{8}:[A-Za-z0-9+/]{27,}={0,2}")),
    ("an API token", re.compile(r"PVEAPIToken=[^\s\"'!]+![^\s\"'=]+[=:][0-9a-fA-F-]{8,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a credential header", re.compile(r"^\s*['\"]?(Authorization|Cookie|Set-Cookie|CSRFPreventionToken)['\"]?\s*:",
                                       re.IGNORECASE)),
)
# key = value, key: value, "key":"value" (JSON, YAML, form bodies); the value is checked, not the key alone.
FIELD = re.compile(r"""["']?([A-Za-z][A-Za-z0-9_.-]*)["']?\s*(?:=|:)\s*["']?([^"'&\s,}\]]*)""")
MASKED = {REDACTED, "%2A%2A%2A", "", "null", "None", "true", "false"}
PLAIN = re.compile(r"^-?\d+(?:\.\d+)?$")  # a number is a status code or a count, not a credential
STARS = re.compile(r"^\*+$")  # what a console shows for a typed secret, and the plugin's own mask
# A JSON string's escaped line breaks: a console transcript kept in a JSON file is one physical line of many.
ESCAPED_BREAK = re.compile(r"\\r\\n|\\n|\\r")


@dataclass(frozen=True)
class Finding:
    """Something secret-looking: where (file and line) and what."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def files_below(paths: Iterable[Path]) -> Iterator[Path]:
    """The given files, and the cassette and audit files below the given directories. The API schemas cached beside
    cassettes (``_session/pve-api-schema/``: path templates and parameter names from a node's public API viewer,
    ``/access/password`` among them) are left out of a directory's files: they hold no value at all."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SCANNED
                              and not (p.parent.name == SCHEMA_CACHE_DIR and p.parent.parent.name == SESSION_DIR))
        else:
            yield path


def scan_text(path: Path, text: str) -> list[Finding]:
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in PATTERNS:
            if pattern.search(line):
                findings.append(Finding(path, number, what))
        for part in ESCAPED_BREAK.split(line):
            for key, value in FIELD.findall(part):
                if is_secret_name(key) and not _masked(value):
                    findings.append(Finding(path, number, f"the secret-named field {key!r} holds a value"))
    return findings


def _masked(value: str) -> bool:
    """Nothing secret: a mask, an empty or absent value, a boolean or a number."""
    return value in MASKED or bool(PLAIN.match(value) or STARS.match(value))


def scan(paths: Iterable[Path]) -> list[Finding]:
    """Every finding in the files (or below the directories) given; unreadable files are findings too."""
    findings: list[Finding] = []
    for path in files_below(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            findings.append(Finding(path, 0, f"cannot be read ({type(exc).__name__})"))
            continue
        findings.extend(scan_text(path, text))
    return findings
