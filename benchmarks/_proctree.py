"""The memory of a process and every process it starts, sampled from ``/proc`` while it runs.

``resource.getrusage(RUSAGE_CHILDREN)`` gives only the largest waited-for child, and nothing of children still
running; here every ``interval`` seconds the tree below a root process (its children, their children, ...) is
found from each process's parent in ``/proc/<pid>/stat``, and the resident sets (``/proc/<pid>/statm``) of all of
them are summed. The sum is conservative: pages that processes share (a fork's copy-on-write pages, shared
libraries) count once per process that maps them. Linux only; no dependency.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:  # it ended meanwhile
            continue
        found[int(entry)] = int(text[text.rindex(")") + 2:].split()[1])  # after "(comm)": state, ppid
    return found


def tree(root: int) -> list[int]:
    """``root`` and every process below it, now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class TreeMemory:
    """Peak resident memory of the tree below ``root``, sampled every ``interval`` seconds until ``stop``."""

    root: int
    interval: float = 0.05
    peak_total: int = 0
    peak_single: int = 0
    most_processes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            sizes = [rss_bytes(pid) for pid in tree(self.root)]
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max(self.peak_single, max(sizes, default=0))
            self.most_processes = max(self.most_processes, sum(1 for size in sizes if size))
            self._stop.wait(self.interval)
