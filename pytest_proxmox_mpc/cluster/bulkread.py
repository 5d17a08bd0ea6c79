"""Many GETs at once (one config per guest), bounded, adaptive, each one through the client's guard.

A snapshot of a 10,000-guest cluster reads 10,000 configs. Sequentially, each costs a round trip; in
parallel, the cost is the client's CPU per request, which for ``requests`` is some 1.5 ms (its sessions,
cookies and adapters), five times a plain ``http.client`` GET. So where nothing else has to see the request
(no recorder, which plays and records through ``requests``, and no HTTP proxy), the reads go out on
``http.client`` keep-alive connections, one per thread, authenticated as the client is (its token, or its
ticket, renewed by its auth as proxmoxer does) and verified as its session is; each passes the same
``Guard.admit`` before and ``Guard.settle`` after, exactly as ``PolicedAdapter`` does. Otherwise they go
through the client itself.

How many are in flight adapts (``Window``): it starts at ``START_IN_FLIGHT`` and grows by one per answer up
to ``MAX_IN_FLIGHT`` while answers come about as fast as the fastest seen; an answer ``SLOW_FACTOR`` times
slower (the cluster is queueing) shrinks it by one, and a "busy" answer (429, 503) halves it and is asked
again after the watch's probe pauses. Any other failure fails the read, as a single request would.
``MAX_IN_FLIGHT`` = 32: at a LAN's 5 ms one client core is saturated well below it (some 10 in flight at
0.5 ms per request), 20-40 ms WAN latency needs this many to stay busy, and a PVE node's pveproxy (3
workers by default) handles 32 concurrent keep-alive GETs of pmxcfs files without trouble; a cluster that
does not is caught by the latency rule long before.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from proxmoxer import ResourceException
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from ..safety.guard import Guard, PolicedAdapter
from ..safety.policy import ApiRequest
from . import _proxmoxer

MAX_IN_FLIGHT = 32
START_IN_FLIGHT = 4
SLOW_FACTOR = 4.0
SLOW_SLACK = 0.002  # seconds: below this, a slower answer is noise, not queueing
BUSY_STATUSES = frozenset({429, 503})
BUSY_PAUSES = (0.2, 0.5, 1.0, 2.0)  # as the watch's connectivity probes


class Window:
    """How many requests may be in flight: grows while answers stay fast, shrinks when they slow down."""

    def __init__(self, start: int = START_IN_FLIGHT, limit: int = MAX_IN_FLIGHT) -> None:
        self.limit = max(1, limit)
        self.size = float(min(max(1, start), self.limit))
        self.in_flight = 0
        self.fastest: float | None = None
        self._cond = threading.Condition()

    def acquire(self) -> None:
        with self._cond:
            while self.in_flight >= int(self.size):
                self._cond.wait()
            self.in_flight += 1

    def release(self, seconds: float | None, busy: bool = False) -> None:
        """One request done, answered after ``seconds`` (None: it failed); ``busy``: the cluster said so."""
        with self._cond:
            self.in_flight -= 1
            if busy:
                self.size = max(1.0, self.size / 2)
            elif seconds is not None:
                self.fastest = seconds if self.fastest is None else min(self.fastest, seconds)
                if seconds > self.fastest * SLOW_FACTOR + SLOW_SLACK:
                    self.size = max(1.0, self.size - 1)
                else:
                    self.size = min(float(self.limit), self.size + 1)
            self._cond.notify_all()


class _Busy(Exception):
    """A 429 or 503 answer: nothing was done, ask again later."""


class _Direct:
    """GETs on ``http.client`` connections (one per thread) as the guarded client would send them."""

    def __init__(self, api: Any, guard: Guard, session: requests.Session) -> None:
        self.base_url = _proxmoxer.base_url_of(api)
        rest = self.base_url.partition("://")[2]
        self.netloc, _, prefix = rest.partition("/")
        self.prefix = "/" + prefix
        self.guard = guard
        self.auth = _proxmoxer.auth_of(api)
        self.timeout = float(getattr(self.auth, "timeout", None) or 30.0)
        self.context = _tls_context(session.verify)
        self._local = threading.local()
        self._all: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(self.netloc, timeout=self.timeout, context=self.context)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _headers(self) -> dict[str, str]:
        shim = _AuthShim()
        self.auth(shim)  # type: ignore[arg-type]  # the token's header; a ticket renewed when due
        ticket = getattr(self.auth, "pve_auth_ticket", None)
        if ticket:
            shim.headers["Cookie"] = f"PVEAuthCookie={ticket}"
        return shim.headers

    def get(self, path: str) -> Any:
        url = f"{self.base_url}/{path}"
        described = ApiRequest.from_http("GET", url, None)
        decision = self.guard.admit(described)
        headers = {**self._headers(), "Accept": "application/json"}
        start = time.perf_counter()
        try:
            conn = self._connection()
            conn.request("GET", f"{self.prefix}/{path}", headers=headers)
            response = conn.getresponse()
            body = response.read()
        except BaseException as exc:
            self._local.conn = None
            failure = _as_requests_error(exc)
            self.guard.settle(described, decision, None, (time.perf_counter() - start) * 1000, error=failure)
            if failure is exc:
                raise
            raise failure from exc
        self.guard.settle(described, decision, response.status, (time.perf_counter() - start) * 1000)
        if response.status in BUSY_STATUSES:
            raise _Busy(str(response.status))
        if response.status >= 400:
            raise ResourceException(response.status, http.client.responses.get(response.status, ""),
                                    response.reason, errors=_errors(body))
        return json.loads(body)["data"]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class _AuthShim:
    """What proxmoxer's auth objects touch of a request: its method and headers."""

    method = "GET"

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}


def _tls_context(verify: Any) -> ssl.SSLContext:
    """The verification the session would do: its CA file or folder, requests' CAs for True, none for False."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    where = DEFAULT_CA_BUNDLE_PATH if verify in (True, None) else str(verify)
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def _as_requests_error(exc: BaseException) -> BaseException:
    """The ``requests`` exception a session would have raised (what callers and the connection health know)."""
    if isinstance(exc, ssl.SSLError):
        return requests.exceptions.SSLError(type(exc).__name__)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return requests.exceptions.ReadTimeout(type(exc).__name__)
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return requests.exceptions.ConnectionError(type(exc).__name__)
    return exc


def _errors(body: bytes) -> Any:
    try:
        return json.loads(body).get("errors")
    except (ValueError, AttributeError):
        return None


def direct_reader(api: Any) -> _Direct | None:
    """The ``http.client`` reader for ``api``, or None where its requests must pass ``requests`` (a recorder,
    an HTTP proxy, a client the guard is not under)."""
    session = _proxmoxer.session_of(api)
    if session is None:
        return None
    adapter = session.adapters.get("https://")
    guard = adapter.guard if isinstance(adapter, PolicedAdapter) else None
    if guard is None or guard.recorder is not None or session.trust_env or session.proxies.get("https") \
            or session.proxies.get("all"):
        return None
    return _Direct(api, guard, session)


def read_many(api: Any, paths: Sequence[str], *, limit: int = MAX_IN_FLIGHT,
              on_request: Callable[[], None] | None = None) -> list[Any]:
    """The answers (``data``) to GET each of ``paths`` (relative to the API root), in order, at most ``limit``
    in flight. The first failure is raised once every request in flight has ended."""
    direct = direct_reader(api)
    get: Callable[[str], Any] = direct.get if direct is not None else (lambda path: api(path).get())
    window = Window(limit=limit)
    answers: list[Any] = [None] * len(paths)
    failures: list[BaseException] = []
    next_index = iter(range(len(paths)))
    lock = threading.Lock()

    def one(index: int) -> None:
        for pause in (*BUSY_PAUSES, None):
            window.acquire()
            start = time.perf_counter()
            try:
                if on_request is not None:
                    on_request()
                answers[index] = get(paths[index])
            except _Busy:
                window.release(None, busy=True)
                if pause is None:
                    raise ResourceException(503, "Service Unavailable", "the cluster stayed busy") from None
                time.sleep(pause)
                continue
            except BaseException:
                window.release(None)
                raise
            window.release(time.perf_counter() - start)
            return

    def worker() -> None:
        while not failures:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            try:
                one(index)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=worker, name=f"pve-read-{n}", daemon=True)
               for n in range(min(window.limit, len(paths)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if direct is not None:
            direct.close()
    if failures:
        raise failures[0]
    return answers
