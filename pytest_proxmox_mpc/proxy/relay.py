"""The safety proxy: a loopback HTTPS reverse proxy that puts the plugin's policy in front of any tool.

Proxmox-MPC (Node.js), Terraform providers and Ansible modules send their own HTTP requests, which never pass
the plugin's Python client. Pointed at the proxy instead of the cluster, they get the same protection:

- the tool authenticates with credentials made for this proxy alone (``proxyauth``); the proxy authenticates
  upstream with the real ones (the login of a ``client.connect`` client, shared and never repeated per
  request) on keep-alive connections (see ``Upstream``), which the tool never sees;
- every request takes the guard's one safety path (``Guard.send``): the same ``PhasePolicy`` as the in-process
  client of the proxy's phase, the run's audit trail (lines marked ``"source": "proxy"``), ledger and
  recorder. A refused request never leaves; the tool gets PVE's error shape, status 403, with
  ``errors.policy`` = ``"<rule>: <reason>"``;
- while a recorder is in use (recording or replaying), JSON answers are given in the form the cassette
  keeps (secret-named fields ``***``, compact JSON), so a replayed session answers byte for byte what the
  recorded one answered (``--pve-anonymize`` aside, which rewrites cassettes when they are saved);
- the tool's ``Authorization``, ``Cookie`` and ``CSRFPreventionToken`` and hop-by-hop headers are never
  forwarded; a JSON object body is forwarded as the equivalent form fields (PVE takes both), so the policy
  and the cassette see its parameters; only ``/api2/json`` and ``/api2/extjs`` paths are forwarded.

Connections are served by threads (the guard, trail, ledger and recorder are thread-safe; see ``Upstream``).
Nothing here imports pytest.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from ..cluster._proxmoxer import auth_of
from ..cluster.client import describe_failure, pin_environment
from ..cluster.direct import DirectChannel, RawAnswer, plain_route
from ..cluster.guard import Guard, InjectedBreak, police_session
from ..errors import CassetteError, GuestCreateFailed, SafetyViolation
from ..model.endpoint import Endpoint
from ..programs.install import PROGRAM_PATH
from ..safety.network import is_loopback_host
from ..safety.policy import LOGIN_PATH, ApiRequest
from ..safety.redact import SECRET_HEADERS
from .auth import CSRF_HEADER, ProxyAccess, ProxyAuth, ProxyCredentials
from .faulted import broken
from .programs import ProgramDesk
from .server import Answer, ProxyServer
from .toolguests import ToolGuests

LOG = logging.getLogger("pytest_proxmox_mpc.proxy")
RESERVE_PATH = "/_proxy/reserve-vmid"  # the proxy's own endpoint: a VMID for a tool that must be told one
LOCALHOST = "127.0.0.1"
PROXY_CASSETTES = "_proxy"  # below the cassette directory: the console proxy's cassettes, _proxy/<name>.yaml
POOL_SIZE = 32  # upstream keep-alive connections kept for concurrent requests
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade"})
NOT_FORWARDED = HOP_BY_HOP | SECRET_HEADERS | {"host", "content-length", "accept-encoding", "expect"}
NOT_RETURNED = HOP_BY_HOP | SECRET_HEADERS | {"content-length", "content-encoding", "date", "server"}
FORM = "application/x-www-form-urlencoded"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT``) of a loopback address; port 0 takes any free one. ``ValueError`` otherwise."""
    host, colon, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host == "localhost":
        return LOCALHOST, int(port)
    if not is_loopback_host(host):
        raise ValueError(f"{text!r} is not a loopback address: only 127.0.0.1, ::1 or localhost are listened on")
    return host, int(port)


class Upstream:
    """The cluster behind the proxy, policed by ``guard``, authenticating with ``auth`` (a ``client.connect``
    client's: an API token, or the ticket of its login, renewed as proxmoxer does).

    Every request takes the guard's one safety path (``Guard.send``), on one of two routes: a ``DirectChannel``
    (keep-alive connections spoken with h11: a fifth of ``requests``' cost per request), or, while a recorder
    records or plays (it works through ``requests``) or an HTTP proxy is configured, one keep-alive
    ``requests.Session`` with the guard's ``PolicedAdapter``. Shared by the proxy's threads: the channel's and
    urllib3's pools lock themselves, the guard's trail, ledger and recorder lock their own state, and the
    policy keeps none between decisions.
    """

    def __init__(self, endpoint: Endpoint, auth: AuthBase, guard: Guard) -> None:
        self.endpoint = endpoint
        self.origin = f"https://{endpoint.netloc}"
        self.guard = guard
        self.auth = auth
        self.session = pin_environment(requests.Session(), endpoint)
        self.session.auth = auth
        self.session.mount("https://", HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE))
        police_session(self.session, guard)
        self.channel = (DirectChannel(endpoint.netloc, auth, guard, endpoint.verify, endpoint.timeout, POOL_SIZE)
                        if plain_route(guard, self.session) else None)

    def send(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> RawAnswer:
        """Send ``method target`` (path and query as the tool sent them) upstream through the guard."""
        if self.channel is not None and self.guard.recorder is None:
            return self.channel.send(method, target, headers, body)
        cookies = getattr(self.auth, "get_cookies", None)  # a ticket login's cookie; a token needs none
        response = self.session.request(method, self.origin + target, data=body or None, headers=dict(headers),
                                        cookies=cookies() if cookies else None, verify=self.endpoint.verify,
                                        timeout=self.endpoint.timeout, allow_redirects=False)
        return RawAnswer(response.status_code, response.reason or "", list(response.headers.items()),
                         response.content)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.session.close()


def with_hint(exc: CassetteError, record_hint: str | None) -> str:
    """The recorder's one line for a missing answer, its pytest command replaced by ``record_hint`` if given."""
    message, hint, _ = str(exc).partition("; record it with:")
    return f"{message}; {record_hint}" if hint and record_hint else str(exc)


def pve_error(status: int, message: str, errors: Mapping[str, str] | None = None) -> Answer:
    """An answer in PVE's error shape: ``{"data": null, "message": ..., "errors": {...}}``."""
    body: dict[str, Any] = {"data": None, "message": message}
    if errors:
        body["errors"] = dict(errors)
    return Answer(status, message.splitlines()[0][:200], [("Content-Type", "application/json;charset=UTF-8")],
                  json.dumps(body).encode())


def form_params(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    """(body, content type) to forward: a JSON object of scalars (or lists of them) as form fields; anything
    else as it came (the policy then cannot read a write's body and refuses it)."""
    if not body or "json" not in content_type.lower():
        return body, None
    try:
        data = json.loads(body)
    except ValueError:
        return body, None
    if not isinstance(data, dict):
        return body, None
    fields: list[tuple[str, str]] = []
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                fields.append((key, "1" if item else "0"))
            elif isinstance(item, (str, int, float)):
                fields.append((key, str(item)))
            elif item is not None:
                return body, None
    return urlencode(fields).encode(), FORM


class SafetyProxy:
    """A started proxy in front of ``upstream`` for ``phase``; ``access`` is what a tool is given.

    ``stop()`` (or leaving the ``with`` block) closes every connection and the upstream session.
    """

    def __init__(self, upstream: Upstream, workdir: Path, *, phase: int, credentials: ProxyCredentials,
                 listen: tuple[str, int] = (LOCALHOST, 0), record_hint: str | None = None,
                 tools: ToolGuests | None = None, police: tuple[str, ...] = ()) -> None:
        self.upstream = upstream
        self.phase = phase
        self.tools = tools  # phases 3-4: the VMIDs handed to tools and the guests they made
        if tools is not None:
            tools.is_free = self._is_free
            upstream.guard.on_create = tools.created
        self.record_hint = record_hint  # what a missing recorded answer tells to run, when not pytest's command
        self.auth = ProxyAuth(credentials)
        self.programs = ProgramDesk(upstream.guard, phase, self._get, police,
                                    lambda: (credentials.token_value.reveal(), credentials.password.reveal()))
        self._counter = itertools.count(1)
        self.requests = 0  # received so far
        self._server = ProxyServer(listen, workdir, self.answer)
        self.access = ProxyAccess(self._server.host, self._server.port, self._server.cafile, phase, credentials,
                                  reserver=tools.next_free if tools is not None else None,
                                  handed=tools.handed_out if tools is not None else None,
                                  faults=upstream.guard.faults)
        self._server.start()

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """The answer to one request of the tool (``headers``: a case-insensitive mapping)."""
        self.requests = next(self._counter)  # itertools.count is atomic: threads never lose a count
        described = ApiRequest.from_http(method, target)
        path = described.path
        if target.split("?")[0] in (RESERVE_PATH, PROGRAM_PATH):
            problem = self.auth.check(method, headers.get("Authorization"), headers.get("Cookie"),
                                      headers.get(CSRF_HEADER))
            if problem is not None:
                return pve_error(401, problem)
            if target.split("?")[0] == PROGRAM_PATH:
                return _json_answer(self.programs.answer(body))
            return self._reserve()
        if path is None or not target.startswith("/"):
            return pve_error(404, "the safety proxy forwards only API requests (/api2/json/...)")
        if method == "POST" and path == LOGIN_PATH:
            return self._login(headers, body)
        problem = self.auth.check(method, headers.get("Authorization"), headers.get("Cookie"),
                                  headers.get(CSRF_HEADER))
        if problem is not None:
            LOG.warning("safety proxy: %s %s: 401 %s", method, path, problem)
            return pve_error(401, problem)
        if self.tools is not None and method == "GET" and path == "/cluster/nextid":
            return self._nextid(described.params.get("vmid"))
        body, content_type = form_params(headers.get("Content-Type", ""), body)
        named = {token.strip().lower() for token in headers.get("Connection", "").split(",")}  # hop-by-hop too
        forward = {name: value for name, value in headers.items()
                   if name.lower() not in NOT_FORWARDED and name.lower() not in named}
        if content_type is not None:
            forward = {k: v for k, v in forward.items() if k.lower() != "content-type"} | {"Content-Type": content_type}
        try:
            response = self.upstream.send(method, target, forward, body)
        except SafetyViolation as exc:
            LOG.warning("safety proxy: %s", exc)
            return pve_error(403, str(exc), {"policy": f"{exc.rule}: {exc.reason}"})
        except InjectedBreak as exc:  # a fault: the tool's connection breaks as the fault says
            return broken(exc.fault)
        except CassetteError as exc:
            message = with_hint(exc, self.record_hint)
            LOG.warning("safety proxy: %s", message)
            return pve_error(502, message)
        except requests.RequestException as exc:
            message = describe_failure(self.upstream.endpoint, exc)
            LOG.warning("safety proxy: %s %s: %s", method, path, message)
            return pve_error(504 if isinstance(exc, requests.Timeout) else 502, message)
        except Exception as exc:  # one line for the tool, never a traceback with a request's details in it
            LOG.warning("safety proxy: %s %s failed: %s", method, path, type(exc).__name__)
            return pve_error(500, f"the safety proxy failed to forward the request ({type(exc).__name__})")
        return self._relay(response)

    def _is_free(self, vmid: int) -> bool:
        """Whether the cluster has no guest ``vmid`` (PVE's own answer to ``/cluster/nextid?vmid=N``)."""
        return self.upstream.send("GET", f"/api2/json/cluster/nextid?vmid={vmid}", {}, b"").status == 200

    def _nextid(self, asked: str | None) -> Answer:
        """``/cluster/nextid`` in phases 3-4: a free VMID of the temporary range, never a production one."""
        assert self.tools is not None
        try:
            if asked is None:
                return _json_answer(str(self.tools.next_free()))
            if asked.strip().isdigit() and self.tools.claim(int(asked)):
                return _json_answer(str(int(asked)))
        except GuestCreateFailed as exc:
            return pve_error(500, str(exc))
        except SafetyViolation as exc:
            return pve_error(403, str(exc), {"policy": f"{exc.rule}: {exc.reason}"})
        # As PVE answers for a VMID in use: a tool then asks for another, or gives up with PVE's message.
        return pve_error(400, "Parameter verification failed.", {"vmid": f"VM {asked} already exists"})

    def _get(self, path: str) -> Any:
        """The data of ``GET /api2/json<path>`` through the guard (for the program rules); raises when it failed."""
        answer = self.upstream.send("GET", "/api2/json" + path, {}, b"")
        if answer.status != 200:
            raise OSError(f"GET {path.split('?')[0]}: {answer.status}")
        return json.loads(answer.body).get("data")

    def _reserve(self) -> Answer:
        """``POST /_proxy/reserve-vmid`` (with the proxy's credentials): a VMID for a tool that must be told one."""
        if self.tools is None:
            return pve_error(400, f"the safety proxy of phase {self.phase} creates nothing: VMIDs are reserved "
                                  "in phases 3 and 4 only")
        try:
            return _json_answer(self.tools.next_free())
        except GuestCreateFailed as exc:
            return pve_error(500, str(exc))

    def _login(self, headers: Mapping[str, str], body: bytes) -> Answer:
        form, _ = form_params(headers.get("Content-Type", ""), body)
        try:
            params = dict(parse_qsl(form.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            params = {}
        data = self.auth.login(params)
        if data is None:
            LOG.warning("safety proxy: POST %s: 401 authentication failure", LOGIN_PATH)
            return pve_error(401, "authentication failure")
        return Answer(200, "OK", [("Content-Type", "application/json;charset=UTF-8")],
                      json.dumps({"data": data}).encode())

    def _relay(self, response: RawAnswer) -> Answer:
        headers = [(name, value) for name, value in response.headers if name.lower() not in NOT_RETURNED]
        body = response.body
        if self.upstream.guard.recorder is not None:  # answer what the cassette keeps, so replay is identical
            from ..recording.recorder import scrub_body  # vcrpy only for a run that records or replays

            body = scrub_body(body)
        return Answer(response.status, response.reason or "", headers, body)

    def stop(self) -> None:
        """Stop listening, close the tools' connections and the upstream session."""
        self._server.stop()
        self.upstream.close()

    def __enter__(self) -> SafetyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _json_answer(data: Any) -> Answer:
    return Answer(200, "OK", [("Content-Type", "application/json;charset=UTF-8")], json.dumps({"data": data}).encode())


def open_proxy(endpoint: Endpoint, api: Any, guard: Guard, workdir: Path, *, phase: int,
               listen: tuple[str, int] = (LOCALHOST, 0), token_name: str = "proxy",
               record_hint: str | None = None, tools: ToolGuests | None = None,
               police: tuple[str, ...] = ()) -> SafetyProxy:
    """Start a proxy in front of ``endpoint`` for tools in other processes, authenticating upstream as ``api`` (a
    ``connect`` client, whose login it shares), every request passing ``guard`` (its policy, audit trail, ledger and
    recorder). ``phase`` is what the proxy reports; ``proxy.access`` holds the proxy-only credentials to hand to
    a tool. With ``tools`` (phases 3-4), ``/cluster/nextid`` is answered from the temporary range and the guests
    tools create are tracked for removal (``tools.finish``). Stop it with ``stop()`` or use it as a context
    manager."""
    upstream = Upstream(endpoint, auth_of(api), guard)
    credentials = ProxyCredentials.generate(endpoint.user, token_name)
    started = time.perf_counter()
    proxy = SafetyProxy(upstream, workdir, phase=phase, credentials=credentials, listen=listen,
                        record_hint=record_hint, tools=tools, police=police)
    LOG.debug("safety proxy for phase %d on %s, started in %.0f ms", phase, proxy.access.url,
              (time.perf_counter() - started) * 1000)
    return proxy
