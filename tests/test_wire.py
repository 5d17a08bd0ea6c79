"""The HTTP/1.1 client under the plain connections (h11, through ``DirectChannel``): every answer shape a
server may send is read whole and the connection is kept or ended as the answer says; a malformed or cut-off
answer is an error, never a short body taken for the whole; a header no request can carry is refused before
anything is sent, without its value in the error."""

from __future__ import annotations

import socket
import ssl
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from proxmoxer.backends.https import ProxmoxHTTPApiTokenAuth

from pytest_proxmox_mpc.cluster.direct import DirectChannel
from pytest_proxmox_mpc.cluster.guard import ConnectionHealth, Guard
from pytest_proxmox_mpc.proxy.tls import make_certificate, server_context
from pytest_proxmox_mpc.safety.policy import ApiRequest, Decision

TOKEN_SECRET = "5f0e6c1a-token-secret-never-shown"
HANG_UP = b"hang up"  # in a CannedServer's answers: it closes the connection, idle, without a word


class AllowAll:
    """A policy that allows every request: these tests are about the HTTP beneath the guard."""

    def decide(self, request: ApiRequest) -> Decision:
        return Decision(True, "test:all", "the HTTP layer is under test")


class CannedServer:
    """A loopback TLS server answering requests with ``answers``, in order (raw bytes as a server wrote them;
    None: no answer, the connection held open until the server closes), on as many connections as the client
    opens; a connection ends after an answer that says so (``Connection: close``, or HTTP/1.0), at ``HANG_UP``
    (``hung_up`` is set then) or once the answers run out. ``received`` holds each request head and body as
    read, ``connections`` how many connections the client opened."""

    def __init__(self, workdir: Path, answers: list[bytes | None]) -> None:
        self.cafile, keyfile = make_certificate(workdir, hosts=("127.0.0.1",))
        self.context = server_context(self.cafile, keyfile)
        self.answers = list(answers)
        self.received: list[bytes] = []
        self.connections = 0
        self.closing = threading.Event()
        self.hung_up = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.answers:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with self.context.wrap_socket(raw, server_side=True) as conn:
                self.one_connection(conn)

    def one_connection(self, conn: ssl.SSLSocket) -> None:
        reader = conn.makefile("rb")
        while self.answers:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            self.received.append(head + reader.read(length))
            answer = self.answers.pop(0)
            if answer is None:
                self.closing.wait(60)
                return
            conn.sendall(answer)
            if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                return
            if self.answers[:1] == [HANG_UP]:
                self.answers.pop(0)
                conn.close()
                self.hung_up.set()
                return

    def channel(self, guard: Guard | None = None, timeout: float = 10) -> DirectChannel:
        auth = ProxmoxHTTPApiTokenAuth("ci@pve", "tool", TOKEN_SECRET)
        return DirectChannel(f"127.0.0.1:{self.port}", auth, guard or Guard(AllowAll()), str(self.cafile), timeout)

    def close(self) -> None:
        self.answers.clear()
        self.closing.set()
        self.listener.close()
        self.thread.join(10)


@pytest.fixture
def canned(tmp_path: Path) -> Iterator[type[CannedServer]]:
    made: list[CannedServer] = []

    class Made(CannedServer):
        def __init__(self, answers: list[bytes | None]) -> None:  # type: ignore[override]
            super().__init__(tmp_path / f"server{len(made)}", answers)
            made.append(self)

    yield Made
    for server in made:
        server.close()


def test_answers_by_length_in_chunks_after_an_interim_answer_and_to_a_head_share_one_connection(canned):
    server = canned([
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"data\":1}\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\n{\"da\r\n6\r\nta\":2}\r\n0\r\nX-Trailer: t\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",  # an answer to HEAD has no body, whatever its length
        b"HTTP/1.1 204 No Content\r\nX-Folded: one\r\n two\r\n\r\n",
    ])
    channel = server.channel()
    first = channel.send("GET", "/a", {"Accept": "application/json"})
    assert (first.status, first.reason, first.body) == (200, "OK", b'{"data":1}\n')
    assert first.headers == [("Content-Type", "application/json"), ("Content-Length", "11")]
    second = channel.send("POST", "/b", {"Content-Type": "text/plain", "Host": "elsewhere", "Content-Length": "99"},
                          b"x=1")
    assert (second.status, second.reason, second.body) == (201, "Created", b'{"data":2}')
    assert second.headers == [("Transfer-Encoding", "chunked")]
    assert channel.send("HEAD", "/c").body == b""
    fourth = channel.send("DELETE", "/d")
    assert (fourth.status, fourth.reason, fourth.body) == (204, "No Content", b"")
    assert fourth.headers == [("X-Folded", "one two")]
    channel.close()
    assert server.connections == 1
    first_sent, second_sent = server.received[0], server.received[1]
    assert first_sent.startswith(b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAccept: application/json\r\n" in first_sent
    assert second_sent.endswith(b"\r\n\r\nx=1") and second_sent.count(b"Content-Length") == 1
    assert b"\r\nContent-Length: 3\r\n" in second_sent
    assert b"elsewhere" not in second_sent and b"Accept-Encoding: identity" in first_sent
    assert f"Authorization: PVEAPIToken=ci@pve!tool={TOKEN_SECRET}".encode() in first_sent


def test_a_closing_answer_ends_the_connection_and_one_without_length_is_read_to_its_end(canned):
    server = canned([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                     b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
                     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter"])
    channel = server.channel()
    assert [channel.send("GET", f"/{n}").body for n in range(3)] == [b"ok", b"all of it", b"after"]
    channel.close()
    assert server.connections == 3  # each answer that ended its connection was followed by a new one


def test_a_connection_the_server_closed_while_idle_is_not_used_again(canned):
    server = canned([b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", HANG_UP,
                     b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"])
    channel = server.channel()
    assert channel.send("GET", "/1").body == b"one"
    assert server.hung_up.wait(10)
    assert channel.send("GET", "/2").body == b"two"  # on a new connection, not a failure on the old one
    channel.close()
    assert server.connections == 2


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-Cookie PVEAuthCookie=ticket-secret\r\n\r\n",
    b"",
])
def test_a_malformed_or_cut_off_answer_is_an_error(canned, answer: bytes):
    server = canned([answer])
    channel = server.channel()
    try:
        with pytest.raises(requests.ConnectionError) as caught:  # the server closes after its one answer
            channel.send("GET", "/")
    finally:
        channel.close()
    shown = "".join(traceback.format_exception(caught.value))
    assert TOKEN_SECRET not in shown and "ticket-secret" not in shown


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(canned):
    server = canned([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    channel = server.channel()
    for bad in ({"X-Injected": "a\r\nCookie: stolen"}, {"X-Injected": "a\nCookie: stolen"},
                {"X-Injected": "a\rstolen"}, {"X-Injected: stolen\r\nX": "a"}, {"X-Nul": "a\x00stolen"}):
        with pytest.raises(ValueError, match="header") as caught:
            channel.send("GET", "/", bad)
        assert "stolen" not in str(caught.value)
    assert channel.send("GET", "/").status == 200
    channel.close()
    assert server.received == [server.received[0]] and b"stolen" not in server.received[0]


def test_an_answer_that_does_not_come_in_time_is_a_timeout_the_connection_health_counts(canned):
    server = canned([None])
    health = ConnectionHealth()
    channel = server.channel(Guard(AllowAll(), health=health), timeout=0.5)
    with pytest.raises(requests.Timeout) as caught:
        channel.send("GET", "/?vncticket=" + TOKEN_SECRET)
    channel.close()
    assert (health.in_a_row, health.last_error) == (1, "ReadTimeout")
    assert TOKEN_SECRET not in str(caught.value) and TOKEN_SECRET not in repr(caught.value.__cause__)
