"""The PVE API schema as the policy needs it: which path templates exist and which methods they take.

Three formats are read: the API viewer's ``apidoc.js`` a PVE node serves (JavaScript whose
``const apiSchema = [...]`` is a strict JSON tree of ``{path, info: {METHOD: ...}, children}``; read as
JSON, never evaluated), fakepve's trimmed copy of it (``{"paths": {template: {METHOD: ...}}}``, gzipped,
found where fakepve is installed without importing fakepve, AGPL and optional), and the plugin's own cache
(``{"paths": {template: [METHOD, ...]}}``). Where the schema comes from is ``schemasource.py``'s concern.
When there is none the policy still works and fails closed: every write it would need the schema to
classify is refused.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput
from ..files.inputs import read_input

APIDOC_PATH = "/pve-docs/api-viewer/apidoc.js"  # where a PVE node serves its API viewer (the schema)
FAKEPVE_SCHEMA = ("data", "pve-api.json.gz")
APIDOC_START = re.compile(rb"\b(?:const|let|var)\s+apiSchema\s*=\s*")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class PathMatch:
    """A concrete path resolved to its template, e.g. /nodes/{node}/qemu/{vmid}/config, and its variables."""

    template: str
    variables: Mapping[str, str]
    methods: frozenset[str]


Parameters = Mapping[str, Mapping[str, frozenset[str]]]  # template -> method -> the names of its parameters


class ApiSchema:
    """Path templates and their methods, with a segment trie to resolve concrete paths; the names of each method's
    parameters when the source lists them (``parameters``; empty for a cache written before they were kept)."""

    def __init__(self, methods_by_template: Mapping[str, frozenset[str]], parameters: Parameters | None = None,
                 ) -> None:
        self.methods = dict(methods_by_template)
        self.parameters = {t: dict(by_method) for t, by_method in (parameters or {}).items()}
        self._root: dict[str, object] = {}
        for template in self.methods:
            node = self._root
            for segment in _segments(template):
                key = "{}" if segment.startswith("{") else "=" + segment
                if key == "{}":
                    node.setdefault("var", segment[1:-1])
                node = node.setdefault(key, {})  # type: ignore[assignment]
            node["template"] = template

    def __len__(self) -> int:
        return len(self.methods)

    def writes(self) -> list[tuple[str, str]]:
        """Every (method, template) that is not a GET, sorted."""
        return sorted((m, t) for t, ms in self.methods.items() for m in ms if m != "GET")

    def match(self, path: str) -> PathMatch | None:
        """Resolve a concrete path; literal segments win over variables, as in PVE's router."""
        found = _walk(self._root, _segments(path), {})
        if found is None:
            return None
        template, variables = found
        return PathMatch(template, variables, self.methods[template])

    def to_json(self) -> dict[str, list[str]]:
        """The templates and their methods, sorted: the plugin's cache format (``from_bytes`` reads it)."""
        return {template: sorted(methods) for template, methods in sorted(self.methods.items())}

    def parameters_json(self) -> dict[str, dict[str, list[str]]]:
        """The parameters' names by template and method, sorted (the cache's ``parameters``)."""
        return {template: {method: sorted(names) for method, names in sorted(by_method.items())}
                for template, by_method in sorted(self.parameters.items())}

    def changes_to(self, other: ApiSchema) -> list[str]:
        """What ``other`` has that this schema lacks, and the reverse: ``removed: DELETE /pools/{poolid}``,
        ``added: POST /nodes/{node}/qemu parameter foo``. Parameters are compared only where both schemas list
        them, for methods both have."""
        lines = []
        for template in sorted(set(self.methods) | set(other.methods)):
            before, after = self.methods.get(template, frozenset()), other.methods.get(template, frozenset())
            lines += [f"removed: {method} {template}" for method in sorted(before - after)]
            lines += [f"added: {method} {template}" for method in sorted(after - before)]
            for method in sorted(before & after):
                old = self.parameters.get(template, {}).get(method)
                new = other.parameters.get(template, {}).get(method)
                if old is None or new is None:
                    continue
                lines += [f"removed: {method} {template} parameter {name}" for name in sorted(old - new)]
                lines += [f"added: {method} {template} parameter {name}" for name in sorted(new - old)]
        return lines

    @classmethod
    def from_bytes(cls, raw: bytes) -> ApiSchema:
        """Any of the three formats, gzipped or not; ``ValueError`` saying what is wrong with it."""
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        start = APIDOC_START.search(raw[:4096])
        if start is not None:
            try:
                tree, _ = json.JSONDecoder().raw_decode(raw[start.end():].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInput(f"its apiSchema is not JSON ({exc})") from None
            if not isinstance(tree, list):
                raise InvalidInput("its apiSchema is not a list of paths")
            infos = dict(_apidoc_paths(tree))
            found = {t: frozenset(m for m in info if m in HTTP_METHODS) for t, info in infos.items()}
            parameters = {t: _parameters(info) for t, info in infos.items()}
        else:
            try:
                data = json.loads(raw)
                paths = data["paths"]
                found = {str(t): frozenset(str(m) for m in methods) for t, methods in paths.items()}
                # fakepve's copy: {template: {METHOD: info}}; the plugin's cache: {"parameters": {t: {M: [names]}}}
                parameters = ({str(t): _parameters(info) for t, info in paths.items() if isinstance(info, dict)}
                              or {str(t): {str(m): frozenset(map(str, names)) for m, names in by_method.items()}
                                  for t, by_method in (data.get("parameters") or {}).items()})
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise InvalidInput("it is neither a PVE apidoc.js nor a schema file with \"paths\"") from None
        if not found:
            raise InvalidInput("it lists no API paths")
        return cls(found, parameters)

    @classmethod
    def from_file(cls, path: Path) -> ApiSchema:
        """Load a schema file of any of the three formats; ``ValueError`` naming the file if it is none."""
        data = read_input(path, "API schema")
        try:
            return cls.from_bytes(data)
        except ValueError as exc:
            raise InvalidInput(f"{path}: not a PVE API schema: {exc}") from None


def _apidoc_paths(nodes: list[object]) -> Iterator[tuple[str, dict[str, object]]]:
    """(path, info: {METHOD: ...}) of every node of the API viewer's tree that takes a method."""
    for node in nodes:
        if not isinstance(node, dict) or not isinstance(node.get("path"), str):
            raise InvalidInput("an apiSchema entry has no path")
        info = node.get("info") or {}
        if isinstance(info, dict) and any(m in HTTP_METHODS for m in info):
            yield node["path"], info
        yield from _apidoc_paths(node.get("children") or [])


def _parameters(info: Mapping[str, object]) -> dict[str, frozenset[str]]:
    """The names of each method's parameters in a schema's ``{METHOD: {"parameters": {"properties": ...}}}``."""
    found = {}
    for method, details in info.items():
        parameters = details.get("parameters") if isinstance(details, dict) else None
        properties = parameters.get("properties") if isinstance(parameters, dict) else None
        if method in HTTP_METHODS and isinstance(properties, dict):
            found[method] = frozenset(map(str, properties))
    return found


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/")] if path.strip("/") else []


def _walk(node: dict[str, object], segments: list[str], variables: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    if not segments:
        template = node.get("template")
        return (str(template), variables) if template is not None else None
    head, rest = segments[0], segments[1:]
    literal = node.get("=" + head)
    if isinstance(literal, dict):
        found = _walk(literal, rest, variables)
        if found:
            return found
    child = node.get("{}")
    if isinstance(child, dict) and head:
        return _walk(child, rest, {**variables, str(node["var"]): head})
    return None


def fakepve_schema_file() -> Path | None:
    """Where fakepve's schema data is installed, found without importing fakepve; None if absent."""
    spec = importlib.util.find_spec("fakepve")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*FAKEPVE_SCHEMA)
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def load_schema(path: Path | None = None) -> ApiSchema | None:
    """The schema at ``path``, else fakepve's, else None (the policy then refuses what it cannot classify)."""
    source = path or fakepve_schema_file()
    return ApiSchema.from_file(source) if source else None
