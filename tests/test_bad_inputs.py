"""Bad input a user gives: one line naming what was wrong and where, no traceback, no secret."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakepve.certs import make_cert

from pytest_proxmox_mpc import Endpoint, Secret, TargetUnavailable
from pytest_proxmox_mpc.cluster.client import connect
from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(404, "Not Found")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_pve(tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """An HTTPS server on loopback that answers 404 to everything: (host, port, its certificate)."""
    certfile, keyfile, _ = make_cert(str(tmp_path), name="web", hosts=("127.0.0.1",))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1], certfile
    server.shutdown()


def test_a_login_answered_404_says_the_address_is_no_pve_api(not_pve: tuple[str, int, str]) -> None:
    host, port, cafile = not_pve
    with pytest.raises(TargetUnavailable) as caught:
        connect(Endpoint(host, port, "root@pam", password=Secret("hunter2"), verify=cafile), ReadOnlyPolicy())
    message = str(caught.value)
    assert message == (f"https://{host}:{port}/api2/json does not answer as a Proxmox VE API (the login got HTTP "
                       "404 Not Found); check the host and port (PVE listens on 8006)")
    assert "hunter2" not in message and "password" not in message


def test_a_run_against_it_fails_each_test_with_that_line(pytester: pytest.Pytester, not_pve: tuple[str, int, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    host, port, cafile = not_pve
    monkeypatch.setenv("PVE_PASSWORD", "hunter2")
    pytester.makepyfile("def test_version(pve_readonly):\n    assert pve_readonly.version.get()\n")
    result = pytester.runpytest("--pve-host", f"{host}:{port}", f"--pve-ca-bundle={cafile}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*proxmox: https://127.0.0.1:*/api2/json does not answer as a Proxmox VE API (the "
                                 "login got HTTP 404 Not Found)*"])
    assert "Traceback" not in result.stdout.str() and "hunter2" not in result.stdout.str()


RECORDED = "def test_nodes(pve_readonly):\n    assert pve_readonly.nodes.get()\n"


@pytest.mark.parametrize("cassette", ["test_nodes_file/test_nodes", "_session/_pve_connection"])
def test_a_truncated_cassette_is_one_line_naming_file_and_line(pytester: pytest.Pytester, cassette: str) -> None:
    pytester.makepyfile(test_nodes_file=RECORDED)
    pytester.runpytest("--pve-record-mode", "once").assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / f"{cassette}.yaml"
    text = path.read_text()
    cut = text.index("\n", text.index("\n", text.index("response:")) + 1)
    path.write_text(text[:cut + 1])  # a copy that was cut short inside the first answer
    result = pytester.runpytest("--pve-target", "replay")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*proxmox: cassette {path}:2: interaction 1 has no answer status (the file was cut "
                                 "short?); re-record it or restore it from version control*"])
    assert "Traceback" not in result.stdout.str() and "KeyError" not in result.stdout.str()
