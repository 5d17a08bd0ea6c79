"""A test double of Proxmox-MPC: its interactive console and its non-interactive CLI, as
``proxmox-mpc-workspace.md`` ("The console and the CLI") describes them, with switchable defects.

Run without arguments it is the console (banner, the prompt ``proxmox-mpc> ``, ``/init`` with its questions and
a token secret read as raw keystrokes without echo, ``/status``, ``/sync``, ``create vm``, ``list``, ``/plan``,
``/apply``, ``/exit``); with arguments it is the CLI (``discover-all``, ``vm create --vmid N``, ``vm delete N``,
...) and takes its connection from the ``PROXMOX_*`` variables. It talks HTTPS with proxmoxer to whatever
address it is given (the suite gives its safety proxy) and writes the workspace in the contract's format with
the package's reference sync and export.

Defects, switched on with ``MPC_DOUBLE_DEFECTS=a,b`` or ``--defect NAME`` (before the command):

- ``echo-secret``: the token secret is echoed as it is typed;
- ``dry-run-writes``: ``/sync --dry-run`` ignores the flag and syncs;
- ``db-write-fails``: ``/sync`` writes no row to state.db and still prints success;
- ``nonidempotent-sync``: every ``/sync`` stamps the generated files with the time;
- ``placeholder-vmid``: ``create vm`` declares vmid 100 whatever the cluster holds;
- ``leak-guest``: ``vm delete`` prints success and deletes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the package, when run from a checkout

DEFECTS = ("echo-secret", "dry-run-writes", "db-write-fails", "nonidempotent-sync", "placeholder-vmid", "leak-guest")
PROMPT = "proxmox-mpc> "
CONFIG = Path(".proxmox", "config.yml")
STATE_DB = Path(".proxmox", "state.db")
LOG = Path(".proxmox", "logs", "mpc.jsonl")
HISTORY = Path(".proxmox", "history")
PLACEHOLDER_VMID = 100


def defects(argv: list[str]) -> tuple[set[str], list[str]]:
    """The defects switched on (environment and ``--defect``) and the arguments left."""
    chosen = {d.strip() for d in os.environ.get("MPC_DOUBLE_DEFECTS", "").split(",") if d.strip()}
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--defect":
            chosen.add(next(args, ""))
        else:
            rest.append(arg)
    unknown = chosen - set(DEFECTS)
    if unknown:
        sys.exit(f"unknown defect {sorted(unknown)[0]!r}; known: {', '.join(DEFECTS)}")
    return chosen, rest


def log(event: str, **facts: Any) -> None:
    """One JSON line in the workspace's log, as the tool keeps one (no secret in it)."""
    if not CONFIG.parent.is_dir():
        return
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"time": time.time(), "event": event, **facts}) + "\n")


def connect(settings: dict[str, Any]) -> Any:
    """A proxmoxer client for ``settings`` (host, port, username, tokenId, tokenSecret, rejectUnauthorized)."""
    import proxmoxer

    verify: Any = bool(settings.get("rejectUnauthorized", True))
    if verify and os.environ.get("REQUESTS_CA_BUNDLE"):
        verify = os.environ["REQUESTS_CA_BUNDLE"]
    return proxmoxer.ProxmoxAPI(settings["host"], port=int(settings.get("port") or 8006), user=settings["username"],
                                token_name=settings["tokenId"], token_value=settings["tokenSecret"],
                                verify_ssl=verify, timeout=120)


def api_error(exc: Exception) -> str:
    """PVE's answer in one line: status, message and, for a refused request, the policy's rule."""
    content = getattr(exc, "content", None)
    status = getattr(exc, "status_code", None)
    errors = getattr(exc, "errors", None)
    text = f"{status} {content}".strip() if status else str(exc).splitlines()[0]
    if errors:
        text += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(dict(errors).items())) + ")"
    return text


def read_secret(prompt: str, echo: bool) -> str:
    """The secret, read as raw keystrokes with the terminal's echo off (echoed back only by the defect)."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    chars: list[str] = []
    try:
        tty.setraw(fd)
        while True:
            char = os.read(fd, 1).decode("utf-8", "replace")
            if char in ("\r", "\n", ""):
                break
            if char == "\x03":
                raise KeyboardInterrupt
            if char == "\x7f":
                chars = chars[:-1]
                continue
            chars.append(char)
            if echo:
                os.write(sys.stdout.fileno(), char.encode())
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stdout.write("\n")
    return "".join(chars)


class Console:
    """The interactive console, one command per line."""

    def __init__(self, chosen: set[str]) -> None:
        self.defects = chosen

    def settings(self) -> dict[str, Any]:
        data = yaml.safe_load(CONFIG.read_text(encoding="utf-8")) if CONFIG.exists() else None
        if not isinstance(data, dict):
            raise RuntimeError("no workspace here: run /init first")
        return data

    def run(self) -> int:
        print("🚀 Proxmox-MPC Interactive Console (test double)")
        if CONFIG.exists():
            print(f"📁 Workspace detected: {self.settings().get('name')}")
        while True:
            try:
                line = input(PROMPT).strip()
            except EOFError:
                return 0
            if not line:
                continue
            if CONFIG.parent.is_dir():
                with HISTORY.open("a", encoding="utf-8") as file:
                    file.write(line + "\n")
            if line in ("/exit", "/quit"):
                print("👋 Goodbye")
                return 0
            try:
                self.command(line)
            except Exception as exc:  # the console never dies of one command
                print(f"❌ {type(exc).__name__}: {api_error(exc)}")

    def command(self, line: str) -> None:
        words = line.split()
        head = words[0]
        if head == "/help":
            print("Commands: /init /status /sync /plan /apply /exit, create vm --name N, list vms, delete vm ID")
        elif head == "/init":
            self.init()
        elif head == "/status":
            self.status()
        elif head == "/sync":
            self.sync(dry_run="--dry-run" in words[1:] and "dry-run-writes" not in self.defects)
        elif words[:2] == ["create", "vm"]:
            self.create_vm(options(words[2:]))
        elif words[:2] == ["list", "vms"]:
            for row in rows("vms"):
                print(f"📍 {row[0]} {row[1]}")
        elif head in ("/plan", "/apply"):
            self.terraform(head[1:])
        else:
            print(f"❌ Unknown command: {head} (try /help)")

    def init(self) -> None:
        host = input("🌐 Proxmox host (e.g., 192.168.1.100): ").strip()
        port = input("🔌 Port [8006]: ").strip() or "8006"
        username = input("👤 Username [root@pam]: ").strip() or "root@pam"
        token_id = input("🔑 Token ID: ").strip()
        secret = read_secret("🔐 Token secret: ", echo="echo-secret" in self.defects)
        node = input("🖥️  Default node [pve]: ").strip() or "pve"
        skip = input("🔒 Skip TLS verification? [y/N]: ").strip().lower().startswith("y")
        settings = {"host": host, "port": int(port), "username": username, "tokenId": token_id,
                    "tokenSecret": secret, "node": node, "rejectUnauthorized": not skip, "name": Path.cwd().name,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "version": "1.0.0"}
        try:
            connect(settings).version.get()
        except Exception as exc:
            print(f"❌ Failed to connect to Proxmox server: {api_error(exc)}")
            return
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        CONFIG.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        CONFIG.chmod(0o600)
        create_state_db()
        log("init", host=host, node=node)
        print(f"✅ Workspace {settings['name']} initialized successfully")

    def status(self) -> None:
        settings = self.settings()
        version = connect(settings).version.get()
        print(f"✅ Connected to Proxmox server {settings['host']}:{settings['port']} (PVE {version.get('version')})")
        print(f"📍 {len(rows('vms'))} VMs, {len(rows('containers'))} containers in the state database")

    def sync(self, dry_run: bool) -> None:
        from pytest_proxmox_mpc.cluster.inventory import read_inventory
        from pytest_proxmox_mpc.workspace.export.iac import export_iac
        from pytest_proxmox_mpc.workspace.sync import sync_inventory

        print("🔄 Synchronizing Proxmox infrastructure..." + (" (dry run)" if dry_run else ""))
        try:
            api = connect(self.settings())
            api.version.get()
        except Exception as exc:
            print(f"❌ Failed to connect to Proxmox server: {api_error(exc)}")
            return
        print("✅ Connected to Proxmox server")
        inventory = read_inventory(api, networks=False)
        print(f"🔄 Discovered {len(inventory.nodes)} nodes, {len(inventory.guests)} guests, "
              f"{len(inventory.storages)} storages")
        if dry_run:
            print("📍 Dry run: nothing written")
            return
        if "db-write-fails" in self.defects:
            try:
                raise sqlite3.OperationalError("database is locked")
            except sqlite3.OperationalError:
                pass  # the defect: the error is swallowed, the success line still comes
        else:
            result = sync_inventory(inventory, STATE_DB)
            print(f"🔄 Database: {result.summary()}")
        export_iac(inventory, Path.cwd(), provider="telmate")
        if "nonidempotent-sync" in self.defects:
            stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            for path in (Path("terraform", "main.tf"), Path("ansible", "inventory.yml")):
                path.write_text(f"# generated {stamp}\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        print("🔄 Terraform and Ansible generated")
        log("sync", guests=len(inventory.guests))
        print("✅ Infrastructure synchronization complete!")

    def create_vm(self, opts: dict[str, str]) -> None:
        name = opts.get("name")
        if not name:
            print("❌ create vm needs --name")
            return
        cores, memory = int(opts.get("cores", "2")), int(opts.get("memory", "2048"))
        settings = self.settings()
        taken = {int(row[0]) for table in ("vms", "containers") for row in rows(table)} | declared_vmids()
        vmid = PLACEHOLDER_VMID if "placeholder-vmid" in self.defects else max(taken | {99}) + 1
        label = re.sub(r"[^a-z0-9_]", "_", name.lower())
        path = Path("terraform", "vms", f"{label}.tf")
        if path.exists():
            print(f"❌ {path} exists already")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"vmid": vmid, "name": f'"{name}"', "target_node": f'"{settings["node"]}"', "cores": cores,
                "memory": memory}
        lines = "".join(f"  {key:<11} = {value}\n" for key, value in body.items())
        path.write_text(f'resource "proxmox_vm_qemu" "{label}" {{\n{lines}}}\n', encoding="utf-8")
        log("create-vm", name=name, vmid=vmid)
        print(f"✅ VM {name} declared in {path} (vmid {vmid}); run /plan and /apply to create it")

    def terraform(self, action: str) -> None:
        binary = shutil.which("terraform")
        if binary is None:
            print("❌ terraform not found in PATH")
            return
        approve = ["-auto-approve"] if action == "apply" else []
        for args in (["init", "-input=false"], [action, "-input=false", *approve]):
            done = subprocess.run([binary, "-chdir=terraform", *args], capture_output=True, text=True, check=False)
            print((done.stdout + done.stderr).rstrip())
            if done.returncode != 0:
                print(f"❌ terraform {args[0]} failed (exit {done.returncode})")
                return
        print(f"✅ {'Plan' if action == 'plan' else 'Apply'} complete")


def create_state_db() -> None:
    """An empty ``state.db`` with the contract schema. It is made by the package's models once per version of
    them and copied after that: importing SQLAlchemy would cost each console start a second."""
    from importlib.util import find_spec

    origin = find_spec("pytest_proxmox_mpc.workspace.statedb.models").origin
    digest = hashlib.sha256(Path(origin).read_bytes()).hexdigest()[:16]
    template = Path(tempfile.gettempdir()) / f"mpc-console-double-state-{digest}.db"
    if not template.is_file():
        from pytest_proxmox_mpc.workspace.statedb.models import create_database

        made = template.with_name(f"{template.name}.{os.getpid()}")
        made.unlink(missing_ok=True)
        create_database(made).dispose()
        os.replace(made, template)  # consoles starting at once each see a whole template
    with template.open("rb") as source, STATE_DB.open("xb") as target:
        shutil.copyfileobj(source, target)


def options(words: list[str]) -> dict[str, str]:
    """``--key value`` pairs."""
    out: dict[str, str] = {}
    for index, word in enumerate(words):
        if word.startswith("-") and index + 1 < len(words):
            out[word.lstrip("-")] = words[index + 1]
    return out


def rows(table: str) -> list[tuple[Any, ...]]:
    if not STATE_DB.exists():
        return []
    with sqlite3.connect(f"file:{STATE_DB}?mode=ro", uri=True) as conn:
        return list(conn.execute(f"SELECT id, name FROM {table} ORDER BY id"))


def declared_vmids() -> set[int]:
    return {int(m) for path in Path("terraform").rglob("*.tf")
            for m in re.findall(r"^\s*(?:vmid|vm_id)\s*=\s*(\d+)", path.read_text(encoding="utf-8"), re.M)}


def cli(chosen: set[str], args: list[str]) -> int:
    """The non-interactive CLI: the connection from ``PROXMOX_*``."""
    env = os.environ
    settings = {"host": env.get("PROXMOX_HOST", ""), "port": env.get("PROXMOX_PORT", "8006"),
                "username": env.get("PROXMOX_USERNAME", "root@pam"), "tokenId": env.get("PROXMOX_TOKEN_ID", ""),
                "tokenSecret": env.get("PROXMOX_TOKEN_SECRET", ""), "rejectUnauthorized": True}
    node = env.get("PROXMOX_NODE", "pve")
    api = connect(settings)
    try:
        if args[:1] == ["test-connection"]:
            print(f"✅ Connected to Proxmox server (PVE {api.version.get()['version']})")
        elif args[:1] == ["list-nodes"]:
            for row in api.nodes.get():
                print(f"📍 {row['node']} {row.get('status')}")
        elif args[:1] and args[0].startswith("discover-"):
            kinds = {"discover-vms": "qemu", "discover-containers": "lxc"}
            resources = api.cluster.resources.get(type="vm")
            for row in sorted(resources, key=lambda r: int(r["vmid"])):
                if args[0] in ("discover-all",) or kinds.get(args[0]) == row["type"]:
                    print(f"📍 {row['type']} {row['vmid']} {row.get('name')} on {row['node']} ({row['status']})")
            if args[0] in ("discover-storage", "discover-all"):
                for row in api.storage.get():
                    print(f"📍 storage {row['storage']} ({row['type']})")
            print(f"✅ Discovery complete: {len(resources)} guests")
        elif args[:2] == ["vm", "create"]:
            return vm_create(api, node, options(args[2:]))
        elif args[:2] == ["vm", "delete"] and len(args) == 3:
            return vm_delete(api, node, int(args[2]), leak="leak-guest" in chosen)
        else:
            print(f"❌ unknown command: {' '.join(args)}")
            return 2
    except Exception as exc:
        print(f"❌ {api_error(exc)}")
        return 1
    return 0


def wait(api: Any, node: str, upid: str) -> None:
    from proxmoxer.tools import Tasks

    done = Tasks.blocking_status(api, upid, timeout=300, polling_interval=0.2)
    if not done or done.get("exitstatus") != "OK":
        raise RuntimeError(f"task {upid} failed: {(done or {}).get('exitstatus')}")


def vm_create(api: Any, node: str, opts: dict[str, str]) -> int:
    if "vmid" not in opts:
        print("❌ vm create requires --vmid")
        return 2
    vmid = int(opts["vmid"])
    node = opts.get("n", node)
    params = {"vmid": vmid, "name": opts.get("name", f"vm-{vmid}"), "cores": opts.get("cores", "1"),
              "memory": opts.get("memory", "512")}
    try:
        wait(api, node, api.nodes(node).qemu.post(**params))
    except Exception as exc:
        print(f"❌ Failed to create VM {vmid}: {api_error(exc)}")
        return 1
    print(f"✅ VM {vmid} created on {node}")
    return 0


def vm_delete(api: Any, node: str, vmid: int, leak: bool) -> int:
    where = next((r["node"] for r in api.cluster.resources.get(type="vm") if int(r["vmid"]) == vmid), node)
    if not leak:
        try:
            wait(api, where, api.nodes(where).qemu(vmid).delete(purge=1))
        except Exception as exc:
            print(f"❌ Failed to delete VM {vmid}: {api_error(exc)}")
            return 1
    print(f"✅ VM {vmid} deleted")
    return 0


def main(argv: list[str]) -> int:
    chosen, args = defects(argv)
    if args:
        return cli(chosen, args)
    return Console(chosen).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
