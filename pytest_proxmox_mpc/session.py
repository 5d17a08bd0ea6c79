"""The Python API in one object: a cluster reached under the safety policy of one phase.

``connect(endpoint, phase)`` logs in, checks the credentials with one GET and gives a ``ClusterSession``: its
``api`` (a proxmoxer client whose every request passes the phase's policy before it leaves the process), a
read-only ``readonly`` client, the cluster's ``inventory()``, temporary guests (``temp_guest``, phases 3-4) and
safety proxies for tools in other processes (``proxy``). Closing it (or leaving its ``with`` block) removes
every temporary guest it or a proxied tool created and closes its audit trail and ledger, on every path. The
state (audit trail, ledger) is kept under ``state_dir`` like the plugin's, so the sweeper finds what a killed
process left. This is what the plugin's fixtures do for a test, for a project that is not a test suite.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .cluster.client import connect_checked, derive
from .cluster.guard import Guard
from .cluster.inventory import read_inventory
from .cluster.schemasource import from_node
from .config.phases import PHASES, WRITE_PHASE
from .config.settings import resolve
from .config.sources import RawSources
from .config.target import live_endpoint
from .errors import InvalidInput, PhaseViolation, SettingsError, TargetUnavailable
from .files.heartbeat import Heartbeat
from .files.runfiles import RunFiles
from .files.vmidclaims import VmidClaims, claims_dir
from .guests.allocator import VmidAllocator
from .guests.destroy import Timeouts
from .guests.factory import FactoryContext, GuestFactory, TempGuest
from .guests.liveness import SOURCE as BEAT_SOURCE
from .guests.liveness import ClusterBeat, end_presence
from .model.apischema import ApiSchema, load_schema
from .model.endpoint import Endpoint
from .model.inventory import Inventory
from .model.vmids import DEFAULT_TEMP_RANGE
from .proxy.relay import SafetyProxy, open_proxy
from .proxy.toolguests import ToolGuests
from .safety.audit import new_run_id
from .safety.exclusions import ExclusionList
from .safety.ledger import Ledger, LedgerFile
from .safety.lookup import ClusterLookup, protected_vmids
from .safety.nics import NetworkRule
from .safety.policy import PhasePolicy, ReadOnlyPolicy
from .safety.trail import AuditTrail


class ClusterSession:
    """A cluster under the policy of ``phase``; made by ``connect``. Use it as a context manager (or ``close`` it)."""

    def __init__(self, endpoint: Endpoint, phase: int, *, exclusions: ExclusionList,
                 temp_range: tuple[int, int], state_dir: Path, schema: ApiSchema | None = None) -> None:
        if phase not in PHASES:
            raise InvalidInput(f"phase must be one of {', '.join(map(str, PHASES))}, not {phase!r}")
        self.endpoint, self.phase, self.exclusions = endpoint, phase, exclusions
        self.files = RunFiles(state_dir, new_run_id(), None)
        self.trail = AuditTrail(self.files.audit, self.run_id)
        self.ledger, self.ledger_file = Ledger(), LedgerFile(self.files.ledger, self.run_id)
        writes = phase >= WRITE_PHASE
        self.allocator = VmidAllocator(temp_range, claims=VmidClaims(claims_dir(endpoint.netloc), self.run_id)
                                       if writes else None)
        self.heartbeat = Heartbeat(self.files.heartbeat("session")) if writes else None  # the sweeper's "alive"
        self.beat: ClusterBeat | None = None
        self._factories: dict[str, GuestFactory] = {}
        self._proxies: list[SafetyProxy] = []
        try:
            if self.heartbeat is not None:
                self.heartbeat.start()
            self.readonly, self.version = connect_checked(endpoint, Guard(ReadOnlyPolicy(), self.trail))
            self.protected = protected_vmids(self.readonly, exclusions)
            if phase >= WRITE_PHASE and schema is None:
                schema = self._schema()
            lookup = ClusterLookup(self.readonly)
            self.policy = PhasePolicy(phase=phase, schema=schema, exclusions=exclusions, ledger=self.ledger,
                                      temp_range=temp_range, protected_vmids=self.protected, lookup=lookup,
                                      network=NetworkRule(configs=lookup.config))
            # Phases 1-2 read only: their client is the read-only one (a write is a ReadOnlyViolation).
            self.api: Any = (derive(self.readonly, Guard(self.policy, self.trail, self.ledger))
                             if phase >= WRITE_PHASE else self.readonly)
        except BaseException:
            self._close_files()
            raise

    @property
    def run_id(self) -> str:
        return self.files.run_id

    def inventory(self, *, guest_configs: bool = True, networks: bool = True, cluster_status: bool = True,
                  pools: bool = True) -> Inventory:
        """The cluster now, read through the read-only client (the parts as ``read_inventory`` switches them)."""
        return read_inventory(self.readonly, version=self.version, guest_configs=guest_configs, networks=networks,
                              cluster_status=cluster_status, pools=pools)

    def temp_guest(self, kind: str = "qemu", node: str | None = None, **config: Any) -> TempGuest:
        """A temporary ``qemu`` VM or ``lxc`` container in the temporary range, created and in the ledger; it is
        removed when the session closes. Phases 3-4 only."""
        if self.phase < WRITE_PHASE:
            raise PhaseViolation("POST", f"/nodes/{node or '*'}/{kind}", "phase",
                                 f"temporary guests need phase {WRITE_PHASE} or 4; this session is phase {self.phase}")
        if kind not in self._factories:
            if self.beat is None:
                self.beat = ClusterBeat(derive(self.readonly, Guard(self.policy, self.trail, self.ledger,
                                                                    source=BEAT_SOURCE)))
            context = FactoryContext(run_id=self.run_id, allocator=self.allocator, ledger=self.ledger,
                                     ledger_file=self.ledger_file, exclusions=self.exclusions, beat=self.beat)
            self._factories[kind] = GuestFactory(self.api, kind, context)
        return self._factories[kind](node, **config)

    @contextlib.contextmanager
    def proxy(self, workdir: Path | None = None) -> Iterator[SafetyProxy]:
        """A safety proxy on loopback for a tool in another process: ``proxy.access`` holds its address, its CA
        file and credentials of its own; every request passes this session's policy. In phases 3-4 it hands
        tools VMIDs of the temporary range, and the guests they create are removed when the session closes."""
        tools = None
        if self.phase >= WRITE_PHASE:
            tools = ToolGuests(self.allocator, self.ledger, self.ledger_file, lambda: None,
                               lambda key, value, sequence=False: value)
        guard = Guard(self.policy, self.trail, self.ledger, source="proxy")
        with contextlib.ExitStack() as stack:
            if workdir is None:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pve-proxy-")))
            proxy = open_proxy(self.endpoint, self.readonly, guard, workdir, phase=self.phase, tools=tools)
            self._proxies.append(proxy)
            stack.callback(proxy.stop)
            yield proxy

    def close(self) -> None:
        """Remove every temporary guest this session and its proxies' tools created, then close the files. A
        guest that could not be removed is a ``TargetUnavailable`` naming it (it stays in the ledger for the
        sweeper)."""
        problems: list[str] = []
        try:
            for factory in self._factories.values():
                try:
                    factory.cleanup()
                except Exception as exc:  # every factory gets its turn; the ledger keeps what is left
                    problems.append(f"{factory.kind}: {exc}")
            for proxy in self._proxies:
                if proxy.tools is not None:
                    problems += proxy.tools.finish(None, self.readonly, self.api, Timeouts(), everything=True).problems
                proxy.stop()
        finally:
            self._factories.clear()
            self._proxies.clear()
            self._close_files()
        if problems:
            raise TargetUnavailable("temporary guests could not be removed (left for the sweeper): "
                                    + "; ".join(problems))

    def __enter__(self) -> ClusterSession:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _schema(self) -> ApiSchema | None:
        """The API schema the policy classifies writes with: the node's own, else fakepve's copy if installed."""
        schema, _ = from_node(self.endpoint, Guard(ReadOnlyPolicy(), self.trail, source="schema"), self.version)
        return schema if schema is not None else load_schema()

    def _close_files(self) -> None:
        end_presence(self.beat, self.heartbeat, self.allocator.claims)
        self.trail.close()
        self.ledger_file.close()


def connect(endpoint: Endpoint | None = None, phase: int = 1, *, exclusions: ExclusionList | None = None,
            temp_range: tuple[int, int] = DEFAULT_TEMP_RANGE, state_dir: Path | str = ".",
            schema: ApiSchema | None = None) -> ClusterSession:
    """Log in to ``endpoint`` under the safety policy of ``phase`` (1-2 read only; 3-4 also create, and write to,
    temporary guests in ``temp_range``, never to what ``exclusions`` protects). ``endpoint`` None: the cluster the
    plugin's environment variables name (``PVE_HOST``, ``PVE_USER``, ``PVE_TOKEN_NAME``, ``PVE_TOKEN_VALUE`` or
    ``PVE_PASSWORD``, ``PVE_CA_BUNDLE``, ...). The audit trail and ledger go to ``state_dir``/.pytest_proxmox_mpc.
    ``SettingsError`` for settings it cannot use; ``TargetUnavailable`` (one line, no secret) when the cluster
    cannot be reached or refuses the credentials."""
    return ClusterSession(endpoint or endpoint_from_environment(), phase,
                          exclusions=exclusions or ExclusionList.empty(), temp_range=temp_range,
                          state_dir=Path(state_dir), schema=schema)


def endpoint_from_environment(environ: Mapping[str, str] | None = None) -> Endpoint:
    """The live cluster the plugin's ``PVE_*`` environment variables name (resolved by the same option table as
    the plugin's settings); ``SettingsError`` when they name none."""
    settings = resolve(RawSources(options={}, ini={}, environ=os.environ if environ is None else environ))
    if settings.host is None:
        raise SettingsError("no cluster to connect to: give an Endpoint, or set PVE_HOST (and PVE_USER, "
                            "PVE_TOKEN_NAME with PVE_TOKEN_VALUE, or PVE_PASSWORD)")
    return live_endpoint(settings)
