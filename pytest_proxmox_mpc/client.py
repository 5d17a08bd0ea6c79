"""Opening a proxmoxer client on an endpoint, with failures turned into one clear line."""

from __future__ import annotations

from typing import Any

import requests

from .endpoint import Endpoint
from .errors import TargetUnavailable
from .guard import police
from .policy import Policy


def connect(endpoint: Endpoint, policy: Policy) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` (https backend) on ``endpoint``, guarded by ``policy`` from the start.

    The guard is installed before the first API call, so nothing unpoliced is ever sent. Password
    logins are checked here (proxmoxer logs in at once); token logins by the first request.
    Raises ``TargetUnavailable`` with one line, never a secret.
    """
    from proxmoxer import AuthenticationError, ProxmoxAPI

    auth: dict[str, Any]
    if endpoint.token_name:
        if endpoint.token_value is None:
            raise TargetUnavailable(f"API token {endpoint.token_name!r} has no secret")
        auth = {"token_name": endpoint.token_name, "token_value": endpoint.token_value.reveal()}
    elif endpoint.password is not None:
        auth = {"password": endpoint.password.reveal()}
    else:
        raise TargetUnavailable(f"no credentials for {endpoint.user} at {endpoint.base_url}")
    try:
        api = ProxmoxAPI(endpoint.netloc, user=endpoint.user, backend="https", verify_ssl=endpoint.verify,
                         timeout=endpoint.timeout, **auth)
    except AuthenticationError:
        raise TargetUnavailable(f"login as {endpoint.user} refused by {endpoint.base_url} "
                                "(wrong user or password?)") from None
    except requests.RequestException as exc:
        raise TargetUnavailable(describe_failure(endpoint, exc)) from None
    return police(api, policy)


def describe_failure(endpoint: Endpoint, exc: BaseException) -> str:
    """One line for a failed request: what went wrong and what to check. No URL parameters, no secrets."""
    where = endpoint.base_url
    if isinstance(exc, requests.exceptions.SSLError):
        return (f"TLS verification of {where} failed; give the cluster's CA with --pve-ca-bundle "
                "(or --pve-no-verify-ssl on a trusted network)")
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer within {endpoint.timeout:g}s (--pve-timeout)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot reach {where}: connection failed (is the host and port right, is it up?)"
    return f"request to {where} failed: {type(exc).__name__}"


def read_version(api: Any, endpoint: Endpoint) -> str:
    """GET /version: the PVE version string. Authentication failures become ``TargetUnavailable``."""
    from proxmoxer import ResourceException

    try:
        answer = api.version.get()
    except ResourceException as exc:
        if exc.status_code == 401:
            who = f"API token {endpoint.user}!{endpoint.token_name}" if endpoint.token_name else endpoint.user
            raise TargetUnavailable(f"{endpoint.base_url} refused {who}: authentication failure") from None
        raise TargetUnavailable(f"GET /version on {endpoint.base_url} failed with HTTP {exc.status_code}") from None
    except requests.RequestException as exc:
        raise TargetUnavailable(describe_failure(endpoint, exc)) from None
    return str(answer.get("version", "unknown")) if isinstance(answer, dict) else "unknown"
