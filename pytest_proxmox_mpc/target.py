"""What a run talks to: the target chosen by the settings, started (sim) or addressed (live) once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .endpoint import Endpoint
from .settings import Settings

if TYPE_CHECKING:
    from .sim import SimCluster


@dataclass(frozen=True)
class Target:
    """The target of the run: ``kind`` (sim, live), the API ``base_url`` and the PVE ``version``."""

    kind: str
    base_url: str
    version: str


class TargetSession:
    """Owns the run's connection details; starts the simulated cluster on first use and stops it at the end."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self._sim: SimCluster | None = None

    @property
    def kind(self) -> str:
        return self.settings.target

    @property
    def sim(self) -> SimCluster | None:
        """The simulated cluster (started now if needed); None unless the target is sim."""
        if self.kind != "sim":
            return None
        if self._sim is None:
            from .sim import SimCluster  # fakepve is imported only on this path

            self.workdir.mkdir(parents=True, exist_ok=True)
            self._sim = SimCluster(self.settings.sim_scenario, self.workdir, user=self.settings.user,
                                   token_name=self.settings.token_name, token_value=self.settings.token_value)
        return self._sim

    @property
    def endpoint(self) -> Endpoint:
        """Address and credentials of the target."""
        sim = self.sim
        if sim is not None:
            return sim.endpoint
        return Endpoint.from_settings(self.settings)

    def close(self) -> None:
        if self._sim is not None:
            self._sim.stop()
            self._sim = None
