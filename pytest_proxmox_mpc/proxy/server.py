"""The safety proxy's HTTPS server: threads per connection, HTTP/1.1 keep-alive, bodies read whole.

It knows nothing of PVE: each request (method, target, headers, body) is handed to a function that returns
the ``Answer``, sent with a ``Content-Length`` (an upstream answer in chunks is sent whole). Request bodies
are read by ``Content-Length`` or in chunks, up to ``MAX_BODY``. The TLS handshake runs in the connection's
thread, so a slow client never holds up the others. Nothing is logged but method and path (never a query,
a header or a body). Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..cluster.direct import RawAnswer
from .tls import make_certificate, server_context

LOG = logging.getLogger("pytest_proxmox_mpc.proxy")
MAX_BODY = 64 * 1024 ** 2  # bytes of a request body, as fakepve's and near PVE's own limit
IDLE_TIMEOUT = 60.0  # seconds a kept-alive connection may stay silent
HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer(RawAnswer):
    """What the proxy sends back: status, reason phrase, headers (without Content-Length) and body."""


Exchange = Callable[[str, str, Mapping[str, str], bytes], Answer]


class _BadBody(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pytest-proxmox-mpc-proxy"
    timeout = IDLE_TIMEOUT
    # Headers and a small body leave in one write (the handler flushes after each request), with no Nagle
    # delay: written apart, a client's delayed ACK would hold every answer back some 40 ms.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        try:
            body = self._body()
        except _BadBody as exc:
            self.close_connection = True  # the rest of the body is not read: the connection cannot go on
            self._send(Answer(exc.status, str(exc), [("Content-Type", "text/plain")], str(exc).encode()))
            return
        self._send(self.server.exchange(self.command, self.path, _Headers(self.headers), body))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def handle_expect_100(self) -> bool:  # the interim answer must leave now, not with the final one
        self.send_response_only(100)
        self.end_headers()
        self.wfile.flush()
        return True

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunks()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadBody(400, "Content-Length is not a number") from None
        if length > MAX_BODY:
            raise _BadBody(413, f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def _chunks(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadBody(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(8192).strip():  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise _BadBody(413, f"request body over {MAX_BODY} bytes")
            parts.append(self.rfile.read(size))
            self.rfile.readline(8)  # the chunk's CRLF

    def _send(self, answer: Answer) -> None:
        reason = " ".join(answer.reason.split())  # a reason phrase holds no line break
        self.send_response(answer.status, reason.encode("latin-1", "replace").decode("latin-1"))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        LOG.debug("%s %s %s", self.command, self.path.split("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:  # errors of the connection, e.g. timeouts
        LOG.debug("connection from %s: %s", self.address_string(), format % args)


class _Headers(Mapping[str, str]):
    """A request's headers as a case-insensitive mapping (a repeated header: its first value)."""

    def __init__(self, message: Any) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in message.items():
            self._items.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, exchange: Exchange) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context, self.exchange = context, exchange
        self.open: set[ssl.SSLSocket] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:  # HTTPServer's would look the address up in DNS (getfqdn): not needed
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a client that is no TLS client
            LOG.debug("TLS handshake with %s failed: %s", client_address, type(exc).__name__)
            return
        with self.open_lock:
            self.open.add(tls)
        try:
            _Handler(tls, client_address, self)
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
