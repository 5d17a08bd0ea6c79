"""The safety proxy's HTTPS server: threads per connection, HTTP/1.1 keep-alive on h11, bodies read whole.

It knows nothing of PVE: each request (method, target, headers, body) is handed to a function that returns
the ``Answer``, sent in one write with a ``Content-Length``. h11 (a maintained HTTP/1.1 implementation: a
request parser is where a hand-written proxy risks request smuggling and header injection) reads requests
and writes answers. Beyond what h11 refuses (malformed lines, bytes no header may hold, conflicting lengths,
codings but chunked), a request is refused, never handed on, with both ``Content-Length`` and
``Transfer-Encoding`` (RFC 9112 6.3: an ambiguous length, the shape of smuggling) or the latter in HTTP/1.0,
over ``MAX_HEADERS`` headers, a head over ``MAX_HEAD`` bytes (414 for the request line, else 431), a body
over ``max_body`` (413, unread when its length says so) or an HTTP version but 1.x (505). Its answer, with
the server's own message (h11's quote the offending line, perhaps a credential), ends the connection. A
client asking for ``100 Continue`` gets it before its body is read. Nothing is logged but method and path
(never a query, a header or a body). Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import h11

from ..cluster.direct import RawAnswer
from .tls import make_certificate, server_context

LOG = logging.getLogger("pytest_proxmox_mpc.proxy")
MAX_BODY = 64 * 1024 ** 2  # bytes of a request body, as fakepve's and near PVE's own limit
MAX_HEAD = 65536  # bytes of a request line and its headers
MAX_HEADERS = 100
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may stay silent
HANDSHAKE_TIMEOUT = 10.0
LINGER = 2.0  # seconds a refused client's remaining bytes are read (and dropped) before its connection closes
RECEIVE = 16384  # bytes asked of one read: a TLS record's most
SERVER_NAME = b"pytest-proxmox-mpc-proxy"
FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})  # the server's, never an answer's
REFUSALS = {400: "malformed request", 413: "request body too large", 414: "the request line is too long",
            431: "request headers too large or too many", 501: "unsupported Transfer-Encoding (only chunked is)",
            505: "HTTP version not supported (only HTTP/1.x is)"}
NOT_IN_A_PHRASE = re.compile(r"[^\x20-\x7e\xa0-\xff]+")  # controls (CR, LF among them) never reach the wire


@dataclass(frozen=True)
class Answer(RawAnswer):
    """What the proxy sends back: status, reason phrase, headers (without Content-Length) and body."""


@dataclass(frozen=True)
class Broken(Answer):
    """An answer broken off (an injected fault): the first ``cut`` of its bytes are sent, then the connection ends
    without TLS's close_notify (the client's read fails as on a reset); with ``cut`` 0, without a byte."""

    cut: float = 0.0


Exchange = Callable[[str, str, Mapping[str, str], bytes], Answer]


class _Refused(Exception):
    """A request that is not served: answered with its status (``args[0]``); the connection ends."""


class _Connection:
    """One client's keep-alive connection: requests read and answered in turn until either side ends it."""

    def __init__(self, tls: ssl.SSLSocket, server: _Server) -> None:
        self.tls, self.server = tls, server
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)

    def serve(self) -> None:
        try:
            while self.one():
                self._next_cycle()
        except (OSError, ValueError) as exc:  # a client gone, a timeout, TLS trouble: nothing to answer
            LOG.debug("connection ended: %s", type(exc).__name__)

    def one(self) -> bool:
        """Serve one request; whether the connection goes on."""
        try:
            request = self._receive()
            if not isinstance(request, h11.Request):
                return False  # the client closed the connection between requests
            method, target = request.method.decode("ascii"), request.target.decode("ascii")
            items = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw_items()]
            headers = _Headers(items)
            self._check(request, items, headers)
            if self.http.they_are_waiting_for_100_continue:  # the client waits for it to send the body
                self.tls.sendall(self.http.send(h11.InformationalResponse(status_code=100, headers=[],
                                                                          reason=b"Continue")))
            body = self._body()
        except (h11.RemoteProtocolError, _Refused) as exc:
            self._refuse(exc.args[0] if isinstance(exc, _Refused) else self._status_of(exc))
            return False
        answer = self.server.exchange(method, target, headers, body)
        LOG.debug("%s %s %s", method, target.split("?")[0], answer.status)
        if isinstance(answer, Broken):
            self._send(method, answer, cut=answer.cut)
            self._linger()  # ended without TLS's close_notify: the client finds the answer cut off
            return False
        self._send(method, answer)
        return self.http.our_state is h11.DONE  # not MUST_CLOSE: the client did not ask to end it

    def _check(self, request: h11.Request, items: list[tuple[str, str]], headers: _Headers) -> None:
        if request.http_version not in (b"1.0", b"1.1"):
            raise _Refused(505)
        line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
        if line > MAX_HEAD:  # h11 holds back only what is over its limit when more is needed: this is exact
            raise _Refused(414)
        if len(items) > MAX_HEADERS or line + sum(len(n) + len(v) + 4 for n, v in items) + 2 > MAX_HEAD:
            raise _Refused(431)
        if headers.get("Transfer-Encoding") is not None and (
                headers.get("Content-Length") is not None or request.http_version == b"1.0"):
            raise _Refused(400)  # RFC 9112 6.1, 6.3: framing an HTTP/1.0 message by Transfer-Encoding is faulty
        if int(headers.get("Content-Length") or 0) > self.server.max_body:  # h11 checked it is a number
            raise _Refused(413)

    def _body(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            event = self._receive()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.server.max_body:
                    raise _Refused(413)
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:
                raise _Refused(400)

    def _receive(self) -> h11.Event:
        """The next event of the client's side, reading from the connection as h11 needs (never PAUSED: a
        cycle starts only once its predecessor is done)."""
        while not isinstance(event := self.http.next_event(), h11.Event):
            if event is h11.PAUSED:
                raise _Refused(400)
            self._feed(self.tls.recv(RECEIVE))
        return event

    def _feed(self, data: bytes) -> None:
        """Give h11 what was read (b"": the client closed); empty lines before a request line are dropped
        (RFC 9112 2.2: a server ignores at least one)."""
        if data[:1] in (b"\r", b"\n") and self.http.their_state is h11.IDLE and not self.http.trailing_data[0]:
            data = data.lstrip(b"\r\n")
            if not data:
                return
        self.http.receive_data(data)

    def _next_cycle(self) -> None:
        self.http.start_next_cycle()
        leftover, closed = self.http.trailing_data
        if leftover[:1] in (b"\r", b"\n"):  # the next request, pipelined behind empty lines: read it afresh
            self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
            self._feed(leftover)
            if closed:
                self.http.receive_data(b"")

    def _status_of(self, error: h11.RemoteProtocolError) -> int:
        status = error.error_status_hint if error.error_status_hint in REFUSALS else 400
        if status == 431 and b"\n" not in self.http.trailing_data[0]:
            return 414  # the head is too long before its first line even ended
        return status

    def _send(self, method: str, answer: Answer, cut: float = 1.0) -> None:
        """The answer in one write, with ``Content-Length`` (and ``Connection: close`` when the connection ends);
        no body to HEAD. One h11 cannot write (a header value with a line break, say) becomes a 502."""
        given = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers
                 if name.lower() not in FRAMING]
        try:
            response = h11.Response(status_code=answer.status, reason=_phrase(answer.reason),
                                    headers=_headers(given, answer.body))
            body = answer.body
        except (h11.LocalProtocolError, UnicodeEncodeError):
            LOG.warning("safety proxy: an answer to %s could not be written; answered 502", method)
            response, body = _plain(502, "the safety proxy could not write the cluster's answer")
        data = self.http.send(response)
        if method != "HEAD" and body:
            data += self.http.send(h11.Data(data=body))
        data += self.http.send(h11.EndOfMessage())
        if cut > 0:
            self.tls.sendall(data[:int(len(data) * cut)])

    def _refuse(self, status: int) -> None:
        """Answer a refused request with ``status`` and end the connection."""
        response, body = _plain(status, REFUSALS[status], close=True)
        with contextlib.suppress(h11.LocalProtocolError):  # an answer already begun cannot be replaced
            data = self.http.send(response) + self.http.send(h11.Data(data=body))
            self.tls.sendall(data + self.http.send(h11.EndOfMessage()))
        self._linger()

    def _linger(self) -> None:
        """Stop sending, then read (and drop) what the client still sends, for at most ``LINGER`` seconds:
        closing with unread bytes would make the kernel reset the connection, and the client could lose the
        answer (Apache's "lingering close")."""
        deadline = time.monotonic() + LINGER
        with contextlib.suppress(OSError):
            self.tls.shutdown(socket.SHUT_WR)  # the TLS layer is dropped: what follows is read raw
            while (left := deadline - time.monotonic()) > 0:
                self.tls.settimeout(left)
                if not self.tls.recv(RECEIVE):
                    return


def _phrase(text: str) -> bytes:
    """A reason phrase h11 can write: one line of printable Latin-1 (h11 writes the phrase as it is given)."""
    return " ".join(NOT_IN_A_PHRASE.sub(" ", text).split()).encode("latin-1")


def _plain(status: int, message: str, close: bool = False) -> tuple[h11.Response, bytes]:
    """A text answer of the server's own: (its head, its body)."""
    body = message.encode()
    headers = _headers([(b"Content-Type", b"text/plain")], body)
    return h11.Response(status_code=status, reason=_phrase(message),
                        headers=[*headers, (b"Connection", b"close")] if close else headers), body


def _headers(given: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    """``given`` between the server's ``Server`` and ``Date`` and the ``Content-Length`` of ``body``."""
    date = _date(int(time.time()))
    return [(b"Server", SERVER_NAME), (b"Date", date), *given, (b"Content-Length", b"%d" % len(body))]


@functools.lru_cache(maxsize=2)
def _date(second: int) -> bytes:
    """The ``Date`` header's value for a second (formatted once)."""
    return formatdate(second, usegmt=True).encode("ascii")


class _Headers(Mapping[str, str]):
    """A request's headers as a case-insensitive mapping (a repeated header: its first value)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def get(self, name: str, default: Any = None) -> Any:  # Mapping's own goes through an exception
        found = self._items.get(name.lower())
        return default if found is None else found[1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, exchange: Exchange,
                 max_body: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context, self.exchange, self.max_body = context, exchange, max_body
        self.open: set[ssl.SSLSocket] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, socketserver.BaseRequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a client that is no TLS client
            LOG.debug("TLS handshake with %s failed: %s", client_address, type(exc).__name__)
            return
        tls.settimeout(IDLE_TIMEOUT)
        with self.open_lock:
            self.open.add(tls)
        try:
            _Connection(tls, self).serve()
        finally:
            with self.open_lock:
                self.open.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("connection from %s ended with an error", client_address)


class ProxyServer:
    """An HTTPS server on a loopback ``address`` with a certificate made in ``workdir`` for it, answering
    every request with ``exchange(method, target, headers, body)``; request bodies over ``max_body`` bytes
    are refused (413)."""

    def __init__(self, address: tuple[str, int], workdir: Path, exchange: Exchange,
                 max_body: int = MAX_BODY) -> None:
        self.cafile, keyfile = make_certificate(workdir, hosts=(address[0],))
        self._server = _Server(address, server_context(self.cafile, keyfile), exchange, max_body)
        self.host, self.port = str(self._server.server_address[0]), int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"pytest-proxmox-mpc-proxy-{self.port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the connections that are open, release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        with self._server.open_lock:
            for connection in list(self._server.open):
                with contextlib.suppress(OSError):  # the client may have gone already
                    connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
