"""A shim's run (``python -m pytest_proxmox_mpc.programs.shim SHIM ARGS...``): ask the run's safety proxy whether
the program may run with these arguments, then run the real one (with the arguments the verdict gives) or refuse
with one line on stderr and exit status 126. A proxy that cannot be reached refuses (fail closed).

``terraform``/``tofu`` ``apply`` and ``destroy`` are judged from their plan: a plan file given is shown
(``show -json``); without one the shim makes the plan itself (``plan -out``, ``-destroy`` for a destroy), has it
judged, and applies exactly that plan. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .terraform import subcommand  # the shim imports only what it needs: it starts on every run of a program
from .verdict import CONFIG, REFUSED_EXIT

ASK_TIMEOUT = 600.0  # seconds the proxy may take to judge (it reads the cluster for the guests' addresses)
ENV_READ = ("ANSIBLE_INVENTORY", "ANSIBLE_CONFIG")
NOT_FOR_PLAN = ("-auto-approve", "-backup=", "-state-out=")
FOR_APPLY = ("-lock", "-parallelism=", "-no-color", "-compact-warnings", "-backup=", "-state-out=", "-input=")


def say(line: str) -> None:
    print(f"pytest-proxmox-mpc: {line}", file=sys.stderr, flush=True)


def ask(config: dict[str, Any], program: str, args: list[str], plan: str | None = None) -> dict[str, Any]:
    body = json.dumps({"program": program, "args": args, "cwd": os.getcwd(), "plan": plan,
                       "env": {k: os.environ[k] for k in ENV_READ if k in os.environ}}).encode()
    request = urllib.request.Request(config["url"], data=body, method="POST",
                                     headers={"Authorization": config["authorization"],
                                              "Content-Type": "application/json"})
    try:
        context = ssl.create_default_context(cafile=config["cafile"])
        with urllib.request.urlopen(request, timeout=ASK_TIMEOUT, context=context) as answer:
            return dict(json.loads(answer.read())["data"])
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        return {"allowed": False, "rule": "programs:unreachable", "reason": f"the safety proxy answered {exc.code}: "
                                                                            f"{str(message).strip()}"}
    except (OSError, ValueError, KeyError) as exc:
        return {"allowed": False, "rule": "programs:unreachable",
                "reason": f"the run's safety proxy cannot be asked ({type(exc).__name__})"}


def main(argv: list[str]) -> int:
    shim, args = Path(argv[0]), argv[1:]
    program = shim.name
    try:
        config = json.loads((shim.parent / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        say(f"{program} refused: the shim's {CONFIG} cannot be read ({type(exc).__name__})")
        return REFUSED_EXIT
    real = shutil.which(program, path=str(config.get("path", "")))
    verdict = ask(config, program, args)
    planned: Path | None = None
    if verdict.get("needs_plan"):
        if real is None:
            say(f"{program}: not installed (nothing on PATH but this shim)")
            return 127
        planned, plan, status = make_plan(real, args)
        if plan is None:
            return status
        verdict = ask(config, program, args, plan)
    if not verdict.get("allowed"):
        say(f"{program} refused by the safety policy: {verdict.get('rule')} ({verdict.get('reason')})")
        return REFUSED_EXIT
    if real is None:
        say(f"{program}: not installed (nothing on PATH but this shim)")
        return 127
    final = verdict.get("args")
    final = list(final) if final is not None else args
    if planned is not None:
        globals_, _, rest = subcommand(args)
        final = [*globals_, "apply", *[w for w in rest if w.startswith(FOR_APPLY)], str(planned)]
        try:
            return subprocess.run([real, *final], check=False).returncode
        finally:
            shutil.rmtree(planned.parent, ignore_errors=True)
    os.execv(real, [real, *final])
    return 0  # not reached


def make_plan(real: str, args: list[str]) -> tuple[Path | None, str | None, int]:
    """(the plan file judged, its ``show -json``, 0), or (None, None, status) when it could not be made: what the
    ``apply`` or ``destroy`` of ``args`` would do, as a plan."""
    globals_, command, rest = subcommand(args)
    operands = [word for word in rest if not word.startswith("-")]
    if command == "apply" and operands:  # a saved plan: judged as it is, applied as given
        shown = subprocess.run([real, *globals_, "show", "-json", operands[-1]], capture_output=True, text=True,
                               check=False)
        if shown.returncode != 0:
            sys.stderr.write(shown.stderr)
            return None, None, shown.returncode
        return None, shown.stdout, 0
    folder = Path(tempfile.mkdtemp(prefix="pytest-proxmox-mpc-plan-"))
    planned = folder / "judged.tfplan"
    options = [w for w in rest if not w.startswith(NOT_FOR_PLAN)]
    made = subprocess.run([real, *globals_, "plan", f"-out={planned}", *(["-destroy"] if command == "destroy" else []),
                           *options], check=False)
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        return None, None, made.returncode
    judged = subprocess.run([real, *globals_, "show", "-json", str(planned)], capture_output=True, text=True,
                            check=False)
    if judged.returncode != 0:
        sys.stderr.write(judged.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None, None, judged.returncode
    return planned, judged.stdout, 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
