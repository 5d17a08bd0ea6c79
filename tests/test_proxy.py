"""The safety proxy: tools in other processes (curl, Node.js) read through it, every write of the PVE schema is
refused before it reaches the cluster, logins are the proxy's own, sessions record on sim and replay without
a cluster, and --mpc-command runs through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_proxmox_mpc.cli import main as cli
from pytest_proxmox_mpc.proxy.auth import ProxyAuth, ProxyCredentials, ticket_of
from pytest_proxmox_mpc.proxy.relay import form_params, parse_listen

from .livetarget import PASSWORD, FakePveProcess

# Helpers the inner test files share: an HTTP client in Node.js (fetch, the CA from NODE_EXTRA_CA_CERTS) that
# sends a list of requests and prints what came back, and curl.
TOOLS = r'''
import json
import os
import subprocess
from pathlib import Path

FORM = "application/x-www-form-urlencoded"
CLIENT_JS = """
const fs = require("fs");
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
(async () => {
  const out = [];
  for (const r of spec.requests) {
    const res = await fetch(spec.base + r.path, {method: r.method, headers: r.headers || {}, body: r.body});
    out.push({status: res.status, headers: [...res.headers.entries()], body: await res.text()});
  }
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(String(e)); process.exit(1); });
"""


def node(proxy, requests, workdir):
    """Send ``requests`` (method, path, headers, body) with Node's fetch; [{status, headers, body}]."""
    script, spec = Path(workdir) / "client.js", Path(workdir) / "spec.json"
    script.write_text(CLIENT_JS)
    spec.write_text(json.dumps({"base": proxy.base_url, "requests": requests}))
    done = subprocess.run(["node", str(script), str(spec)], capture_output=True, text=True, check=True,
                          env={**os.environ, "NODE_EXTRA_CA_CERTS": str(proxy.cafile)})
    return json.loads(done.stdout)


def curl(proxy, method, path, *args, auth=True, timeout=60):
    """(status, everything curl received: headers and body, lines ending in \\n) for one request."""
    head = ["-H", "Authorization: " + proxy.authorization()] if auth else []
    done = subprocess.run(["curl", "-sS", "-i", "-X", method, "--cacert", str(proxy.cafile), *head, *args,
                           "-w", "\n%{http_code}", proxy.base_url + path], capture_output=True, text=True, check=True,
                          timeout=timeout)
    received, _, status = done.stdout.rpartition("\n")
    return int(status), received


TICKING = ("uptime", "cpu", "mem", "netin", "netout", "diskread", "diskwrite")  # a running guest's counters


def steady(answer):
    """A listing without what changes between two reads of a running guest (its uptime ticks)."""
    return [{k: v for k, v in row.items() if k not in TICKING} for row in answer["data"]]


def body_of(received):
    return json.loads(received.split("\n\n", 1)[1])
'''

SUITE = r'''
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from pytest_proxmox_mpc.model.apischema import load_schema
from tools import FORM, body_of, curl, node, steady

VALUES = {"node": "pve1", "storage": "local", "poolid": "prod", "vmid": "101"}
WRITES = [w for w in load_schema().writes() if w != ("POST", "/access/ticket")]


def concrete(template):
    return re.sub(r"\{([^}]+)\}", lambda m: VALUES.get(m.group(1), m.group(1) + "-x"), template)


@pytest.mark.pve_expect_refusal
@pytest.mark.phase1
def test_phase1_tools_read_and_every_write_is_refused(pve_proxy, pve_sim, pve_audit, request, tmp_path):
    assert pve_proxy.phase == 1 and len(WRITES) == 337
    auth = {"Authorization": pve_proxy.authorization()}
    status, received = curl(pve_proxy, "GET", "/cluster/resources?type=vm")
    assert status == 200 and len(body_of(received)["data"]) == 12
    (listing,) = node(pve_proxy, [{"method": "GET", "path": "/cluster/resources?type=vm", "headers": auth}], tmp_path)
    assert listing["status"] == 200 and steady(json.loads(listing["body"])) == steady(body_of(received))

    before = len(pve_sim.requests)
    writes = [{"method": m, "path": concrete(t), "headers": {**auth, "Content-Type": FORM},
               "body": None if m == "DELETE" else "comment=must+never+arrive"} for m, t in WRITES]
    answers = node(pve_proxy, writes, tmp_path)
    for write, answer in zip(writes, answers):
        error = json.loads(answer["body"])
        assert answer["status"] == 403 and error["data"] is None, write
        assert error["errors"]["policy"].startswith("phase1:no-writes: phase 1 sends only GET"), write
        assert "rule phase1:no-writes" in error["message"]
    for method in ("POST", "PUT", "DELETE"):
        status, received = curl(pve_proxy, method, "/nodes/pve1/qemu/101/config", "-d", "memory=1")
        assert status == 403 and body_of(received)["errors"]["policy"].startswith("phase1:no-writes")
    assert pve_sim.requests[before:] == [], "a refused request reached the cluster"

    records = [r for r in pve_audit.records(test=request.node.nodeid) if r["source"] == "proxy"]
    assert records and all(r["phase"] == 1 for r in records)
    refused = [(r["method"], r["path"], r["rule"]) for r in records if r["decision"] == "refused"]
    assert refused == [(w["method"], w["path"], "phase1:no-writes") for w in writes] + [
        (m, "/nodes/pve1/qemu/101/config", "phase1:no-writes") for m in ("POST", "PUT", "DELETE")]
    allowed = [(r["method"], r["path"], r["status"]) for r in records if r["decision"] == "allowed"]
    assert allowed == [("GET", "/cluster/resources", 200)] * 2


@pytest.mark.pve_expect_refusal
@pytest.mark.phase1
def test_password_login_through_the_proxy(pve_proxy, pve_sim, tmp_path):
    before = len(pve_sim.requests)
    login = {"username": pve_proxy.user, "password": pve_proxy.password.reveal()}
    (answer,) = node(pve_proxy, [{"method": "POST", "path": "/access/ticket", "headers": {"Content-Type": FORM},
                                  "body": urlencode(login)}], tmp_path)
    ticket = json.loads(answer["body"])["data"]
    assert answer["status"] == 200 and ticket["username"] == pve_proxy.user
    assert pve_sim.requests[before:] == [], "the proxy answers the login itself"
    cookie = {"Cookie": "PVEAuthCookie=" + ticket["ticket"]}
    listing, no_csrf, write = node(pve_proxy, [
        {"method": "GET", "path": "/nodes", "headers": cookie},
        {"method": "POST", "path": "/nodes/pve1/qemu/101/status/stop", "headers": cookie},
        {"method": "POST", "path": "/nodes/pve1/qemu/101/status/stop",
         "headers": {**cookie, "CSRFPreventionToken": ticket["CSRFPreventionToken"]}},
    ], tmp_path)
    assert listing["status"] == 200 and len(json.loads(listing["body"])["data"]) == 3
    assert no_csrf["status"] == 401
    assert json.loads(no_csrf["body"])["message"] == "Permission denied - invalid csrf token"
    assert write["status"] == 403 and json.loads(write["body"])["errors"]["policy"].startswith("phase1:no-writes")
    # A JSON login, and a renewal with the ticket as the password, as PVE allows.
    status, received = curl(pve_proxy, "POST", "/access/ticket", "-H", "Content-Type: application/json",
                            "--data", json.dumps({"username": pve_proxy.user, "password": ticket["ticket"]}),
                            auth=False)
    assert status == 200 and body_of(received)["data"]["ticket"] != ticket["ticket"]
    assert [m for m, _, _ in pve_sim.requests[before:]] == ["GET"]


def test_wrong_credentials_get_401_and_nothing_reaches_the_cluster(pve_proxy, pve_sim, pve_readonly):
    upstream = pve_readonly._store["session"].auth
    real = [pve_sim.password, upstream.pve_auth_ticket, upstream.csrf_prevention_token, *pve_sim.tickets]
    before = len(pve_sim.requests)
    wrong_token = pve_proxy.authorization()[:-1] + ("1" if pve_proxy.authorization()[-1] == "0" else "0")
    cases = [
        ("GET", "/nodes", [], "No ticket"),
        ("GET", "/nodes", ["-H", "Authorization: " + wrong_token], "authentication failure"),
        ("GET", "/nodes", ["-H", f"Authorization: PVEAPIToken={pve_sim.user}!other=" + pve_proxy.token_value.reveal()],
         "authentication failure"),
        ("GET", "/nodes", ["-b", "PVEAuthCookie=" + upstream.pve_auth_ticket],
         "permission denied - invalid PVE ticket"),
        ("POST", "/access/ticket", ["-d", f"username={pve_proxy.user}&password=wrong"], "authentication failure"),
        ("POST", "/access/ticket", ["-d", f"username=someone@pve&password={pve_proxy.password.reveal()}"],
         "authentication failure"),
        ("POST", "/access/ticket", ["-d", f"username={pve_sim.user}&password={pve_sim.password}"],
         "authentication failure"),
    ]
    received_all = []
    for method, path, args, message in cases:
        status, received = curl(pve_proxy, method, path, *args, auth=False)
        assert status == 401 and body_of(received) == {"data": None, "message": message}, (path, args)
        received_all.append(received)
    assert pve_sim.requests[before:] == [], "a request with wrong credentials reached the cluster"
    for path in ("/cluster/resources?type=vm", "/version", "/access/users"):
        received_all.append(curl(pve_proxy, "GET", path)[1])
    received_all.append(curl(pve_proxy, "POST", "/access/ticket", "-d",
                             urlencode({"username": pve_proxy.user, "password": pve_proxy.password.reveal()}))[1])
    received = "\n".join(received_all)
    assert all(secret not in received for secret in real), "an upstream credential reached the tool"


@pytest.mark.pve_expect_refusal
@pytest.mark.phase3
def test_phase3_a_tool_writes_only_to_the_temporary_guests_it_created(pve_proxy, pve_sim, pve_audit, request,
                                                                       tmp_path):
    assert pve_proxy.phase == 3
    session = requests.Session()
    session.headers["Authorization"] = pve_proxy.authorization()
    session.verify, session.trust_env = str(pve_proxy.cafile), False  # REQUESTS_CA_BUNDLE would win otherwise

    def finished(upid):
        for _ in range(200):
            status = session.get(f"{pve_proxy.base_url}/nodes/pve1/tasks/{upid}/status").json()["data"]
            if status["status"] == "stopped":
                return status["exitstatus"]
        raise AssertionError("the task did not end")

    status, received = curl(pve_proxy, "POST", "/nodes/pve1/qemu", "-d", "vmid=990100", "-d", "name=proxy-tmp")
    assert status == 200 and finished(body_of(received)["data"]) == "OK"
    (change,) = node(pve_proxy, [{"method": "PUT", "path": "/nodes/pve1/qemu/990100/config",
                                  "headers": {"Authorization": pve_proxy.authorization(),
                                              "Content-Type": "application/json"},
                                  "body": json.dumps({"memory": 1024, "onboot": True})}], tmp_path)
    assert change["status"] == 200 and str(pve_sim.vm(990100).config["memory"]) == "1024"
    before = len(pve_sim.requests)
    status, received = curl(pve_proxy, "POST", "/nodes/pve1/qemu/101/status/stop")
    assert status == 403 and body_of(received)["errors"]["policy"].startswith("phase3:not-in-ledger: ")
    assert pve_sim.requests[before:] == []
    assert finished(session.delete(f"{pve_proxy.base_url}/nodes/pve1/qemu/990100").json()["data"]) == "OK"
    writes = [(r["method"], r["path"], r["rule"], r["status"], r["params"]) for r in
              pve_audit.records(test=request.node.nodeid) if r["method"] != "GET" and r["source"] == "proxy"]
    assert writes == [
        ("POST", "/nodes/pve1/qemu", "phase3:create-temporary", 200, {"vmid": "990100", "name": "proxy-tmp"}),
        ("PUT", "/nodes/pve1/qemu/990100/config", "phase3:ledger-guest", 200, {"memory": "1024", "onboot": "1"}),
        ("POST", "/nodes/pve1/qemu/101/status/stop", "phase3:not-in-ledger", None, {}),
        ("DELETE", "/nodes/pve1/qemu/990100", "phase3:ledger-guest", 200, {}),
    ]


@pytest.mark.pve_expect_refusal
def test_concurrent_clients_and_big_bodies(pve_proxy, pve_audit, request):
    url = f"{pve_proxy.base_url}/nodes/pve1/qemu/101/status/current"
    failures = []

    def client():
        with requests.Session() as session:
            session.headers["Authorization"] = pve_proxy.authorization()
            for _ in range(25):
                answer = session.get(url, verify=str(pve_proxy.cafile))
                if answer.status_code != 200 or answer.json()["data"]["vmid"] != 101:
                    failures.append(answer.status_code)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with requests.Session() as session:
        session.headers["Authorization"] = pve_proxy.authorization()
        session.verify, session.trust_env = str(pve_proxy.cafile), False
        upload = f"{pve_proxy.base_url}/nodes/pve1/storage/local/upload"
        big = session.post(upload, data=b"\x00\xff" * 4_000_000, headers={"Content-Type": "application/octet-stream"})
        chunked = session.post(upload, data=iter([b"content=iso&", b"filename=x.iso"]))
        assert (big.status_code, chunked.status_code) == (403, 403)
        Path("big.bin").write_bytes(b"\x00" * 3_000_000)  # curl asks for "100 Continue" before sending it
        status, received = curl(pve_proxy, "POST", "/nodes/pve1/storage/local/upload", "--expect100-timeout", "60",
                                "-H", "Content-Type: application/octet-stream", "--data-binary", "@big.bin",
                                timeout=30)
        assert status == 403
        assert session.get(url).status_code == 200, "the connection serves on after a refused big body"
    records = [r for r in pve_audit.records(test=request.node.nodeid) if r["source"] == "proxy"]
    assert sum(r["decision"] == "allowed" for r in records) == 201
    assert [(r["method"], r["rule"], r["params"]) for r in records if r["decision"] == "refused"] == [
        ("POST", "phase1:no-writes", {}), ("POST", "phase1:no-writes", {"content": "iso", "filename": "x.iso"}),
        ("POST", "phase1:no-writes", {})]
'''


def test_tools_in_other_processes_go_through_the_policy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(tools=TOOLS, test_tools=SUITE)
    result = pytester.runpytest("--pve-max-phase", "3", "-p", "no:randomly")
    result.assert_outcomes(passed=5)
    assert cli(["scan-secrets", str(pytester.path / ".pytest_proxmox_mpc")]) == 0


RECORDED = r'''
import json
import os
from pathlib import Path

from tools import body_of, curl, node


def test_listing(pve_proxy, pve_target, tmp_path):
    status, received = curl(pve_proxy, "GET", "/cluster/resources?type=vm")
    (nodes,) = node(pve_proxy, [{"method": "GET", "path": "/nodes",
                                 "headers": {"Authorization": pve_proxy.authorization()}}], tmp_path)
    assert status == 200 and nodes["status"] == 200
    Path(f"{pve_target.kind}.out").write_text(received.split("\n\n", 1)[1] + "\n" + nodes["body"])
'''


def test_a_tool_session_recorded_through_the_fixture_replays_without_a_cluster(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(tools=TOOLS, test_recorded=RECORDED)
    pytester.runpytest("--pve-record-mode", "once").assert_outcomes(passed=1)
    cassette = (pytester.path / "cassettes" / "test_recorded" / "test_listing.yaml").read_text()
    assert "/api2/json/cluster/resources?type=vm" in cassette and "/api2/json/nodes" in cassette
    pytester.runpytest("--pve-target", "replay").assert_outcomes(passed=1)
    recorded, replayed = (pytester.path / "sim.out").read_bytes(), (pytester.path / "replay.out").read_bytes()
    assert b'"vmid":101' in recorded and replayed == recorded
    assert cli(["scan-secrets", str(pytester.path / "cassettes"), str(pytester.path / ".pytest_proxmox_mpc")]) == 0


def start_proxy(cwd: Path, *args: str, password: str | None = None,
                ) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    """``pytest-proxmox-mpc proxy ARGS`` in ``cwd`` (with ``PVE_PASSWORD`` if ``password``, no other ``PVE_*``);
    (process, credentials, the lines it printed on start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    process = subprocess.Popen([sys.executable, "-m", "pytest_proxmox_mpc.cli", "proxy", "--credentials-file",
                                "creds.json", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**env, **({"PVE_PASSWORD": password} if password else {})})
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(4)]
    assert lines[0].startswith("proxy: https://127.0.0.1:"), [*lines, process.stderr.read() if process.stderr else ""]
    return process, json.loads((cwd / "creds.json").read_text()), lines


def stop_proxy(process: subprocess.Popen[str], number: int) -> tuple[str, str]:
    """Stop the proxy with signal ``number``; (what it printed on stdout, and on stderr) since it started."""
    process.send_signal(number)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out, err


NODE_SESSION = """
const creds = JSON.parse(require("fs").readFileSync("creds.json", "utf8"));
(async () => {
  const auth = {Authorization: creds.authorization};
  const parts = [];
  for (const path of ["/cluster/resources?type=vm", "/nodes", "/nodes/pve1/qemu/101/config"]) {
    parts.push(await (await fetch(creds.base_url + path, {headers: auth})).text());
  }
  const refused = await fetch(creds.base_url + "/nodes/pve1/qemu/101/status/stop", {method: "POST", headers: auth});
  parts.push(String(refused.status), await refused.text());
  process.stdout.write(parts.join("\\n"));
})();
"""


def test_the_console_proxy_records_on_sim_and_replays_without_a_cluster(tmp_path: Path) -> None:
    (tmp_path / "session.js").write_text(NODE_SESSION)
    outputs = []
    for target, extra, number in (("sim", ["--pve-record-mode", "once"], signal.SIGINT),
                                  ("replay", [], signal.SIGTERM)):
        process, creds, lines = start_proxy(tmp_path, "--pve-target", target, "--cassette", "mpc", *extra)
        try:
            assert (tmp_path / "creds.json").stat().st_mode & 0o777 == 0o600
            assert all(creds[key] not in "".join(lines) for key in ("token_value", "password", "authorization"))
            assert lines[1] == f"ca: {creds['cafile']}\n" and f"target {target}" in lines[0]
            done = subprocess.run(["node", "session.js"], cwd=tmp_path, capture_output=True, text=True, check=True,
                                  env={**os.environ, "NODE_EXTRA_CA_CERTS": creds["cafile"]})
            outputs.append(done.stdout)
        finally:
            out, err = stop_proxy(process, number)
        assert out.endswith("stopped after 4 requests\n") and not (tmp_path / "creds.json").exists()
        assert err == ("pytest-proxmox-mpc: safety proxy: refused POST /nodes/pve1/qemu/101/status/stop: phase 1 "
                       "sends only GET requests (and the login) (rule phase1:no-writes)\n")
    recorded, replayed = outputs
    assert '"name":"web-01"' in recorded and "\n403\n" in recorded and "phase1:no-writes" in recorded
    assert replayed == recorded, "the replayed session answers byte for byte what the recorded one did"
    cassette = (tmp_path / "cassettes" / "_proxy" / "mpc.yaml").read_text()
    assert "status/stop" not in cassette, "a refused request is never recorded"
    audit = [json.loads(line) for path in (tmp_path / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
             for line in path.read_text().splitlines()]
    proxied = [(r["method"], r["path"], r["decision"]) for r in audit if r["source"] == "proxy"]
    assert proxied.count(("POST", "/nodes/pve1/qemu/101/status/stop", "refused")) == 2
    assert proxied.count(("GET", "/cluster/resources", "allowed")) == 2
    assert cli(["scan-secrets", str(tmp_path / "cassettes"), str(tmp_path / ".pytest_proxmox_mpc")]) == 0


def test_the_console_proxy_tells_what_replay_lacks_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "cassettes").mkdir()
    done = subprocess.run([sys.executable, "-m", "pytest_proxmox_mpc.cli", "proxy", "--pve-target", "replay",
                           "--credentials-file", "creds.json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3 and len(done.stderr.splitlines()) == 1
    assert "no recorded answer for GET /api2/json/version" in done.stderr
    assert "record it with: pytest-proxmox-mpc proxy --cassette proxy --pve-record-mode new_episodes" in done.stderr


@pytest.mark.parametrize("listen", ["0.0.0.0:8443", "192.0.2.1:8443", "pve.example.org:8443", "[::]:8443", "8443"])
def test_the_proxy_listens_on_loopback_only(listen: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["proxy", "--listen", listen, "--credentials-file", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("pytest-proxmox-mpc: error: --listen ")
    assert not (tmp_path / "c.json").exists()


def test_loopback_addresses_are_accepted() -> None:
    assert parse_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert parse_listen("localhost:0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen("127.0.0.2:1") == ("127.0.0.2", 1)


def test_tickets_are_the_proxys_own_renewable_and_expire() -> None:
    now = [0.0]
    auth = ProxyAuth(ProxyCredentials.generate("ci@pve", "tool"), lifetime=100, clock=lambda: now[0])
    password = auth.credentials.password.reveal()
    assert auth.check("GET", auth.credentials.authorization(), None, None) is None
    assert auth.credentials.authorization().startswith("PVEAPIToken=ci@pve!tool=")
    assert auth.login({"username": "ci", "realm": "pve", "password": password}) is not None
    first = auth.login({"username": "ci@pve", "password": password})
    assert first is not None and first["username"] == "ci@pve"
    cookie = f"other=1; PVEAuthCookie={first['ticket']}"
    assert ticket_of(cookie) == first["ticket"]
    assert auth.check("GET", None, cookie, None) is None
    assert auth.check("PUT", None, cookie, "wrong") == "Permission denied - invalid csrf token"
    assert auth.check("PUT", None, cookie, first["CSRFPreventionToken"]) is None
    now[0] = 60
    renewed = auth.login({"username": "ci@pve", "password": first["ticket"]})
    assert renewed is not None
    now[0] = 120
    assert auth.check("GET", None, cookie, None) == "permission denied - invalid PVE ticket"
    assert auth.login({"username": "ci@pve", "password": first["ticket"]}) is None
    assert auth.check("GET", None, f"PVEAuthCookie={renewed['ticket']}", None) is None
    assert "***" in repr(auth.credentials) and password not in repr(auth.credentials)


def test_json_bodies_are_forwarded_as_form_fields() -> None:
    body, kind = form_params("application/json", b'{"memory": 1024, "onboot": true, "net": ["a", "b"], "x": null}')
    assert (body, kind) == (b"memory=1024&onboot=1&net=a&net=b", "application/x-www-form-urlencoded")
    nested = b'{"a": {"b": 1}}'
    assert form_params("application/json", nested) == (nested, None)  # opaque: the policy refuses it as a write
    assert form_params("application/x-www-form-urlencoded", b"a=1") == (b"a=1", None)


MPC_TOOL = """
import json, os, sys, yaml, proxmoxer, requests
from pathlib import Path
from pytest_proxmox_mpc.workspace.sync import sync_database
config = yaml.safe_load(Path(".proxmox/config.yml").read_text())
assert (config["host"], str(config["port"])) == (os.environ["PROXMOX_HOST"], os.environ["PROXMOX_PORT"])
header = "PVEAPIToken={}!{}={}".format(config["username"], config["tokenId"], os.environ["PROXMOX_TOKEN_SECRET"])
answer = requests.get("https://{}:{}/api2/json/cluster/resources".format(config["host"], config["port"]),
                      params={"type": "vm"}, headers={"Authorization": header},
                      verify=os.environ["NODE_EXTRA_CA_CERTS"])
answer.raise_for_status()
api = proxmoxer.ProxmoxAPI(config["host"], port=config["port"], user=config["username"], token_name=config["tokenId"],
                           token_value=os.environ["PROXMOX_TOKEN_SECRET"], verify_ssl=os.environ["REQUESTS_CA_BUNDLE"])
sync_database(api, ".proxmox/state.db")
print("listed", len(answer.json()["data"]), "guests at", config["host"], config["port"])
"""

USES_THE_COMMAND = """
def test_workspace(mpc_workspace, pve_audit, pve_target):
    config = mpc_workspace.config()
    assert config["host"] == "127.0.0.1" and str(config["port"]) not in pve_target.base_url
    assert mpc_workspace.command.exit_status == 0
    assert mpc_workspace.command.output.strip().endswith(f"listed 12 guests at 127.0.0.1 {config['port']}")
    proxied = [(r["method"], r["path"], r["decision"]) for r in pve_audit.records() if r.get("source") == "proxy"]
    assert proxied[0] == ("GET", "/cluster/resources", "allowed") and len(proxied) > 5
    assert all(decision == "allowed" and method == "GET" for method, _, decision in proxied)
"""


def test_mpc_command_runs_through_the_proxy_on_a_live_cluster(pytester: pytest.Pytester,
                                                              fakepve_process: FakePveProcess,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tool = pytester.makepyfile(tool=MPC_TOOL)
    pytester.makepyfile(test_ws=USES_THE_COMMAND)
    monkeypatch.setenv("PVE_PASSWORD", PASSWORD)
    result = pytester.runpytest("--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
                                "--pve-max-phase=2", f"--mpc-command={sys.executable} {tool}")
    result.assert_outcomes(passed=1)
    text = "".join(path.read_text() for path in (pytester.path / ".pytest_proxmox_mpc").rglob("*.json*"))
    assert PASSWORD not in text
    assert cli(["scan-secrets", str(pytester.path / ".pytest_proxmox_mpc")]) == 0
