"""What a run talks to: the target chosen by the settings, started (sim) or addressed (live) once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import InvalidInput, TargetUnavailable
from ..model.endpoint import Endpoint
from ..model.secret import Secret
from ..recording.layout import PLACEHOLDER, SESSION_DIR
from ..safety.policy import LOGIN_PATH
from ..sim import simulator_installed
from .settings import Settings

CONNECTION_FIXTURE = "_pve_connection"  # the session fixture that logs in: its cassette tells how

if TYPE_CHECKING:
    from ..sim.cluster import SimCluster


@dataclass(frozen=True)
class Target:
    """The target of the run: ``kind`` (sim, replay, live), the API ``base_url``, the PVE ``version``, and the
    run's own ``credentials`` (as ``Secret``: what no file a tool writes may hold, for the secret checks)."""

    kind: str
    base_url: str
    version: str
    credentials: tuple[Secret, ...] = field(default=(), repr=False)


class TargetSession:
    """Owns the run's connection details; starts the simulated cluster on first use and stops it at the end."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self._sim: SimCluster | None = None
        self._addressed: Endpoint | None = None  # the replay or live endpoint, worked out once

    @property
    def kind(self) -> str:
        return self.settings.target

    @property
    def sim(self) -> SimCluster | None:
        """The simulated cluster (started now if needed); None unless the target is sim."""
        if self.kind != "sim":
            return None
        if self._sim is None:
            if not simulator_installed():
                raise TargetUnavailable(f"the sim target ({self.settings.sources['target']}) needs the simulated "
                                        "cluster, fakepve, which is not installed: pip install "
                                        "'pytest-proxmox-mpc[sim]', or give --pve-host for a cluster of your own")
            from ..sim.cluster import SimCluster  # fakepve is imported only on this path

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
        if self._addressed is None:  # on replay this reads the connection cassette, which the run never changes
            self._addressed = (replay_endpoint(self.settings) if self.kind == "replay"
                               else live_endpoint(self.settings))
        return self._addressed

    def close(self) -> None:
        if self._sim is not None:
            self._sim.stop()
            self._sim = None


def replay_endpoint(settings: Settings, by_password: bool | None = None) -> Endpoint:
    """The placeholder cluster cassettes were recorded against, logged in to the way the recording was
    (``by_password`` None: as the session's connection cassette shows; False: a token, so nothing logs in).

    Credentials are stand-ins: the recorded login was scrubbed, and replay matches the scrubbed form.
    """
    placeholder = urlsplit(PLACEHOLDER)
    connection = settings.cassette_dir / SESSION_DIR / (CONNECTION_FIXTURE + ".yaml")
    if by_password is None:
        by_password = not connection.exists() or LOGIN_PATH in connection.read_text(encoding="utf-8",
                                                                                     errors="replace")
    return Endpoint(host=placeholder.hostname or "", port=placeholder.port or 8006, user=settings.user,
                    password=Secret("replayed") if by_password else None,
                    token_name=None if by_password else (settings.token_name or "replayed"),
                    token_value=None if by_password else Secret("replayed"), verify=False, timeout=settings.timeout)


def live_endpoint(settings: Settings) -> Endpoint:
    """The live cluster the settings name (host must be set)."""
    if settings.host is None:
        raise InvalidInput("the settings name no host")
    return Endpoint(host=settings.host, port=settings.port, user=settings.user, password=settings.password,
                    token_name=settings.token_name, token_value=settings.token_value, verify=settings.verify,
                    timeout=settings.timeout)
