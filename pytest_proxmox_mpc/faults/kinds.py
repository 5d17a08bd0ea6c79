"""The faults PVE users meet, each as PVE answers it: status line, headers and body, or how the connection breaks.

Modelled on PVE's own answers (pve-http-server, ``PVE::APIServer::AnyEvent`` and ``Formatter::Standard``): an API
error is ``HTTP/1.1 <status> <first line of the message>`` with ``{"data":null,"message":"<message>\\n"}`` (and
``errors`` per parameter); when pveproxy cannot reach pvedaemon or another node, it passes on AnyEvent::HTTP's own
status, ``596``, with its reason and an empty body. A task is a UPID; its status read says ``running`` until it
``stopped`` with an ``exitstatus`` (``OK`` or the error). Nothing here knows HTTP libraries or sockets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"
# What pveproxy adds to every answer (pve-http-server's ``response``).
PVE_HEADERS = (("Cache-Control", "max-age=0"), ("Pragma", "no-cache"), ("Server", "pve-api-daemon/3.0"))
GUEST_IN_PATH = re.compile(r"/(qemu|lxc)/(\d+)(?:/|$)")
NODE_IN_PATH = re.compile(r"^/nodes/([^/]+)")
TASK_STATUS = re.compile(r"^/nodes/([^/]+)/tasks/([^/]+)/status$")
SLOW_DELAY = 3.0  # seconds: beyond the seed's 2 s budget for an answer
TRANSPORT = ("reset", "no-answer")  # the connection breaks: no status to give

LOCK_FILES = {"qemu": "/var/lock/qemu-server/lock-{vmid}.conf", "lxc": "/run/lock/lxc/pve-config-{vmid}.lock"}
# kind -> (status, message or reason, what it models). A message of {placeholders} is filled from the request.
KINDS: dict[str, tuple[int, str, str]] = {
    "lock-timeout": (500, "can't lock file '{lockfile}' - got timeout",
                     "a guest locked by another task (its config lock not got in time)"),
    "timeout-596": (596, "Connection timed out", "pveproxy could not reach pvedaemon (or the node) in time"),
    "tls-596": (596, "Errors during TLS negotiation", "pveproxy's TLS connection to another node failed"),
    "unavailable-503": (503, "Service Unavailable", "the API is not serving (a daemon restarting, overloaded)"),
    "error-500": (500, "cluster not ready - no quorum?", "an internal error with PVE's error body"),
    "permission-403": (403, "Permission check failed (/vms/{vmid}, VM.Config.HWType)",
                       "the token lacks a privilege on the guest"),
    "task-error": (200, "can't lock file '{lockfile}' - got timeout",
                   "the task ends with an error exit status (the message is its exitstatus)"),
    "task-never-ends": (200, "", "the task never ends: its status stays running"),
    "slow": (596, "Connection timed out", "the answer comes only after a delay (3 s: beyond the 2 s budget), then "
                                         "as pveproxy's timeout"),
    "reset": (0, "", "the connection is reset in the middle of the answer"),
    "no-answer": (0, "", "the connection closes without a byte of an answer"),
}


@dataclass(frozen=True)
class Injected:
    """What the tool gets instead of the cluster's answer: ``status`` (0 for a broken connection), ``reason``,
    ``headers``, ``body``; ``transport`` (``reset``, ``no-answer``) when the connection breaks instead, after
    ``delay`` seconds; ``upid`` of a task the fault made up (never started on the cluster)."""

    kind: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    transport: str | None = None
    delay: float = 0.0
    upid: str | None = field(default=None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def pve_error_answer(kind: str, status: int, message: str, errors: dict[str, str] | None = None) -> Injected:
    """An API error as pveproxy sends it: the first line of ``message`` as reason, ``{"data": null, "message":
    ...}`` as body (PVE's messages end with a line break)."""
    body: dict[str, Any] = {"data": None, "message": message if message.endswith("\n") else message + "\n"}
    if errors:
        body["errors"] = errors
    return Injected(kind, status, message.splitlines()[0][:200], (("Content-Type", JSON_TYPE), *PVE_HEADERS),
                    json.dumps(body, separators=(",", ":")).encode())


def ok_answer(kind: str, data: Any, upid: str | None = None) -> Injected:
    return Injected(kind, 200, "OK", (("Content-Type", JSON_TYPE), *PVE_HEADERS),
                    json.dumps({"data": data}, separators=(",", ":")).encode(), upid=upid)


def guest_of(path: str, params: dict[str, str]) -> tuple[str, str]:
    """(``qemu`` or ``lxc``, vmid) the request is about: from its path, else its ``vmid`` parameter."""
    found = GUEST_IN_PATH.search(path)
    if found:
        return found[1], found[2]
    kind = "lxc" if "/lxc" in path else "qemu"
    return kind, str(params.get("vmid") or params.get("newid") or "100")


def fill(template: str, path: str, params: dict[str, str]) -> str:
    kind, vmid = guest_of(path, params)
    return template.replace("{lockfile}", LOCK_FILES[kind].format(vmid=vmid)).replace("{vmid}", vmid)


def made_up_upid(path: str, params: dict[str, str], number: int) -> str:
    """A UPID for a task the fault makes up in place of the write's (``UPID:node:pid:pstart:start:type:id:user:``,
    hexadecimal numbers as PVE writes them; the same for the same request and number, so a replay matches)."""
    node_match = NODE_IN_PATH.match(path)
    node = node_match[1] if node_match else "localhost"
    kind, vmid = guest_of(path, params)
    action = path.rstrip("/").rsplit("/", 1)[-1]
    task = {"qemu": "qmcreate", "lxc": "vzcreate"}[kind] if action in ("qemu", "lxc") else (
        ("qm" if kind == "qemu" else "vz") + action)
    return f"UPID:{node}:{0xFA000 + number:08X}:{0xFA17:08X}:{0x60000000 + number:08X}:{task}:{vmid}:root@pam:"


def task_status(upid: str, kind: str, exitstatus: str) -> dict[str, Any]:
    """PVE's answer to ``GET /nodes/{node}/tasks/{upid}/status`` for a faulted task."""
    parts = upid.split(":")
    node, task_type, guest = (parts[1], parts[5], parts[6]) if len(parts) > 7 else ("localhost", "unknown", "")
    status: dict[str, Any] = {"upid": upid, "node": node, "type": task_type, "id": guest, "user": "root@pam",
                              "pid": int(parts[2], 16) if len(parts) > 7 else 0,
                              "starttime": int(parts[4], 16) if len(parts) > 7 else 0,
                              "status": "running"}
    if kind == "task-error":
        status.update(status="stopped", exitstatus=exitstatus)
    return status
