"""The drift check: recorded cassettes held against the live cluster, read only.

The GET requests of the cassettes (each distinct path and query once; every other method is never sent) go
again to the cluster through a read-only client (the phase-1 policy: anything but a GET is refused before it
leaves the process), and the shape of each answer is compared with the recorded answers' (``recording.shapes``:
fields added, removed, or of another type; values never). The cluster's API schema is compared with the one the
cassettes were recorded with (methods, and their parameters, added or removed). Not sent: a request for a task
(its UPID) or a temporary guest (a VMID of the temporary range) of the recording run, which are gone, and one
whose query held a secret (masked in the cassette). Nothing here imports pytest.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import requests
from proxmoxer import ResourceException

from ..errors import TargetUnavailable
from ..model.apischema import ApiSchema
from ..model.endpoint import Endpoint
from ..recording.provenance import Provenance, staleness
from ..recording.recorded import RecordedCassette
from ..recording.shapes import FieldChange, Shape, compare, shape_of
from ..safety.redact import REDACTED
from .client import describe_failure
from .schemasource import FAKEPVE_KEY, SchemaSource, cache_dir_of, from_cache

GUEST_KINDS = ("qemu", "lxc")
MASKED = (REDACTED, "%2A%2A%2A")


@dataclass(frozen=True)
class PathDrift:
    """What changed in the answer to ``GET request`` (path and query)."""

    request: str
    changes: tuple[FieldChange, ...]


@dataclass
class DriftReport:
    cassettes: int
    recorded: list[str] = field(default_factory=list)  # what the cassettes were recorded against, and the cluster
    paths: list[PathDrift] = field(default_factory=list)  # only those that changed
    schema: list[str] = field(default_factory=list)  # the schema's changes
    not_compared: list[str] = field(default_factory=list)  # requests (or the schema) not compared, and why
    warnings: list[str] = field(default_factory=list)
    compared: int = 0

    @property
    def drifted(self) -> bool:
        return bool(self.paths or self.schema)

    def lines(self) -> list[str]:
        """The report as the console prints it: no value of any answer, no credential."""
        out = [*self.recorded, *self.warnings]
        for drift in self.paths:
            out += [f"changed: GET {drift.request}: {change.line()}" for change in drift.changes]
        out += [f"changed: API schema: {line}" for line in self.schema]
        out += [f"not compared: {line}" for line in self.not_compared]
        changes = sum(len(d.changes) for d in self.paths)
        out.append(f"{self.compared} GET request(s) of {self.cassettes} cassette(s) compared: "
                   + (f"{changes} change(s) in {len(self.paths)} answer(s), {len(self.schema)} in the API schema"
                      if self.drifted else "no change in the answers' shapes or the API schema"))
        return out


def recorded_gets(cassettes: Iterable[RecordedCassette], temp_range: tuple[int, int],
                  ) -> tuple[dict[str, list[Shape]], list[str]]:
    """(GET path?query -> the shapes of its recorded answers, the requests left out and why)."""
    shapes: dict[str, list[Shape]] = {}
    skipped: dict[str, str] = {}
    for cassette in cassettes:
        for done in cassette.interactions:
            if done.method != "GET" or done.status != 200:
                continue
            request = done.path + (f"?{done.query}" if done.query else "")
            why = _why_not(done.path, done.query, temp_range)
            if why:
                skipped[request] = why
                continue
            data = _data(done.body)
            if data is not _NO_DATA:
                shapes.setdefault(request, []).append(shape_of(data))
    reasons: dict[str, int] = {}
    for why in skipped.values():
        reasons[why] = reasons.get(why, 0) + 1
    return shapes, [f"{count} GET request(s): {why}" for why, count in sorted(reasons.items())]


_NO_DATA = object()


def _data(body: bytes) -> Any:
    try:
        answer = json.loads(body)
    except (ValueError, TypeError):
        return _NO_DATA
    return answer.get("data") if isinstance(answer, dict) else _NO_DATA


def _why_not(path: str, query: str, temp_range: tuple[int, int]) -> str | None:
    segments = [unquote(s) for s in path.strip("/").split("/")]
    if any(s.startswith("UPID:") for s in segments):
        return "a task of the recording run"
    for kind, vmid in itertools.pairwise(segments):
        if kind in GUEST_KINDS and vmid.isdigit() and temp_range[0] <= int(vmid) <= temp_range[1]:
            return "a temporary guest of the recording run"
    if any(value in MASKED for _, value in parse_qsl(query, keep_blank_values=True)):
        return "its query held a secret, masked in the cassette"
    return None


def send_again(api: Any, endpoint: Endpoint, recorded: dict[str, list[Shape]],
               ) -> tuple[list[PathDrift], list[str], int]:
    """GET each recorded request with the read-only client ``api``: (what changed, what was not answered, how many
    were compared). ``TargetUnavailable`` when the cluster cannot be reached."""
    drifts, unanswered, compared = [], [], 0
    for request in sorted(recorded):
        path, _, query = request.partition("?")
        segments = [unquote(s) for s in path.strip("/").split("/")]
        try:
            live = api(segments).get(**dict(parse_qsl(query, keep_blank_values=True)))
        except ResourceException as exc:
            unanswered.append(f"GET {request}: the cluster answered {exc.status_code} (200 when recorded)")
            continue
        except requests.RequestException as exc:
            raise TargetUnavailable(describe_failure(endpoint, exc)) from None
        compared += 1
        changes = compare(recorded[request], shape_of(live))
        if changes:
            drifts.append(PathDrift(request, tuple(changes)))
    return drifts, unanswered, compared


def recorded_schemas(cassettes: Sequence[RecordedCassette], roots: Sequence[Path],
                     ) -> tuple[dict[str, tuple[ApiSchema | None, SchemaSource]], int]:
    """The schemas the cassettes name (key -> schema, source; the cache looked for below each of ``roots``), and
    how many cassettes name none."""
    keys = {c.provenance.api_schema for c in cassettes if c.provenance.api_schema}
    found: dict[str, tuple[ApiSchema | None, SchemaSource]] = {}
    for key in sorted(str(k) for k in keys):
        for root in roots:
            schema, source = from_cache(cache_dir_of(root), key)
            if schema is not None or key == FAKEPVE_KEY:
                break
        found[key] = (schema, source)
    return found, sum(1 for c in cassettes if not c.provenance.api_schema)


def compare_schemas(recorded: dict[str, tuple[ApiSchema | None, SchemaSource]], live: ApiSchema | None,
                    live_source: SchemaSource, unnamed: int) -> tuple[list[str], list[str]]:
    """(the schema's changes, why a schema was not compared)."""
    changes: list[str] = []
    notes = [f"API schema: {unnamed} cassette(s) do not name the schema they were recorded with (recorded before "
             "the plugin kept it)"] if unnamed else []
    if live is None:
        return [], [*notes, f"API schema: the cluster's could not be read ({live_source.problem})"]
    for key, (schema, source) in recorded.items():
        if schema is None:
            notes.append(f"API schema {key}: not found ({source.problem})")
        elif not (source.sha256 and source.sha256 == live_source.sha256):
            prefix = f"(recorded {key}) " if len(recorded) > 1 else ""
            changes += [prefix + line for line in schema.changes_to(live)]
    return changes, notes


def summary(cassettes: Sequence[RecordedCassette], version: str, max_age: float | None) -> tuple[list[str], list[str]]:
    """(lines on what the cassettes were recorded against and what the cluster runs, staleness warnings)."""
    provenances: dict[str, Provenance] = {str(c.path): c.provenance for c in cassettes}
    versions = sorted({p.pve_version for p in provenances.values() if p.pve_version})
    dates = sorted(p.recorded_at for p in provenances.values() if p.recorded_at is not None)
    when = f", {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}" if dates else ""
    recorded = (f"recorded against: PVE {', '.join(versions) or 'unknown'} ({len(cassettes)} cassette(s){when}); "
                f"the cluster runs PVE {version}")
    return [recorded], staleness(provenances, version, max_age)
