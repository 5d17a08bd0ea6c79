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

from ..errors import ToolCommandMissing
from .profile import Answer, Profile
from .transcript import clean

NO_ECHO_WAIT = 30.0  # seconds a tool may take to turn the echo off once it shows its secret prompt
EXIT_WAIT = 30.0
ENTER = "\r"  # the Enter key; in canonical mode the terminal makes it a new line
KEY_WAIT = 2.0  # seconds a tool that reacts to each keystroke (an echo, a mask) may take to react to one
KEY_PACE = 0.05  # seconds between keystrokes to a tool that shows no reaction to them
QUIET = 0.1  # seconds without output after the last keystroke before Enter: the tool has read every key
QUESTION_GRACE = 10.0  # seconds a tool that printed its prompt in the middle of init has to ask its next question
SCREEN_LINES = 6  # lines of the last screen quoted when the tool stops answering


class ConsoleSession:
    """One console process in ``cwd``. ``run`` types a command and waits for the prompt to come back."""

    def __init__(self, command: str, cwd: Path, env: Mapping[str, str], profile: Profile) -> None:
        import pexpect  # only a run that drives a console needs it

        self._pexpect = pexpect
        self.profile = profile
        self.command = command
        argv = shlex.split(command)
        try:
            self.child: Any = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=dict(env), encoding="utf-8",
                                            codec_errors="replace", dimensions=(50, 250),
                                            timeout=profile.start_timeout)
        except pexpect.ExceptionPexpect:  # its message is a sentence of pexpect's; the command is what matters
            raise ToolCommandMissing(f"setting mpc_console: cannot start {argv[0]!r} (of {command!r}): no such "
                                     "command on PATH, or not an executable file") from None
        self.raw: list[str] = []
        self.mark = 0  # where the running step's transcript starts in ``text()``
        self.child.logfile_read = _Collect(self.raw)
        # pexpect waits 50 ms before each send so a password is not typed before the echo is off; this session
        # types only once the tool has shown its prompt or question, and waits for the echo to go off before a
        # secret (``_no_echo``), so the delay would only add seconds to every step.
        self.child.delaybeforesend = None
        self.alive = True
        self.problem: str | None = None
        self.last_question = "(none yet)"  # the last question of init answered, for a finding
        self.stuck = False  # a step timed out: the console is ended without waiting for it to exit
        self._silent = False  # the tool showed no reaction to a keystroke: typed at a fixed pace from then on
        self._wait_prompt(profile.start_timeout, "to show its prompt after starting")

    def text(self) -> str:
        return "".join(self.raw)

    def screen(self) -> str:
        """The last lines the tool showed (escape sequences removed), for a finding: the driver masks secrets."""
        lines = [line.strip() for line in clean(self.text()).splitlines() if line.strip()]
        return " | ".join(lines[-SCREEN_LINES:]) or "(nothing)"

    def _wait_prompt(self, timeout: float, what: str) -> bool:
        if not self.alive:
            return False
        try:
            self.child.expect_exact(self.profile.prompt, timeout=timeout)
            return True
        except self._pexpect.EOF:
            self.alive = False
            self.problem = (f"the console exited (status {self._status()}) instead of {what}; "
                            f"last screen: {self.screen()}")
        except self._pexpect.TIMEOUT:
            self.problem = (f"the console did not come back {what} within {timeout:g} s (it stopped answering); "
                            f"last screen: {self.screen()}")
            self.stuck = True
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
        """Answer each question of ``answers`` in turn (``values`` fill the templates), each where the tool asks
        it; a ``keys`` answer key by key. The problem (one line: the question, the last one answered, the last
        screen), or None once the prompt is back after the last answer."""
        deadline = time.monotonic() + timeout
        for index, question in enumerate(answers):
            problem = self._question(question, index, max(deadline - time.monotonic(), 1.0))
            if problem is not None:
                return problem
            if question.secret:
                self._no_echo()
            text = question.answer.format(**values)
            if question.keys:
                self._type_keys(text)
            else:
                self.child.send(text + ENTER)
            self.last_question = question.prompt
        self._wait_prompt(max(deadline - time.monotonic(), 1.0), "to its prompt after the last answer")
        return self.problem

    def _question(self, question: Answer, index: int, timeout: float) -> str | None:
        """Wait for ``question``. The tool's prompt on the way is let pass when the question follows it within
        ``QUESTION_GRACE`` (a console that also read an answer as a command prints its prompt again, then asks
        on); otherwise the tool stopped asking. The problem, or None once the question shows."""
        where = (f"question {index + 1} ({question.prompt!r}; the last one answered: {self.last_question!r})")
        patterns = [re.compile(question.prompt), re.compile(re.escape(self.profile.prompt))]
        deadline = time.monotonic() + timeout
        prompted = False
        while True:
            left = deadline - time.monotonic()
            wait = min(left, QUESTION_GRACE) if prompted else left
            try:
                which = self.child.expect(patterns, timeout=max(wait, 0.1))
            except self._pexpect.EOF:
                self.alive = False
                return f"the console exited (status {self._status()}) before {where}; last screen: {self.screen()}"
            except self._pexpect.TIMEOUT:
                if prompted:
                    return (f"the console stopped asking before {where}: it is back at its prompt; "
                            f"last screen: {self.screen()}")
                return (f"the console asked no {where} within {timeout:g} s (it stopped answering); "
                        f"last screen: {self.screen()}")
            if which == 0:
                return None
            prompted = True

    def _type_keys(self, text: str) -> None:
        """Type ``text`` key by key, then Enter as a keystroke of its own: each key once the tool reacted to the
        one before (its echo or mask), the Enter once the tool has shown it read the last key and gone quiet
        (a raw-keystroke reader that gets the Enter in the same read as a key never sees it)."""
        for char in text:
            self.child.send(char)
            self._reaction()
        if not self._silent:
            self._settle()
        self.child.send(ENTER)

    def _reaction(self) -> None:
        if self._silent:
            time.sleep(KEY_PACE)
            return
        try:
            self.child.expect(r"[\s\S]+", timeout=KEY_WAIT)
        except self._pexpect.TIMEOUT:
            self._silent = True  # no echo and no mask: type at a person's pace from here on
        except self._pexpect.EOF:
            self.alive = False

    def _settle(self) -> None:
        """Wait until the tool writes nothing for ``QUIET`` seconds (at most ``KEY_WAIT``)."""
        deadline = time.monotonic() + KEY_WAIT
        while time.monotonic() < deadline:
            try:
                self.child.expect(r"[\s\S]+", timeout=QUIET)
            except (self._pexpect.TIMEOUT, self._pexpect.EOF):
                return

    def _no_echo(self) -> None:
        deadline = time.monotonic() + NO_ECHO_WAIT
        while time.monotonic() < deadline and self.alive:
            if self.child.waitnoecho(timeout=1.0):
                return

    def close(self) -> None:
        """``exit`` as the profile says (unless a step timed out: it would not answer), then end the process
        whatever it does."""
        if self.alive and not self.stuck:
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
