"""Requests to a PVE API on plain keep-alive connections (``wire``), each one through the guard.

``requests`` costs some 1.5 ms of CPU per request (sessions, cookie jars, adapters, pools), five times a
lean keep-alive round trip (``wire.WireConnection``, 0.2 ms with the guard), which is what bounds a parallel
snapshot of a big cluster and the safety proxy. ``DirectChannel`` sends as a guarded proxmoxer client would:
the client's own auth (its API token; or its ticket, renewed by the auth as proxmoxer does, with the CSRF
token on writes), the session's TLS verification, and ``Guard.admit`` before and ``Guard.settle`` after
every request, exactly as ``PolicedAdapter`` does. It is used only where nothing else must see the request:
with a recorder (which records and plays through ``requests``) or an HTTP proxy, callers stay on
``requests``. Idle connections are kept (up to ``pool_size``), checked before reuse (one the server closed
meanwhile is dropped, as urllib3 does), and closed by ``close``. Nothing here imports pytest.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from ..safety.policy import ApiRequest
from . import _proxmoxer
from .guard import Guard, PolicedAdapter
from .wire import WireConnection

POOL_SIZE = 32


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


class _AuthShim:
    """What proxmoxer's auth objects touch of a request: its method and headers."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.headers: dict[str, str] = {}


class DirectChannel:
    """Requests to ``netloc`` (``host:port``) authenticated by ``auth`` (a proxmoxer auth), verified as
    ``verify`` says (a CA file or folder, True for requests' CAs, False for none), each passing ``guard``."""

    def __init__(self, netloc: str, auth: Any, guard: Guard, verify: bool | str | None, timeout: float,
                 pool_size: int = POOL_SIZE) -> None:
        self.netloc = netloc
        self.origin = f"https://{netloc}"
        self.auth = auth
        self.guard = guard
        self.timeout = timeout
        self.context = tls_context(verify)
        self.pool_size = pool_size
        self._idle: list[WireConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _take(self) -> WireConnection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        return WireConnection(self.netloc, self.context, self.timeout)

    def _give_back(self, conn: WireConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

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
        guard's ``SafetyViolation`` (nothing sent), or the ``requests`` exception a session would have."""
        described = ApiRequest.from_http(method, self.origin + target, body)
        decision = self.guard.admit(described)
        sent = {**(headers or {}), **self.auth_headers(method)}
        start = time.perf_counter()
        conn: WireConnection | None = None
        try:
            conn = self._take()
            answer = RawAnswer(*conn.request(method, target, sent, body or None))
            if conn.will_close:
                conn.close()
            else:
                self._give_back(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            failure = as_requests_error(exc)
            self.guard.settle(described, decision, None, (time.perf_counter() - start) * 1000, error=failure)
            if failure is exc:
                raise
            raise failure from exc
        self.guard.settle(described, decision, answer.status, (time.perf_counter() - start) * 1000,
                          answer.body if method != "GET" else None)
        return answer

    def close(self) -> None:
        """Close every idle connection; those in use close when their request ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _dropped(conn: WireConnection) -> bool:
    """Whether the server closed an idle connection (it is readable: EOF, or bytes nobody asked for)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


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
    if isinstance(exc, (OSError, http.client.HTTPException)):
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
