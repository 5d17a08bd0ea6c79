"""Every use of vcrpy, its private parts included, in one place (checked against vcrpy 9.4).

The recorder needs four things vcrpy keeps private: a cassette's metadata dict (``_metadata``: what a test
derived from its run), its file (``_path``), saving it on demand (``_save``) and a persister that reports a
broken file instead of treating it as empty. When vcrpy changes, this is the one module to read again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from vcr.cassette import Cassette
from vcr.errors import MissingMetadataError, UnhandledHTTPRequestError
from vcr.matchers import method, path, query
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serialize import deserialize, serialize

from ..errors import CassetteError
from .provenance import check_format

__all__ = ["MATCHERS", "Cassette", "Request", "append", "file_of", "get_metadata", "metadata", "open_cassette",
           "play", "save", "set_metadata"]

MATCHERS: tuple[Callable[[Request, Request], None], ...] = (method, path, query)


class CassettePersister(FilesystemPersister):  # type: ignore[misc]
    """vcrpy's file persister, with two changes. Loading parses the file once and turns a broken one into a
    ``CassetteError`` naming file and line (vcrpy would log a warning and treat it as empty). Saving writes
    through a temporary file and a rename: xdist workers that save the same session cassette never leave a
    torn file, and a run killed mid-write leaves the old cassette whole."""

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
        where = Path(cassette_path)
        if not where.is_file():
            raise CassetteNotFoundError()
        try:
            text = where.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"cassette {where}: cannot be read ({exc})") from None
        check_format(text, where)  # a newer format is refused, not replayed wrongly
        try:
            loaded = deserialize(text, serializer)  # (requests, responses, metadata) in vcrpy 9
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"{where}:{mark.line + 1}" if mark is not None else str(where)
            raise CassetteError(f"cassette {at}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax'}); "
                                "re-record it or restore it from version control") from None
        except (KeyError, TypeError, AttributeError, ValueError):
            raise CassetteError(f"cassette {where}: not a vcrpy cassette (no interactions list)") from None
        for index, response in enumerate(loaded[1]):
            status = response.get("status") if isinstance(response, dict) else None
            if not (isinstance(status, dict) and isinstance(status.get("code"), int)):
                raise CassetteError(f"cassette {where}:{_line_of(text, index)}: interaction {index + 1} has no "
                                    "answer status (the file was cut short?); re-record it or restore it from "
                                    "version control")
        return loaded

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        where = Path(cassette_path)
        where.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(serialize(cassette_dict, serializer))
        os.replace(temporary, where)


def _line_of(text: str, index: int) -> int:
    """The 1-based line where interaction ``index`` starts (1 if the file's shape does not tell)."""
    try:
        root = yaml.compose(text)
        assert root is not None
        items = next(value for key, value in root.value if key.value == "interactions").value
        return int(items[index].start_mark.line) + 1
    except (yaml.YAMLError, AssertionError, AttributeError, StopIteration, IndexError, TypeError):
        return 1


def open_cassette(where: Path, mode: str, match_on: tuple[Callable[[Request, Request], None], ...],
                  before_record_request: Callable[[Request], Request],
                  before_save_interaction: Callable[[Request, dict[str, Any]], tuple[Request, dict[str, Any]]],
                  *, fresh: bool = False) -> Cassette:
    """The cassette at ``where`` in vcrpy record ``mode`` (``none``, ``once``, ``new_episodes``, ``all``), loaded
    from its file, or empty with ``fresh``. A broken file raises ``CassetteError``."""
    options = dict(path=str(where), record_mode=RecordMode(mode), match_on=match_on,
                   before_record_request=before_record_request, persister=CassettePersister,
                   before_save_interaction=before_save_interaction)
    return Cassette(**options) if fresh else Cassette.load(**options)


def metadata(cassette: Cassette) -> Mapping[str, Any]:
    """What the cassette keeps beside its interactions."""
    return cast("Mapping[str, Any]", cassette._metadata)


def get_metadata(cassette: Cassette, key: str, default: Any) -> Any:
    """The kept value of ``key``; ``default`` when the cassette has none (it is kept when recording)."""
    try:
        return cassette.get_metadata(key, default)
    except MissingMetadataError:  # a cassette recorded without it: the live value is all there is
        return default


def set_metadata(cassette: Cassette, values: Mapping[str, Any]) -> None:
    cassette._metadata = dict(values)


def file_of(cassette: Cassette) -> Path:
    return Path(cassette._path)


def play(cassette: Cassette, request: Request) -> dict[str, Any] | None:
    """The recorded answer to ``request`` (marked played), None if the cassette has none to give. vcrpy's own
    ``can_play_response_for`` then ``play_response`` would scrub the request and scan the cassette twice."""
    if cassette.record_mode == RecordMode.ALL or not (cassette.rewound or cassette.allow_playback_repeats):
        return None
    try:
        return cast("dict[str, Any]", cassette.play_response(request))
    except UnhandledHTTPRequestError:
        return None


def append(cassette: Cassette, request: Request, response: dict[str, Any]) -> None:
    cassette.append(request, response)


def save(cassette: Cassette) -> None:
    cassette._save()
