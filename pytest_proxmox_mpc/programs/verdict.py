"""What the program rules decide for one run of a program, and what they judge it against: this run's temporary
guests as the cluster reports them (names and addresses). Nothing here imports pytest."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RULE_PREFIX = "programs"
CONFIG = "shim.json"  # beside the shims: where the safety proxy listens, and the PATH of the real programs
PROGRAM_PATH = "/_proxy/program"  # the safety proxy's endpoint that judges a program's run
REFUSED_EXIT = 126  # a shim's exit status when its program's run is refused


@dataclass(frozen=True)
class Verdict:
    """Allowed or not, the rule and why; ``args`` the arguments to run the real program with (None: as given);
    ``needs_plan``: judge again with the plan's ``terraform show -json`` (``plan``)."""

    allowed: bool
    rule: str
    reason: str
    args: tuple[str, ...] | None = None
    needs_plan: bool = False

    def to_json(self) -> dict[str, object]:
        return {"allowed": self.allowed, "rule": self.rule, "reason": self.reason,
                "args": list(self.args) if self.args is not None else None, "needs_plan": self.needs_plan}


def allow(rule: str, reason: str, args: Iterable[str] | None = None) -> Verdict:
    return Verdict(True, f"{RULE_PREFIX}:{rule}", reason, tuple(args) if args is not None else None)


def refuse(rule: str, reason: str) -> Verdict:
    return Verdict(False, f"{RULE_PREFIX}:{rule}", reason)


@dataclass(frozen=True)
class TempGuests:
    """This run's temporary guests: vmid -> (name, the addresses the cluster reports for it)."""

    guests: Mapping[int, tuple[str | None, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def vmids(self) -> frozenset[int]:
        return frozenset(self.guests)

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.guests.values() if name)

    def is_guest(self, host: str) -> bool:
        """True when ``host`` names one of the guests or is one of their addresses."""
        host = _plain(host)
        return any(host == name or host in addresses for name, addresses in self.guests.values())

    def address_of(self, host: str) -> str | None:
        """The address to connect to for ``host``: itself when it is a guest's address, the guest's first address
        when it is a guest's name (None: the cluster reports none, or ``host`` is no guest of this run)."""
        host = _plain(host)
        for name, addresses in self.guests.values():
            if host in addresses:
                return host
            if host == name and addresses:
                return addresses[0]
        return None


def _plain(host: str) -> str:
    """``host`` without brackets, a zone or a trailing dot; an IP address in its normal form."""
    host = host.strip().strip("[]").rstrip(".").split("%")[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()
