"""Opening a proxmoxer client on an endpoint, with failures turned into one clear line.

Every request a client sends passes its ``Guard``, the login included: proxmoxer logs in with a
module-level ``requests.post`` that no session adapter sees, so the password login is done here, through
a policed session of its own, and proxmoxer is handed the resulting ticket.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
from requests.utils import get_environ_proxies

from ..errors import TargetUnavailable
from ..model.endpoint import Endpoint
from ..safety.policy import LOGIN_PATH, Policy
from . import _proxmoxer
from .guard import Guard, as_guard, police, police_session


class _PolicedTicketAuth(_proxmoxer.TicketAuth):
    """proxmoxer's ticket auth, logging in (and renewing the ticket) through a policed session."""

    def __init__(self, login: requests.Session, endpoint: Endpoint, password: str) -> None:
        self._login = login
        super().__init__(endpoint.user, password, base_url=endpoint.base_url, verify_ssl=endpoint.verify,
                         timeout=endpoint.timeout)

    def get_new_tokens(self, password: str | None) -> None:
        data = {"username": self.username, "password": password or self.current_ticket()}  # a renewal: the ticket
        answer = self._login.post(self.base_url + LOGIN_PATH, data=data, verify=self.verify_ssl,
                                  timeout=self.timeout)
        if answer.status_code in (401, 403):
            raise AuthenticationError(f"login refused with HTTP {answer.status_code}")
        if answer.status_code != 200:  # not PVE's answer to a login: a wrong port, a web server, a proxy
            raise TargetUnavailable(not_pve(self.base_url, f"the login got HTTP {answer.status_code} "
                                                           f"{answer.reason or ''}".strip()))
        try:
            ticket = answer.json()["data"]
        except (ValueError, KeyError, TypeError):  # not JSON, or JSON without data: a server, but not PVE
            ticket = None
        if isinstance(ticket, dict) and ticket.get("NeedTFA") is not None:
            raise AuthenticationError("the user needs two-factor authentication; use an API token instead")
        if not (isinstance(ticket, dict) and {"ticket", "CSRFPreventionToken"} <= ticket.keys()):
            raise TargetUnavailable(not_pve(self.base_url, "the login's answer holds no ticket"))
        self.keep_ticket(ticket["ticket"], ticket["CSRFPreventionToken"], time.monotonic())


def connect(endpoint: Endpoint, policy: Policy | Guard) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` (https backend) on ``endpoint``, every request of it passing ``policy``.

    The guard is installed before the first API call, so nothing unpoliced is ever sent. Password
    logins are checked here; token logins by the first request.
    Raises ``TargetUnavailable`` with one line, never a secret.
    """
    guard = as_guard(policy)
    if endpoint.token_name and endpoint.token_value is None:
        raise TargetUnavailable(f"API token {endpoint.token_name!r} has no secret")
    if not endpoint.token_name and endpoint.password is None:
        raise TargetUnavailable(f"no credentials for {endpoint.user} at {endpoint.base_url}")
    # A token auth sends nothing when it is made; for a password login it is replaced below, unused.
    token = endpoint.token_value.reveal() if endpoint.token_name and endpoint.token_value else "unused"
    api = ProxmoxAPI(endpoint.netloc, user=endpoint.user, backend="https", verify_ssl=endpoint.verify,
                     timeout=endpoint.timeout, token_name=endpoint.token_name or "unused", token_value=token)
    police(api, guard)
    session = _proxmoxer.session_of(api)
    assert session is not None  # police() refuses a client without one
    pin_environment(session, endpoint)
    if not endpoint.token_name:
        assert endpoint.password is not None
        login = police_session(pin_environment(requests.Session(), endpoint), guard)
        try:
            auth = _PolicedTicketAuth(login, endpoint, endpoint.password.reveal())
        except AuthenticationError:
            raise TargetUnavailable(f"login as {endpoint.user} refused by {endpoint.base_url} "
                                    "(wrong user or password?)") from None
        except requests.RequestException as exc:
            raise TargetUnavailable(describe_failure(endpoint, exc)) from None
        _proxmoxer.set_auth(api, auth)
    return api


def derive(api: Any, guard: Policy | Guard) -> Any:
    """A second client sharing ``api``'s login but with a session (and so a guard) of its own."""
    clone = police(_proxmoxer.with_new_session(api), guard)
    first = _proxmoxer.session_of(api)
    second = _proxmoxer.session_of(clone)
    if first is not None and second is not None:
        second.trust_env, second.proxies, second.verify = first.trust_env, dict(first.proxies), first.verify
    return clone


def pin_environment(session: requests.Session, endpoint: Endpoint) -> requests.Session:
    """Settle once what ``requests`` would look up in the environment on every request (two scans of
    ``os.environ`` per request, a third of a keep-alive GET's CPU): the proxy for ``endpoint`` (``HTTPS_PROXY``,
    ``ALL_PROXY``, spared by ``NO_PROXY``, as requests reads them) and TLS verification, which is the
    endpoint's alone (``--pve-ca-bundle``, ``--no-pve-verify-ssl``): ``REQUESTS_CA_BUNDLE`` and
    ``CURL_CA_BUNDLE`` no longer replace it. Proxy variables set after this are not seen."""
    proxies = get_environ_proxies(endpoint.base_url)  # {} when NO_PROXY spares the host
    session.trust_env = False
    session.proxies = {scheme: url for scheme, url in proxies.items() if scheme != "no"}
    session.verify = endpoint.verify
    return session


def not_pve(base_url: str, what: str) -> str:
    """One line for an address that answers, but not as a Proxmox VE API."""
    return f"{base_url} does not answer as a Proxmox VE API ({what}); check the host and port (PVE listens on 8006)"


def describe_failure(endpoint: Endpoint, exc: BaseException) -> str:
    """One line for a failed request: what went wrong and what to check. No URL parameters, no secrets."""
    where = endpoint.base_url
    if isinstance(exc, requests.exceptions.SSLError) and any(
            sign in str(exc).lower() for sign in ("wrong version number", "record layer failure", "unknown protocol")):
        return f"{where} does not answer with TLS (plain HTTP on that port?); a PVE API speaks HTTPS (port 8006)"
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"TLS verification of {where} failed; give the cluster's CA with --pve-ca-bundle "
                "(or --no-pve-verify-ssl on a trusted network)")
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer within {endpoint.timeout:g}s (--pve-timeout)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot reach {where}: connection failed (is the host and port right, is it up?)"
    return f"request to {where} failed: {type(exc).__name__}"


def read_version(api: Any, endpoint: Endpoint) -> str:
    """GET /version: the PVE version string. Authentication failures become ``TargetUnavailable``."""
    try:
        answer = api.version.get()
    except ResourceException as exc:
        if exc.status_code == 401:
            who = f"API token {endpoint.login_id}" if endpoint.token_name else endpoint.login_id
            raise TargetUnavailable(f"{endpoint.base_url} refused {who}: authentication failure") from None
        if exc.status_code in (404, 501):
            raise TargetUnavailable(not_pve(endpoint.base_url, f"GET /version got HTTP {exc.status_code}")) from None
        raise TargetUnavailable(f"GET /version on {endpoint.base_url} failed with HTTP {exc.status_code}") from None
    except requests.RequestException as exc:
        raise TargetUnavailable(describe_failure(endpoint, exc)) from None
    except (KeyError, TypeError):  # proxmoxer reads the answer's 'data': JSON without it is no PVE answer
        raise TargetUnavailable(not_pve(endpoint.base_url, "GET /version answered JSON without 'data'")) from None
    if not isinstance(answer, dict) or "version" not in answer:  # proxmoxer gives {'errors': body} for no JSON
        raise TargetUnavailable(not_pve(endpoint.base_url, "GET /version answered no PVE version")) from None
    return str(answer["version"])


def read_permissions(api: Any) -> tuple[dict[str, Any] | None, str | None]:
    """GET /access/permissions: what the credentials in use hold, ``{path: {privilege: 1}}``, or None and why not."""
    try:
        answer = api.access.permissions.get()
    except ResourceException as exc:
        return None, f"GET /access/permissions answered {exc.status_code}"
    except requests.RequestException as exc:
        return None, f"GET /access/permissions failed: {type(exc).__name__}"
    return (answer, None) if isinstance(answer, dict) else (None, "GET /access/permissions answered no object")


def connect_checked(endpoint: Endpoint, policy: Policy | Guard) -> tuple[Any, str]:
    """``connect``, then GET /version, which proves the credentials (a token login is checked only by a first
    request): the client and the PVE version. Raises ``TargetUnavailable`` with one line, never a secret."""
    api = connect(endpoint, policy)
    return api, read_version(api, endpoint)
