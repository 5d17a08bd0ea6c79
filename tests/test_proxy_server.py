"""The safety proxy's HTTPS server as a client meets it on the wire: keep-alive requests answered in turn,
bodies by length or in chunks (after 100 Continue when asked), and a malformed request answered with a
status that says what was wrong before the connection ends, never handed on."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from pytest_proxmox_mpc.proxy.server import MAX_BODY, Answer, ProxyServer


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ProxyServer, list[tuple[str, str, dict[str, str], bytes]]]]:
    """A server whose exchange echoes what it was handed (and records it)."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def exchange(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        seen.append((method, target, dict(headers), body))
        return Answer(200, "OK", [("Content-Type", "text/plain")], b"got " + body)
    server = ProxyServer(("127.0.0.1", 0), tmp_path, exchange)
    server.start()
    yield server, seen
    server.stop()


def talk(server: ProxyServer, data: bytes) -> bytes:
    """Send ``data`` on one TLS connection and read until the server ends it."""
    context = ssl.create_default_context(cafile=str(server.cafile))
    with socket.create_connection((server.host, server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=server.host) as tls:
        tls.sendall(data)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        return received


def test_keep_alive_requests_by_length_in_chunks_and_after_100_continue(served):
    server, seen = served
    received = talk(server, b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Case: one\r\n\r\n"
                            b"\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                            b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"2\r\nde\r\n1\r\nf\r\n0\r\n\r\n"
                            b"POST /d HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n"
                            b"Connection: close\r\n\r\ng")
    assert [(m, t, b) for m, t, _, b in seen] == [("GET", "/a?x=1", b""), ("POST", "/b", b"abc"),
                                                  ("PUT", "/c", b"def"), ("POST", "/d", b"g")]
    assert seen[0][2]["X-Case"] == "one"
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"200 OK"] * 3 + [b"100 Continue", b"200 OK"]
    assert answers[0].endswith(b"Content-Length: 4\r\n\r\ngot ") and b"Date: " in answers[0]
    assert b"Server: pytest-proxmox-mpc-proxy" in answers[0] and b"Connection: close" not in answers[0]
    assert answers[-1].endswith(b"Content-Length: 5\r\nConnection: close\r\n\r\ngot g")


def test_a_head_answer_has_no_body_and_http_1_0_ends_the_connection(served):
    server, _ = served
    received = talk(server, b"HEAD / HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"Connection: close\r\n\r\n")


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /\r\n\r\n", b"400"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n", b"431"),
    (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1), b"413"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY + 1), b"413"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
])
def test_a_malformed_request_is_answered_and_ends_the_connection_unhanded(served, request_bytes: bytes,
                                                                          status: bytes):
    server, seen = served
    received = talk(server, request_bytes + b"GET /after HTTP/1.1\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in received, received[:200]
    assert received.count(b"HTTP/1.1 ") == 1 and seen == [], "nothing after a malformed request is served"

