"""Record and replay: every request the guard lets through is played from, or recorded to, a vcrpy cassette.

Recording sits in the guard's transport adapter, under the policy and above the socket, so a refused
request is never recorded, and the cassette in use follows the test (or the session- or module-scoped
fixture) the request belongs to. Everything is scrubbed before it is kept, and matching compares the
scrubbed forms:

- the base URL becomes ``PLACEHOLDER``, so a cassette recorded on any cluster replays anywhere;
- the headers ``Authorization``, ``Cookie``, ``Set-Cookie``, ``CSRFPreventionToken`` are dropped;
- secret-named form parameters (the login's password, ...) and answer fields (the ticket, a token's
  value, ...) become ``***``;
- the run id and timestamps in request bodies are ignored when matching, so another run's names match.

Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import yaml
from requests.structures import CaseInsensitiveDict
from vcr.cassette import Cassette
from vcr.errors import MissingMetadataError, UnhandledHTTPRequestError
from vcr.matchers import method, path, query
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serialize import deserialize, serialize

from .anonymize import Anonymizer
from .policy import LOGIN_PATH
from .redact import SECRET_HEADERS, redact_params

PLACEHOLDER = "https://pve.cassette.invalid:8006"
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
RECORDED_BY = "recorded_by_run"  # cassette metadata: the run that wrote it
SESSION_DIR = "_session"  # cassettes of session-scoped fixtures, below the cassette directory
_VOLATILE = [(re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}"), "<run>"),
             (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"), "<time>")]


_DROPPED_HEADERS = SECRET_HEADERS | {"content-length"}


class CassettePersister(FilesystemPersister):  # type: ignore[misc]
    """vcrpy's file persister, with two changes. Loading parses the file once and turns a broken one into a
    ``CassetteError`` naming file and line (vcrpy would log a warning and treat it as empty). Saving writes
    through a temporary file and a rename: xdist workers that save the same session cassette never leave a
    torn file, and a run killed mid-write leaves the old cassette whole."""

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"cassette {path}: cannot be read ({exc})") from None
        try:
            return deserialize(text, serializer)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise CassetteError(f"cassette {where}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax'}); "
                                "re-record it or restore it from version control") from None
        except (KeyError, TypeError, AttributeError, ValueError):
            raise CassetteError(f"cassette {path}: not a vcrpy cassette (no interactions list)") from None

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        path = Path(cassette_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(serialize(cassette_dict, serializer))
        os.replace(temporary, path)


class CassetteError(RuntimeError):
    """A cassette that cannot be used: one line naming the file and what to do."""


def _form(body: Any) -> dict[str, str] | None:
    if body in (None, b"", ""):
        return {}
    try:
        return dict(parse_qsl(_text(body), keep_blank_values=True, strict_parsing=True))
    except ValueError:
        return None


def scrub_request(request: Request) -> Request:
    """A copy of ``request`` as it may be kept: placeholder host, no credential headers, secrets masked."""
    parts = urlsplit(request.uri)
    uri = PLACEHOLDER + parts.path + (f"?{urlencode(redact_params(dict(parse_qsl(parts.query))))}"
                                      if parts.query else "")
    # Content-Length goes too: the length of a login body is the length of the password.
    headers = {k: v for k, v in (request.headers or {}).items() if k.lower() not in _DROPPED_HEADERS}
    form = _form(request.body)
    body = urlencode(sorted(redact_params(form).items())).encode() if form else (b"" if form == {} else b"<opaque>")
    return Request(request.method, uri, body, headers)


def scrub_body(raw: Any) -> Any:
    """An answer's body as it may be kept: a JSON object with its secret-named fields masked; anything else
    as it is."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return raw
    return json.dumps(redact_params(data), separators=(",", ":")).encode() if isinstance(data, dict) else raw


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """A recorded answer without cookies and with secret-named JSON fields masked."""
    headers = {k: v for k, v in response.get("headers", {}).items() if k.lower() not in _DROPPED_HEADERS}
    return {**response, "headers": headers, "body": {"string": scrub_body(_body(response))}}


def _normalised(body: Any) -> dict[str, str] | bytes:
    form = _form(body)
    if form is None:
        return body if isinstance(body, bytes) else str(body).encode()
    out = {}
    for key, value in form.items():
        if key == "username":  # the login's user: with --pve-anonymize a pseudonym, and the password is *** anyway
            continue
        for pattern, stand_in in _VOLATILE:
            value = pattern.sub(stand_in, value)
        out[key] = value
    return out


def pve_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: the same form fields, run ids and timestamps aside."""
    assert _normalised(r1.body) == _normalised(r2.body), "the bodies differ"


MATCH_ON: tuple[Callable[[Request, Request], None], ...] = (method, path, query, pve_body)


class Recorder:
    """Switches between cassettes as tests and fixtures run, and plays or records through the current one."""

    def __init__(self, directory: Path, mode: str, anonymizer: Anonymizer | None = None, run_id: str = "") -> None:
        if mode not in RECORD_MODES:
            raise ValueError(f"record mode must be one of {', '.join(RECORD_MODES)}")
        self.directory, self.mode, self.anonymizer, self.run_id = directory, mode, anonymizer, run_id
        self._stack: list[tuple[Path, str]] = []
        self._loaded: dict[Path, Cassette] = {}
        self._sequence: dict[tuple[Path, str], int] = {}
        self._lock = threading.Lock()  # the inventory reads guest configs from several threads at once

    @property
    def replaying_only(self) -> bool:
        return self.mode == "none"

    def push(self, relative: str, selector: str) -> None:
        """Use the cassette ``relative`` (to the cassette directory, without ``.yaml``) until ``pop``;
        ``selector`` is what to give pytest to run (and so record) what uses it."""
        self._stack.append((self.directory / (relative + ".yaml"), selector))

    def pop(self) -> None:
        if self._stack:
            self._stack.pop()

    def _cassette(self) -> Cassette:
        if not self._stack:
            raise CassetteError("a request outside any test or fixture: no cassette to record it in")
        where = self._stack[-1][0]
        if where not in self._loaded:
            if self.mode == "rewrite":
                where.unlink(missing_ok=True)
            options = dict(path=str(where), record_mode=RecordMode({"rewrite": "all"}.get(self.mode, self.mode)),
                           match_on=MATCH_ON, before_record_request=scrub_request, persister=CassettePersister,
                           before_save_interaction=self._on_save)
            cassette = Cassette.load(**options)
            if self.mode != "none" and self.run_id and cassette._metadata.get(RECORDED_BY) == self.run_id:
                # Another xdist worker of this run recorded it (a session fixture runs once per worker):
                # this worker records its own rather than replaying the other's login to a live cluster.
                cassette = Cassette(**options)
            self._loaded[where] = cassette
        return self._loaded[where]

    def remember(self, key: str, value: Any, sequence: bool = False) -> Any:
        """``value`` when recording (it is kept in the current cassette's metadata), the kept value when
        replaying: so what a test derives from its run (the run id, the VMIDs it got) replays identically.
        With ``sequence``, each call in the cassette is a separate entry (``key.0``, ``key.1``, ...)."""
        if not self._stack:
            return value
        with self._lock:
            cassette = self._cassette()
            if sequence:
                slot = (self._stack[-1][0], key)
                index = self._sequence.get(slot, 0)
                self._sequence[slot] = index + 1
                key = f"{key}.{index}"
        try:
            return cassette.get_metadata(key, value)
        except MissingMetadataError:  # a cassette recorded without it: the live value is all there is
            return value

    def send(self, prepared: requests.PreparedRequest, send_real: Callable[[], requests.Response],
             ) -> requests.Response:
        """Play the answer to ``prepared`` from the current cassette, or send it and record the answer."""
        request = Request(prepared.method, prepared.url, prepared.body, dict(prepared.headers))
        # A recorded login opens nothing on a cluster: its ticket was scrubbed, and a sim is new each run. Unless
        # the run only replays, the login goes to the cluster, so the requests no cassette answers yet can follow.
        live_login = not self.replaying_only and request.method == "POST" and urlsplit(
            request.uri).path.endswith(LOGIN_PATH)
        with self._lock:
            cassette = self._cassette()
            recorded = _play(cassette, request)
        if recorded is not None and not live_login:
            return _response(recorded, prepared)
        if recorded is None and cassette.write_protected and not live_login:
            scrubbed = scrub_request(request)
            missing = "" if Path(cassette._path).exists() else " (the file does not exist)"
            raise CassetteError(f"no recorded answer for {prepared.method} {urlsplit(scrubbed.uri).path} in "
                                f"cassette {cassette._path}{missing}; record it with: pytest '{self._stack[-1][1]}' "
                                "--pve-record-mode new_episodes (on the sim target or a live cluster)")
        real = send_real()
        if recorded is not None or cassette.write_protected:  # a login the cassette holds already
            return real
        with self._lock:
            cassette.append(request, {"status": {"code": real.status_code, "message": real.reason},
                                      "headers": {k: [v] for k, v in real.headers.items()},
                                      "body": {"string": real.content}})
        return real

    def _on_save(self, request: Request, response: dict[str, Any]) -> tuple[Request, dict[str, Any]]:
        # Answers are scrubbed as they are written, not as they are loaded: a cassette read back from disk is
        # scrubbed already, and walking a 10,000-guest answer again on every load would cost more than the replay.
        response = scrub_response(response)
        if self.anonymizer is None:
            return request, response
        rewrite = self.anonymizer.rewrite
        request = Request(request.method, rewrite(request.uri), rewrite(_text(request.body)).encode(), request.headers)
        return request, {**response, "body": {"string": rewrite(_text(_body(response))).encode()}}

    def save(self) -> None:
        """Write every cassette that recorded something. Holds the lock: a tool behind the safety proxy may
        still be sending when the run ends, and its answer must land in a cassette before or after the
        write, not while the cassette is being serialised."""
        with self._lock:
            self._save_all()

    def _save_all(self) -> None:
        if self.anonymizer is not None:  # learn every name first, so each cassette is rewritten with all of them
            self.anonymizer.learn(text for cassette in self._loaded.values() if cassette.dirty
                                  for request, response in cassette.data
                                  for text in (request.uri, _text(request.body), _text(_body(response))))
        for cassette in self._loaded.values():
            if cassette.dirty and self.run_id:
                cassette._metadata[RECORDED_BY] = self.run_id
            if cassette.dirty and self.anonymizer is not None:  # remembered values name nodes too
                cassette._metadata = {key: self.anonymizer.rewrite(value) if isinstance(value, str) else value
                                      for key, value in cassette._metadata.items()}
            if cassette.dirty:
                cassette._save()


def _play(cassette: Cassette, request: Request) -> dict[str, Any] | None:
    """The recorded answer to ``request`` (marked played), None if the cassette has none to give. vcrpy's own
    ``can_play_response_for`` then ``play_response`` would scrub the request and scan the cassette twice."""
    if cassette.record_mode == RecordMode.ALL or not (cassette.rewound or cassette.allow_playback_repeats):
        return None
    try:
        return cast("dict[str, Any]", cassette.play_response(request))
    except UnhandledHTTPRequestError:
        return None


def _body(response: dict[str, Any]) -> Any:
    return response.get("body", {}).get("string", b"")


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")


def cassette_name(text: str) -> str:
    """A file-system-safe name: anything but letters, digits, ``._-`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "_"


def _response(recorded: dict[str, Any], prepared: requests.PreparedRequest) -> requests.Response:
    response = requests.Response()
    response.status_code = int(recorded["status"]["code"])
    response.reason = recorded["status"].get("message", "")
    response.headers = CaseInsensitiveDict({k: ", ".join(v) if isinstance(v, list) else v
                                            for k, v in recorded.get("headers", {}).items()})
    body = _body(recorded)
    response._content = body.encode() if isinstance(body, str) else body
    response.url = prepared.url or ""
    response.request = prepared
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    return response

