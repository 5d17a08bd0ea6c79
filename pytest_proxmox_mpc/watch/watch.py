"""Check before, watch during, verify after: one ``Watch`` per process that talks to the cluster.

It takes the first snapshot when the session connects, runs the gates before the first write test,
checks usage and connectivity after every write test (and connectivity after any test that saw a
connection fail), checks the local state databases the run watches, and at the end diffs a second
snapshot with the first. What it saw goes to the run's watch file for the report. Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..cluster.inventory import read_inventory
from ..errors import one_line
from ..guests.factory import PLUGIN_TAG, run_ids_of
from ..model.inventory import Inventory
from ..recording.layout import SESSION_DIR
from ..run import Run
from ..safety.incident import Abort
from ..safety.ledger import read_events, tool_made
from ..workspace.statedb.sqlitefile import integrity_problems
from .drift import Change, unintended_changes
from .gates import GateResult, GateVerdict, check_gates, protected_guests, usage_problems

PROBE_BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds between connectivity probes after a failure
GATES_CASSETTE = f"{SESSION_DIR}/_pve_gates"


class Watch:
    """What one process sees of the cluster during a run."""

    def __init__(self, run: Run, api: Any, protected: frozenset[int], version: str | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.run, self.api, self.protected, self.version = run, api, protected, version
        self.sleep = sleep
        self.before: Inventory | None = None
        self.after: Inventory | None = None
        self.problem: str | None = None  # why a snapshot could not be read
        self.verdict: GateVerdict | None = None
        self.changes: list[Change] | None = None
        self.finished = False  # after the session's teardown the cluster may be gone: no more probes
        # The tests of this process from the one whose setup took the first snapshot on, in the order they started.
        self._first_test = max(len(run.tests_started) - 1, 0)
        try:
            with self.acting():
                self.before = read_inventory(api, version=version, skip_configs_in=self.settings.temp_vmid_range)
        except Exception as exc:  # the gates fail closed on it; phase 1 tests still run and report
            self.problem = "cannot read the first inventory snapshot: " + one_line(exc)
        self.save()

    @property
    def settings(self) -> Any:
        return self.run.settings

    def acting(self) -> Any:
        """The audit marks the watch's own requests (``source: watch``), so a test's requests stand apart."""
        return self.run.trail.acting_as("watch")

    def gates(self, selector: str = "") -> GateVerdict:
        """The gates, evaluated once, before the first write test of this process (``selector``: that test).

        Their requests have a session cassette of their own: whichever test comes first in a replay finds them.
        """
        if self.verdict is None:
            recorder = self.run.recorder
            if recorder is not None:
                recorder.push(GATES_CASSETTE, selector)
            settings = self.settings
            try:
                now = recorder.remember("gates.now", time.time()) if recorder else time.time()
                with self.acting():
                    current = read_inventory(self.api, guest_configs=False, networks=False)
                    self.verdict = check_gates(
                        self.api, current, exclusions=settings.exclusions, protected=self.protected,
                        temp_range=settings.temp_vmid_range, threshold=settings.usage_threshold,
                        require_backups=settings.require_backups, backup_max_age=settings.backup_max_age, now=now,
                        other_runs=self.other_runs())
            except Exception as exc:
                self.verdict = GateVerdict((GateResult("inventory", False, one_line(exc)),))
            finally:
                if recorder is not None:
                    recorder.pop()
            if self.problem:
                self.verdict = GateVerdict((*self.verdict.results, GateResult("inventory", False, self.problem)))
            self.save()
        return self.verdict

    def after_test(self, test: str, wrote: bool) -> Abort | None:
        """The abort a finished test calls for, if any: lost connection, usage over the threshold (after a
        write test), a corrupt watched database."""
        lost = self._connectivity(test)
        if lost is not None:
            return lost
        if wrote and not self.finished:
            try:
                with self.acting():
                    current = read_inventory(self.api, guest_configs=False, networks=False)
            except Exception:
                return self._connectivity(test)
            problems = usage_problems(current, self.settings.usage_threshold)
            if problems:
                return Abort("usage", test, tuple(problems))
        return database_abort(self.run.watched_databases, test)

    def _connectivity(self, test: str) -> Abort | None:
        """After a connection failure, probe until the cluster answers or the failures in a row reach the limit."""
        health, limit = self.run.health, self.settings.max_connection_failures
        for pause in PROBE_BACKOFF * limit:
            if health.in_a_row == 0:
                return None
            if health.in_a_row >= limit:
                return Abort("connectivity", test, (f"{health.in_a_row} connection failures in a row "
                                                    f"(limit {limit}), last: {health.last_error}",))
            if self.finished:
                return None
            self.sleep(pause)
            try:
                with self.acting():
                    self.api.version.get()
            except Exception:  # counted by the guard when it is a connection failure
                if health.in_a_row == 0:  # an answer with an error status: the cluster is reachable
                    return None
        return None

    def finish(self, intended: Iterable[int]) -> list[Change]:
        """Take the second snapshot and return the changes the ledger does not explain."""
        self.finished = True
        if self.before is None:
            return []
        try:
            with self.acting():
                self.after = read_inventory(self.api, version=self.version,
                                            skip_configs_in=self.settings.temp_vmid_range)
        except Exception as exc:
            self.problem = "cannot read the final inventory snapshot: " + one_line(exc)
            self.save()
            return []
        tests = tuple(self.run.tests_started[self._first_test:])
        protected = {guest.vmid for snapshot in (self.before, self.after)  # as it was, or (a new one) is now
                     for guest in protected_guests(snapshot, self.settings.exclusions, self.protected)}
        explained = frozenset(intended) | frozenset(self.other_runs(self.before, self.after))
        self.changes = [change.with_context(protected, tests)
                        for change in unintended_changes(self.before, self.after, explained)]
        self.save()
        return self.changes

    def other_runs(self, *snapshots: Inventory) -> dict[int, str]:
        """By VMID: the temporary guests of other runs that may be going on now, which are neither this run's
        business nor production's: numbers another run on this machine claims, guests its tools made (its ledger
        beside ours), and guests in ``snapshots`` carrying the plugin's tag and another run's."""
        run, (low, high) = self.run, self.settings.temp_vmid_range
        others = dict(run.allocator.claims.held_by_others()) if run.allocator.claims is not None else {}
        others |= {vmid: made.run_id for vmid, made in tool_made(run.files.ledger_dir).items()
                   if made.run_id != run.run_id}
        for snapshot in snapshots:
            for vmid, guest in snapshot.guests.items():
                runs = run_ids_of(guest.tags)
                if low <= vmid <= high and PLUGIN_TAG in guest.tags and runs and run.run_id not in runs:
                    others[vmid] = runs[0]
        return others

    def save(self) -> None:
        """Write what this process saw to the run's watch file (atomically: the controller may read it)."""
        data = {
            "worker": self.run.worker, "version": self.version, "problem": self.problem,
            "before": _snapshot(self.before), "after": _snapshot(self.after),
            "gates": [vars(result) | {"outcome": result.outcome} for result in self.verdict.results]
            if self.verdict else None,
            "changes": [change.to_dict() for change in self.changes] if self.changes is not None else None,
        }
        self.run.files.write_worker_file("watch", self.run.worker, data)


def _snapshot(inventory: Inventory | None) -> dict[str, Any] | None:
    if inventory is None:
        return None
    return {"summary": inventory.summary(), "requests": inventory.requests, "taken_at": inventory.taken_at,
            "nodes": len(inventory.nodes), "guests": len(inventory.guests), "storages": len(inventory.storages),
            "pools": len(inventory.pools), "templates": len(inventory.templates)}


def intended_vmids(run: Run) -> set[int]:
    """The guests this run may have changed: its ledger (every worker's) and what its sweep removed."""
    vmids = set(run.ledger)
    for event in read_events(run.files.ledger):
        if event.get("event") in ("created", "swept") and event.get("vmid") is not None:
            vmids.add(int(event["vmid"]))
    return vmids


def database_abort(paths: Iterable[Path], test: str) -> Abort | None:
    """An abort when a watched state database is corrupt or unreadable."""
    problems = [problem for path in paths for problem in integrity_problems(path)]
    return Abort("database", test, tuple(problems)) if problems else None
