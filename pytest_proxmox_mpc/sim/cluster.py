"""The sim target: fakepve served in this process on 127.0.0.1, on its own event loop thread.

fakepve (AGPL-3.0) is imported only here, and this module is imported only when the sim target is
chosen, so projects that test against their own cluster never load it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ..model.endpoint import Endpoint
from ..model.secret import Secret
from .apidoc import serve_apidoc
from .scenario import load_scenario

HOST = "127.0.0.1"
# The user of the read-only API token (``readonly_token``): the role PVEAuditor on /, as the README recommends for
# phases 1 and 2 on a real cluster.
READONLY_USER = "auditor@pve"
START_TIMEOUT = 30.0
GUEST_TUNABLES = ("shutdown_secs", "start_secs", "stop_secs", "start_error", "ha_state")
SERVER_LOGGER = "aiohttp.server"


class _NoTracebacks(logging.Filter):
    """Log the server thread's request errors (fakepve's injected dropped connections) as one line.

    Formatting a traceback calls ``ast.parse`` on CPython 3.11, which is not thread-safe there: done on
    the server's thread while pytest formats an exception on the main thread, one of them fails with
    "SystemError: AST constructor recursion depth mismatch".
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(error).__name__}: {error}", None
            record.exc_info = record.exc_text = None
        return True


NO_TRACEBACKS = _NoTracebacks()


class SimCluster:
    """A started fakepve with a scenario loaded. ``pve`` is the ``fakepve.FakePve`` (for faults).

    The login is ``user`` with ``password`` (made for this run unless given), or the API token
    ``token_name`` (its secret made for this run unless given); TLS is verified against the
    self-signed certificate made in ``workdir`` for ``host``. It listens on ``host:port`` (port 0: any free one).
    With ``readonly_token``, the API token ``READONLY_USER!token_name`` with that secret too, which holds the role
    PVEAuditor on / and nothing else (``readonly_endpoint``).
    """

    def __init__(self, scenario: Path, workdir: Path, user: str = "root@pam", token_name: str | None = None,
                 token_value: Secret | None = None, *, password: Secret | None = None, host: str = HOST,
                 port: int = 0, readonly_token: Secret | None = None) -> None:
        from fakepve import FakePve
        from fakepve.certs import make_cert
        from fakepve.shapes import ROLES

        self.scenario = scenario
        self.user = user
        self._password = password or Secret(secrets.token_urlsafe(24))
        self.host = host
        self.certfile, keyfile, _ = make_cert(str(workdir), name="pytest-proxmox-mpc-sim", hosts=(host,))
        self.pve: Any = FakePve(user=user, password=self._password.reveal(), host=host, port=port)
        self.pve.time_scale = 0
        scenario_data = load_scenario(scenario)
        # as a real node: the plugin reads its API schema from there on live
        serve_apidoc(self.pve, tuple(scenario_data.get("api_schema", {}).get("remove", ())))
        self.token_name = token_name
        self._token_value = None
        if token_name:
            self._token_value = token_value or Secret(secrets.token_urlsafe(24))
            self.pve.apitokens[f"{user}!{token_name}"] = self._token_value.reveal()
        self._readonly_token = readonly_token if token_name else None
        if self._readonly_token is not None:
            self.pve.grant(READONLY_USER, "/", *ROLES["PVEAuditor"])  # root@pam keeps every privilege
            self.pve.apitokens[f"{READONLY_USER}!{token_name}"] = self._readonly_token.reveal()
        apply_scenario(self.pve, scenario_data)
        logging.getLogger(SERVER_LOGGER).addFilter(NO_TRACEBACKS)  # one shared filter: adding it twice is a no-op
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pytest-proxmox-mpc-sim", daemon=True)
        self._thread.start()
        try:
            self._call(self.pve.start(self.certfile, keyfile))
        except BaseException:
            self._halt()
            raise

    @property
    def endpoint(self) -> Endpoint:
        """How to reach and log in to the simulated cluster."""
        return Endpoint(host=self.host, port=int(self.pve.port), user=self.user, password=self._password,
                        token_name=self.token_name, token_value=self._token_value, verify=self.certfile)

    @property
    def readonly_endpoint(self) -> Endpoint:
        """How to reach the simulated cluster with the read-only token (``readonly_token``)."""
        if self._readonly_token is None:
            raise ValueError("this simulated cluster has no read-only token")
        return Endpoint(host=self.host, port=int(self.pve.port), user=READONLY_USER, token_name=self.token_name,
                        token_value=self._readonly_token, verify=self.certfile)

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(START_TIMEOUT)

    def _halt(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()

    def stop(self) -> None:
        """Let running tasks end, stop serving, and end the loop thread."""
        from fakepve import settle

        try:
            self._call(settle())
            self._call(self.pve.stop())
        finally:
            self._halt()


def apply_scenario(pve: Any, data: dict[str, Any]) -> None:
    """Load a checked scenario (see ``scenario.py``) into a FakePve that is not serving yet."""
    if "cluster_name" in data:
        pve.cluster_name = data["cluster_name"]
    if "pve_version" in data:
        pve.version = data["pve_version"]
        pve.release_version = ".".join(data["pve_version"].split(".")[:2])
    for node in data.get("nodes", []):
        pve.add_node(node["name"], online=node.get("online", True))
    for sid, options in data.get("storages", {}).items():
        store = {"active": 1, "files": set(), **options}
        pve.storages[sid] = store
    for volume in data.get("files", []):
        pve.store_file(volume["storage"], volume["name"], volume["size"], content=volume["content"])
    for pool, info in data.get("pools", {}).items():
        pve.pools.setdefault(pool, set())
        pve.pool_info[pool] = {"comment": info.get("comment"), "storage": set(info.get("storage", []))}
    for guest in data["guests"]:
        common = dict(node=guest.get("node", "pve1"), status=guest.get("status", "stopped"),
                      config=guest.get("config", {}), template=guest.get("template", False),
                      lock=guest.get("lock"), pool=guest.get("pool"))
        if guest.get("type", "qemu") == "lxc":
            made = pve.add_ct(guest["vmid"], guest.get("name"), ostemplate=guest.get("ostemplate"), **common)
        else:
            made = pve.add_vm(guest["vmid"], guest["name"], qmpstatus=guest.get("qmpstatus"), **common)
            made.acpi = guest.get("acpi", True)
            if "agent" in guest:
                made.agent = guest["agent"]
        for key in GUEST_TUNABLES:
            if key in guest:
                setattr(made, key, guest[key])
