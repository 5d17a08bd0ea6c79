"""The tool's interactive console, driven through a pseudo-terminal with pexpect, as a person would type.

A terminal is what the tool expects: it reads raw keystrokes at its secret prompt. Every wait is on the
tool's own output (its prompt, the next question) with a generous timeout, never on a sleep; the secret is
sent only once the terminal's echo is off (``waitnoecho``), so what is echoed is the tool's doing. Everything
the tool printed is kept (``raw``) for the suite to judge; the report gets it masked. Nothing here imports pytest.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .profile import Answer, Profile

NO_ECHO_WAIT = 30.0  # seconds a tool may take to turn the echo off once it shows its secret prompt
EXIT_WAIT = 30.0
ENTER = "\r"  # the Enter key; in canonical mode the terminal makes it a new line


class ConsoleSession:
    """One console process in ``cwd``. ``run`` types a command and waits for the prompt to come back."""

    def __init__(self, command: str, cwd: Path, env: Mapping[str, str], profile: Profile) -> None:
        import pexpect  # only a run that drives a console needs it

        self._pexpect = pexpect
        self.profile = profile
        self.command = command
        argv = shlex.split(command)
        self.child: Any = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=dict(env), encoding="utf-8",
                                        codec_errors="replace", dimensions=(50, 250), timeout=profile.start_timeout)
        self.raw: list[str] = []
        self.mark = 0  # where the running step's transcript starts in ``text()``
        self.child.logfile_read = _Collect(self.raw)
        # pexpect waits 50 ms before each send so a password is not typed before the echo is off; this session
        # types only once the tool has shown its prompt or question, and waits for the echo to go off before a
        # secret (``_no_echo``), so the delay would only add seconds to every step.
        self.child.delaybeforesend = None
        self.alive = True
        self.problem: str | None = None
        self._wait_prompt(profile.start_timeout, "to show its prompt after starting")

    def text(self) -> str:
        return "".join(self.raw)

    def _wait_prompt(self, timeout: float, what: str) -> bool:
        if not self.alive:
            return False
        try:
            self.child.expect_exact(self.profile.prompt, timeout=timeout)
            return True
        except self._pexpect.EOF:
            self.alive = False
            self.problem = f"the console exited (status {self._status()}) instead of {what}"
        except self._pexpect.TIMEOUT:
            self.problem = f"the console did not come back {what} within {timeout:g} s"
        return False

    def _status(self) -> Any:
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else f"signal {self.child.signalstatus}"

    def type(self, command: str) -> str | None:
        """Type ``command`` and Enter; the problem when the console is not running, else None."""
        self.problem = None
        if not self.alive:
            return "the console is not running"
        self.child.send(command + ENTER)
        return None

    def run(self, command: str, timeout: float) -> str | None:
        """Type ``command``; the problem (one line) when the prompt did not come back, else None."""
        problem = self.type(command)
        if problem is None:
            self._wait_prompt(timeout, f"to its prompt after {command!r}")
        return problem or self.problem

    def answer(self, answers: tuple[Answer, ...], values: Mapping[str, str], timeout: float) -> str | None:
        """Answer each question of ``answers`` in turn (``values`` fill the templates); stops early when the
        prompt comes back (the tool gave up). The problem, or None once the prompt is back."""
        for index, question in enumerate(answers):
            patterns = [re.compile(question.prompt), re.compile(re.escape(self.profile.prompt))]
            try:
                which = self.child.expect(patterns, timeout=timeout)
            except self._pexpect.EOF:
                self.alive = False
                return f"the console exited (status {self._status()}) before question {index + 1} ({question.prompt})"
            except self._pexpect.TIMEOUT:
                return f"the console asked no question matching {question.prompt!r} within {timeout:g} s"
            if which == 1:
                return None  # back at the prompt: the tool stopped asking (its output says why)
            if question.secret:
                self._no_echo()
            self.child.send(question.answer.format(**values) + ENTER)
        self._wait_prompt(timeout, "to its prompt after the last answer")
        return self.problem

    def _no_echo(self) -> None:
        deadline = time.monotonic() + NO_ECHO_WAIT
        while time.monotonic() < deadline and self.alive:
            if self.child.waitnoecho(timeout=1.0):
                return

    def close(self) -> None:
        """``exit`` as the profile says, then end the process whatever it does."""
        if self.alive:
            try:
                self.child.send(self.profile.exit + ENTER)
                self.child.expect(self._pexpect.EOF, timeout=EXIT_WAIT)
            except (self._pexpect.TIMEOUT, self._pexpect.EOF, OSError):
                pass
        self.alive = False
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close(force=True)


class _Collect:
    """pexpect's ``logfile_read``: everything the tool printed, kept in order."""

    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        pass
