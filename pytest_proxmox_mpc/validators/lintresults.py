"""ansible-lint's results: kept in files by content key, and read as findings (and notes of what cannot be judged
here: ``lintcollections``)."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from . import lintcollections, lintprocess
from .findings import Finding

CHECK = "ansible"
Result = tuple[int, str, str]  # ansible-lint's return code, output and error output


def violations(stdout: str) -> list[str]:
    """ansible-lint's violation lines (``path:line[:column]: tag: message``) in its PEP8 output."""
    return [line for line in stdout.splitlines() if re.match(r"^\S+:\d+", line)]


def path_of(line: str) -> str:
    return line.split(":", 1)[0]


def failed_whole(result: Result) -> bool:
    """ansible-lint failed without a violation to show (it crashed, or its config is wrong)."""
    return result[0] not in (0, lintprocess.OVER_BUDGET) and not violations(result[1])


def judged(project: Path, collections: lintcollections.Collections, result: Result,
           suffix: str) -> tuple[list[Finding], tuple[str, ...]]:
    """The findings of a result on ``project``, and the notes of its violations that cannot be judged here (not
    findings); ``suffix`` ends each finding's note (where the result came from)."""
    returncode, stdout, stderr = result
    if returncode == 0:
        return [], ()
    if returncode == lintprocess.OVER_BUDGET:
        budget = lintprocess.describe_budget(lintprocess.budget_seconds(project), project)
        return [Finding(CHECK, "ansible/", "ansible-lint", note=(
            f"did not finish within {budget}: stopped, so the project is not judged (run it again on a machine "
            "less busy)"))], ()
    found = violations(stdout)
    if not found:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        return [Finding(CHECK, "ansible/", "ansible-lint", note=f"exited with {returncode}: {tail}{suffix}")], ()
    findings, notes = [], []
    for line in found:
        note = lintcollections.not_judged(line, project, collections)
        if note is not None:
            notes.append(note)
        else:
            findings.append(Finding(CHECK, f"ansible/{path_of(line)}", "ansible-lint",
                                    note=line.split(":", 1)[1].strip() + suffix))
    return findings, tuple(notes)


def keep(kept: Path | None, result: Result) -> None:
    """``result`` written to ``kept`` (if given), whole or not at all for a reader without the lock."""
    if kept is None:
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    temporary = kept.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(list(result)), encoding="utf-8")
    os.replace(temporary, kept)


def kept_result(kept: Path | None) -> Result | None:
    """A kept (returncode, stdout, stderr), or None when there is none (or it is unreadable: lint again)."""
    if kept is None or not kept.is_file():
        return None
    try:
        returncode, stdout, stderr = json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    return int(returncode), str(stdout), str(stderr)
