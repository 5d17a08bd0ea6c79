"""Requests to a PVE API on keep-alive connections spoken with h11, each one through the guard.

Per GET, ``requests`` costs some 0.75 ms of CPU, urllib3 under it 0.3 ms (most of it ``http.client``'s
``email``-based header parsing) and h11, the HTTP/1.1 implementation of the safety proxy's server side, half
of that: this CPU bounds a parallel snapshot of a big cluster and what the proxy adds to each request (on
urllib3, 0.51-0.55 of a direct GET, over its 0.5). ``DirectChannel`` sends as a guarded proxmoxer client
would: the client's auth (its API token, or its ticket, renewed as proxmoxer does, with the CSRF token on
writes), the session's TLS verification, and the guard's one safety path (``Guard.send``). Only where
nothing else must see the request: with a recorder (it records and plays through ``requests``) or an HTTP
proxy, callers stay on ``requests``. h11 writes each request and reads each answer (framing, keep-alive,
interim answers, HEAD); what it would read leniently is refused too (a head over ``MAX_HEAD`` bytes, both
Content-Length and Transfer-Encoding). Idle connections are kept (up to ``pool_size``), dropped once the
server closed them, closed by ``close``; nothing is sent twice. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11
import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from ..safety.policy import ApiRequest
from . import _proxmoxer
from .guard import Guard, PolicedAdapter, injected_answer

POOL_SIZE = 32
MAX_HEAD = 65536  # bytes of an answer's status line and headers, as http.client allows a line
RECEIVE = 16384  # bytes asked of one read: a TLS record's most
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # given Content-Length: 0 when sent without a body
FRAMING = frozenset({"host", "content-length", "transfer-encoding"})  # set here, never taken from a caller
# A header name is an RFC 9110 token; a value holds no line break or NUL (h11 would refuse it too, but with the
# value in its message, and a value may be a credential).
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


class _Connection:
    """A TLS connection to ``host``:``port`` and h11's state of it; one request at a time."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)

    def exchange(self, request: h11.Request, body: bytes | None) -> RawAnswer:
        """Send ``request`` (and ``body``) in one write; the final answer, read whole."""
        data = self.http.send(request)
        if body:
            data += self.http.send(h11.Data(data=body))
        self.sock.sendall(data + self.http.send(h11.EndOfMessage()))
        head: h11.Response | None = None
        parts: list[bytes] = []
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(self.sock.recv(RECEIVE))
            elif isinstance(event, h11.Response):
                head = _checked(event)
            elif isinstance(event, h11.Data):
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in head.headers.raw_items()]
                return RawAnswer(head.status_code, head.reason.decode("latin-1"), headers, b"".join(parts))
            elif not isinstance(event, h11.InformationalResponse):  # 1xx: the final answer follows
                raise h11.RemoteProtocolError("the connection ended before the answer did")

    def reusable(self) -> bool:
        """Whether the last exchange left the connection open for the next (then it is made ready for it)."""
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
            return True
        return False

    def dropped(self) -> bool:
        """Whether the server closed it while it was idle (it is readable: EOF, or bytes nobody asked for)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        self.sock.close()


def _checked(head: h11.Response) -> h11.Response:
    """``head``, unless h11 read it leniently: over ``MAX_HEAD`` bytes (h11 holds back only what is over its
    limit when it needs more), or both Content-Length and Transfer-Encoding (the shape of response splitting;
    RFC 9112 6.3 makes it an error)."""
    items = head.headers.raw_items()
    if sum(len(name) + len(value) + 4 for name, value in items) + len(head.reason) + 15 > MAX_HEAD:
        raise h11.RemoteProtocolError("the answer's head is too long")
    names = {name.lower() for name, _ in items}
    if b"content-length" in names and b"transfer-encoding" in names:
        raise h11.RemoteProtocolError("both Content-Length and Transfer-Encoding")
    return head


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
        where = urlsplit(f"//{netloc}")
        self.host, self.port = where.hostname or "", where.port or 443
        self.netloc = netloc
        self.origin = f"https://{netloc}"
        self.auth = auth
        self.guard = guard
        self.timeout = timeout
        self.context = tls_context(verify)
        self.pool_size = pool_size
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

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
        fault = self.guard.inject(described)
        if fault is not None:  # answered in the cluster's place, never sent (a broken connection raises)
            return RawAnswer(*injected_answer(fault))
        return self.guard.send(described, lambda: self._transmit(method, target, given, body or None))

    def _transmit(self, method: str, target: str, headers: dict[str, str],
                  body: bytes | None) -> tuple[RawAnswer, int, bytes | None]:
        sent = [("Host", self.netloc), *headers.items(), *self.auth_headers(method).items()]
        if not any(name.lower() == "accept-encoding" for name in headers):
            sent.append(("Accept-Encoding", "identity"))  # a compressed body would reach the caller as it came
        if body or method in BODY_METHODS:
            sent.append(("Content-Length", str(len(body or b""))))
        try:
            request = h11.Request(method=method, target=target,
                                  headers=[(name.encode("ascii"), value.encode("latin-1")) for name, value in sent])
        except (h11.LocalProtocolError, UnicodeEncodeError):
            raise ValueError(f"{method} of this target cannot be sent as HTTP/1.1") from None
        conn: _Connection | None = None
        try:
            conn = self._take()
            answer = conn.exchange(request, body)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            failure = as_requests_error(exc)
            if failure is exc:
                raise
            # h11's message quotes the offending bytes of the answer, which may hold a credential: not chained.
            raise failure from (None if isinstance(exc, h11.ProtocolError) else exc)
        self._give_back(conn)
        return answer, answer.status, answer.body if method != "GET" else None

    def _take(self) -> _Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.dropped():
                    return conn
                conn.close()
        return _Connection(self.host, self.port, self.context, self.timeout)

    def _give_back(self, conn: _Connection) -> None:
        if conn.reusable():
            with self._lock:
                if not self._closed and len(self._idle) < self.pool_size:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        """Close every idle connection; those in use close when their request ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def check_headers(headers: Mapping[str, str]) -> None:
    """``ValueError`` naming the first header that cannot be sent as it is (a value is never shown)."""
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise ValueError("a header name is not an HTTP token")
        if FORBIDDEN_IN_VALUE.search(value):
            raise ValueError(f"the value of header {name} holds a line break or NUL")


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
    """The ``requests`` exception a session would have raised (what callers and the connection health know);
    its text is the class of what happened only (never an address with a query)."""
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(type(exc).__name__)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return requests.exceptions.ReadTimeout(type(exc).__name__)
    if isinstance(exc, (OSError, h11.ProtocolError)):
        return requests.exceptions.ConnectionError(type(exc).__name__)
    return exc


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
