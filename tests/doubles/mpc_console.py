"""A test double of Proxmox-MPC 1.0.0: its interactive console and its non-interactive CLI, printing what the real
tool prints (its prompts, success and failure lines: /work/notes/double-spec.md, as observed), with switchable
defects and behaviours of the real tool. By default it is well behaved: no defect at all.

Run without arguments it is the console (banner, the prompt ``proxmox-mpc> ``, ``/init`` with its seven
questions and a token secret read as raw keystrokes without echo (a ``*`` per key), ``/status``, ``/sync``,
``create vm``, ``list vms``, ``/plan``, ``/apply``, ``/exit``); with arguments it is the CLI (``mpc_cli.py``:
``test-connection``, ``list-nodes``, ``discover-all``, ``vm create --vmid N``, ``vm delete N --confirm``,
``container create ...``) and takes its connection from the ``PROXMOX_*`` variables. It talks HTTPS with
proxmoxer to whatever address it is given (the suite gives its safety proxy) and writes the workspace in the
contract's format with the package's reference sync and export. ``create vm`` declares the cluster's next free
VMID (``GET /cluster/nextid``); the CLI's errors name PVE's per-parameter errors.

Switches, ``MPC_DOUBLE_DEFECTS=a,b`` or ``--defect NAME`` (anywhere in the arguments):

- ``echo-secret``: the token secret is echoed as it is typed (each key in place of its ``*``);
- ``secret-raw-chunks`` (the real tool): the secret prompt takes each read of the terminal whole, as the real one
  does: a read that is exactly Enter ends it, any other read of printable characters is one key (one ``*``), so
  an Enter in the same read as keys is taken as a key and never seen (a driver must type key by key);
- ``secret-read-as-command`` (the real tool's defect): the console's own line reader reads the secret's keys too:
  each key is echoed before its ``*``, and at Enter it prints ``Unknown command: <secret>``, its help line, a
  blank line and its prompt, then asks the next question;
- ``init-forgets-workspace`` (the real tool's defect): after ``/init`` the same console answers ``/status``,
  ``/sync`` and ``create vm`` with ``❌ No workspace detected`` until it is started again;
- ``vague-errors`` (the real tool's defect): the CLI's errors drop PVE's per-parameter errors
  (``HTTP 400 - Parameter verification failed.`` without naming memory);
- ``stops-asking``: ``/init`` goes back to the prompt after the Token ID question without asking the rest;
- ``hangs``: ``/sync`` never returns (it sleeps until it is killed);
- ``dry-run-writes`` (the real tool's defect): ``/sync --dry-run`` ignores the flag and syncs;
- ``db-write-fails`` (the real tool's defect): ``/sync`` writes no row to state.db (each write's error logged as
  JSON) and still prints success;
- ``nonidempotent-sync`` (the real tool's defect): every ``/sync`` stamps the generated files with the time
  (``# Last updated: <iso>`` in ansible/inventory.yml, ``timestamp = "<iso>"`` in terraform/main.tf);
- ``secret-in-terraform`` (the real tool's defect): ``/sync`` writes the token secret into terraform/main.tf (the
  default of the token secret's variable);
- ``function-in-variable`` (the real tool's defect): ``/sync`` declares a variable whose default calls a function
  (``file("~/.ssh/id_rsa.pub")``) in terraform/main.tf, which Terraform refuses: ``terraform init`` fails;
- ``placeholder-vmid`` (the real tool's defect): ``create vm`` declares vmid 9999 whatever the cluster holds;
- ``leak-guest``: ``vm delete`` prints success and deletes nothing;
- ``playbook-only-apply`` (a test's switch, not the real tool's): ``/apply`` runs only its Ansible step;
- ``fault-prints-success`` (the real tool's defect: its sync catches each node's failed read, logs it and goes on):
  a node whose guest lists cannot be read in ``/sync``'s database phase is left out, and success is printed;
- ``fault-half-db`` (the real tool's defect: its repositories write through their own client, outside the sync's
  ``$transaction``): each node's rows are committed as its lists are read, so a failed read leaves a half-written
  state.db (and ``❌`` printed);
- ``fault-leaves-guest``: a ``vm create --wait`` whose task the tool was told failed (or never ended) leaves the guest
  it created (well behaved, it removes a guest under the VMID it created);
- ``real``: every switch above marked "the real tool" at once: the double behaves as Proxmox-MPC 1.0.0 does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the package, when run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mpc_cli and mpc_files beside this file

from mpc_cli import Cli, connect, options, pve_error
from mpc_files import STATE_DB, create_state_db, free_vmid, rows, secret_default, stamp

REAL = ("secret-raw-chunks", "secret-read-as-command", "init-forgets-workspace", "vague-errors", "dry-run-writes",
        "db-write-fails", "nonidempotent-sync", "secret-in-terraform", "placeholder-vmid", "function-in-variable",
        "fault-prints-success", "fault-half-db")
DEFECTS = (*REAL, "echo-secret", "stops-asking", "hangs", "leak-guest", "playbook-only-apply", "fault-leaves-guest",
           "real")
PROMPT = "proxmox-mpc> "
HELP_LINE = 'Type "help" or "/help" for available commands'
CONFIG = Path(".proxmox", "config.yml")
LOG = Path(".proxmox", "logs", "mpc.jsonl")
HISTORY = Path(".proxmox", "history")
PLACEHOLDER_VMID = 9999  # the real tool's
NO_WORKSPACE = "❌ No workspace detected"


def defects(argv: list[str]) -> tuple[set[str], list[str]]:
    """The switches turned on (environment and ``--defect``; ``real`` stands for ``REAL``) and the arguments left."""
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
    if "real" in chosen:
        chosen |= set(REAL)
    return chosen, rest


def partial(inventory: Any, nodes: list[str], replace: Any) -> Any:
    """``inventory`` reduced to ``nodes`` and their guests (storages only once every node is in)."""
    return replace(inventory, nodes={name: inventory.nodes[name] for name in nodes},
                   guests={vmid: g for vmid, g in inventory.guests.items() if g.node in nodes},
                   storages=inventory.storages if len(nodes) == len(inventory.nodes) else {})


def log(event: str, **facts: Any) -> None:
    """One JSON line in the workspace's log, as the tool keeps one (no secret in it)."""
    if not CONFIG.parent.is_dir():
        return
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"time": time.time(), "event": event, **facts}) + "\n")


def write(text: str) -> None:
    os.write(sys.stdout.fileno(), text.encode())


def read_secret(prompt: str, chosen: set[str]) -> str:
    """The secret, read from the terminal in raw mode (no echo): a ``*`` per key, Enter ends it. With
    ``secret-raw-chunks`` each read is taken whole (an Enter inside a read is part of the key, never seen); with
    ``secret-read-as-command`` each key is echoed before its ``*``; with ``echo-secret`` each key in place of it."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import codecs
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    raw_chunks = "secret-raw-chunks" in chosen
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    keys: list[str] = []
    try:
        tty.setraw(fd)
        while True:
            data = os.read(fd, 1024 if raw_chunks else 1)  # a byte at a time: what follows Enter stays unread
            key = decoder.decode(data)  # with secret-raw-chunks, a whole read is one key
            if not data or key in ("\r", "\n"):
                break
            if key == "\x03":
                raise KeyboardInterrupt
            if key in ("\x7f", "\x08"):
                keys = keys[:-1]
                write("\b \b")
            elif " " <= key <= "~":  # as the real one compares a whole read: "ab\r" passes as one key
                keys.append(key)
                shown = key if "echo-secret" in chosen else "*"
                write(key + shown if "secret-read-as-command" in chosen else shown)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    secret = "".join(keys)
    secret = secret.strip()
    if "secret-read-as-command" in chosen:  # the console's line reader ran the secret as a command
        print(f"\nUnknown command: {secret}\n{HELP_LINE}\n\n{PROMPT}", end="", flush=True)
    else:
        print()
    return secret


class Console:
    """The interactive console, one command per line; ``workspace`` is the config it found or made (None: none)."""

    def __init__(self, chosen: set[str]) -> None:
        self.defects = chosen
        self.workspace = self.detect()

    @staticmethod
    def detect() -> dict[str, Any] | None:
        try:
            data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        return data if isinstance(data, dict) and data.get("host") else None

    def run(self) -> int:
        print("🔧 Proxmox Infrastructure Console v1.0.0 (test double)")
        print("Welcome! Type /help for commands or /init to get started.\n")
        if self.workspace:
            print(f"📁 Workspace detected: {self.workspace.get('name')}")
            print(f"   Server: {self.workspace.get('host')}\n   Node: {self.workspace.get('node')}")
        else:
            print("💡 Tip: Use /init to initialize a new Proxmox project workspace\n")
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
            if line in ("/exit", "/quit", "exit", "quit"):
                print("\n👋 Exiting Proxmox Infrastructure Console...\nThank you for using Proxmox-MPC! 🚀")
                return 0
            try:
                self.command(line)
            except Exception as exc:  # the console never dies of one command
                print(f"❌ Error: {pve_error(exc)}")

    def command(self, line: str) -> None:
        words = line.split()
        head = words[0]
        if head in ("/help", "help"):
            print("🔧 Slash Commands: /help /init /status /sync /plan /apply /exit\n"
                  "🏗️  Resource Commands: create vm --name <name>, list vms")
        elif head == "/init":
            self.init()
        elif head == "/status":
            self.status()
        elif head == "/sync":
            self.sync(dry_run="--dry-run" in words[1:] and "dry-run-writes" not in self.defects)
        elif head in ("/plan", "/apply"):
            self.deploy(head[1:])
        elif head in ("/validate", "/test", "/destroy"):
            self.workflow(head[1:])
        elif head.startswith("/"):
            print(f"❌ Unknown slash command: {head}\nAvailable slash commands: /help, /init, /status, /exit")
        elif words[:2] == ["create", "vm"]:
            self.create_vm(options(words[2:])[0])
        elif words[:2] == ["list", "vms"]:
            for row in rows("vms"):
                print(f"📍 {row[0]} {row[1]}")
        else:
            print(f"Unknown command: {line}\n{HELP_LINE}")

    def no_workspace(self, command: str) -> bool:
        """True (and the real one's answer printed) when the session knows no workspace."""
        if self.workspace is not None:
            return False
        if command != "create vm":
            print(json.dumps({"level": "error", "message": "No workspace detected", "context": {"command": command}},
                             indent=2))
        print(f"{NO_WORKSPACE}. Use /init to create a workspace first." if command == "create vm" else NO_WORKSPACE)
        return True

    def init(self) -> None:
        print("🏗️  Initializing new Proxmox project workspace...\n")
        if self.detect():
            print("❌ Already in a Proxmox workspace!")
            return
        print("📋 Please provide your Proxmox server details:\n")
        host = input("🌐 Proxmox host (e.g., 192.168.1.100): ").strip()
        port = input("🔌 Port [8006]: ").strip() or "8006"
        username = input("👤 Username [root@pam]: ").strip() or "root@pam"
        token_id = input("🔑 Token ID: ").strip()
        if "stops-asking" in self.defects:
            return
        secret = read_secret("🔐 Token Secret: ", self.defects)
        node = input("🖥️  Default node [pve]: ").strip() or "pve"
        skip = input("🔒 Skip TLS verification? [y/N]: ").strip().lower() == "y"
        print("\n🔧 Creating project structure...")
        if not host or not port.isdigit() or not token_id or not secret:
            print("❌ Failed to initialize workspace: host, port, token ID and secret are required")
            return
        settings = {"host": host, "port": int(port), "username": username, "tokenId": token_id,
                    "tokenSecret": secret, "node": node, "rejectUnauthorized": not skip, "name": Path.cwd().name,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "version": "1.0.0"}
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        CONFIG.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        CONFIG.chmod(0o600)
        create_state_db()
        log("init", host=host, node=node)
        if "init-forgets-workspace" not in self.defects:
            self.workspace = settings
        print("✅ Project workspace initialized successfully!")
        print(f"   📁 Project: {settings['name']}\n   🗄️  Database: {STATE_DB.resolve()}\n"
              f"   ⚙️  Config: {CONFIG.resolve()}")

    def status(self) -> None:
        print("🎛️  Proxmox Infrastructure Dashboard\n" + "═" * 60 + "\n")
        if self.no_workspace("status") or self.workspace is None:
            return
        settings = self.workspace
        print(f"📁 Workspace Information:\n   Project: {settings.get('name')}\n   Location: {Path.cwd()}\n")
        print(f"🖥️  Server Configuration:\n   Host: {settings['host']}:{settings['port']}\n"
              f"   Username: {settings['username']}\n   Node: {settings['node']}\n")
        print("🔌 Server Connectivity:")
        try:
            api = connect(settings)
            version = api.version.get()
            nodes = api.nodes.get()
            vms = api.nodes(settings["node"]).qemu.get()
        except Exception as exc:
            print(f"   Status: ❌ Connection failed\n   Error: {pve_error(exc)}")
            return
        print(f"   Status: \x1b[32m●\x1b[0m Connected\n   Version: {version.get('version')}\n"
              f"   Endpoint: {settings['host']}:{settings['port']}\n   Nodes: {len(nodes)}\n")
        print("🖥️  Virtual Machines:")
        for vm in sorted(vms, key=lambda row: int(row["vmid"])):
            memory = 100 * (vm.get("mem") or 0) / (vm.get("maxmem") or 1)
            print(f"   {vm.get('name')} ({vm['vmid']}): CPU: {100 * (vm.get('cpu') or 0):.1f}%, "
                  f"Memory: {memory:.1f}%")

    def sync(self, dry_run: bool) -> None:
        print("🔄 Synchronizing Proxmox infrastructure..." + (" (dry run)" if dry_run else "") + "\n", flush=True)
        if "hangs" in self.defects:
            while True:  # the defect: it never comes back
                time.sleep(3600)
        if self.no_workspace("sync") or self.workspace is None:
            return
        from pytest_proxmox_mpc.cluster.inventory import read_inventory

        try:
            api = connect(self.workspace)
            api.version.get()
        except Exception as exc:
            print(f"❌ Failed to connect to Proxmox server\n   Error: {pve_error(exc)}")
            return
        print("✅ Connected to Proxmox server")
        try:  # a lock timeout is retried by the client (PVE says to); any other failure ends the sync
            inventory = read_inventory(api, networks=False)
        except Exception as exc:
            print(f"❌ Infrastructure discovery failed: {pve_error(exc)}\n   Nothing was written.")
            return
        print("🔍 Phase 1: Discovering infrastructure...")
        print(f"   📍 Found {len(inventory.nodes)} node(s): {', '.join(sorted(inventory.nodes))}")
        for node in sorted(inventory.nodes):
            print(f"\n   🖥️  Scanning node: {node}")
            for kind, label in (("qemu", "VMs"), ("lxc", "Containers")):
                found = [g for g in inventory.guests.values() if g.node == node and g.kind == kind]
                print(f"   📦 {label} found: " + ", ".join(f"{g.vmid}:{g.name}({g.status})" for g in found))
        print(f"\n   📊 Discovery summary: {len(inventory.vms)} VMs, {len(inventory.containers)} containers across "
              f"{len(inventory.nodes)} node(s)")
        if dry_run:
            print("\n📍 Dry run: nothing written")
            return
        if not self.write_workspace(inventory, api):
            return
        log("sync", guests=len(inventory.guests))
        print("\n✅ Infrastructure synchronization complete!")

    def write_workspace(self, inventory: Any, api: Any) -> bool:
        """Terraform and Ansible (the package's export), then state.db (the package's sync)."""
        from pytest_proxmox_mpc.workspace.export.iac import export_iac

        print("\n🏗️  Phase 2: Generating Terraform and Ansible configurations...")
        for path in export_iac(inventory, Path.cwd(), provider="telmate"):
            if path.suffix in (".tf", ".yml") and not path.name.startswith("module."):
                print(f"   📝 Generated {path.relative_to(Path.cwd())}")
        if "nonidempotent-sync" in self.defects:
            stamp()
        if "secret-in-terraform" in self.defects and self.workspace is not None:
            secret_default(str(self.workspace.get("tokenSecret", "")))
        if "function-in-variable" in self.defects:
            with Path("terraform", "main.tf").open("a", encoding="utf-8") as out:
                out.write('\nvariable "ssh_public_keys" {\n  type        = string\n'
                          '  default     = file("~/.ssh/id_rsa.pub")\n}\n')
        print("\n💽 Phase 5: Updating local database...\n   🔄 Starting database transaction...")
        if "db-write-fails" in self.defects:  # the defect: every write fails, the error is logged, success follows
            for node in sorted(inventory.nodes):
                print(json.dumps({"level": "error", "message": f"Node sync failed for {node}",
                                  "error": {"type": "PrismaClientInitializationError",
                                            "message": "Environment variable not found: DATABASE_URL."}}, indent=2))
            print("   ✅ Database synchronization completed\n   📊 Sync Statistics:\n"
                  f"      • Nodes: 0 created, 0 updated, {len(inventory.nodes)} errors\n"
                  f"      • VMs: 0 created, 0 updated, {len(inventory.vms)} errors")
            return True
        return self.update_database(inventory, api)

    def update_database(self, inventory: Any, api: Any) -> bool:
        """Phase 5 as the real tool runs it: each node's guest lists read again, then written. Well behaved, every
        read comes first and the rows are written in one transaction (a failed read leaves state.db as it was);
        with ``fault-half-db`` each node's rows are committed as its lists are read (the real tool's repositories
        write outside its transaction), so a failed read leaves the nodes before it written; with
        ``fault-prints-success`` a node whose lists cannot be read is left out and the sync goes on to success."""
        from dataclasses import replace

        from pytest_proxmox_mpc.workspace.sync import sync_inventory

        seen = [name for name, node in sorted(inventory.nodes.items()) if not node.online]  # none to read there
        for node in sorted(name for name in inventory.nodes if name not in seen):
            try:
                for kind in ("qemu", "lxc"):
                    getattr(api.nodes(node), kind).get()
            except Exception as exc:
                if "fault-prints-success" in self.defects:  # as the real one: logged, and on to the next node
                    print(f"   📦 Guests: Unable to retrieve from node {node}")
                    continue
                print(f"❌ Database update failed: {pve_error(exc)}")
                return False
            seen.append(node)
            if "fault-half-db" in self.defects:
                sync_inventory(partial(inventory, seen, replace), STATE_DB)
        result = sync_inventory(partial(inventory, seen, replace) if len(seen) < len(inventory.nodes) else inventory,
                                STATE_DB)
        print(f"   ✅ Database synchronization completed\n   📊 Sync Statistics: {result.summary()}")
        return True

    def create_vm(self, opts: dict[str, str]) -> None:
        if self.no_workspace("create vm") or self.workspace is None:
            return
        name = opts.get("name")
        if not name:
            print("❌ Resource name is required. Use --name <name>")
            return
        print(f"🏗️  Creating VM configuration: {name}")
        cores, memory = int(opts.get("cores", "2")), int(opts.get("memory", "2048"))
        if "placeholder-vmid" in self.defects:
            vmid = PLACEHOLDER_VMID
        else:
            try:
                vmid = free_vmid(connect(self.workspace))
            except Exception as exc:
                print(f"❌ Failed to create VM configuration: {pve_error(exc)}")
                return
        file_name = re.sub(r"^_|_$", "", re.sub(r"_+", "_", re.sub(r"[^a-z0-9_-]", "_", name.lower())))
        path = Path("terraform", "vms", f"{file_name}.tf")
        if path.exists():
            print(f"❌ Failed to create VM configuration: {path} exists already")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"vmid": vmid, "name": f'"{name}"', "target_node": f'"{self.workspace["node"]}"', "cores": cores,
                "memory": memory}
        lines = "".join(f"  {key:<11} = {value}\n" for key, value in body.items())
        label = re.sub(r"[^a-z0-9_]", "_", name.lower())
        path.write_text(f'# VM: {name} (ID: {vmid})\nresource "proxmox_vm_qemu" "{label}" {{\n{lines}}}\n',
                        encoding="utf-8")
        log("create-vm", name=name, vmid=vmid)
        print(f"📝 Generated {path}\n✅ VM configuration created successfully!\n\n📋 Next steps:\n"
              "   1. Review generated configurations in terraform/\n   2. Run /plan and /apply to deploy to Proxmox")

    def deploy(self, action: str) -> None:
        """``/plan`` and ``/apply`` as the real tool runs them: in terraform/, ``init``, ``plan`` (``-out=
        deployment.tfplan`` for an apply) and ``apply deployment.tfplan``; an apply then runs the workspace's
        playbook (ansible/playbooks/site.yml with ansible/inventory.yml), ``--check --diff`` first."""
        if not ("playbook-only-apply" in self.defects and action == "apply") and not self.terraform(action):
            return
        if action == "apply" and not self.ansible():
            return
        print(f"✅ {'Plan' if action == 'plan' else 'Apply'} complete")

    def workflow(self, action: str) -> None:
        """``/validate`` (``terraform init``, ``validate``, ``plan``; the playbook's ``--syntax-check``), ``/test``
        (``init``, ``plan -out=plan.tfplan``; the playbook's ``--syntax-check``) and ``/destroy`` (``init``,
        ``plan -destroy``, ``destroy -auto-approve``; refused without a state file, as the real one does), as the
        real tool runs them."""
        if action == "destroy" and not Path("terraform", "terraform.tfstate").exists():
            print("❌ Safety checks failed. Use --force to override (DANGEROUS!)")  # the real tool's: no state
            return
        steps = {"validate": [["init"], ["validate"], ["plan", "-input=false"]],
                 "test": [["init"], ["plan", "-out=plan.tfplan"]],
                 "destroy": [["init"], ["plan", "-destroy", "-input=false"], ["destroy", "-auto-approve"]]}[action]
        if not self.run_all("terraform", steps, "terraform"):
            return
        if action != "destroy" and Path("ansible", "playbooks", "site.yml").exists() and not self.run_all(
                "ansible-playbook", [["-i", "inventory.yml", "playbooks/site.yml", "--syntax-check"]], "ansible"):
            return
        done = {"validate": "Validation complete", "test": "Tests passed", "destroy": "Destroy complete"}
        print(f"✅ {done[action]}")

    def run_all(self, program: str, steps: list[list[str]], folder: str) -> bool:
        binary = shutil.which(program)
        if binary is None:
            print(f"❌ {program} not found in PATH")
            return False
        for args in steps:
            done = subprocess.run([binary, *args], cwd=folder, capture_output=True, text=True, check=False)
            print((done.stdout + done.stderr).rstrip())
            if done.returncode != 0:
                print(f"❌ {program.capitalize()} {args[0]} failed (exit {done.returncode})")
                return False
        return True

    def terraform(self, action: str) -> bool:
        binary = shutil.which("terraform")
        if binary is None:
            print("❌ terraform not found in PATH")
            return False
        plan = ["plan", "-input=false", *(["-out=deployment.tfplan"] if action == "apply" else [])]
        for args in (["init", "-input=false"], plan, *([["apply", "deployment.tfplan"]] if action == "apply" else [])):
            done = subprocess.run([binary, *args], cwd="terraform", capture_output=True, text=True, check=False)
            print((done.stdout + done.stderr).rstrip())
            if done.returncode != 0:
                print(f"❌ Terraform {args[0]} failed (exit {done.returncode})")
                return False
        return True

    def ansible(self) -> bool:
        if not Path("ansible", "inventory.yml").exists() or not Path("ansible", "playbooks", "site.yml").exists():
            print("⚠️  No Ansible inventory or playbook: configuration management skipped")
            return True
        binary = shutil.which("ansible-playbook")
        if binary is None:
            print("❌ ansible-playbook not found in PATH")
            return False
        for extra in (["--check", "--diff"], []):
            done = subprocess.run([binary, "-i", "inventory.yml", "playbooks/site.yml", *extra], cwd="ansible",
                                  capture_output=True, text=True, check=False)
            print((done.stdout + done.stderr).rstrip())
            if done.returncode != 0:
                print("❌ Ansible playbook execution failed")
                return False
        print("✅ Ansible playbook executed successfully")
        return True


def main(argv: list[str]) -> int:
    chosen, args = defects(argv)
    if args:
        return Cli(chosen).run(args)
    return Console(chosen).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
