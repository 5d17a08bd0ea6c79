"""Every use of proxmoxer's private parts, in one place (checked against proxmoxer 2.3).

The guard must sit on the very session proxmoxer sends with, and a second client must share a first one's
login without logging in again; proxmoxer offers neither, so this reaches into ``ProxmoxAPI._store`` (its
``session``), ``._backend`` (its ``auth`` and ``get_session``) and ``._backend_name``, and overrides the
ticket auth's ``_get_new_tokens`` (the one place it logs in). When proxmoxer changes, this is the module to
read again.
"""

from __future__ import annotations

from typing import Any

import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.backends.https import ProxmoxHTTPAuth
from requests.auth import AuthBase

__all__ = ["ProxmoxAPI", "TicketAuth", "auth_of", "backend_name", "base_url_of", "session_of", "set_auth",
           "with_new_session"]


class TicketAuth(ProxmoxHTTPAuth):  # type: ignore[misc]
    """proxmoxer's ticket auth; a subclass overrides ``get_new_tokens`` (the login, and each renewal)."""

    def _get_new_tokens(self, password: str | None = None, otp: str | None = None,
                        otptype: str | None = None) -> None:
        self.get_new_tokens(password)

    def get_new_tokens(self, password: str | None) -> None:
        raise NotImplementedError

    def keep_ticket(self, ticket: str, csrf_token: str, born: float) -> None:
        """What proxmoxer's auth sends from now on (and renews from)."""
        self.birth_time = born
        self.pve_auth_ticket = ticket
        self.csrf_prevention_token = csrf_token

    def current_ticket(self) -> str:
        return str(getattr(self, "pve_auth_ticket", ""))


def session_of(api: Any) -> requests.Session | None:
    """The ``requests.Session`` a proxmoxer API (or resource) sends with; None for the ssh/local backends."""
    store = getattr(api, "_store", None)
    session = store.get("session") if isinstance(store, dict) else None
    return session if isinstance(session, requests.Session) else None


def backend_name(api: Any) -> str:
    return str(getattr(api, "_backend_name", "https"))


def base_url_of(api: Any) -> str:
    """The URL a proxmoxer API (or resource) sends to: ``https://host:port/api2/json`` for the API itself."""
    return str(api._store["base_url"])


def set_auth(api: Any, auth: AuthBase) -> None:
    """Make ``api`` authenticate with ``auth`` (its backend and its session alike)."""
    api._backend.auth = api._store["session"].auth = auth


def auth_of(api: Any) -> AuthBase:
    """How ``api`` authenticates (its token, or its login's ticket)."""
    auth: AuthBase = api._store["session"].auth
    return auth


def with_new_session(api: Any) -> Any:
    """A second ``ProxmoxAPI`` sharing ``api``'s login but sending with a session of its own."""
    clone = ProxmoxAPI.__new__(ProxmoxAPI)
    clone.__dict__.update(api.__dict__)
    clone._store = dict(api._store, session=api._backend.get_session())
    return clone
