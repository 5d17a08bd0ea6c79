"""Where the run's PVE API schema comes from (``--pve-api-schema auto|PATH``), and its cache.

``auto`` reads the schema of the cluster itself: a PVE node serves its API viewer's ``apidoc.js`` without a
login. It is read once per process at connect time, through an audit-only guard (a GET, in the audit trail;
not in a cassette, which would hold megabytes per session), and, by a run that records, cached beside the
cassettes as
``_session/pve-api-schema/<PVE version>-<sha256 prefix>.json``; the session cassette remembers which one, so a
replay classifies writes with the schema the recording had, offline. On ``sim`` ``auto`` is fakepve's copy.
Nothing found is no error here: the policy refuses every write it cannot classify (fail closed), and
``SchemaSource.describe`` says so, naming the flag. Nothing here imports pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from ..errors import SettingsError
from ..model.apischema import APIDOC_PATH, ApiSchema, fakepve_schema_file, load_schema
from ..model.endpoint import Endpoint
from ..recording.layout import SCHEMA_CACHE_DIR, SESSION_DIR
from .guard import Guard, police_session

CACHE_DIR = SCHEMA_CACHE_DIR
FAKEPVE_KEY = "fakepve"  # what a session cassette recorded on the sim remembers
FLAG = "--pve-api-schema"


@dataclass(frozen=True)
class SchemaSource:
    """Where a schema came from: ``origin`` is file, node, cache, fakepve or none (then ``problem`` says why)."""

    origin: str
    where: str
    version: str | None = None
    sha256: str | None = None
    paths: int = 0
    problem: str | None = None

    @property
    def key(self) -> str | None:
        """What a session cassette remembers: the cache file's name, or ``fakepve``."""
        if self.origin == "fakepve":
            return FAKEPVE_KEY
        return f"{self.version}-{self.sha256[:16]}" if self.version and self.sha256 else None

    def describe(self) -> str:
        """One line for the header and the summary."""
        if self.origin == "none":
            return (f"proxmox: API schema: none ({self.problem}): every write is refused; give {FLAG}=PATH "
                    "(a node's apidoc.js) to classify writes")
        facts = [f"{self.paths} paths"]
        facts += [f"PVE {self.version}"] if self.version else []
        facts += [f"sha256 {self.sha256[:16]}"] if self.sha256 else []
        return f"proxmox: API schema: {self.origin} {self.where} ({', '.join(facts)})"


Resolved = tuple["ApiSchema | None", SchemaSource]


def from_file(path: Path) -> Resolved:
    """The schema in ``path``; ``ValueError`` naming the file when it is none."""
    schema = ApiSchema.from_file(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return schema, SchemaSource("file", str(path), sha256=digest, paths=len(schema))


def from_setting(path: Path, origin: str) -> Resolved:
    """The schema file the setting names (``origin``: where it was set); ``SettingsError`` if it is none."""
    try:
        return from_file(path)
    except ValueError as exc:
        raise SettingsError(f"setting pve_api_schema ({origin}): {exc}") from None


def from_fakepve() -> Resolved:
    """fakepve's copy, found without importing fakepve."""
    where = fakepve_schema_file()
    if where is None:
        return None, SchemaSource("none", "", problem="fakepve's copy is not installed")
    schema = load_schema(where)  # parsed once per process, however many runs it starts (pytester's inner runs)
    assert schema is not None
    digest = hashlib.sha256(where.read_bytes()).hexdigest()
    return schema, SchemaSource("fakepve", str(where), sha256=digest, paths=len(schema))


def from_node(endpoint: Endpoint, guard: Guard, version: str, cache_dir: Path | None = None) -> Resolved:
    """GET the node's ``apidoc.js`` through ``guard``; what it lists is cached in ``cache_dir`` if given (a run
    that records: its replay reads it there)."""
    url = f"https://{endpoint.netloc}{APIDOC_PATH}"
    session = police_session(requests.Session(), guard)
    try:
        answer = session.get(url, verify=endpoint.verify, timeout=endpoint.timeout)
    except requests.RequestException as exc:
        return None, SchemaSource("none", url, problem=f"GET {url} failed: {type(exc).__name__}")
    finally:
        session.close()
    if answer.status_code != 200:
        return None, SchemaSource("none", url, problem=f"GET {url} answered {answer.status_code}")
    try:
        schema = ApiSchema.from_bytes(answer.content)
    except ValueError as exc:
        return None, SchemaSource("none", url, problem=f"{url} is not the API viewer's schema: {exc}")
    source = SchemaSource("node", url, version, hashlib.sha256(answer.content).hexdigest(), len(schema))
    if cache_dir is not None:
        _write_cache(cache_dir, source, schema)
    return schema, source


def from_cache(cache_dir: Path, key: str) -> Resolved:
    """The cached schema ``key`` (a session cassette remembered it); none if the file is missing."""
    if key == FAKEPVE_KEY:
        return from_fakepve()
    where = cache_dir / f"{key}.json"
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        schema = ApiSchema({t: frozenset(ms) for t, ms in data["paths"].items()},
                           {t: {m: frozenset(names) for m, names in by_method.items()}
                            for t, by_method in (data.get("parameters") or {}).items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, SchemaSource("none", str(where), problem=f"the cassettes' schema {where} cannot be read "
                                                               f"({type(exc).__name__})")
    return schema, SchemaSource("cache", str(where), data.get("pve_version"), data.get("sha256"), len(schema))


def cache_dir_of(cassette_dir: Path) -> Path:
    """Where schemas read from nodes are kept, beside the cassettes."""
    return cassette_dir / SESSION_DIR / CACHE_DIR


def _write_cache(cache_dir: Path, source: SchemaSource, schema: ApiSchema) -> None:
    """Written whole or not at all: two xdist workers may write the same file at once."""
    where = cache_dir / f"{source.key}.json"
    if where.exists():
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = {"pve_version": source.version, "sha256": source.sha256, "source": source.where, "paths": schema.to_json(),
            "parameters": schema.parameters_json()}
    fd, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=0, sort_keys=True)
    os.replace(temporary, where)
