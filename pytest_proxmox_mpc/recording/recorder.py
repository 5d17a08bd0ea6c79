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
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from ..errors import CassetteError, InvalidInput
from ..safety.policy import LOGIN_PATH
from ..safety.redact import is_secret_header, redact_params
from . import _vcr
from ._vcr import Cassette, Request
from .anonymize import Anonymizer
from .layout import PLACEHOLDER, RECORD_MODES, SESSION_DIR, cassette_name
from .provenance import FORMAT, FORMAT_KEY, RECORDED_AGAINST, Provenance

__all__ = ["MATCH_ON", "PLACEHOLDER", "RECORDED_BY", "RECORD_MODES", "SESSION_DIR", "CassetteError", "Recorder",
           "cassette_name", "scrub_body", "scrub_request", "scrub_response"]

RECORDED_BY = "recorded_by_run"  # cassette metadata: the run that wrote it
_VOLATILE = [(re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}"), "<run>"),
             (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"), "<time>"),
             (re.compile(r";alive-\d+"), ""),  # a temporary guest's liveness tag (cassettes from before it match)
             # A temporary guest's description names its test by node ID, whose file part depends on where the
             # suite was run from (``validation/test_x.py::t`` in a clone, ``test_x.py::t`` or ``::t`` installed):
             # the test is what identifies it (its module's cassette is where the request is looked for).
             (re.compile(r"(?m)^test: [^\n:]*::"), "test: ::")]


def _kept_header(name: str) -> bool:
    # Content-Length goes too: the length of a login body is the length of the password.
    return not is_secret_header(name) and name.lower() != "content-length"


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
    headers = {k: v for k, v in (request.headers or {}).items() if _kept_header(k)}
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
    headers = {k: v for k, v in response.get("headers", {}).items() if _kept_header(k)}
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


MATCH_ON: tuple[Callable[[Request, Request], None], ...] = (*_vcr.MATCHERS, pve_body)


class Recorder:
    """Switches between cassettes as tests and fixtures run, and plays or records through the current one."""

    def __init__(self, directory: Path, mode: str, anonymizer: Anonymizer | None = None, run_id: str = "") -> None:
        if mode not in RECORD_MODES:
            raise InvalidInput(f"record mode must be one of {', '.join(RECORD_MODES)}")
        self.directory, self.mode, self.anonymizer, self.run_id = directory, mode, anonymizer, run_id
        self._stack: list[tuple[Path, str]] = []
        self._loaded: dict[Path, Cassette] = {}
        self._sequence: dict[tuple[Path, str], int] = {}
        self._lock = threading.Lock()  # the inventory reads guest configs from several threads at once
        self.recorded_against: Provenance | None = None  # kept in every cassette written, once the run knows it

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
            mode = {"rewrite": "all"}.get(self.mode, self.mode)
            cassette = _vcr.open_cassette(where, mode, MATCH_ON, scrub_request, self._on_save)
            if self.mode != "none" and self.run_id and _vcr.metadata(cassette).get(RECORDED_BY) == self.run_id:
                # Another xdist worker of this run recorded it (a session fixture runs once per worker):
                # this worker records its own rather than replaying the other's login to a live cluster.
                cassette = _vcr.open_cassette(where, mode, MATCH_ON, scrub_request, self._on_save, fresh=True)
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
        return _vcr.get_metadata(cassette, key, value)

    def recall(self, key: str, sequence: bool = False) -> Any:
        """What the next ``remember(key, ...)`` would return in place of its value (the kept one), None if the
        current cassette keeps none: a caller skips working out a value, and the requests that takes, where a
        replay would not use it. Keeps nothing and does not advance a ``sequence``."""
        if not self._stack:
            return None
        with self._lock:
            cassette = self._cassette()
            if sequence:
                key = f"{key}.{self._sequence.get((self._stack[-1][0], key), 0)}"
            return _vcr.metadata(cassette).get(key)

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
            recorded = _vcr.play(cassette, request)
        if recorded is not None and not live_login:
            return _response(recorded, prepared)
        if recorded is None and cassette.write_protected and not live_login:
            scrubbed = scrub_request(request)
            where = _vcr.file_of(cassette)
            missing = "" if where.exists() else " (the file does not exist)"
            raise CassetteError(f"no recorded answer for {prepared.method} {urlsplit(scrubbed.uri).path} in "
                                f"cassette {where}{missing}; record it with: pytest '{self._stack[-1][1]}' "
                                "--pve-record-mode new_episodes (on the sim target or a live cluster)")
        real = send_real()
        if recorded is not None or cassette.write_protected:  # a login the cassette holds already
            return real
        with self._lock:
            _vcr.append(cassette, request, {"status": {"code": real.status_code, "message": real.reason},
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
            if not cassette.dirty:
                continue
            kept = dict(_vcr.metadata(cassette))
            if self.run_id:
                kept[RECORDED_BY] = self.run_id
            if self.recorded_against is not None:
                kept[FORMAT_KEY], kept[RECORDED_AGAINST] = FORMAT, self.recorded_against.as_metadata()
            if self.anonymizer is not None:  # remembered values name nodes too
                kept = {key: self.anonymizer.rewrite(value) if isinstance(value, str) else value
                        for key, value in kept.items()}
            _vcr.set_metadata(cassette, kept)
            _vcr.save(cassette)


def _body(response: dict[str, Any]) -> Any:
    return response.get("body", {}).get("string", b"")


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")


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

