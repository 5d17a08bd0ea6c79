"""Bad input, table-driven: a host that is not a Proxmox VE API (a web server, a JSON service, plain HTTP, a
certificate the run does not trust, a server that hangs up). Each row: every test that needs the cluster fails
with one line naming the address and what it answered, no traceback, no secret (the password or token the run
was given), and no file of the user's changed (``tests/badinput.py``)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakepve.certs import make_cert

from .badinput import FAILED, Mistake, check

ANSWERS = {  # mode: (status, content type, body)
    "json-without-data": (200, "application/json", b'{"result": 1}'),
    "html": (200, "text/html", b"<html><body>It works!</body></html>"),
    "not-found": (404, "text/html", b"<html>Not Found</html>"),
    "data-null": (200, "application/json", b'{"data": null}'),
    "json-list": (200, "application/json", b"[1, 2]"),
    "server-error": (500, "text/plain", b"oops"),
}
USES_CLUSTER = "def test_version(pve_readonly):\n    assert pve_readonly.version.get()\n"
NOT_PVE = "does not answer as a Proxmox VE API"


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "hang-up":
            self.close_connection = True
            self.connection.close()
            return
        status, kind, body = ANSWERS[mode]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One loopback server per mode (HTTPS, and one plain HTTP), by mode: its port; the CA file under "ca"."""
    where = tmp_path_factory.mktemp("certs")
    certfile, keyfile, _ = make_cert(str(where), name="web", hosts=("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    found, running = {"ca": certfile}, []
    for mode in [*ANSWERS, "hang-up", "plain-http"]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
        server.mode = "html" if mode == "plain-http" else mode  # type: ignore[attr-defined]
        if mode != "plain-http":
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        found[mode], running = str(server.server_address[1]), [*running, server]
    yield found
    for server in running:
        server.shutdown()


ROWS = {  # name: (server mode, login, CA given, what the one line says)
    "json-without-data-password": ("json-without-data", "password", True, f"{NOT_PVE} (the login's answer holds no"),
    "json-without-data-token": ("json-without-data", "token", True, f"{NOT_PVE} (GET /version answered JSON without"),
    "html-password": ("html", "password", True, f"{NOT_PVE} (the login's answer holds no ticket)"),
    "html-token": ("html", "token", True, f"{NOT_PVE} (GET /version answered no PVE version)"),
    "not-found-password": ("not-found", "password", True, f"{NOT_PVE} (the login got HTTP 404 Not Found)"),
    "not-found-token": ("not-found", "token", True, f"{NOT_PVE} (GET /version got HTTP 404)"),
    "data-null-password": ("data-null", "password", True, f"{NOT_PVE} (the login's answer holds no ticket)"),
    "data-null-token": ("data-null", "token", True, f"{NOT_PVE} (GET /version answered no PVE version)"),
    "json-list-token": ("json-list", "token", True, NOT_PVE),
    "server-error-password": ("server-error", "password", True, f"{NOT_PVE} (the login got HTTP 500"),
    "server-error-token": ("server-error", "token", True, "GET /version on https://127.0.0.1:"),
    "untrusted-certificate": ("html", "password", False, "TLS verification of https://127.0.0.1:"),
    "plain-http": ("plain-http", "password", True, "does not answer with TLS (plain HTTP on that port?)"),
    "hang-up": ("hang-up", "token", True, "cannot reach https://127.0.0.1:"),
}


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_server_that_is_not_pve_fails_each_test_with_one_line(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, servers: dict[str, str],
        tmp_path: Path) -> None:
    mode, login, trusted, says = ROWS[name]
    args = [f"--pve-host=127.0.0.1:{servers[mode]}", *(["--pve-token-name=ci"] if login == "token" else []),
            *([f"--pve-ca-bundle={servers['ca']}"] if trusted else [])]
    check(Mistake(args=tuple(args), test=USES_CLUSTER, ret=FAILED, says=says), pytester, monkeypatch)
