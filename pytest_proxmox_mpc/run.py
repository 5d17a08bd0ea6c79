"""One run of the plugin in one process: its id, worker, files, audit trail, ledger and policies.

The plugin makes one ``Run`` per process at configure time (xdist workers get the controller's run id,
so all of a run's audit lines share it) and asks it for the policy of each test. Nothing here imports pytest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cluster.client import derive, read_permissions
from .cluster.guard import ConnectionHealth, Guard
from .cluster.schemasource import SchemaSource, cache_dir_of, from_cache, from_fakepve, from_node, from_setting
from .config.settings import Settings
from .errors import SettingsError
from .faults import FaultPlan
from .files.heartbeat import Heartbeat
from .files.runfiles import RunFiles
from .files.vmidclaims import VmidClaims, claims_dir
from .guests.allocator import VmidAllocator
from .guests.liveness import SOURCE as BEAT_SOURCE
from .guests.liveness import ClusterBeat, end_presence
from .model.apischema import ApiSchema
from .model.endpoint import Endpoint
from .model.vmids import DEFAULT_TEMP_RANGE
from .proxy.toolguests import ToolGuests
from .recording.anonymize import Anonymizer
from .recording.provenance import recorded_now, replay_warnings
from .safety.credentials import readonly_problem, sdn_problem
from .safety.ledger import Ledger, LedgerFile
from .safety.lookup import ClusterLookup
from .safety.nics import NetworkRule
from .safety.policy import GuestLookup, PhasePolicy, Policy, ReadOnlyPolicy
from .safety.trail import AuditTrail

SCHEMA_KEY = "api_schema"  # the session cassette's note of the schema it was recorded with

if TYPE_CHECKING:
    from .recording.recorder import Recorder  # imported only by a run that records or replays (vcrpy)


@dataclass
class Run:
    """The state a process keeps for the run it belongs to."""

    settings: Settings
    files: RunFiles
    worker: str
    trail: AuditTrail
    schema: ApiSchema | None
    ledger_file: LedgerFile
    ledger: Ledger = field(default_factory=Ledger)
    worker_index: int = 0  # this xdist worker's number (gw3: 3), and how many workers the run has
    worker_count: int = 1
    recorder: Recorder | None = None
    health: ConnectionHealth = field(default_factory=ConnectionHealth)
    watched_databases: list[Path] = field(default_factory=list)  # checked after every test (abort if corrupt)
    # This worker's share of the temporary range, for the factories and the proxies alike.
    allocator: VmidAllocator = field(default_factory=lambda: VmidAllocator(DEFAULT_TEMP_RANGE))
    heartbeat: Heartbeat | None = None  # runs that may create guests: the sweeper leaves a running run alone
    tests_started: list[str] = field(default_factory=list)  # this process's tests, in the order they started
    schema_source: SchemaSource | None = None  # None: not needed (phases 1-2), or read at connect (auto)
    faults: FaultPlan = field(default_factory=FaultPlan)  # injected through the proxy and the test's clients
    cluster_beat: ClusterBeat | None = None  # renews the alive- tag of this process's guests (a live cluster)
    unverified_nics: set[int] = field(default_factory=set)  # guests whose inherited NICs were not judged yet

    @classmethod
    def start(cls, settings: Settings, rootdir: Path, run_id: str, worker: str = "main", worker_count: int = 1) -> Run:
        """Set up the run; a schema file that is none is a ``SettingsError``."""
        files = RunFiles(rootdir, run_id, settings.audit_log)
        _writable_dir(files.audit.parent, "pve_audit_log" if settings.audit_log else "the run's state directory",
                      settings.sources["audit_log"])
        if settings.record_mode:
            _writable_dir(settings.cassette_dir, "pve_cassette_dir", settings.sources["cassette_dir"])
        schema, schema_source = None, None
        if settings.api_schema is not None:  # read even when no phase needs it: a wrong file is a usage error now
            schema, schema_source = from_setting(settings.api_schema, settings.sources["api_schema"])
            if not settings.needs_schema:
                schema, schema_source = None, None
        elif settings.needs_schema and settings.target == "sim":
            schema, schema_source = from_fakepve()
        index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
        anonymizer = Anonymizer(salt=run_id) if settings.anonymize else None
        recorder = None
        if settings.record_mode:
            from .recording.recorder import Recorder

            recorder = Recorder(settings.cassette_dir, settings.record_mode, anonymizer, run_id)
        claims = None  # a live cluster may have other runs on it: VMIDs are claimed across this machine's runs
        if settings.target == "live" and settings.max_phase >= 3 and settings.host:
            claims = VmidClaims(claims_dir(f"{settings.host}:{settings.port}"), run_id)
        heartbeat = None
        if settings.max_phase >= 3:
            heartbeat = Heartbeat(files.heartbeat(worker))
            heartbeat.start()
        return cls(settings, files, worker, AuditTrail(files.audit, run_id, worker), schema,
                   LedgerFile(files.ledger, run_id, worker), worker_index=index, worker_count=worker_count,
                   recorder=recorder, allocator=VmidAllocator(settings.temp_vmid_range, index, worker_count, claims),
                   heartbeat=heartbeat, schema_source=schema_source)

    @property
    def run_id(self) -> str:
        return self.files.run_id

    def connected(self, endpoint: Endpoint, api: Any, version: str) -> list[str]:
        """What the run learns once logged in (in the session cassette's context): the API schema of ``auto``, and
        whether the credentials could write where they need not. The lines for the summary; a ``SettingsError``
        when ``--pve-require-readonly-credentials`` is not met."""
        settings, lines = self.settings, []
        if settings.needs_schema:
            if self.schema_source is None:
                self.schema, self.schema_source = self._schema_of(endpoint, version)
            if self.recorder is not None and settings.target != "replay" and self.schema_source.key:
                self.recorder.remember(SCHEMA_KEY, self.schema_source.key)
            lines.append(self.schema_source.describe())
            if settings.target == "live":
                permissions, problem = read_permissions(api)
                warning = sdn_problem(endpoint.login_id, permissions, settings.temp_network, problem)
                lines += [f"proxmox: WARNING: {warning}"] if warning else []
        elif settings.target == "live":
            warning = readonly_problem(endpoint.login_id, *read_permissions(api))
            if warning and settings.require_readonly_credentials:
                raise SettingsError(f"setting pve_require_readonly_credentials "
                                    f"({settings.sources['require_readonly_credentials']}): {warning}")
            lines += [f"proxmox: WARNING: {warning}"] if warning else []
        if self.recorder is not None:
            lines += self._recordings(endpoint, version)
        self.files.write_worker_file("connection", self.worker, {"lines": lines})
        return lines

    def _recordings(self, endpoint: Endpoint, version: str) -> list[str]:
        """What the cassettes it writes keep of the cluster (its PVE version, its API schema, read for that when
        no phase needed it, and the date), and warnings about the cassettes it may play: recorded against another
        PVE major version, or older than ``pve_cassette_max_age``."""
        settings, recorder = self.settings, self.recorder
        assert recorder is not None
        if settings.target != "replay":
            source = self.schema_source
            if source is None:
                source = from_fakepve()[1] if settings.target == "sim" else self._schema_of(endpoint, version)[1]
            recorder.recorded_against = recorded_now(version, source.key, source.sha256)
        if settings.record_mode in ("all", "rewrite"):  # nothing is played
            return []
        return replay_warnings(settings.cassette_dir, None if settings.target == "replay" else version,
                               settings.cassette_max_age)

    def _schema_of(self, endpoint: Endpoint, version: str) -> tuple[ApiSchema | None, SchemaSource]:
        cache = cache_dir_of(self.settings.cassette_dir)
        if self.settings.target == "replay":
            key = self.recorder.remember(SCHEMA_KEY, None) if self.recorder is not None else None
            # Cassettes recorded before the schema was remembered come from the sim: fakepve's copy is theirs.
            return from_cache(cache, str(key)) if key else from_fakepve()
        guard = Guard(ReadOnlyPolicy(), self.trail, health=self.health, source="schema")  # audited, not recorded
        return from_node(endpoint, guard, version, cache if self.recorder is not None else None)

    def policy(self, phase: int, protected: frozenset[int] = frozenset(),
               lookup: GuestLookup | None = None) -> PhasePolicy:
        """The policy of a test in ``phase``: this run's exclusions, ledger and temporary range."""
        configs = getattr(lookup, "config", None)
        network = NetworkRule(self.settings.temp_network, self.unverified_nics, configs)
        return PhasePolicy(phase=phase, schema=self.schema, exclusions=self.settings.exclusions, ledger=self.ledger,
                           temp_range=self.settings.temp_vmid_range, protected_vmids=protected, lookup=lookup,
                           network=network)

    def guard(self, policy: Policy, source: str | None = None, faulted: bool = False) -> Guard:
        """A guard for ``policy`` with this run's audit trail, ledger and recorder (audit lines marked ``source``);
        ``faulted``: the run's injected faults answer in the cluster's place (the safety proxy's and the test's own
        clients; never the read-only client a test judges with)."""
        return Guard(policy, self.trail, self.ledger, self.recorder, self.health, source=source,
                     faults=self.faults if faulted else None)

    def tool_guests(self) -> ToolGuests:
        """What a phase 3/4 safety proxy hands tools (VMIDs of this worker's share) and tracks (their guests)."""
        remember = self.recorder.remember if self.recorder is not None else (lambda key, value, sequence=False: value)
        return ToolGuests(self.allocator, self.ledger, self.ledger_file, lambda: self.trail.test, remember)

    def proxy_guard(self, phase: int, api: Any, protected: frozenset[int] = frozenset()) -> Guard:
        """The guard of a safety proxy for ``phase``: this run's policy, with guests looked up through ``api``."""
        return self.guard(self.policy(phase, protected=protected, lookup=ClusterLookup(api)), source="proxy",
                          faulted=True)

    def client(self, readonly: Any, phase: int, protected: frozenset[int]) -> Any:
        """A client sharing ``readonly``'s login with the policy of ``phase``; guests are looked up through
        ``readonly`` at write time."""
        policy = self.policy(phase, protected=protected, lookup=ClusterLookup(readonly))
        return derive(readonly, self.guard(policy, faulted=True))

    def beat_on_cluster(self, readonly: Any, protected: frozenset[int]) -> ClusterBeat | None:
        """On a live cluster, what keeps this process's temporary guests marked alive for sweepers anywhere: its
        writes are audited (``source`` beat) and never recorded; None on a replay or the sim, which no one sweeps."""
        if self.settings.target != "live":
            return None
        if self.cluster_beat is None:
            policy = self.policy(self.settings.max_phase, protected=protected, lookup=ClusterLookup(readonly))
            guard = Guard(policy, self.trail, self.ledger, None, self.health, source=BEAT_SOURCE)
            self.cluster_beat = ClusterBeat(derive(readonly, guard))
        return self.cluster_beat

    def close(self) -> None:
        end_presence(self.cluster_beat, self.heartbeat, self.allocator.claims)
        if self.recorder is not None:
            self.recorder.save()
        self.trail.close()
        self.ledger_file.close()


def _writable_dir(path: Path, setting: str, origin: str) -> None:
    """A ``SettingsError`` naming the setting if the run could not make or write the directory ``path`` (found at
    the first write, the test would have passed and its record been lost). Nothing is made here: a project that
    only has the plugin installed finds no new folder."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        problem = "a file is in the way" if existing.exists() else "no folder above it exists"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    else:
        return
    raise SettingsError(f"setting {setting} ({origin}): cannot make the folder {path}: {problem}")
