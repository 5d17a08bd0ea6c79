"""The lean HTTP/1.1 reader under the plain connections: every answer shape a server may send is read whole
and the connection is kept or ended as the answer says; a malformed or cut-off answer is an error, never a
short body taken for the whole."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_proxmox_mpc.cluster.wire import WireConnection
from pytest_proxmox_mpc.proxy.tls import make_certificate, server_context


class CannedServer:
    """A loopback TLS server answering the requests of one connection with ``answers``, in order (raw bytes
    as a server wrote them), then closing; ``received`` holds each request head and body as read."""

    def __init__(self, workdir: Path, answers: list[bytes]) -> None:
        self.cafile, keyfile = make_certificate(workdir, hosts=("127.0.0.1",))
        self.context = server_context(self.cafile, keyfile)
        self.answers = answers
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        raw, _ = self.listener.accept()
        with self.context.wrap_socket(raw, server_side=True) as conn:
            reader = conn.makefile("rb")
            for answer in self.answers:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.received.append(head + reader.read(length))
                conn.sendall(answer)

    def client(self) -> WireConnection:
        return WireConnection(f"127.0.0.1:{self.port}", ssl.create_default_context(cafile=str(self.cafile)), 10)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(10)


@pytest.fixture
def canned(tmp_path: Path) -> Iterator[type[CannedServer]]:
    made: list[CannedServer] = []

    class Made(CannedServer):
        def __init__(self, answers: list[bytes]) -> None:  # type: ignore[override]
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
    conn = server.client()
    assert conn.request("GET", "/a", {"Accept": "application/json"}) == (
        200, "OK", [("Content-Type", "application/json"), ("Content-Length", "11")], b'{"data":1}\n')
    status, reason, headers, body = conn.request("POST", "/b", {"Content-Type": "text/plain", "Host": "elsewhere",
                                                                "Content-Length": "99"}, b"x=1")
    assert (status, reason, body, headers) == (201, "Created", b'{"data":2}', [("Transfer-Encoding", "chunked")])
    assert conn.request("HEAD", "/c", {})[3] == b""
    assert conn.request("DELETE", "/d", {})[:3] == (204, "No Content", [("X-Folded", "one two")])
    assert not conn.will_close
    conn.close()
    first, second = server.received[0], server.received[1]
    assert first.startswith(b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:") and b"\r\nAccept: application/json\r\n" in first
    assert second.endswith(b"Content-Length: 3\r\n\r\nx=1") and second.count(b"Content-Length") == 1
    assert b"elsewhere" not in second and b"Accept-Encoding: identity" in first


def test_a_closing_answer_ends_the_connection_and_one_without_length_is_read_to_its_end(canned):
    closing = canned([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"])
    conn = closing.client()
    assert conn.request("GET", "/", {})[3] == b"ok" and conn.will_close
    conn.close()
    unsized = canned([b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"])
    conn = unsized.client()
    conn_answer = conn.request("GET", "/", {})
    unsized.close()
    assert conn_answer[3] == b"all of it" and conn.will_close
    conn.close()


@pytest.mark.parametrize(("answer", "error"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", http.client.IncompleteRead),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", http.client.IncompleteRead),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http.client.IncompleteRead),
    (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n", http.client.HTTPException),
    (b"SSH-2.0-OpenSSH_9.6\r\n", http.client.BadStatusLine),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", http.client.HTTPException),
    (b"", http.client.RemoteDisconnected),
])
def test_a_malformed_or_cut_off_answer_is_an_error(canned, answer: bytes, error: type[Exception]):
    server = canned([answer])
    conn = server.client()
    try:
        with pytest.raises(error):  # the server closes after its one answer, so a short answer ends there
            conn.request("GET", "/", {})
    finally:
        conn.close()


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(canned):
    server = canned([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    conn = server.client()
    with pytest.raises(ValueError, match="line break"):
        conn.request("GET", "/", {"X-Injected": "a\r\nCookie: stolen"})
    assert conn.request("GET", "/", {})[0] == 200
    conn.close()
    assert server.received == [server.received[0]] and b"stolen" not in server.received[0]
