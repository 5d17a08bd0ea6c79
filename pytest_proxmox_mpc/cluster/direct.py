"""Requests to a PVE API on urllib3's keep-alive connection pool, each one through the guard.

``requests`` costs some 0.7 ms of CPU per request on top of urllib3, which sends and reads it (sessions,
cookie jars, adapters, hooks), twice what urllib3 costs alone; that CPU bounds a parallel snapshot of a big
cluster and the safety proxy. ``DirectChannel`` sends with urllib3 directly, as a guarded proxmoxer client
would: the client's own auth (its API token; or its ticket, renewed by the auth as proxmoxer does, with the
CSRF token on writes), the session's TLS verification, and the guard's one safety path (``Guard.send``), as
``PolicedAdapter`` sends. It is used only where nothing else must see the request: with a recorder (which
records and plays through ``requests``) or an HTTP proxy, callers stay on ``requests``. urllib3 keeps idle
connections (up to ``pool_size``), checks them before reuse (one the server closed meanwhile is dropped) and
never retries or follows a redirect here: each request the guard admitted is sent once. Nothing here imports
pytest.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
import urllib3.connection
import urllib3.util.response
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util import SKIP_HEADER

from ..safety.guard import Guard, PolicedAdapter
from ..safety.policy import ApiRequest
from . import _proxmoxer

POOL_SIZE = 32
FRAMING = frozenset({"host", "content-length", "transfer-encoding"})  # urllib3's to set, never taken from a caller
# A header name is an RFC 9110 token; a value holds no line break or NUL (urllib3 would refuse it too, but with
# the value in its message, and a value may be a credential).
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class RawAnswer:
    """An answer as it came: status, reason phrase, headers in order, and the whole body."""

    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def data(self) -> Any:
        """The ``data`` of PVE's JSON answer."""
        return json.loads(self.body)["data"]

    def errors(self) -> Any:
        """The ``errors`` of PVE's JSON error answer (None when there are none or it is not JSON)."""
        try:
            return json.loads(self.body).get("errors")
        except (ValueError, AttributeError):
            return None


class _StrictAnswer(http.client.HTTPResponse):
    """http.client's answer, whose header lines must all parse: urllib3 only logs those that do not, and the
    answer (its body taken to be whatever followed) would pass for a whole one."""

    def begin(self) -> None:
        super().begin()
        urllib3.util.response.assert_header_parsing(self.msg)  # HeaderParsingError: the connection is closed


class _StrictConnection(urllib3.connection.HTTPSConnection):
    response_class = _StrictAnswer


class _Pool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _StrictConnection


class _AuthShim:
    """What proxmoxer's auth objects touch of a request: its method and headers."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.headers: dict[str, str] = {}


class DirectChannel:
    """Requests to ``netloc`` (``host:port``, ``[v6]:port``) authenticated by ``auth`` (a proxmoxer auth),
    verified as ``verify`` says (a CA file or folder, True for requests' CAs, False for none), each taking
    ``guard``'s safety path."""

    def __init__(self, netloc: str, auth: Any, guard: Guard, verify: bool | str | None, timeout: float,
                 pool_size: int = POOL_SIZE) -> None:
        self.netloc = netloc
        self.origin = f"https://{netloc}"
        self.auth = auth
        self.guard = guard
        self.timeout = timeout
        where = urllib3.util.parse_url(self.origin)
        # block=False: a request finding every pooled connection busy opens one more, closed after its answer.
        self.pool = _Pool(
            where.host or "", where.port or 443, timeout=urllib3.Timeout(connect=timeout, read=timeout),
            maxsize=pool_size, block=False, retries=False, ssl_context=tls_context(verify))
        self._once = urllib3.Retry(total=False, redirect=False)  # made once: urlopen would make one per request

    def auth_headers(self, method: str) -> dict[str, str]:
        """The headers ``auth`` adds to a ``method`` request (a ticket is renewed here when due)."""
        shim = _AuthShim(method)
        self.auth(shim)
        ticket = getattr(self.auth, "pve_auth_ticket", None)
        if ticket:
            shim.headers["Cookie"] = f"PVEAuthCookie={ticket}"
        return shim.headers

    def send(self, method: str, target: str, headers: Mapping[str, str] | None = None,
             body: bytes | None = None) -> RawAnswer:
        """``method target`` (path and query) with ``headers`` and the auth's, through the guard: raises the
        guard's ``SafetyViolation`` (nothing sent), ``ValueError`` for a header no HTTP message can carry
        (nothing sent), or the ``requests`` exception a session would have."""
        described = ApiRequest.from_http(method, self.origin + target, body)
        given = {name: value for name, value in (headers or {}).items() if name.lower() not in FRAMING}
        check_headers(given)
        return self.guard.send(described, lambda: self._transmit(method, target, given, body or None))

    def _transmit(self, method: str, target: str, headers: dict[str, str],
                  body: bytes | None) -> tuple[RawAnswer, int, bytes | None]:
        sent = {**headers, **self.auth_headers(method)}
        if not any(name.lower() == "user-agent" for name in sent):
            sent["User-Agent"] = SKIP_HEADER  # only what the caller sent (urllib3 would add its own)
        try:
            response = self.pool.urlopen(method, target, body=body, headers=sent, retries=self._once, redirect=False,
                                         assert_same_host=False, preload_content=False)
            try:
                check_framing(response)
                content = response.data
            except BaseException:
                response.close()  # its connection too: what follows on it cannot be trusted
                raise
            finally:
                response.release_conn()
        except (Urllib3Error, OSError) as exc:
            raise as_requests_error(exc) from exc
        headers_in_order = [(name, " ".join(value.split()) if "\n" in value else value)  # obsolete folding
                            for name, value in response.headers.items()]
        answer = RawAnswer(response.status, response.reason or "", headers_in_order, content)
        return answer, answer.status, answer.body if method != "GET" else None

    def close(self) -> None:
        """Close every idle connection; those in use close when their request ends."""
        self.pool.close()


def check_headers(headers: Mapping[str, str]) -> None:
    """``ValueError`` naming the first header that cannot be sent as it is (a value is never shown)."""
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise ValueError("a header name is not an HTTP token")
        if FORBIDDEN_IN_VALUE.search(value):
            raise ValueError(f"the value of header {name} holds a line break or NUL")


def check_framing(response: urllib3.BaseHTTPResponse) -> None:
    """``urllib3.exceptions.ProtocolError`` for an answer whose length urllib3 would guess (RFC 9112 6.3 makes
    each an error): a Content-Length that is no length (read to the end of the connection), or one beside
    Transfer-Encoding (the shape of response splitting)."""
    length = response.headers.get("Content-Length")
    if length is None:
        return
    if "Transfer-Encoding" in response.headers:
        raise urllib3.exceptions.ProtocolError("both Content-Length and Transfer-Encoding")
    if len({part.strip() for part in length.split(",")}) != 1 or not length.split(",")[0].strip().isdigit():
        raise urllib3.exceptions.ProtocolError("Content-Length is not a length")


def tls_context(verify: Any) -> ssl.SSLContext:
    """The verification a ``requests`` session with ``verify`` does: its CA file or folder, requests' CA bundle
    for True, none for False."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    where = DEFAULT_CA_BUNDLE_PATH if verify in (True, None) else str(verify)
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def as_requests_error(exc: BaseException) -> BaseException:
    """The ``requests`` exception a session would have raised for a urllib3 (or socket) failure (what callers
    and the connection health know); its text is the class of what happened only (never an address)."""
    name = type(exc).__name__
    if isinstance(exc, (urllib3.exceptions.SSLError, ssl.SSLError)):
        return requests.exceptions.SSLError(name)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError, for history
        return requests.exceptions.ConnectionError(name)
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(name)
    if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError)):
        return requests.exceptions.ReadTimeout(name)
    return requests.exceptions.ConnectionError(name)


def guarded_session(api: Any) -> tuple[Guard, requests.Session] | None:
    """(the guard, the session) of a policed proxmoxer client whose requests need nothing but the guard: None
    with a recorder, an HTTP proxy, or no guard under it (such a client's requests stay on ``requests``)."""
    session = _proxmoxer.session_of(api)
    if session is None:
        return None
    adapter = session.adapters.get("https://")
    guard = adapter.guard if isinstance(adapter, PolicedAdapter) else None
    if guard is None or not plain_route(guard, session):
        return None
    return guard, session


def plain_route(guard: Guard, session: requests.Session) -> bool:
    """Whether ``session``'s requests may go out on a ``DirectChannel``: no recorder on ``guard``, the
    environment settled (``client.pin_environment``), no HTTP proxy."""
    return (guard.recorder is None and not session.trust_env and not session.proxies.get("https")
            and not session.proxies.get("all"))


def channel_of(api: Any, pool_size: int = POOL_SIZE) -> DirectChannel | None:
    """A ``DirectChannel`` sending as ``api`` does (see ``guarded_session``), or None."""
    found = guarded_session(api)
    if found is None:
        return None
    guard, session = found
    netloc = _proxmoxer.base_url_of(api).partition("://")[2].partition("/")[0]
    auth = _proxmoxer.auth_of(api)
    return DirectChannel(netloc, auth, guard, session.verify, float(getattr(auth, "timeout", None) or 30.0),
                         pool_size)
