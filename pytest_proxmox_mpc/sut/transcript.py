"""What a step of the system under test showed: its transcript (secrets masked), how it ended, how long it took,
and what the suite makes of it (``judge``); where the token secret leaked (``secret_leaks``).

Nothing here imports pytest.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .profile import Step

MASK = "***"
TRANSCRIPT_LIMIT = 6000  # characters of a transcript kept for the report (its tail)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")
CONFIG_FILE = ".proxmox/config.yml"
SECRET_KEY = "tokenSecret"  # the contract's one place for the token secret


def clean(text: str) -> str:
    """Terminal output as text: escape sequences dropped, ``\\r\\n`` as ``\\n``, a lone ``\\r`` as a new line."""
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


PARTIAL = 8  # characters of a secret in a row (masks or echo between them aside) that count as showing it
_GAP = r"[^0-9A-Za-z\n]{0,3}"  # what a masked echo puts between a secret's keys: '*', '\b \b', a space


@functools.lru_cache(maxsize=64)
def shown(secret: str) -> re.Pattern[str]:
    """Where ``secret`` shows in a text: whole, interleaved with a masked echo (``S*A*e*...``: each key echoed
    with a mask after it), or any ``PARTIAL`` characters of it in a row, interleaved or not."""
    width = min(PARTIAL, len(secret))
    windows = [secret] + [secret[i:i + width] for i in range(len(secret) - width + 1)]
    return re.compile("|".join(_GAP.join(re.escape(c) for c in window) for window in dict.fromkeys(windows)))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret that shows in it, whole or partly (``shown``), replaced by ``MASK``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        # A secret too short to look for partly is looked for whole only.
        text = text.replace(secret, MASK) if len(secret) < PARTIAL else shown(secret).sub(MASK, text)
    return text


def shows(text: str, secrets: Iterable[str]) -> bool:
    return mask(text, secrets) != text


@dataclass
class StepRun:
    """One step as it ran: ``outcome`` is what the tool said (``success``, ``failure``, ``unclear``: neither),
    ``reason`` why the suite reads it so; ``transcript`` has every secret masked."""

    test: str
    phase: int | None
    step: str
    via: str
    command: str
    outcome: str
    reason: str
    transcript: str
    duration_s: float
    exit_status: int | None = None
    refused: list[str] = field(default_factory=list)  # requests the policy refused while it ran: "METHOD path: rule"

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"

    def lines(self) -> list[str]:
        return [line for line in self.transcript.splitlines() if line.strip()]

    def last_line(self) -> str:
        """The last line that says something (a line of a JSON log's braces aside)."""
        return next((line.strip() for line in reversed(self.lines()) if re.search(r"\w", line)), "")

    def failure_lines(self, step: Step) -> list[str]:
        """The transcript's lines that match a failure pattern of ``step``."""
        return [line.strip() for line in self.lines() if any(re.search(p, line) for p in step.failure)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["transcript"] = self.transcript[-TRANSCRIPT_LIMIT:]
        data["duration_s"] = round(self.duration_s, 3)
        return data


def judge(step: Step, output: str, exit_status: int | None) -> tuple[str, str]:
    """(outcome, reason) of ``output`` by ``step``'s lines (and a CLI's exit status)."""
    failed = next((line.strip() for line in output.splitlines() if any(re.search(p, line) for p in step.failure)),
                  None)
    succeeded = next((line.strip() for line in output.splitlines() if any(re.search(p, line) for p in step.success)),
                     None)
    if exit_status not in (None, 0):
        return "failure", f"exited with {exit_status}" + (f": {failed}" if failed else "")
    if failed is not None:
        return "failure", f"printed {failed!r}"
    if succeeded is not None or (not step.success and exit_status == 0):
        return "success", f"printed {succeeded!r}" if succeeded else "exited with 0"
    if not step.success:
        return "unclear", "the profile gives no success line for this step"
    return "unclear", "printed none of the success lines (" + ", ".join(map(repr, step.success)) + ")"


def secret_leaks(workspace: Path, secrets: Sequence[str], transcripts: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Where a secret shows, whole or partly (``shown``): each raw transcript (``(step, text)``, unmasked) and
    each file in ``workspace``. ``.proxmox/config.yml`` may hold the token secret as its ``tokenSecret`` and
    nowhere else."""
    wanted = [s for s in secrets if s]
    found = [f"the transcript of {step!r}" + _how(clean(text), wanted) for step, text in transcripts
             if shows(clean(text), wanted)]
    for path in sorted(p for p in workspace.rglob("*") if p.is_file()):
        relative = path.relative_to(workspace).as_posix()
        data = path.read_bytes()
        if not shows(data.decode("utf-8", "replace"), wanted):
            continue
        if relative == CONFIG_FILE and _only_as_token_secret(data, wanted):
            continue
        found.append(relative)
    return found


def _how(text: str, secrets: Sequence[str]) -> str:
    """How a transcript shows a secret (in clear, or partly: a masked echo that still shows its keys), and the
    lines that show it, the secret masked."""
    how = "in clear" if any(s in text for s in secrets) else "partly"
    lines = [mask(line.strip(), secrets) for line in text.splitlines() if shows(line, secrets)]
    return f" ({how}, on {len(lines)} line(s): " + "; ".join(repr(line[:80]) for line in lines[:3]) + ")"


def _only_as_token_secret(data: bytes, secrets: Sequence[str]) -> bool:
    try:
        config = yaml.safe_load(data)
    except yaml.YAMLError:
        return False
    if not isinstance(config, dict):
        return False
    rest = {key: value for key, value in config.items() if key != SECRET_KEY}
    return not shows(yaml.safe_dump(rest), secrets)


def matches_any(relative: str, patterns: Iterable[str]) -> bool:
    """``relative`` (a posix path in the workspace) matches one of the profile's ``activity_files`` globs."""
    return any(fnmatch.fnmatch(relative, pattern) or relative == pattern.rstrip("/*") for pattern in patterns)
