"""The safety proxy's HTTPS server as a client meets it on the wire: keep-alive requests answered in turn,
bodies by length or in chunks (after 100 Continue when asked), and a malformed or ambiguous request (the
shapes of request smuggling and header injection among them) answered with a status that says what was
wrong before the connection ends, never handed on: not to the proxy, so never to the cluster."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.proxy.server import MAX_BODY, Answer, ProxyServer

LIMIT = 4096  # the served server's body limit: over it without sending megabytes


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ProxyServer, list[tuple[str, str, dict[str, str], bytes]]]]:
    """A server whose exchange echoes what it was handed (and records it)."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def exchange(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        seen.append((method, target, dict(headers), body))
        return Answer(200, "OK", [("Content-Type", "text/plain")], b"got " + body)
    server = ProxyServer(("127.0.0.1", 0), tmp_path, exchange, max_body=LIMIT)
    server.start()
    yield server, seen
    server.stop()


def talk(host: str, port: int, cafile: Path, data: bytes) -> bytes:
    """Send ``data`` on one TLS connection and read until the server ends it."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection((host, port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(data)
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
        return received


def test_keep_alive_requests_by_length_in_chunks_and_after_100_continue(served):
    server, seen = served
    received = talk(server.host, server.port, server.cafile,
                    b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Case: one\r\n\r\n"
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
    received = talk(server.host, server.port, server.cafile, b"HEAD / HTTP/1.0\r\n\r\nGET /never HTTP/1.1\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"Connection: close\r\n\r\n")


HOST = b"Host: h\r\n"


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /\r\n\r\n", b"400"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # HTTP/1.1 without Host (RFC 9112 3.2)
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", b"414"),
    (b"GET / HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-%d: 1\r\n" % n for n in range(100)) + b"\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + HOST + b"no colon\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: ten\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % (LIMIT + 1), b"413"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
     + (b"400\r\n" + b"x" * 1024 + b"\r\n") * 4 + b"1\r\nx\r\n0\r\n\r\n", b"413"),  # LIMIT + 1 in chunks
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    # The shapes of request smuggling: two ways to tell where a request ends, or one in disguise.
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 0\r\nContent-Length: 5\r\n\r\nabcde", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n", b"501"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", b"501"),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),  # no chunks in HTTP/1.0
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", b"400"),
    (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n1\r\nxYY0\r\n\r\n", b"400"),  # CVE-2025-43859
    (b"POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n" + HOST + b"\r\n0\r\n\r\n", b"400"),
    # Header injection: a line break or NUL inside a header's value.
    (b"GET / HTTP/1.1\r\n" + HOST + b"X-Note: a\rCookie: PVEAuthCookie=stolen\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\n" + HOST + b"X-Note: a\x00Cookie: PVEAuthCookie=stolen\r\n\r\n", b"400"),
])
def test_a_malformed_request_is_answered_and_ends_the_connection_unhanded(served, request_bytes: bytes,
                                                                          status: bytes):
    server, seen = served
    received = talk(server.host, server.port, server.cafile, request_bytes + b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in received, received[:200]
    assert received.count(b"HTTP/1.1 ") == 1 and seen == [], "nothing after a malformed request is served"


def test_the_proxys_own_body_limit_is_the_clusters(tmp_path: Path) -> None:
    server = ProxyServer(("127.0.0.1", 0), tmp_path, lambda *_: Answer(200, "OK"))
    server.start()
    try:
        received = talk(server.host, server.port, server.cafile,
                        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
    finally:
        server.stop()
    assert received.startswith(b"HTTP/1.1 413 ")


def test_smuggled_and_injected_requests_never_reach_the_cluster(pve_proxy: Any, pve_sim: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """The proxy's own credentials on every request: each would be forwarded if it were read as a request."""
    caplog.set_level(logging.DEBUG)
    token = pve_proxy.token_value.reveal()
    head = b"Host: h\r\nAuthorization: " + pve_proxy.authorization().encode() + b"\r\n"
    inner = b"GET /api2/json/access/users HTTP/1.1\r\n" + head + b"\r\n"  # what a smuggler wants served
    attempts = [
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
        % len(b"0\r\n\r\n" + inner) + b"0\r\n\r\n" + inner,
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        + b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n",
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n"
        % len(inner) + inner,
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"
        b"\r\n\r\n0\r\n\r\n" + inner,
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"X-Note: a\rGET /api2/json/access/users HTTP/1.1\r\n\r\n",
        b"GET /api2/json/version HTTP/1.1\r\n" + head + b"X-Note: a\x00b\r\n\r\n" + inner,
        # A credential on a line h11 refuses (a vertical tab after it): never echoed, never logged.
        b"GET /api2/json/version HTTP/1.1\r\nHost: h\r\nAuthorization: " + pve_proxy.authorization().encode()
        + b"\x0b\r\n\r\n",
        b"POST /api2/json/nodes/pve1/qemu/101/status/stop HTTP/1.1\r\n" + head + b"Content-Length: %d\r\n\r\n"
        % (MAX_BODY + 1),
    ]
    before = len(pve_sim.requests)
    statuses = []
    for attempt in attempts:
        received = talk(pve_proxy.host, pve_proxy.port, pve_proxy.cafile, attempt)
        statuses.append(received.split(b" ", 2)[1])
        assert received.count(b"HTTP/1.1 ") == 1 and token.encode() not in received
    assert statuses == [b"400"] * 3 + [b"501"] + [b"400"] * 3 + [b"413"]
    assert pve_sim.requests[before:] == [], "a smuggled or injected request reached the cluster"
    assert token not in caplog.text
    control = talk(pve_proxy.host, pve_proxy.port, pve_proxy.cafile,
                   b"GET /api2/json/version HTTP/1.1\r\n" + head + b"Connection: close\r\n\r\n")
    assert control.startswith(b"HTTP/1.1 200 ")
    assert [path for _, path, _ in pve_sim.requests[before:]] == ["/api2/json/version"], "the log sees what arrives"
