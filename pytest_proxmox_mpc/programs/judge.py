"""One run of a policed program judged and audited: the program's rules for the phase, against this run's ledger
and temporary guests; one audit line like an API request's (method ``EXEC``, the program as its path, the
arguments with secrets masked, the verdict and rule, ``"source": "program"``). Nothing here imports pytest.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..safety.policy import ApiRequest, Decision
from ..safety.redact import REDACTED, is_secret_name
from ..safety.trail import AuditTrail
from .ansible import judge_ansible
from .remote import judge_remote
from .terraform import judge_terraform
from .verdict import TempGuests, Verdict, refuse

REMOTE = frozenset({"ssh", "scp", "sftp", "rsync"})
ANSIBLE = frozenset({"ansible", "ansible-playbook", "ansible-inventory"})
TERRAFORM = frozenset({"terraform", "tofu"})
BUILTIN = REMOTE | ANSIBLE | TERRAFORM
METHOD = "EXEC"  # an audit line's method for a program's run
SOURCE = "program"
ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)=(?P<value>[^\s=]*)(?=\s|$)")


@dataclass
class ProgramRules:
    """The rules of ``phase``: ``ledger`` (this run's guests), ``guests()`` (their names and addresses, read
    when a rule needs them), ``extra`` (programs ``--pve-police-programs`` adds: refused)."""

    phase: int
    ledger: Container[int]
    temp_range: tuple[int, int]
    guests: Callable[[], TempGuests] = TempGuests
    extra: frozenset[str] = frozenset()

    def decide(self, program: str, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
               plan: str | None = None) -> Verdict:
        env = env or {}
        if program in TERRAFORM:
            return judge_terraform(program, args, self.phase, plan, self.ledger, self.temp_range)
        if program in ANSIBLE:
            return judge_ansible(program, args, self.phase, self._guests(), cwd, env)
        if program in REMOTE:
            return judge_remote(program, args, self.phase, self._guests())
        if program in self.extra:
            return refuse("listed", f"{program} is listed in --pve-police-programs: the rules know no safe run of it")
        return refuse("unknown", f"{program} is not a program the rules know")

    def _guests(self) -> TempGuests:
        return self.guests() if self.phase >= 3 else TempGuests()


def masked_args(args: Iterable[str], secrets: Iterable[str] = ()) -> str:
    """The command line as one string, each ``NAME=VALUE`` with a secret-looking name and every known secret
    masked (``-var=proxmox_token_secret=***``, ``-e ansible_password=***``)."""
    known = sorted((s for s in secrets if s), key=len, reverse=True)
    words = []
    for word in args:
        word = ASSIGNMENT.sub(lambda m: f"{m['name']}={REDACTED}" if is_secret_name(m["name"].split(".")[-1])
                              else m[0], word)
        for secret in known:
            word = word.replace(secret, REDACTED)
        words.append(word)
    return shlex.join(words)


@dataclass
class ProgramAudit:
    """Writes one audit line per judged run to the run's ``trail``; counts, per test, what ran and was refused."""

    trail: AuditTrail | None
    secrets: Callable[[], Iterable[str]] = tuple
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, program: str, args: Sequence[str], verdict: Verdict) -> None:
        if verdict.needs_plan:
            return
        if self.trail is None:
            return
        request = ApiRequest(METHOD, program, {"args": masked_args(args, self.secrets())})
        self.trail.record(request, Decision(verdict.allowed, verdict.rule, verdict.reason), source=SOURCE)
