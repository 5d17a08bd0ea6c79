"""The guard: a requests transport adapter that asks the policy before anything is sent.

proxmoxer's https backend sends every API call through one ``requests.Session`` that all resource
objects of a ``ProxmoxAPI`` share. Wrapping that session's transport adapters therefore polices
resource objects made before the guard was installed too, and a refused request is stopped below
every client-side convenience but above the socket (and above vcrpy, which patches the socket layer).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import BaseAdapter

from .errors import UnsupportedClient
from .policy import ApiRequest, Policy


class PolicedAdapter(BaseAdapter):
    """Sends a request through ``inner`` only when ``policy`` allows it; raises the violation otherwise."""

    def __init__(self, inner: BaseAdapter, policy: Policy) -> None:
        super().__init__()
        self.inner = inner
        self.policy = policy

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        described = ApiRequest.from_http(request.method or "", request.url or "", request.body)
        self.policy.decide(described).raise_if_refused(described)
        return self.inner.send(request, *args, **kwargs)

    def close(self) -> None:
        self.inner.close()


def police(api: Any, policy: Policy) -> Any:
    """Make every request of a proxmoxer API (or resource) pass ``policy``; returns the same object.

    Only the https backend is supported: the ssh and local backends run ``pvesh`` commands the guard
    cannot see, so they are refused with ``UnsupportedClient`` rather than left unguarded.
    """
    backend = getattr(api, "_backend_name", "https")
    store = getattr(api, "_store", None)
    session = store.get("session") if isinstance(store, dict) else None
    if backend != "https" or not isinstance(session, requests.Session):
        raise UnsupportedClient(f"cannot guard a proxmoxer client with the {backend!r} backend: only the "
                                "https backend's requests can be policed")
    for prefix, adapter in list(session.adapters.items()):
        if isinstance(adapter, PolicedAdapter):
            adapter.policy = policy
        else:
            session.mount(prefix, PolicedAdapter(adapter, policy))
    return api
