"""The system under test, driven for one test: its console and its CLI in a fresh workspace of the test's own,
pointed at the safety proxy of the test's phase with the proxy's own credentials (never the cluster's).

``init()`` answers the console's ``init``; ``step(name, **values)`` runs a step of the profile. Each run is a
``StepRun`` handed to ``record`` (the run report) with its transcript masked; the raw transcripts stay here for
``secret_leaks``. A step that cannot run here raises ``StepUnavailable`` with the reason. Nothing here imports
pytest.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StepUnavailable
from ..programs.install import install_shims
from ..programs.judge import BUILTIN
from ..proxy.auth import ProxyAccess
from ..workspace.builder import Connection
from .cli_steps import cli_argv, console_dir, run_cli
from .console import ConsoleSession
from .profile import Profile, Step
from .snapshot import WorkspaceSnapshot, changes
from .transcript import StepRun, clean, judge, mask, secret_leaks

PYTHON_WORDS = ("python", "python3")
# The programs outside the PVE API whose every run the suite polices (shims first on the tool's PATH ask the safety
# proxy): a step that runs another one (``runs`` in its profile) would reach the cluster's machines around the
# safety proxy, so it is not run.
POLICED_PROGRAMS: frozenset[str] = BUILTIN
SHIMS = "programs"  # beside the workspace: the shims of the tool's processes


@dataclass(frozen=True)
class Commands:
    """How the tool is started: ``--mpc-console`` and ``--mpc-cli`` (either may be None)."""

    console: str | None
    cli: str | None

    @classmethod
    def given(cls, console: str | None, cli: str | None, base: Path) -> Commands:
        """The commands as given, each word that names a file relative to ``base`` (where pytest was started)
        made absolute: the tool runs in its workspace, elsewhere. A leading ``python`` is the run's own
        interpreter: outside an activated virtual environment ``python`` would be another one, or none."""
        def absolute(command: str | None) -> str | None:
            if command is None:
                return None
            words = shlex.split(command)
            if words and words[0] in PYTHON_WORDS:  # the interpreter of the run (its virtual environment), as pytest
                words[0] = sys.executable
            return shlex.join([str(base / w) if not Path(w).is_absolute() and (base / w).is_file() else w
                               for w in words])
        return cls(absolute(console), absolute(cli))


class ToolDriver:
    """The tool for one test (``test``, ``phase``) in ``workspace``, talking to ``access`` (the proxy)."""

    def __init__(self, profile: Profile, commands: Commands, access: ProxyAccess, workspace: Path, node: str, *,
                 test: str, phase: int | None, record: Callable[[StepRun], None],
                 refusals: Callable[[], list[str]] = list, masked: Sequence[str] = (),
                 police: Sequence[str] = ()) -> None:
        self.profile, self.commands, self.access, self.node = profile, commands, access, node
        self.workspace, self.test, self.phase = workspace, test, phase
        self._record, self._refusals = record, refusals
        self._masked = tuple(masked)  # the run's own credentials: the tool never gets them, and no output shows them
        self.readonly: Any = None  # the test's read-only client of the cluster, to judge against (the fixture's)
        self.runs: list[StepRun] = []
        self.raw: list[tuple[str, str]] = []  # (step, unmasked transcript): for the secret checks only
        self._console: ConsoleSession | None = None
        self.police = tuple(police)  # programs refused besides the built-in ones (--pve-police-programs)
        self.shims = workspace.parent / SHIMS
        workspace.mkdir(parents=True, exist_ok=True)

    @property
    def secrets(self) -> list[str]:
        """What no transcript and no file may show: the proxy's token secret and password, the run's credentials."""
        return [self.access.token_value.reveal(), self.access.password.reveal(), *self._masked]

    def values(self, **extra: object) -> dict[str, str]:
        """What the profile's templates are filled with: the proxy's address and credentials, the node."""
        access = self.access
        return {"host": access.host, "port": str(access.port), "url": access.url, "user": access.user,
                "token_name": access.token_name, "token_id": access.token_id,
                "token_secret": access.token_value.reveal(), "node": self.node, "cafile": str(access.cafile),
                "skip_tls": "N", "workspace": str(self.workspace), "name": "", "vmid": "", "ostemplate": "",
                "storage": "",
                "console_dir": str(console_dir(self.commands.console) or ""),
                **{key: str(value) for key, value in extra.items()}}

    def environment(self) -> dict[str, str]:
        values = self.values()
        connection = Connection(host=self.access.host, port=self.access.port, username=self.access.user,
                                node=self.node, verify=True, token_id=self.access.token_name)
        extra = {name: template.format(**values) for name, template in self.profile.env.items()}
        first = [str(Path(template.format(**values)).resolve()) for template in self.profile.path
                 if "{console_dir}" not in template or values["console_dir"]]
        path = os.pathsep.join([d for d in first if Path(d).is_dir()] + [os.environ.get("PATH", os.defpath)])
        access = self.access
        shims = install_shims(self.shims, url=access.url, cafile=access.cafile, authorization=access.authorization(),
                              real_path=path, extra=self.police)
        return {**os.environ, **extra, **connection.environment(values["token_secret"]), "TERM": "dumb",
                "PATH": os.pathsep.join([str(shims), path])}

    def cli_argv(self, arguments: str) -> list[str] | None:
        """The command line of a CLI step: ``--mpc-cli``, else the profile's ``cli.command`` (when every file it
        names exists), else its fallback to the console; None when there is none."""
        cli = self.commands.cli
        if cli is None and self.profile.cli_command is not None:
            directory = console_dir(self.commands.console)
            if directory is not None:
                command = self.profile.cli_command.format(**self.values())
                words = shlex.split(command)
                if all(Path(w).exists() for w in words if "/" in w):
                    cli = command
        return cli_argv(cli, self.commands.console, self.profile.cli_fallback, arguments)

    def reserve_vmid(self) -> int:
        """A VMID of the temporary range for the tool's own create (phases 3 and 4)."""
        return self.access.reserve_vmid()

    def snapshot(self) -> WorkspaceSnapshot:
        return WorkspaceSnapshot.take(self.workspace)

    def changes(self, before: WorkspaceSnapshot, **allowed: bool) -> list[str]:
        """What changed in the workspace since ``before`` (the tool's log and history may grow)."""
        return changes(before, self.snapshot(), appendable=self.profile.activity_files, **allowed)

    def init(self, restart: bool | None = None) -> StepRun:
        """The console's ``init``, every question answered from the proxy's settings. The console is then ended
        where the profile says the tool must be started again (``restart_after``; ``restart`` overrides it: a
        test of the tool keeping its state in one session passes False)."""
        init = self.profile.init
        console = self._start(init)
        start, mark, refused = time.perf_counter(), console.mark, len(self._refusals())
        problem = (console.problem or console.type(init.run)
                   or console.answer(self.profile.answers, self.values(), init.timeout))
        run = self._finish(init, init.run, console.text()[mark:], None, problem, start, refused)
        if (init.restart_after if restart is None else restart) and run.succeeded:
            self.close()
        return run

    def available(self, name: str) -> Step:
        """The profile's step ``name``; ``StepUnavailable`` with the reason when it cannot run here."""
        step = self.profile.step(name)
        if step is None:
            raise StepUnavailable(f"the profile {self.profile.name} ({self.profile.source}) has no step {name!r}")
        unpoliced = [program for program in step.runs if program not in POLICED_PROGRAMS and program not in self.police]
        if unpoliced:
            raise StepUnavailable(
                f"step {name!r} runs {', '.join(unpoliced)}, which reach the cluster's machines outside the PVE API; "
                "the suite does not police such programs yet (only the PVE API passes its safety proxy), so the step "
                "is not run")
        missing = [binary for binary in step.requires if shutil.which(binary) is None]
        if missing:
            raise StepUnavailable(f"step {name!r} needs {', '.join(missing)}, which is not installed here")
        if step.via == "cli" and self.cli_argv("") is None:
            derived = f" (the profile's {self.profile.cli_command!r} is not there)" if self.profile.cli_command else ""
            raise StepUnavailable(f"step {name!r} runs the tool's CLI: give --mpc-cli CMD{derived}")
        if step.via == "console" and self.commands.console is None:
            raise StepUnavailable(f"step {name!r} runs in the tool's console: give --mpc-console CMD")
        return step

    def step(self, name: str, /, **extra: object) -> StepRun:
        """Run the profile's step ``name`` with ``extra`` placeholders (``name``, ``vmid``), its ``faults`` injected
        through the safety proxy while it runs."""
        step = self.available(name)
        plan = self.access.faults
        if not step.faults or plan is None:
            return self._run(step, **extra)
        with plan.using(step.faults):
            return self._run(step, **extra)

    def _run(self, step: Step, **extra: object) -> StepRun:
        command = step.run.format(**self.values(**extra))
        start, refused = time.perf_counter(), len(self._refusals())
        if step.via == "cli":
            argv = self.cli_argv(command) or []
            status, output = run_cli(argv, self.workspace, self.environment(), step.timeout)
            return self._finish(step, command, f"$ {' '.join(argv)}\n{output}", status, None, start, refused)
        console = self._start(step)
        mark = console.mark
        problem = console.problem or console.run(command, step.timeout)
        return self._finish(step, command, console.text()[mark:], None, problem, start, refused)

    def _start(self, step: Step) -> ConsoleSession:
        if self.commands.console is None:
            raise StepUnavailable(f"step {step.name!r} runs in the tool's console: give --mpc-console CMD")
        if self._console is None or not self._console.alive:
            self._console = ConsoleSession(self.commands.console, self.workspace, self.environment(), self.profile)
            self._console.mark = 0  # the banner belongs to the first step's transcript
        else:
            self._console.mark = len(self._console.text())
        return self._console

    def _finish(self, step: Step, command: str, raw: str, status: int | None, problem: str | None,
                start: float, refused: int) -> StepRun:
        text = clean(raw)
        if step.via == "console" and text.rstrip().endswith(self.profile.prompt.strip()):
            text = text.rstrip()[: -len(self.profile.prompt.strip())]
        outcome, reason = ("failure", problem) if problem else judge(step, text, status)
        self.raw.append((step.name, raw))
        run = StepRun(self.test, self.phase, step.name, step.via, mask(command, self.secrets), outcome,
                      f"{step.name}: {mask(reason, self.secrets)}" if problem else reason,
                      mask(text, self.secrets), time.perf_counter() - start, status,
                      refused=self._refusals()[refused:])
        self.runs.append(run)
        self._record(run)
        return run

    def secret_leaks(self, but: Collection[str] = ()) -> list[str]:
        """Where the proxy's token secret or password shows: a transcript (of every step but those named in
        ``but``, which a test of its own judges), a file the tool left in the workspace."""
        return secret_leaks(self.workspace, self.secrets, [(step, raw) for step, raw in self.raw if step not in but])

    def close(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None
