"""The safety proxy's desk for program shims (``POST /_proxy/program``, with the proxy's credentials): each run of a
policed program a tool starts is judged by the program rules of the proxy's phase, against this run's ledger and
its temporary guests as the cluster reports them (read through the guard: audited, recorded), and audited.
Nothing here imports pytest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..cluster.guard import Guard
from ..programs.guests import temp_guests
from ..programs.judge import ProgramAudit, ProgramRules
from ..programs.verdict import Verdict, refuse
from ..safety.ledger import Ledger
from ..safety.policy import PhasePolicy


class ProgramDesk:
    """Judges the shims' questions for one proxy: ``get`` reads the cluster (a path below ``/api2/json``)."""

    def __init__(self, guard: Guard, phase: int, get: Callable[[str], Any], extra: Iterable[str] = (),
                 secrets: Callable[[], Iterable[str]] = tuple) -> None:
        policy = guard.policy
        ledger = guard.ledger if guard.ledger is not None else Ledger()
        temp_range = policy.temp_range if isinstance(policy, PhasePolicy) else (0, -1)
        self.rules = ProgramRules(phase, ledger, temp_range, lambda: temp_guests(get, list(ledger)), frozenset(extra))
        self.audit = ProgramAudit(guard.trail, secrets)

    def answer(self, body: bytes) -> dict[str, Any]:
        """The verdict (as JSON data) on the question in ``body``; an unreadable question is refused."""
        try:
            asked = json.loads(body)
            program, args = str(asked["program"]), [str(a) for a in asked["args"]]
            cwd, env, plan = Path(str(asked.get("cwd") or ".")), dict(asked.get("env") or {}), asked.get("plan")
        except (ValueError, KeyError, TypeError):
            return refuse("unreadable", "the shim's question cannot be read").to_json()
        try:
            verdict = self.rules.decide(program, args, cwd, env, plan if isinstance(plan, str) else None)
        except Exception as exc:  # fail closed: a rule that cannot decide refuses
            verdict = Verdict(False, "programs:unjudgeable", f"{program} could not be judged ({type(exc).__name__})")
        self.audit.record(program, args, verdict)
        return verdict.to_json()
