"""No plaintext secret in the generated files (``terraform/``, ``ansible/``).

A secret is found three ways: a value the caller knows to be secret (the run's token or password)
appears anywhere; a line looks like a credential (``scan.PATTERNS``: tickets, CSRF and API tokens,
private keys); or a secret-named setting (``password``, ``token_secret``, ...) holds a literal value
rather than a reference (``var.x``, ``{{ vault_x }}``, ``lookup(...)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..recording.scan import PATTERNS
from ..safety.redact import is_secret_name
from .findings import Finding

CHECK = "secrets"
GENERATED = ("terraform", "ansible")
ASSIGNMENT = re.compile(r"""^\s*["']?([A-Za-z][A-Za-z0-9_.-]*)["']?\s*(?:=|:)\s*(.+?)\s*,?\s*$""")
REFERENCE = re.compile(r"""^["']?(?:\$\{|\{\{|var\.|local\.|module\.|data\.|lookup\(|env\(|null$|true$|false$)""")
PLACEHOLDERS = {"", '""', "''", "[]", "{}"}
NUMBER = re.compile(r"""^["']?-?\d+(?:\.\d+)?["']?$""")  # a slot or a count (telmate's mountpoint ``key = "0"``)


def check_no_secrets(workspace: Path, known: Iterable[str] = ()) -> list[Finding]:
    """One finding per line of a generated file that holds a secret; the secret itself is never shown."""
    secrets = [value for value in known if value and len(value) >= 6]
    findings = []
    for top in GENERATED:
        for path in sorted(p for p in (Path(workspace) / top).rglob("*") if p.is_file()):
            relative = path.relative_to(workspace).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # not a text file: nothing a person would read a secret from
            for number, line in enumerate(text.splitlines(), start=1):
                problem = _secret_in(line, secrets)
                if problem:
                    findings.append(Finding(CHECK, f"{relative}:{number}", "plaintext secret", note=problem))
    return findings


def _secret_in(line: str, secrets: list[str]) -> str | None:
    if any(secret in line for secret in secrets):
        return "the run's own credential is written here"
    for what, pattern in PATTERNS:
        if pattern.search(line):
            return f"{what} is written here"
    if line.lstrip().startswith("#"):
        return None
    match = ASSIGNMENT.match(line)
    if match and is_secret_name(match.group(1).split(".")[-1]):
        value = match.group(2)
        if value not in PLACEHOLDERS and not REFERENCE.match(value) and not NUMBER.match(value):
            return f"{match.group(1)} holds a literal value"
    return None
