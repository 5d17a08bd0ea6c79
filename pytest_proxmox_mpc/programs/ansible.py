"""ansible, ansible-playbook and ansible-inventory: the hosts a run would reach, from its inventory, limited to this
run's temporary guests.

Phases 1 and 2 allow ``ansible-playbook`` only with ``--syntax-check`` or ``--list-hosts/-tasks/-tags`` and
``ansible`` only for ``--version``. In phases 3 and 4 a run's inventory (``-i`` files and host lists,
``ANSIBLE_INVENTORY``, the ``ansible.cfg`` of its folder) is read, each host's address (``ansible_host``, from the
inventory or ``host_vars``) judged, and the run gets ``--limit`` with the hosts that are this run's temporary
guests; an empty set is refused, never widened. What cannot be read (a dynamic inventory, a directory, a limit
pattern) is refused. ``ansible-inventory`` reaches no host and is allowed. Nothing here imports pytest.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..validators.ansible import inventory_hosts
from .remote import Unjudgeable
from .verdict import TempGuests, Verdict, allow, refuse

VALUED = frozenset({"-i", "--inventory", "--inventory-file", "-l", "--limit", "-e", "--extra-vars", "-u", "--user",
                    "-t", "--tags", "--skip-tags", "-f", "--forks", "-M", "--module-path", "-c", "--connection",
                    "-T", "--timeout", "--private-key", "--key-file", "--ssh-common-args", "--sftp-extra-args",
                    "--scp-extra-args", "--ssh-extra-args", "--vault-id", "--vault-password-file",
                    "--vault-pass-file", "--become-method", "--become-user", "--start-at-task", "-m", "--module-name",
                    "-a", "--args", "-P", "--poll", "-B", "--background", "-o", "--tree", "--playbook-dir",
                    "--become-password-file", "--connection-password-file", "--task-timeout"})
LISTING = ("--syntax-check", "--list-hosts", "--list-tasks", "--list-tags")
HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
REMOTE_CONNECTIONS = (None, "ssh", "smart", "paramiko")
HOST_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")


def split(args: Sequence[str]) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """(valued options by long-or-short name as given, flags, operands)."""
    valued: dict[str, list[str]] = {}
    flags: list[str] = []
    operands: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        name, equals, value = word.partition("=")
        if word.startswith("--") and equals and name in VALUED:
            valued.setdefault(name, []).append(value)
        elif word in VALUED:
            index += 1
            if index >= len(args):
                raise Unjudgeable(f"option {word} has no value")
            valued.setdefault(word, []).append(args[index])
        elif len(word) > 2 and word[:2] in VALUED and not word.startswith("--"):
            valued.setdefault(word[:2], []).append(word[2:])
        elif word.startswith("-") and word != "-":
            flags.append(word)
        else:
            operands.append(word)
        index += 1
    return valued, flags, operands


def _values(valued: Mapping[str, list[str]], *names: str) -> list[str]:
    return [value for name in names for value in valued.get(name, [])]


def judge_ansible(program: str, args: Sequence[str], phase: int, guests: TempGuests, cwd: Path,
                  env: Mapping[str, str]) -> Verdict:
    try:
        valued, flags, _ = split(args)
    except Unjudgeable as exc:
        return refuse("ansible-unjudgeable", f"{program}: {exc}")
    if program == "ansible-inventory":
        return allow("ansible-inventory", "ansible-inventory reads the inventory and reaches no host")
    if any(flag in ("--version", "-h", "--help") for flag in flags):
        return allow("ansible-no-hosts", f"{program} {flags[0]} reaches no host")
    if program == "ansible-playbook" and any(flag in LISTING for flag in flags):
        return allow("ansible-listing", f"{program} with {', '.join(f for f in flags if f in LISTING)} reaches no host")
    if phase < 3:
        return refuse("ansible-no-hosts", f"phase {phase} runs {program} on no host (only --syntax-check and "
                                          "--list-hosts/-tasks/-tags in phases 1 and 2)")
    connections: list[str | None] = [None, *_values(valued, "-c", "--connection")]
    connection = connections[-1]
    if connection not in REMOTE_CONNECTIONS:
        return refuse("ansible-connection", f"{program} -c {connection}: only remote connections to this run's "
                                            "temporary guests are allowed")
    try:
        hosts = read_inventories(_values(valued, "-i", "--inventory", "--inventory-file"), cwd, env)
        wanted = _limit(_values(valued, "-l", "--limit"))
    except Unjudgeable as exc:
        return refuse("ansible-unjudgeable", f"{program}: {exc}")
    chosen = sorted(host for host, variables in hosts.items()
                    if (wanted is None or host in wanted) and _reaches_guest(host, variables, guests))
    if not chosen:
        return refuse("ansible-no-temporary-hosts", f"{program}: no host of its inventory ({len(hosts)} hosts) is a "
                                                    "temporary guest of this run; the empty set is refused, never "
                                                    "widened")
    bad = [host for host in chosen if not HOST_NAME.match(host)]
    if bad:
        return refuse("ansible-unjudgeable", f"{program}: host name {bad[0]!r} cannot be given to --limit")
    limited = [*_without_limit(args), "--limit", ",".join(chosen)]
    return allow("ansible-limited", f"{program} limited to this run's temporary guests {', '.join(chosen)} "
                                    f"(of {len(hosts)} inventory hosts)", limited)


def _reaches_guest(host: str, variables: Mapping[str, Any], guests: TempGuests) -> bool:
    address = variables.get("ansible_host") or variables.get("ansible_ssh_host") or host
    return (variables.get("ansible_connection") in REMOTE_CONNECTIONS and isinstance(address, str)
            and guests.is_guest(address))


def _limit(limits: list[str]) -> set[str] | None:
    if not limits:
        return None
    names: set[str] = set()
    for part in re.split(r"[,:]", limits[-1]):
        if part and not HOST_NAME.match(part):
            raise Unjudgeable(f"--limit {limits[-1]!r}: only plain host names are judged, not patterns")
        names.add(part)
    return names


def _without_limit(args: Sequence[str]) -> list[str]:
    out, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word in ("-l", "--limit"):
            skip = True
        elif not (word.startswith("--limit=") or (word.startswith("-l") and len(word) > 2)):
            out.append(word)
    return out


def read_inventories(sources: list[str], cwd: Path, env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every host of the run's inventories with its variables (``host_vars`` beside each file over them)."""
    if not sources:
        sources = [s for s in env.get("ANSIBLE_INVENTORY", "").split(",") if s] or _configured(cwd, env)
    hosts: dict[str, dict[str, Any]] = {}
    for source in sources:
        path = Path(os.path.expanduser(source))
        path = path if path.is_absolute() else cwd / path
        if "," in source and not path.exists():
            for name in (s.strip() for s in source.split(",")):
                if name:
                    hosts.setdefault(name, {})
            continue
        for host, variables in _read_file(path).items():
            hosts[host] = {**hosts.get(host, {}), **variables, **_host_vars(path.parent / "host_vars", host)}
    for host in hosts:
        hosts[host].update(_host_vars(cwd / "host_vars", host))
    return hosts


def _configured(cwd: Path, env: Mapping[str, str]) -> list[str]:
    config = Path(env["ANSIBLE_CONFIG"]) if env.get("ANSIBLE_CONFIG") else cwd / "ansible.cfg"
    if config.is_file():
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(config, encoding="utf-8")
        except configparser.Error as exc:
            raise Unjudgeable(f"{config}: {type(exc).__name__}") from None
        value = parser.get("defaults", "inventory", fallback=None)
        if value:
            return [str((config.parent / v.strip()) if not Path(v.strip()).is_absolute() else v.strip())
                    for v in value.split(",") if v.strip()]
    return ["/etc/ansible/hosts"] if Path("/etc/ansible/hosts").is_file() else []


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    if path.is_dir():
        raise Unjudgeable(f"inventory {path} is a directory: only inventory files are judged")
    if not path.is_file():
        raise Unjudgeable(f"inventory {path} does not exist")
    if os.access(path, os.X_OK):
        raise Unjudgeable(f"inventory {path} is executable (a dynamic inventory): its hosts cannot be judged")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in (".yml", ".yaml", ".json"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise Unjudgeable(f"inventory {path} is not YAML") from None
        if isinstance(data, dict) and "plugin" in data:
            raise Unjudgeable(f"inventory {path} is an inventory plugin's: its hosts cannot be judged")
        return inventory_hosts(data if isinstance(data, dict) else {}).hosts
    return _ini(text, path)


def _ini(text: str, path: Path) -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    section = "ungrouped"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section.endswith(":children"):
            continue
        key = line.partition("=")[0]
        if section.endswith(":vars"):
            if key.strip() in ("ansible_host", "ansible_ssh_host", "ansible_connection"):
                raise Unjudgeable(f"{path}:{number}: a group sets {key.strip()}: not judged")
            continue
        words = line.split()
        if "[" in words[0]:
            raise Unjudgeable(f"{path}:{number}: host ranges are not judged")
        variables = dict(word.split("=", 1) for word in words[1:] if "=" in word)
        hosts[words[0]] = {**hosts.get(words[0], {}), **variables}
    return hosts


def _host_vars(folder: Path, host: str) -> dict[str, Any]:
    for suffix in HOST_VARS_SUFFIXES:
        path = folder / f"{host}{suffix}"
        if path.is_dir():
            raise Unjudgeable(f"{path} is a directory: host variables are judged from files only")
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
            except yaml.YAMLError:
                raise Unjudgeable(f"{path} is not YAML") from None
            return data if isinstance(data, dict) else {}
    return {}
