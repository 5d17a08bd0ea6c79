"""terraform and tofu: which subcommands a phase runs, and an apply or destroy judged from its plan.

Phases 1 and 2 run only ``version``, ``init``, ``validate``, ``fmt``, ``providers``, ``show`` and ``plan`` (a plan's
refresh reads through the safety proxy). Phases 3 and 4 add the reading ones (``output``, ``graph``, ``get``,
``state list/show/pull``, ``workspace list/show``), and ``apply`` and ``destroy`` when every resource the plan
creates, changes or destroys is a temporary guest of this run, judged from ``terraform show -json`` of the plan (the
shim makes the plan when the command line gives none, and applies exactly that plan); a plan with provisioners, or
one that cannot be read, is refused. ``import`` is allowed only for a temporary guest of this run; ``state``
changes are refused. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterator, Mapping, Sequence
from typing import Any

from .verdict import Verdict, allow, refuse

READING = frozenset({"version", "init", "validate", "fmt", "providers", "show", "plan"})
READING_LATER = frozenset({"output", "graph", "get"})
STATE_READING = frozenset({"list", "show", "pull"})
WORKSPACE_READING = frozenset({"list", "show"})
GUEST_TYPES = {"proxmox_vm_qemu": "vmid", "proxmox_lxc": "vmid", "proxmox_virtual_environment_vm": "vm_id",
               "proxmox_virtual_environment_container": "vm_id"}
NOTHING = frozenset({"no-op", "read"})


def subcommand(args: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """(global options, subcommand, its arguments): ``-chdir=DIR apply -auto-approve`` -> (["-chdir=DIR"], "apply",
    ["-auto-approve"]); ``-version`` is ``version``."""
    for index, word in enumerate(args):
        if word in ("-version", "--version", "-v"):
            return list(args[:index]), "version", list(args[index + 1:])
        if word in ("-help", "--help", "-h"):
            return list(args[:index]), "help", list(args[index + 1:])
        if not word.startswith("-"):
            return list(args[:index]), word, list(args[index + 1:])
    return list(args), None, []


def judge_terraform(program: str, args: Sequence[str], phase: int, plan: str | None, ledger: Container[int],
                    temp_range: tuple[int, int]) -> Verdict:
    _, command, rest = subcommand(args)
    if command in (None, "help") or command in READING:
        return allow("terraform-reads", f"{program} {command or ''} changes no infrastructure".replace("  ", " "))
    if phase < 3:
        return refuse("terraform-no-changes", f"phase {phase} runs {program} {command} never (only "
                                              f"{', '.join(sorted(READING))} in phases 1 and 2)")
    operands = [word for word in rest if not word.startswith("-")]
    if command in READING_LATER or (command == "state" and operands[:1] and operands[0] in STATE_READING) or \
            (command == "workspace" and operands[:1] and operands[0] in WORKSPACE_READING):
        return allow("terraform-reads", f"{program} {' '.join([command, *operands[:1]])} changes no infrastructure")
    if command in ("apply", "destroy"):
        if plan is None:
            return Verdict(False, "programs:terraform-plan-needed", "judged from its plan", needs_plan=True)
        return judge_plan(program, command, plan, ledger, temp_range)
    if command == "import":
        vmid = _last_number(operands[-1]) if len(operands) >= 2 else None
        if vmid is not None and vmid in ledger:
            return allow("terraform-import-temporary", f"{program} import of this run's temporary guest {vmid}")
        return refuse("terraform-import", f"{program} import: only a temporary guest of this run may be imported")
    return refuse("terraform-unjudged", f"{program} {command}: not a subcommand the rules can judge (state changes "
                                        "and the like are refused)")


def _last_number(text: str) -> int | None:
    found = re.findall(r"\d+", text)
    return int(found[-1]) if found else None


def judge_plan(program: str, command: str, plan: str, ledger: Container[int], temp_range: tuple[int, int]) -> Verdict:
    """``apply``/``destroy`` from ``terraform show -json`` of its plan."""
    try:
        data = json.loads(plan)
        changes = [change for change in data.get("resource_changes") or []
                   if change.get("mode", "managed") == "managed"
                   and not set(change["change"]["actions"]) <= NOTHING]
    except (ValueError, TypeError, KeyError, AttributeError):
        return refuse("terraform-plan-unreadable", f"{program} {command}: its plan (terraform show -json) cannot be "
                                                   "read, so what it changes cannot be judged")
    if any(True for _ in _provisioners(data.get("configuration") or {})):
        return refuse("terraform-provisioners", f"{program} {command}: the configuration has provisioners, which "
                                                "run commands and connections the rules cannot judge")
    for change in changes:
        problem = _change_problem(change, ledger, temp_range)
        if problem:
            return refuse("terraform-not-temporary", f"{program} {command}: {change.get('address', '?')} {problem}")
    touched = ", ".join(str(change.get("address")) for change in changes) or "nothing"
    return allow("terraform-temporary", f"{program} {command}: its plan changes only this run's temporary guests "
                                        f"({touched})")


def _change_problem(change: Mapping[str, Any], ledger: Container[int], temp_range: tuple[int, int]) -> str | None:
    field = GUEST_TYPES.get(str(change.get("type")))
    if field is None:
        return f"is a {change.get('type')}, not a guest: only temporary guests may be changed"
    actions = set(change["change"]["actions"])
    before = change["change"].get("before") or {}
    after = change["change"].get("after") or {}
    if actions & {"update", "delete"}:
        vmid = _int(before.get(field))
        if vmid is None or vmid not in ledger:
            return f"changes guest {before.get(field)}, which is no temporary guest of this run"
    if "create" in actions:
        vmid = _int(after.get(field))
        unknown = (change["change"].get("after_unknown") or {}).get(field)
        if vmid not in (None, 0) and not (temp_range[0] <= vmid <= temp_range[1]) and not unknown:
            return f"creates guest {vmid}, outside the temporary range {temp_range[0]}-{temp_range[1]}"
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _provisioners(module: Mapping[str, Any]) -> Iterator[Any]:
    for resource in module.get("root_module", module).get("resources") or []:
        yield from resource.get("provisioners") or []
    for call in (module.get("root_module", module).get("module_calls") or {}).values():
        yield from _provisioners(call.get("module") or {})
