"""The CLI of the Proxmox-MPC test double (``mpc_console.py`` with arguments), as the real ``src/cli.ts`` prints
it: ``test-connection``, ``list-nodes``, ``discover-all`` (and ``discover-vms``/``-containers``/``-storage``),
``vm create|start|stop|delete`` and ``container create|start|stop|delete``. The connection comes from the
``PROXMOX_*`` variables; ``--node`` (else ``PROXMOX_NODE``) is the node a command acts on. Errors name PVE's
answer as the real tool does (``HTTP <status> - <message>``) and, unless ``vague-errors`` is on, PVE's
per-parameter errors too. Defects are documented in ``mpc_console.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

KINDS = {"vm": ("qemu", "VM", "VM"), "container": ("lxc", "Container", "container")}  # PVE type, title, noun
FLAGS = ("wait", "confirm", "verbose", "force", "dry-run")  # options without a value
WAIT = 15  # seconds --wait waits for a task (fakepve's end at once; a task that never ends is given up)


def retrying_locks(session: Any) -> None:
    """Send every request of ``session`` again (twice at most, after a pause) while PVE answers that a lock was not
    got in time: it did nothing, and says to try again."""
    from requests.adapters import HTTPAdapter

    class LockRetry(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            for attempt in range(3):
                response = super().send(request, *args, **kwargs)
                if response.status_code != 500 or "got timeout" not in (response.reason or "") or attempt == 2:
                    return response
                time.sleep(0.2 * (attempt + 1))
            return response

    session.mount("https://", LockRetry())


def connect(settings: dict[str, Any]) -> Any:
    """A proxmoxer client for ``settings`` (host, port, username, tokenId, tokenSecret, rejectUnauthorized)."""
    import proxmoxer

    verify: Any = bool(settings.get("rejectUnauthorized", True))
    if verify and os.environ.get("REQUESTS_CA_BUNDLE"):
        verify = os.environ["REQUESTS_CA_BUNDLE"]
    api = proxmoxer.ProxmoxAPI(settings["host"], port=int(settings.get("port") or 8006), user=settings["username"],
                               token_name=settings["tokenId"], token_value=settings["tokenSecret"],
                               verify_ssl=verify, timeout=120)
    retrying_locks(api._store["session"])
    return api


def pve_error(exc: Exception, vague: bool = False) -> str:
    """PVE's answer as the real tool words it (``HTTP 400 - Parameter verification failed.``), followed by the
    per-parameter errors (``(memory: ...)``) unless ``vague``; any other error as its first line."""
    status = getattr(exc, "status_code", None)
    if status is None:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = f"HTTP {status} - {getattr(exc, 'content', None) or getattr(exc, 'status_message', '')}".rstrip()
    errors = getattr(exc, "errors", None)
    if errors and not vague:
        lines = {key: "; ".join(line.strip() for line in str(value).splitlines() if line.strip())
                 for key, value in dict(errors).items()}
        text += " (" + "; ".join(f"{key}: {lines[key]}" for key in sorted(lines)) + ")"
    return text


def options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """``--key value`` pairs (``-n`` is ``--node``; ``FLAGS`` take no value) and the positional words."""
    opts: dict[str, str] = {}
    positional: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            key = "node" if word == "-n" else word.lstrip("-")
            if "=" in key:
                key, value = key.split("=", 1)
                opts[key] = value
            elif key in FLAGS or index + 1 >= len(words):
                opts[key] = "true"
            else:
                opts[key] = words[index + 1]
                index += 1
        else:
            positional.append(word)
        index += 1
    return opts, positional


class Cli:
    """One command of the CLI; ``run`` gives its exit status."""

    def __init__(self, chosen: set[str]) -> None:
        env = os.environ
        self.defects = chosen
        self.settings = {"host": env.get("PROXMOX_HOST", ""), "port": env.get("PROXMOX_PORT", "8006"),
                         "username": env.get("PROXMOX_USERNAME", "root@pam"),
                         "tokenId": env.get("PROXMOX_TOKEN_ID", ""),
                         "tokenSecret": env.get("PROXMOX_TOKEN_SECRET", ""), "rejectUnauthorized": True}
        self.node = env.get("PROXMOX_NODE", "pve")
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = connect(self.settings)
        return self._api

    def error(self, exc: Exception) -> str:
        return pve_error(exc, vague="vague-errors" in self.defects)

    def run(self, args: list[str]) -> int:
        missing = [name for name, key in (("PROXMOX_HOST", "host"), ("PROXMOX_TOKEN_ID", "tokenId"),
                                          ("PROXMOX_TOKEN_SECRET", "tokenSecret")) if not self.settings[key]]
        if missing:
            print("❌ Configuration errors:", file=sys.stderr)
            for name in missing:
                print(f"   • {name} is required", file=sys.stderr)
            return 1
        opts, words = options(args)
        commands: dict[tuple[str, ...], Callable[[dict[str, str], list[str]], int]] = {
            ("test-connection",): self.test_connection, ("list-nodes",): self.list_nodes,
            ("discover-all",): self.discover_all, ("discover-vms",): self.discover,
            ("discover-containers",): self.discover, ("discover-storage",): self.discover,
        }
        for kind in KINDS:
            commands.update({(kind, "create"): self.create, (kind, "start"): self.start,
                             (kind, "stop"): self.stop, (kind, "delete"): self.delete})
        for length in (2, 1):
            command = commands.get(tuple(words[:length]))
            if command is not None:
                return command(opts, words)
        print(f"error: unknown command '{' '.join(words[:2])}'", file=sys.stderr)
        return 1

    def test_connection(self, opts: dict[str, str], words: list[str]) -> int:
        print("🔌 Testing Proxmox connection...")
        try:
            version = self.api.version.get()
        except Exception as exc:
            print("❌ Connection failed:")
            print(f"   Failed to get version information: {self.error(exc)}")
            return 1
        print("✅ Connection successful!")
        print(f"   Version: {version.get('version')}")
        print(f"   Node: {self.node}")
        return 0

    def list_nodes(self, opts: dict[str, str], words: list[str]) -> int:
        try:
            nodes = sorted(self.api.nodes.get(), key=lambda row: row["node"])
        except Exception as exc:
            print("❌ Failed to list nodes:")
            print(f"   {self.error(exc)}")
            return 1
        print(f"✅ Found {len(nodes)} node(s)\n")
        for row in nodes:
            print(f"📍 {row['node']}")
            print(f"   Status: {row.get('status')}")
            print(f"   CPU: {row.get('cpu', 0)}/{row.get('maxcpu', '?')} cores")
            print(f"   Memory: {int(row.get('mem') or 0) >> 20}MB / {int(row.get('maxmem') or 0) >> 20}MB\n")
        return 0

    def discover_all(self, opts: dict[str, str], words: list[str]) -> int:
        """Counts only, as the real one: nodes, storage pools, and per node its VMs (templates included),
        containers and recent tasks."""
        print("🔍 Discovering all Proxmox resources...\n")
        try:
            nodes = self.api.nodes.get()
            print(f"📍 Nodes:\n   Found {len(nodes)} node(s)")
            totals = {"qemu": 0, "lxc": 0, "tasks": 0}
            for row in nodes:
                node = self.api.nodes(row["node"])
                totals["qemu"] += len(node.qemu.get())
                totals["lxc"] += len(node.lxc.get())
                totals["tasks"] += len(node.tasks.get())
            storages = self.api.storage.get()
            print(f"\n💾 Storage:\n   Found {len(storages)} storage pool(s)")
        except Exception as exc:
            print("❌ Failed to discover resources:")
            print(f"   {self.error(exc)}")
            return 1
        print(f"\n📊 Discovery Summary:\n   • Nodes: {len(nodes)}\n   • VMs: {totals['qemu']}\n"
              f"   • Containers: {totals['lxc']}\n   • Recent tasks: {totals['tasks']}")
        print("\n✅ Resource discovery complete!")
        return 0

    def discover(self, opts: dict[str, str], words: list[str]) -> int:
        """``discover-vms``, ``discover-containers``, ``discover-storage``: one line per resource."""
        try:
            if words[0] == "discover-storage":
                for row in sorted(self.api.storage.get(), key=lambda r: r["storage"]):
                    print(f"💾 {row['storage']} ({row['type']})")
                return 0
            kind = "qemu" if words[0] == "discover-vms" else "lxc"
            for node in sorted(row["node"] for row in self.api.nodes.get()):
                for row in sorted(getattr(self.api.nodes(node), kind).get(), key=lambda r: int(r["vmid"])):
                    print(f"📦 {row['vmid']} {row.get('name')} on {node} ({row.get('status')})")
        except Exception as exc:
            print(f"❌ Failed to discover resources:\n   {self.error(exc)}")
            return 1
        return 0

    def create(self, opts: dict[str, str], words: list[str]) -> int:
        kind = words[0]
        pve_type, label, noun = KINDS[kind]
        required = ["vmid"] + (["ostemplate"] if kind == "container" else [])
        for name in required:
            if name not in opts:
                print(f"error: required option '--{name}' not specified", file=sys.stderr)
                return 1
        vmid, node = int(opts["vmid"]), opts.get("node", self.node)
        keys = ("name", "cores", "memory") if kind == "vm" else ("ostemplate", "hostname", "cores", "memory",
                                                                 "storage")
        params: dict[str, Any] = {"vmid": vmid, **{key: opts[key] for key in keys if key in opts}}
        if kind == "container":
            params["unprivileged"] = 1
        print("🖥️  Creating VM..." if kind == "vm" else "📦 Creating container...")
        api = self.api
        try:
            upid = getattr(api.nodes(node), pve_type).post(**params)
            task = api.nodes(node).tasks(upid).status.get()
        except Exception as exc:
            print(f"❌ Failed to create {noun}:")
            print(f"   Failed to create {noun} {vmid} on node {node}: {self.error(exc)}")
            return 1
        print(f"✅ {label} creation initiated successfully!")
        print(f"   {label} ID: {vmid}\n   Node: {node}\n   Task ID: {upid}\n"
              f"   Status: {task.get('status')}")
        if "wait" not in opts:
            print(f"\n💡 Use --wait flag to wait for completion, or check status with: discover-{kind}s")
            return 0
        print(f"\n⏳ Waiting for {noun} creation to complete...")
        try:
            wait(api, node, upid)
            status = getattr(api.nodes(node), pve_type)(vmid).status.current.get()
        except Exception as exc:
            print(f"⚠️  {label} creation may have completed, but status check failed:")
            print(f"   {self.error(exc)}")
            if "fault-leaves-guest" not in self.defects:
                self.remove_own(api, node, pve_type, vmid, label)
            return 0  # as the real one: the create was initiated
        print(f"✅ {label} created successfully!\n   Status: {status.get('status')}")
        return 0

    def remove_own(self, api: Any, node: str, pve_type: str, vmid: int, label: str) -> None:
        """Remove the guest this create made, if there is one under its VMID (a create the tool was told failed
        must not leave it behind); its removal's task is not waited for."""
        try:
            getattr(api.nodes(node), pve_type)(vmid).status.current.get()
        except Exception:
            return  # nothing under the VMID: nothing to remove
        try:
            getattr(api.nodes(node), pve_type)(vmid).delete(purge=1)
            print(f"🧹 Removed {label} {vmid}, which the failed create left")
        except Exception as exc:
            print(f"❌ {label} {vmid} could not be removed after the failed create: {self.error(exc)}")

    def _task(self, words: list[str], opts: dict[str, str], action: str, **params: Any) -> tuple[Any, str, int]:
        """POST ``status/<action>`` of the guest ``words[2]`` on ``--node``: (task status, upid, vmid)."""
        pve_type = KINDS[words[0]][0]
        vmid, node = int(words[2]), opts.get("node", self.node)
        guest = getattr(self.api.nodes(node), pve_type)(vmid)
        upid = getattr(guest.status, action).post(**params)
        return self.api.nodes(node).tasks(upid).status.get(), upid, vmid

    def start(self, opts: dict[str, str], words: list[str]) -> int:
        """As the real one: a VM is looked up on ``--node`` first (one already running is left as it is)."""
        if len(words) < 3:
            print("error: missing required argument 'vmid'", file=sys.stderr)
            return 1
        noun = KINDS[words[0]][2]
        if words[0] == "container":
            print(f"🚀 Starting container {words[2]}...")
        try:
            if words[0] == "vm":
                vmid, node = int(words[2]), opts.get("node", self.node)
                guest = next((row for row in self.api.nodes(node).qemu.get() if int(row["vmid"]) == vmid), None)
                if guest is None:
                    print(f"❌ VM validation failed: VM {vmid} not found on node {node}")
                    return 1
                if guest.get("status") == "running":
                    print(f"💡 VM {vmid} is already running")
                    return 0
            task, upid, vmid = self._task(words, opts, "start")
        except Exception as exc:
            print(f"❌ Failed to start {noun}:\n   {self.error(exc)}")
            return 1
        if words[0] == "vm":
            print(f"✅ VM {vmid} start initiated successfully!\n💡 Task ID: {upid}\n💡 Status: {task.get('status')}")
        else:
            print(f"✅ Container start initiated successfully!\n   Task ID: {upid}\n   Status: {task.get('status')}")
        return 0

    def stop(self, opts: dict[str, str], words: list[str]) -> int:
        if len(words) < 3:
            print("error: missing required argument 'vmid'", file=sys.stderr)
            return 1
        _, label, noun = KINDS[words[0]]
        print(f"🛑 Stopping {noun} {words[2]}...")
        try:
            task, upid, _ = self._task(words, opts, "stop")
        except Exception as exc:
            print(f"❌ Failed to stop {noun}:\n   {self.error(exc)}")
            return 1
        print(f"✅ {label} stop initiated successfully!\n   Task ID: {upid}\n   Status: {task.get('status')}")
        return 0

    def delete(self, opts: dict[str, str], words: list[str]) -> int:
        """As the real one: the guest looked up on ``--node``; without ``--confirm`` a question read from stdin
        (anything but ``yes`` deletes nothing; at end of input nothing is printed and the exit status is 0)."""
        if len(words) < 3:
            print("error: missing required argument 'vmid'", file=sys.stderr)
            return 1
        pve_type, label, _ = KINDS[words[0]]
        vmid, node = int(words[2]), opts.get("node", self.node)
        try:
            guest = next((row for row in getattr(self.api.nodes(node), pve_type).get() if int(row["vmid"]) == vmid),
                         None)
        except Exception as exc:
            print(f"❌ {label} validation failed: {self.error(exc)}")
            return 1
        if guest is None:
            print(f"❌ {label} validation failed: {label} {vmid} not found on node {node}")
            return 1
        if "confirm" not in opts:
            questions = [f"Are you sure you want to DELETE {label} {vmid} ({guest.get('name') or 'unnamed'}) on "
                         f"node {node}?"]
            if guest.get("status") == "running":
                questions.append(f"{label} is currently running. Delete anyway?")
            print("\n DESTRUCTIVE OPERATION ")
            print(f"⚠️  This action cannot be undone and will permanently destroy the {label} and its data!")
            for question in questions:
                print(f"{question}\nType 'yes' to confirm:", flush=True)
                answer = sys.stdin.readline()
                if not answer:
                    return 0  # end of input: the real one exits with nothing more said
                if answer.strip().lower() != "yes":
                    print("💡 Operation cancelled by user")
                    return 0
        upid, task = "(none)", {"status": "stopped"}
        if not (words[0] == "vm" and "leak-guest" in self.defects):  # the defect: success said, nothing deleted
            try:
                upid = getattr(self.api.nodes(node), pve_type)(vmid).delete(purge=1)
                task = self.api.nodes(node).tasks(upid).status.get()
            except Exception as exc:
                print(f"❌ {label} deletion failed\n❌ Failed to delete {label}: {self.error(exc)}")
                return 1
        print(f"✅ {label} {vmid} deletion initiated successfully!\n💡 Task ID: {upid}\n"
              f"💡 Status: {task.get('status')}")
        return 0


def wait(api: Any, node: str, upid: str) -> None:
    """Until the task ``upid`` ends; an error when it did not end OK."""
    from proxmoxer.tools import Tasks

    done = Tasks.blocking_status(api, upid, timeout=WAIT, polling_interval=0.2)
    if not done or done.get("exitstatus") != "OK":
        raise RuntimeError(f"task {upid} failed: {(done or {}).get('exitstatus')}")
