"""One HTTP/1.1 keep-alive connection over TLS, with a lean reader of answers.

``http.client`` parses every answer's headers with the ``email`` package, some 0.2 ms of CPU per answer,
more than the rest of a guarded GET on a kept-alive connection together; on a 2-core machine that CPU is
taken from the cluster (or the simulated one) the client waits on. ``WireConnection`` sends a request in
one write and reads its answer line by line: the status line, the header lines (at most ``MAX_HEADERS`` of
at most ``MAX_LINE`` bytes each, as ``http.client`` allows), then a body by ``Content-Length``, in chunks
(``Transfer-Encoding: chunked``), or up to the end of the connection; interim ``1xx`` answers are skipped,
``HEAD``, ``204`` and ``304`` answers have no body. Malformed or cut-off answers raise ``http.client``'s
exceptions, so callers map them as they map ``http.client``'s own. Nothing here imports pytest.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping
from typing import BinaryIO
from urllib.parse import urlsplit

from ..errors import BodyTooLarge

MAX_LINE = 65536
MAX_HEADERS = 100
NO_BODY_STATUSES = frozenset({204, 304})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # given Content-Length: 0 when sent without a body
FRAMING = frozenset({"host", "content-length", "transfer-encoding"})  # set here, never taken from a caller


class WireConnection:
    """A TLS connection to ``netloc`` (``host:port``, ``[v6]:port``) verified by ``context``, opened on the
    first request; ``will_close`` tells whether the last answer ended it (then ``close`` it)."""

    def __init__(self, netloc: str, context: ssl.SSLContext, timeout: float) -> None:
        parts = urlsplit(f"//{netloc}")
        self.host, self.port = parts.hostname or "", parts.port or 443
        self.netloc = netloc
        self.context = context
        self.timeout = timeout
        self.sock: ssl.SSLSocket | None = None
        self._reader: BinaryIO | None = None
        self.will_close = False

    def _open(self) -> tuple[ssl.SSLSocket, BinaryIO]:
        if self.sock is None or self._reader is None:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
            except BaseException:
                raw.close()
                raise
            self._reader = self.sock.makefile("rb")
        return self.sock, self._reader

    def request(self, method: str, target: str, headers: Mapping[str, str],
                body: bytes | None = None) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send ``method target`` with ``headers`` (``Host`` and ``Content-Length`` are this connection's, a
        caller's are dropped) and ``body``;
        (status, reason, headers in order, body) of the final answer."""
        sock, reader = self._open()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.netloc}"]
        given = [(name, value) for name, value in headers.items() if name.lower() not in FRAMING]
        if not any(name.lower() == "accept-encoding" for name, _ in given):
            lines.append("Accept-Encoding: identity")  # a compressed body would reach the caller as it came
        lines += [f"{name}: {value}" for name, value in given]
        if body or method in BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        head = "\r\n".join(lines)
        if head.count("\n") != len(lines) - 1 or head.count("\r") != len(lines) - 1:
            raise ValueError("a request line or header holds a line break")  # as http.client refuses it
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + (body or b""))
        while True:
            version, status, reason = read_status_line(reader)
            answer_headers = read_headers(reader)
            if status >= 200 or status == 101:
                break  # 1xx (100 Continue, 103 Early Hints) are interim: the final answer follows
        fields = {name.lower(): value for name, value in answer_headers}
        closing = fields.get("connection", "").lower()
        self.will_close = "close" in closing or (version == "HTTP/1.0" and "keep-alive" not in closing)
        if method == "HEAD" or status in NO_BODY_STATUSES or status < 200:
            return status, reason, answer_headers, b""
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return status, reason, answer_headers, read_chunks(reader)
        length = fields.get("content-length")
        if length is None:
            self.will_close = True
            return status, reason, answer_headers, reader.read()
        try:
            size = int(length)
        except ValueError:
            raise http.client.HTTPException("Content-Length is not a number") from None
        content = reader.read(size) if size > 0 else b""
        if len(content) != size:
            raise http.client.IncompleteRead(content, size - len(content))
        return status, reason, answer_headers, content

    def close(self) -> None:
        reader, sock, self._reader, self.sock = self._reader, self.sock, None, None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()


def read_line(reader: BinaryIO) -> bytes:
    """One line (with its end), at most ``MAX_LINE`` bytes (``LineTooLong`` beyond); b"" at the end."""
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise http.client.LineTooLong("header line")
    return line


def read_status_line(reader: BinaryIO) -> tuple[str, int, str]:
    """(version, status, reason) of an answer's first line."""
    line = read_line(reader)
    if not line:
        raise http.client.RemoteDisconnected("the server closed the connection without an answer")
    version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise http.client.BadStatusLine(line.decode("latin-1", "replace")[:80])
    return version, int(code), reason.strip()


def read_headers(reader: BinaryIO) -> list[tuple[str, str]]:
    """The header lines up to the empty one, as (name, value) in order (folded lines joined)."""
    found: list[tuple[str, str]] = []
    while True:
        line = read_line(reader)
        if line in (b"\r\n", b"\n", b""):
            return found
        if len(found) >= MAX_HEADERS:
            raise http.client.HTTPException(f"more than {MAX_HEADERS} headers")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and found:  # an obsolete folded line continues the last header
            name, value = found[-1]
            found[-1] = (name, f"{value} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise http.client.HTTPException("malformed header line")
        found.append((name.strip(), value.strip()))


def read_chunks(reader: BinaryIO, limit: int | None = None) -> bytes:
    """A chunked body, trailers skipped; ``BodyTooLarge`` once it grows over ``limit`` bytes (the rest unread)."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = read_line(reader)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise http.client.IncompleteRead(b"".join(parts)) from None
        if size == 0:
            while read_line(reader).strip():  # trailers, up to the empty line
                pass
            return b"".join(parts)
        total += size
        if limit is not None and total > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        part = reader.read(size)
        if len(part) != size:
            raise http.client.IncompleteRead(b"".join(parts) + part, size - len(part))
        parts.append(part)
        reader.read(2)  # the chunk's CRLF
