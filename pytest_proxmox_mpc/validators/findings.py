"""What a validator reports: one ``Finding`` per wrong thing, naming the resource and the field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_SHOWN = 20  # findings listed in a test failure; the rest are counted


@dataclass(frozen=True)
class Finding:
    """``resource`` (``vms 101``, ``terraform/vms/web.tf``) and ``field`` are where; ``expected`` is the
    cluster's value and ``found`` the workspace's; ``note`` replaces both when there is no pair to show."""

    check: str
    resource: str
    field: str
    expected: Any = None
    found: Any = None
    note: str = ""

    def __str__(self) -> str:
        what = self.note or f"expected {self.expected!r} (cluster), found {self.found!r} (workspace)"
        return f"{self.check}: {self.resource}: {self.field}: {what}"


def describe(findings: Iterable[Finding], what: str) -> str:
    """A test failure message: how many findings about ``what``, then one per line."""
    found = list(findings)
    lines = [f"{len(found)} problem{'s' if len(found) != 1 else ''} with {what}:"]
    lines += [f"  {finding}" for finding in found[:MAX_SHOWN]]
    if len(found) > MAX_SHOWN:
        lines.append(f"  ... and {len(found) - MAX_SHOWN} more")
    return "\n".join(lines)
