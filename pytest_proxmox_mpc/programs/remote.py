"""ssh, scp, sftp and rsync: the hosts a command line connects to, judged against this run's temporary guests.

Phases 1 and 2 refuse them all. In phases 3 and 4 every host a command line names must be a temporary guest of
this run (by name or by an address the cluster reports); ssh is pinned to that address (``-o HostName=``, which
the command line sets before any config file), and what could send it elsewhere unseen (``-F``, ``-J``,
``ProxyCommand``, ``ProxyJump``, ``-S`` of scp, another remote shell of rsync) is refused. scp, sftp and rsync run
their ssh from PATH: the ssh shim judges that run too. Nothing here imports pytest.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from .verdict import TempGuests, Verdict, allow, refuse

# Options that take a value, per program (the rest are flags).
VALUED = {"ssh": "BbcDEeFIiJLlmOoPpQRSWw", "scp": "cDFiJlOoPSX", "sftp": "BbcDFiJloPRSs"}
UNSAFE_OPTIONS = re.compile(r"^\s*(proxycommand|proxyjump|localcommand|permitlocalcommand|include|match|"
                            r"knownhostscommand|hostname)\s*[= ]\s*(?P<value>.*)$", re.I)
RSYNC_VALUED = frozenset({"-e", "--rsh", "--rsync-path", "--port", "-T", "--temp-dir", "--password-file",
                          "--filter", "-f", "--exclude", "--include", "--files-from", "--exclude-from",
                          "--include-from", "--log-file", "--out-format", "--chmod", "--compare-dest",
                          "--copy-dest", "--link-dest", "--partial-dir", "--backup-dir", "--suffix", "--bwlimit",
                          "--timeout", "--contimeout", "--max-size", "--min-size", "--block-size", "-B"})


class Unjudgeable(Exception):
    """A command line the rules cannot judge: refused (fail closed)."""


def split_options(program: str, args: Sequence[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(options as (letter, value)), operands) of an ssh, scp or sftp command line, as getopt reads it."""
    valued = VALUED[program]
    options: list[tuple[str, str | None]] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return options, list(args[index + 1:])
        if not word.startswith("-") or word == "-":
            break
        position = 1
        while position < len(word):
            letter = word[position]
            if letter in valued:
                value = word[position + 1:]
                if not value:
                    index += 1
                    if index >= len(args):
                        raise Unjudgeable(f"option -{letter} has no value")
                    value = args[index]
                options.append((letter, value))
                break
            options.append((letter, None))
            position += 1
        index += 1
    return options, list(args[index:])


def _user_host(text: str) -> str:
    """``user@host`` or ``ssh://user@host:port`` -> host."""
    if "://" in text:
        text = text.split("://", 1)[1].split("/", 1)[0]
        text = text.rsplit("@", 1)[-1]
        return text[1:text.index("]")] if text.startswith("[") and "]" in text else text.split(":")[0]
    return text.rsplit("@", 1)[-1]


def remote_host(operand: str) -> str | None:
    """The host of an scp/rsync operand (``[user@]host:path``, ``[user@][v6]:path``, ``scp://...``), None for a
    local path (no colon before the first slash)."""
    if "://" in operand:
        return _user_host(operand)
    slash, colon = operand.find("/"), operand.find(":")
    if operand.startswith("["):
        close = operand.find("]")
        return operand[operand.find("[") + 1:close] if close > 0 and operand[close + 1:close + 2] == ":" else None
    if colon <= 0 or (0 <= slash < colon):
        return None
    return operand[:colon].rsplit("@", 1)[-1]


def _unsafe(options: Sequence[tuple[str, str | None]]) -> str | None:
    for letter, value in options:
        if letter in "FJS":
            return f"-{letter} could send the connection where the rules cannot see"
        if letter == "o" and value is not None:
            found = UNSAFE_OPTIONS.match(value)
            if found and found["value"].strip().strip('"').lower() != "none":
                return f"-o {value.split('=')[0].strip()} could send the connection where the rules cannot see"
    return None


def judge_remote(program: str, args: Sequence[str], phase: int, guests: TempGuests) -> Verdict:
    """The rules for ssh, scp, sftp and rsync."""
    if phase < 3:
        return refuse("remote-no-hosts", f"phase {phase} runs {program} to no host (phases 1 and 2 change nothing)")
    try:
        if program == "rsync":
            hosts = _rsync_hosts(args)
            options: list[tuple[str, str | None]] = []
        else:
            options, operands = split_options(program, args)
            if program == "scp":
                hosts = [h for h in (remote_host(o) for o in operands) if h]
            else:
                hosts = [_user_host(operands[0])] if operands else []
    except Unjudgeable as exc:
        return refuse("remote-unjudgeable", f"{program}: {exc}")
    problem = _unsafe(options)
    if problem:
        return refuse("remote-unjudgeable", f"{program}: {problem}")
    if not hosts:
        if program == "ssh" and any(letter in "GVQ" for letter, _ in options):
            return allow("remote-no-connection", f"{program} connects to no host here")
        return refuse("remote-unjudgeable", f"{program}: no host found on its command line")
    others = [host for host in hosts if not guests.is_guest(host)]
    if others:
        return refuse("remote-not-temporary", f"{program} to {', '.join(sorted(set(others)))}: only this run's "
                                              "temporary guests may be reached (by name or by an address the "
                                              "cluster reports)")
    if program != "ssh":
        return allow("remote-temporary", f"{program} to this run's temporary guests {', '.join(sorted(set(hosts)))}")
    address = guests.address_of(hosts[0])
    if address is None:
        return refuse("remote-no-address", f"ssh to {hosts[0]}: the cluster reports no address for it, so the "
                                           "connection cannot be pinned to the guest")
    pinned = ["-o", f"HostName={address}", "-o", "ProxyCommand=none", "-o", "ProxyJump=none", *args]
    return allow("remote-temporary", f"ssh to this run's temporary guest {hosts[0]} ({address})", pinned)


def _rsync_hosts(args: Sequence[str]) -> list[str]:
    hosts: list[str] = []
    operands: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        name, equals, value = word.partition("=")
        if word == "--":
            operands += args[index + 1:]
            break
        if word.startswith("-") and (name in RSYNC_VALUED or word in RSYNC_VALUED):
            if not equals and word in RSYNC_VALUED:
                index += 1
                if index >= len(args):
                    raise Unjudgeable(f"option {word} has no value")
                value = args[index]
            if name in ("-e", "--rsh") or word in ("-e", "--rsh"):
                shell = shlex.split(value)
                if not shell or shell[0] != "ssh":
                    raise Unjudgeable(f"remote shell {value!r}: only ssh (from PATH, which is policed) is judged")
        elif word.startswith("-e") and len(word) > 2 and not word.startswith("--"):
            shell = shlex.split(word[2:])
            if not shell or shell[0] != "ssh":
                raise Unjudgeable(f"remote shell {word[2:]!r}: only ssh (from PATH, which is policed) is judged")
        elif not word.startswith("-"):
            operands.append(word)
        index += 1
    for operand in operands:
        if operand.startswith("rsync://") or "::" in operand:
            hosts.append(_user_host(operand) if "://" in operand else operand.split("::")[0].rsplit("@", 1)[-1])
            continue
        host = remote_host(operand)
        if host:
            hosts.append(host)
    return hosts
