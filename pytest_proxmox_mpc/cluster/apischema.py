"""The PVE API schema as the policy needs it: which path templates exist and which methods they take.

The data is fakepve's copy of PVE's API viewer schema (``fakepve/data/pve-api.json.gz``), read as a
file from where fakepve is installed, without importing fakepve (AGPL, optional), or any file of the
same format given by path. When no schema can be found the policy still works and fails closed:
every write it would need the schema to classify is refused.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FAKEPVE_SCHEMA = ("data", "pve-api.json.gz")


@dataclass(frozen=True)
class PathMatch:
    """A concrete path resolved to its template, e.g. /nodes/{node}/qemu/{vmid}/config, and its variables."""

    template: str
    variables: Mapping[str, str]
    methods: frozenset[str]


class ApiSchema:
    """Path templates and their methods, with a segment trie to resolve concrete paths."""

    def __init__(self, methods_by_template: Mapping[str, frozenset[str]]) -> None:
        self.methods = dict(methods_by_template)
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

    @classmethod
    def from_file(cls, path: Path) -> ApiSchema:
        """Load fakepve's schema format ({"paths": {template: {METHOD: ...}}}), gzipped or not."""
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        paths = json.loads(raw)["paths"]
        return cls({template: frozenset(methods) for template, methods in paths.items()})


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
