"""Aborting a run: the incident file that says what triggered the abort, in which test, and when.

The seed's automatic abort triggers each have a name: ``refused-request`` (a write to a protected
resource or out of phase), ``usage`` (resources over the threshold), ``connectivity`` (consecutive
connection failures) and ``database`` (a corrupt or unreadable local state database). Nothing here
imports pytest: the plugin decides when to abort and ends the run with ``ABORT_EXIT_CODE``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..files.private import write_private
from .audit import now_iso
from .trail import Refusal

# pytest uses 0-5; 13 is ours alone, so CI can tell "aborted for safety" from "tests failed".
ABORT_EXIT_CODE = 13
# A run that finished but found changes to the cluster its ledger does not explain.
UNINTENDED_CHANGE_EXIT_CODE = 14
# A run in which the safety gates skipped every test of a phase it asked for: it proved nothing of that phase.
GATES_SKIPPED_EXIT_CODE = 15

# Each trigger and what the test it happened in did, for the one-line abort message.
TRIGGERS = {"refused-request": "sent a refused request", "usage": "left the cluster over its usage threshold",
            "connectivity": "lost the connection to the cluster",
            "database": "found the local state database corrupt"}


@dataclass(frozen=True)
class Abort:
    """Why the run must end now: the trigger, the test it happened in, and the problems found."""

    trigger: str
    test: str
    problems: tuple[str, ...]
    refusals: tuple[Refusal, ...] = ()

    @classmethod
    def refused(cls, test: str, refusals: Sequence[Refusal]) -> Abort:
        return cls("refused-request", test, tuple(refusal.line() for refusal in refusals), tuple(refusals))

    def message(self, incident: Path) -> str:
        """One line for ``pytest.exit``: what ended the run and where the details are."""
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return (f"proxmox: run aborted ({self.trigger}): {self.test} {TRIGGERS[self.trigger]}: "
                f"{self.problems[0]}{more}; incident file {incident}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"trigger": self.trigger, "test": self.test, "problems": list(self.problems)}
        if self.refusals:
            data["refused"] = [dict(asdict(refusal.record), reason=refusal.reason) for refusal in self.refusals]
        return data


def write_incident(path: Path, *, target: str, abort: Abort) -> Path:
    """Write the incident file (0o600, parents created) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    incident = {"time": now_iso(), "target": target, **abort.to_dict()}
    write_private(path, json.dumps(incident, indent=2, default=str) + "\n")
    return path


def read_incidents(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The incident files' contents (an unreadable one as its path and the problem)."""
    out = []
    for path in paths:
        try:
            out.append({**json.loads(path.read_text(encoding="utf-8")), "file": str(path)})
        except (OSError, ValueError) as exc:
            out.append({"file": str(path), "problem": str(exc)})
    return out
