"""A cassette file read as plain data, for the drift check: its interactions (method, path, query, status, body) and
what it was recorded against. Not through vcrpy's ``Cassette`` (which plays, matches and records): nothing here
can send or record anything. A file that is no cassette this plugin reads is a ``CassetteFormatError`` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..errors import CassetteFormatError, UnreadableInput
from ..files.inputs import read_text_input
from .provenance import Provenance, provenance_of

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
API_PREFIX = "/api2/json"
CASSETTE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Interaction:
    """One recorded request and its answer: ``path`` below ``/api2/json``, ``query`` as recorded (scrubbed)."""

    method: str
    path: str
    query: str
    status: int
    body: bytes


@dataclass(frozen=True)
class RecordedCassette:
    path: Path
    interactions: tuple[Interaction, ...]
    provenance: Provenance


def read_cassette(path: Path) -> RecordedCassette:
    """The cassette at ``path``; ``CassetteFormatError`` (one line, the file named) if it is none."""
    try:
        text = read_text_input(path, "cassette")
    except UnreadableInput as exc:
        raise CassetteFormatError(exc.source, exc.line, exc.problem) from None
    provenance = provenance_of(text, path)
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CassetteFormatError(str(path), mark.line + 1 if mark is not None else None,
                                  f"not a cassette: not valid YAML ({getattr(exc, 'problem', None) or 'syntax'})"
                                  ) from None
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteFormatError(str(path), None, "not a cassette: no 'interactions' list (a vcrpy cassette has one)")
    return RecordedCassette(path, tuple(_interactions(path, data["interactions"])), provenance)


def _interactions(path: Path, items: list[Any]) -> Iterator[Interaction]:
    for index, item in enumerate(items):
        try:
            request, response = item["request"], item["response"]
            parts = urlsplit(str(request["uri"]))
            body = (response.get("body") or {}).get("string", b"")
            yield Interaction(str(request["method"]).upper(), parts.path.removeprefix(API_PREFIX), parts.query,
                              int(response["status"]["code"]), body.encode() if isinstance(body, str) else body)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise CassetteFormatError(str(path), None, f"not a cassette: interaction {index + 1} has no request "
                                      "method and URI, or no answer status") from None


def cassette_files(paths: Iterable[Path]) -> list[Path]:
    """The cassettes ``paths`` name: each file, and every ``.yaml`` below each directory, sorted.
    ``CassetteFormatError`` for a path that does not exist."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in CASSETTE_SUFFIXES and p.is_file())
        elif path.exists():
            found.append(path)
        else:
            raise CassetteFormatError(os.fspath(path), None, "cannot read: no such file or directory")
    return found
