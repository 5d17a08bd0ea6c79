"""Work started ahead, in the background, for the check that will want it: ansible-lint runs while the other checks
parse and compare (it is a process of its own; the thread that waits for it costs nothing).

A job is known by a key that holds the content it was started on (``ansible_lint.lint_key``): the check takes the
job only for the same key, so a project changed after the start is judged afresh, never by a stale result. A job
never taken is left to finish in its daemon thread (its process is stopped when this process exits).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One piece of work in a daemon thread, and its answer (or what it raised) once done."""

    work: Callable[[], Any]
    _done: threading.Event = field(default_factory=threading.Event)
    _answer: list[Any] = field(default_factory=list)
    _raised: list[BaseException] = field(default_factory=list)

    def start(self) -> Job:
        threading.Thread(target=self._run, daemon=True, name="pve-lint").start()
        return self

    def _run(self) -> None:
        try:
            self._answer.append(self.work())
        except BaseException as exc:  # handed to whoever takes the job
            self._raised.append(exc)
        finally:
            self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._raised:
            raise self._raised[0]
        return self._answer[0]


_jobs: dict[str, Job] = {}
_guard = threading.Lock()


def start(key: str, work: Callable[[], Any]) -> None:
    """``work`` started in the background under ``key``, unless a job of that key is there already."""
    with _guard:
        if key not in _jobs:
            _jobs[key] = Job(work).start()


def take(key: str) -> Job | None:
    """The job started under ``key`` (it is no longer kept), or None."""
    with _guard:
        return _jobs.pop(key, None)


def started(key: str) -> bool:
    with _guard:
        return key in _jobs
