"""No plaintext secret in the generated files (``terraform/``, ``ansible/``).

A secret is found four ways: a value the caller knows to be secret (the run's token or password)
appears as a whole value (never inside a longer word: a password ``secret`` is no leak in
``pm_api_token_secret``); a line looks like a credential (``scan.PATTERNS``: tickets, CSRF and API tokens,
private keys); a secret-named setting (``password``, ``token_secret``, ...) holds a literal value rather than
a reference (``var.x``, ``{{ vault_x }}``, ``lookup(...)``); or a Terraform variable with a secret's name
has a literal default. An ``output`` block's ``value`` is what the module shows, not a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from ..files.inputs import cannot_judge
from ..recording.scan import PATTERNS
from ..safety.redact import is_secret_name
from .findings import Finding

CHECK = "secrets"
GENERATED = ("terraform", "ansible")
ASSIGNMENT = re.compile(r"""^\s*["']?([A-Za-z][A-Za-z0-9_.-]*)["']?\s*(?:=|:)\s*(.+?)\s*,?\s*$""")
REFERENCE = re.compile(r"""^["']?(?:\$\{|\{\{|var\.|local\.|module\.|data\.|lookup\(|env\(|null$|true$|false$)""")
PARSED = {".tf", ".tfvars", ".yml", ".yaml"}  # suffixes of files a parse check reports when too large
PLACEHOLDERS = {"", '""', "''", "[]", "{}"}
NUMBER = re.compile(r"""^["']?-?\d+(?:\.\d+)?["']?$""")  # a slot or a count (telmate's mountpoint ``key = "0"``)
VARIABLE = re.compile(r'^\s*variable\s+"([^"]+)"\s*\{')
TOP_BLOCK = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[\s{]")
DEFAULT = re.compile(r"""^\s*default\s*=\s*(.+?)\s*$""")
IDENTIFIER_NAME = re.compile(r"_(id|name|url|user|username)$", re.I)  # a token's ID names it, it is not the secret
WORD = r"A-Za-z0-9_.@!-"


def check_no_secrets(workspace: Path, known: Iterable[str] = ()) -> list[Finding]:
    """One finding per line of a generated file that holds a secret; the secret itself is never shown."""
    secrets = [value for value in known if value and len(value) >= 6]
    findings = []
    for top in GENERATED:
        for path in sorted(p for p in (Path(workspace) / top).rglob("*") if p.is_file()):
            relative = path.relative_to(workspace).as_posix()
            if problem := cannot_judge(path):  # the parse of a .tf or YAML file reports it; any other file here
                if path.suffix not in PARSED:
                    findings.append(Finding(CHECK, relative, "not judged", note=problem))
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # not a text file: nothing a person would read a secret from
            variable, block = None, ""
            for number, line in enumerate(text.splitlines(), start=1):
                if (declared := VARIABLE.match(line)) is not None or line.startswith("}"):
                    variable = declared.group(1) if declared else None
                if (opening := TOP_BLOCK.match(line)) is not None and path.suffix == ".tf":
                    block = opening.group(1)
                problem = _secret_in(line, secrets, block) or (
                    _secret_default(line, variable) if path.suffix == ".tf" else None)
                if problem:
                    findings.append(Finding(CHECK, f"{relative}:{number}", "plaintext secret", note=problem))
    return findings


def _secret_default(line: str, variable: str | None) -> str | None:
    """A literal default of a variable that holds a secret (its name says so)."""
    match = DEFAULT.match(line) if variable else None
    if match is None or variable is None or not is_secret_name(variable) or IDENTIFIER_NAME.search(variable):
        return None
    value = match.group(1)
    if value in PLACEHOLDERS or value == "null" or REFERENCE.match(value):
        return None
    return f"variable {variable} has a literal secret default"


def _whole(secret: str, line: str) -> bool:
    """``secret`` in ``line`` as a whole value (no word character either side); the substring test first, as it is
    the cheap one and nearly every line fails it."""
    return secret in line and re.search(rf"(?<![{WORD}]){re.escape(secret)}(?![{WORD}])", line) is not None


def _secret_in(line: str, secrets: list[str], block: str = "") -> str | None:
    if any(_whole(secret, line) for secret in secrets):
        return "the run's own credential is written here"
    for what, pattern in PATTERNS:
        if pattern.search(line):
            return f"{what} is written here"
    if line.lstrip().startswith("#"):
        return None
    match = ASSIGNMENT.match(line)
    key = match.group(1).split(".")[-1] if match else ""
    if match and is_secret_name(key) and not IDENTIFIER_NAME.search(key) and not (block == "output" and key == "value"):
        value = match.group(2)
        if value not in PLACEHOLDERS and not REFERENCE.match(value) and not NUMBER.match(value):
            return f"{match.group(1)} holds a literal value"
    return None
