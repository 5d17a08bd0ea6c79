"""The proxy-only credentials: what a tool gets instead of the cluster's (``ProxyAccess``), and how the proxy
checks them (``ProxyAuth``).

Each proxy makes its own with ``secrets``: an API token (``Authorization: PVEAPIToken=USER@REALM!NAME=SECRET``)
and a password for ``USER@REALM``. ``POST /access/ticket`` is answered by the proxy itself (never sent
upstream): the password, or a ticket of this proxy's that is still valid (a renewal, as PVE allows), gives a
ticket and a CSRF token of the proxy's own; requests then send the ticket as the ``PVEAuthCookie`` cookie, and
writes the ``CSRFPreventionToken`` header, as with PVE. None of these is valid anywhere but at this proxy: the
real credentials stay in the proxy's upstream session. Nothing here imports pytest.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..faults import FaultPlan
from ..model.secret import Secret

TICKET_LIFETIME = 7200.0  # seconds, as PVE's tickets
TOKEN_SCHEME = "PVEAPIToken="
TICKET_COOKIE = "PVEAuthCookie"
CSRF_HEADER = "CSRFPreventionToken"


@dataclass(frozen=True)
class ProxyCredentials:
    """The proxy-only API token and password of ``user``. The secrets stay ``Secret`` until handed to a tool."""

    user: str
    token_name: str
    token_value: Secret
    password: Secret

    @classmethod
    def generate(cls, user: str, token_name: str = "proxy") -> ProxyCredentials:
        """Fresh credentials: a random UUID as the token's secret (PVE's form), a random password."""
        value = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
        return cls(user, token_name, Secret(value), Secret(secrets.token_urlsafe(24)))

    @property
    def token_id(self) -> str:
        """``USER@REALM!NAME``."""
        return f"{self.user}!{self.token_name}"

    def authorization(self) -> str:
        """The header value a tool sends: ``PVEAPIToken=USER@REALM!NAME=SECRET`` (reveals the secret)."""
        return f"{TOKEN_SCHEME}{self.token_id}={self.token_value.reveal()}"


@dataclass(frozen=True)
class _Ticket:
    user: str
    csrf: str
    expires: float


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def ticket_of(cookie_header: str | None) -> str | None:
    """The ``PVEAuthCookie`` value of a ``Cookie`` header (URL-decoded, as PVE reads it), if there is one."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == TICKET_COOKIE:
            return unquote(value.strip().strip('"'))
    return None


class ProxyAuth:
    """Checks a tool's requests against one proxy's credentials and the tickets it issued (thread-safe)."""

    def __init__(self, credentials: ProxyCredentials, lifetime: float = TICKET_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.lifetime = lifetime
        self._clock = clock
        self._tickets: dict[str, _Ticket] = {}
        self._lock = threading.Lock()

    def login(self, params: Mapping[str, str]) -> dict[str, Any] | None:
        """The answer's ``data`` for ``POST /access/ticket`` with ``params`` (``username`` [+ ``realm``] and
        ``password``, which may be a valid ticket of this proxy's), or None: authentication failure."""
        user = params.get("username", "")
        if "@" not in user and params.get("realm"):
            user = f"{user}@{params['realm']}"
        password = params.get("password", "")
        if not _same(user, self.credentials.user):
            return None
        if not (_same(password, self.credentials.password.reveal()) or self._valid(password) is not None):
            return None
        stamp = f"{int(time.time()):08X}"
        ticket = f"PVE:{user}:{stamp}::{base64.b64encode(secrets.token_bytes(96)).decode()}"
        csrf = f"{stamp}:{base64.b64encode(secrets.token_bytes(24)).decode()}"
        now = self._clock()
        with self._lock:
            self._tickets = {key: t for key, t in self._tickets.items() if t.expires > now}
            self._tickets[ticket] = _Ticket(user, csrf, now + self.lifetime)
        return {"username": user, "ticket": ticket, "CSRFPreventionToken": csrf, "cap": {}}

    def _valid(self, ticket: str) -> _Ticket | None:
        with self._lock:
            found = self._tickets.get(ticket)
        return found if found is not None and found.expires > self._clock() else None

    def check(self, method: str, authorization: str | None, cookie: str | None, csrf: str | None) -> str | None:
        """None when the request carries this proxy's API token, or its ticket (and, for anything but GET,
        the ticket's CSRF token); otherwise PVE's words for why not. Never names a credential."""
        if authorization:
            if authorization.startswith(TOKEN_SCHEME) and _same(authorization, self.credentials.authorization()):
                return None
            return "authentication failure"
        ticket = ticket_of(cookie)
        if ticket is None:
            return "No ticket"
        found = self._valid(ticket)
        if found is None:
            return "permission denied - invalid PVE ticket"
        if method not in ("GET", "HEAD") and not _same(csrf or "", found.csrf):
            return "Permission denied - invalid csrf token"
        return None


@dataclass(frozen=True)
class ProxyAccess:
    """What a tool is given: where the proxy listens, the CA file of its certificate, the proxy-only
    credentials (``token_value`` and ``password`` stay ``Secret``) and the phase it polices."""

    host: str
    port: int
    cafile: Path
    phase: int
    credentials: ProxyCredentials
    reserver: Callable[[], int] | None = field(default=None, repr=False, compare=False)
    handed: Callable[[], frozenset[int]] | None = field(default=None, repr=False, compare=False)
    faults: FaultPlan | None = field(default=None, repr=False, compare=False)  # injected in the cluster's place

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        return f"https://[{self.host}]:{self.port}" if ":" in self.host else f"https://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API root, ``https://127.0.0.1:PORT/api2/json``."""
        return self.url + "/api2/json"

    @property
    def user(self) -> str:
        return self.credentials.user

    @property
    def token_name(self) -> str:
        return self.credentials.token_name

    @property
    def token_id(self) -> str:
        """``USER@REALM!NAME``."""
        return self.credentials.token_id

    @property
    def token_value(self) -> Secret:
        """The token's secret."""
        return self.credentials.token_value

    @property
    def password(self) -> Secret:
        """The proxy-only password of ``user``."""
        return self.credentials.password

    def reserve_vmid(self) -> int:
        """A free VMID of the temporary range, reserved for the running test (released at its end if no guest
        got it), for a tool that must be told one (``vm create --vmid N``). Phases 3 and 4 only."""
        if self.reserver is None:
            raise ValueError(f"the safety proxy of phase {self.phase} creates nothing: VMIDs are reserved in "
                             "phases 3 and 4 only")
        return self.reserver()

    def handed_out(self) -> frozenset[int]:
        """The VMIDs this proxy handed to tools (``/cluster/nextid``, ``reserve_vmid``) and has not released;
        none in phases 1-2."""
        return self.handed() if self.handed is not None else frozenset()

    def authorization(self) -> str:
        """``PVEAPIToken=USER@REALM!NAME=SECRET``, the header a tool sends (reveals the secret)."""
        return self.credentials.authorization()

    def revealed(self) -> dict[str, Any]:
        """Everything a tool needs, secrets included: for the 0600 credentials file only."""
        return {"url": self.url, "base_url": self.base_url, "host": self.host, "port": self.port,
                "cafile": str(self.cafile), "phase": self.phase, "user": self.user, "token_name": self.token_name,
                "token_id": self.token_id, "token_value": self.token_value.reveal(),
                "password": self.password.reveal(), "authorization": self.authorization(),
                **({"reserve_vmid_url": f"{self.url}/_proxy/reserve-vmid"} if self.reserver else {})}
