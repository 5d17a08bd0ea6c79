"""The four test phases of the safe-testing plan, their markers, and a test's phase."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import TwoPhases


@dataclass(frozen=True)
class Phase:
    """A phase: number, marker name, what it does, and the plan's risk level."""

    number: int
    title: str
    risk: str

    @property
    def marker(self) -> str:
        return f"phase{self.number}"

    def marker_help(self) -> str:
        return f"{self.marker}: {self.title} (risk: {self.risk})"


PHASES: dict[int, Phase] = {
    1: Phase(1, "read-only infrastructure discovery; only GET requests reach the cluster", "minimal"),
    2: Phase(2, "local database and IaC generation; the cluster stays read-only", "low-medium"),
    3: Phase(3, "non-destructive API testing; writes only to temporary resources this run created", "medium"),
    4: Phase(4, "full workflow on temporary resources (snapshots, clones, migration, backup)", "medium-high"),
}
MARKERS = {phase.marker: phase for phase in PHASES.values()}
DEFAULT_PHASE = 1
WRITE_PHASE = 3  # the first phase that writes to the cluster (temporary guests only)


def phase_of(marker_names: Iterable[str]) -> int | None:
    """The phase named by a test's markers, None if it has none; ``TwoPhases`` if it has several."""
    found = sorted({MARKERS[name].number for name in marker_names if name in MARKERS})
    if len(found) > 1:
        raise TwoPhases("has phase markers " + " and ".join(f"phase{n}" for n in found) + "; a test has one phase")
    return found[0] if found else None


def phase_of_test(item: Any) -> int | None:
    """The phase of a collected test (anything with ``iter_markers``); None if it has none or, having
    several, is already reported as a usage error."""
    try:
        return phase_of(mark.name for mark in item.iter_markers())
    except TwoPhases:
        return None


def skip_reason(phase: int, max_phase: int) -> str:
    """Why a test above the allowed phase does not run, and the flag that lets it."""
    return (f"phase {phase} test ({PHASES[phase].title}); the run allows phases up to {max_phase}: "
            f"enable with --pve-max-phase {phase} (or PVE_MAX_PHASE={phase})")
