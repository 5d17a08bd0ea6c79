"""The safety proxy's HTTPS server: threads per connection, HTTP/1.1 keep-alive, bodies read whole.

It knows nothing of PVE: each request (method, target, headers, body) is handed to a function that returns
the ``Answer``, sent in one write with a ``Content-Length`` (an upstream answer in chunks is sent whole).
Request bodies are read by ``Content-Length`` or in chunks, up to ``MAX_BODY`` (413 beyond); a client that
asks for ``100 Continue`` gets it before its body is read. Requests are read with ``wire``'s lean line
readers, not ``http.server`` (whose ``email``-based header parsing was a quarter of the proxy's CPU per
request); a malformed request line or header is answered 400 (414, 431 for lines or headers over
``wire``'s limits, 505 for an HTTP version other than 1.x) and ends the connection. The TLS handshake runs
in the connection's thread, so a slow client never holds up the others. Nothing is logged but method and
path (never a query, a header or a body). Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from ..cluster.direct import RawAnswer
from ..cluster.wire import read_chunks, read_headers, read_line
from ..errors import BodyTooLarge
from .tls import make_certificate, server_context

LOG = logging.getLogger("pytest_proxmox_mpc.proxy")
MAX_BODY = 64 * 1024 ** 2  # bytes of a request body, as fakepve's and near PVE's own limit
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may stay silent
HANDSHAKE_TIMEOUT = 10.0
SERVER_NAME = "pytest-proxmox-mpc-proxy"


@dataclass(frozen=True)
class Answer(RawAnswer):
    """What the proxy sends back: status, reason phrase, headers (without Content-Length) and body."""


Exchange = Callable[[str, str, Mapping[str, str], bytes], Answer]


class _BadRequest(ValueError):
    """A request that cannot be served: answered with ``status``, and the connection ends."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Connection:
    """One client's keep-alive connection: requests read and answered in turn until either side ends it."""

    def __init__(self, tls: ssl.SSLSocket, server: _Server) -> None:
        self.tls, self.server = tls, server
        self.reader = tls.makefile("rb")

    def serve(self) -> None:
        try:
            while self.one():
                pass
        except (OSError, ValueError) as exc:  # a client gone, a timeout, TLS trouble: nothing to answer
            LOG.debug("connection ended: %s", type(exc).__name__)
        finally:
            self.reader.close()

    def one(self) -> bool:
        """Serve one request; whether the connection goes on."""
        method = ""
        try:
            line = _first_line(self.reader)
            if not line:
                return False
            method, target, version = _request_line(line)
            try:
                headers = _Headers(read_headers(self.reader))
            except http.client.LineTooLong:
                raise _BadRequest(431, "a request header line is too long") from None
            except http.client.HTTPException as exc:
                raise _BadRequest(431 if "headers" in str(exc) else 400, str(exc)) from None
            connection = headers.get("Connection", "").lower()
            keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
            if version != "HTTP/1.0" and headers.get("Expect", "").lower() == "100-continue":
                self.tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it to send the body
            body = self._body(headers)
        except _BadRequest as exc:
            self._send(method, Answer(exc.status, str(exc), [("Content-Type", "text/plain")], str(exc).encode()),
                       keep=False)
            return False
        answer = self.server.exchange(method, target, headers, body)
        LOG.debug("%s %s %s", method, target.split("?")[0], answer.status)
        self._send(method, answer, keep)
        return keep

    def _body(self, headers: _Headers) -> bytes:
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            try:
                return read_chunks(self.reader, MAX_BODY)
            except BodyTooLarge:
                raise _BadRequest(413, f"request body over {MAX_BODY} bytes") from None
            except http.client.HTTPException:
                raise _BadRequest(400, "malformed chunked body") from None
        try:
            length = int(headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest(400, "Content-Length is not a number") from None
        if length > MAX_BODY:
            raise _BadRequest(413, f"request body over {MAX_BODY} bytes")
        body = self.reader.read(length) if length > 0 else b""
        if len(body) != length:
            raise _BadRequest(400, "the request body ended early")
        return body

    def _send(self, method: str, answer: Answer, keep: bool) -> None:
        """The answer in one write: status line, headers with ``Content-Length`` (and ``Connection: close``
        when the connection ends), the body (none to HEAD)."""
        reason = " ".join(answer.reason.split()).encode("latin-1", "replace").decode("latin-1")
        lines = [f"HTTP/1.1 {answer.status} {reason}", f"Server: {SERVER_NAME}", f"Date: {_date()}"]
        lines += [f"{name}: {value}" for name, value in answer.headers]
        lines.append(f"Content-Length: {len(answer.body)}")
        if not keep:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        self.tls.sendall(head if method == "HEAD" else head + answer.body)


def _first_line(reader: BinaryIO) -> bytes:
    """The next request line (b"": the client closed the connection); stray line ends before it are ignored
    (RFC 9112 2.2)."""
    try:
        line = read_line(reader)
        while line in (b"\r\n", b"\n"):
            line = read_line(reader)
    except http.client.LineTooLong:
        raise _BadRequest(414, "the request line is too long") from None
    return line


def _request_line(line: bytes) -> tuple[str, str, str]:
    words = line.decode("latin-1").rstrip("\r\n").split()
    if len(words) != 3 or not words[2].startswith("HTTP/1."):
        raise _BadRequest(505 if len(words) == 3 and words[2].startswith("HTTP/") else 400,
                          "not an HTTP/1.x request line")
    return words[0], words[1], words[2]


_DATES: dict[int, str] = {}


def _date() -> str:
    """The ``Date`` header's value for this second (formatted once a second)."""
    now = int(time.time())
    found = _DATES.get(now)
    if found is None:
        _DATES.clear()
        found = _DATES[now] = formatdate(now, usegmt=True)
    return found


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

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, exchange: Exchange) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context, self.exchange = context, exchange
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
    every request with ``exchange(method, target, headers, body)``."""

    def __init__(self, address: tuple[str, int], workdir: Path, exchange: Exchange) -> None:
        self.cafile, keyfile = make_certificate(workdir, hosts=(address[0],))
        self._server = _Server(address, server_context(self.cafile, keyfile), exchange)
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
