"""Aborting a run: the incident file that says what was refused, by which test, and when.

Nothing here imports pytest: the plugin decides when to abort and ends the run with ``ABORT_EXIT_CODE``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .audit import now_iso
from .trail import Refusal

# pytest uses 0-5; 13 is ours alone, so CI can tell "aborted for safety" from "tests failed".
ABORT_EXIT_CODE = 13


def write_incident(path: Path, *, target: str, test: str, refusals: Sequence[Refusal]) -> Path:
    """Write the incident file (0o600, parents created) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    incident = {
        "time": now_iso(),
        "target": target,
        "test": test,
        "refused": [dict(asdict(refusal.record), reason=refusal.reason) for refusal in refusals],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(incident, file, indent=2, default=str)
        file.write("\n")
    return path


def abort_message(test: str, refusals: Sequence[Refusal], incident: Path) -> str:
    """One line for ``pytest.exit``: what ended the run and where the details are."""
    first = refusals[0].line()
    more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
    return f"proxmox: run aborted: {test} sent a refused request: {first}{more}; incident file {incident}"
