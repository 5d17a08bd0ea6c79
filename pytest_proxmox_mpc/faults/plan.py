"""Which requests get a fault: rules (a kind, paths, methods, how often) and the plan that applies them in order.

A rule matches a request by method and API path (below ``/api2/json``; ``*`` stands for one path segment, ``**``
for any number of them) and then fires always, only for the first N matches, after the first N, for every k-th,
or with a probability drawn from a generator seeded by the rule (the same requests in the same order get the same
faults, so a replay meets them where the recording did). The plan keeps layers of rules (a test's, a step's),
counts per rule, and the tasks it made up: the status reads of a made-up task are answered by the plan whatever
the rules say (the task never existed on the cluster). Thread-safe. Nothing here imports pytest.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ..errors import InvalidInput
from .kinds import (
    KINDS,
    SLOW_DELAY,
    TASK_STATUS,
    TRANSPORT,
    Injected,
    fill,
    made_up_upid,
    ok_answer,
    pve_error_answer,
    task_status,
)

METHODS = ("GET", "POST", "PUT", "DELETE")
KEYS = ("fault", "path", "methods", "first", "after", "every", "probability", "seed", "delay", "message")


@dataclass(frozen=True)
class FaultRule:
    """One fault (``fault``: a kind of ``KINDS``) for the requests of ``methods`` (none: every method) on ``path``,
    fired for the first ``first`` matches (None: no limit) once ``after`` matches passed, every ``every``-th, or
    with ``probability`` (drawn with ``seed``); ``delay`` seconds (slow, no-answer), ``message`` in place of PVE's."""

    fault: str
    path: str = "/**"
    methods: frozenset[str] = frozenset()
    first: int | None = None
    after: int = 0
    every: int | None = None
    probability: float | None = None
    seed: int = 0
    delay: float | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.fault.startswith("task-") and method == "GET" and not TASK_STATUS.match(path):
            return False  # a task fault answers writes (with a made-up task) and task status reads only
        return _segments_match(self.path.strip("/").split("/"), path.strip("/").split("/"))

    def describe(self) -> str:
        how = [f"first {self.first}" if self.first else "", f"after {self.after}" if self.after else "",
               f"every {self.every}" if self.every else "",
               f"probability {self.probability:g} (seed {self.seed})" if self.probability is not None else ""]
        methods = ",".join(sorted(self.methods)) or "any method"
        return f"{self.fault} on {methods} {self.path}" + "".join(f", {h}" for h in how if h)


def _segments_match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_segments_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) and _segments_match(pattern[1:], parts[1:])


@dataclass
class _Counting:
    rule: FaultRule
    seen: int = 0
    random: random.Random = field(default_factory=random.Random)

    def fires(self) -> bool:
        self.seen += 1
        rule, number = self.rule, self.seen - self.rule.after
        if number <= 0 or (rule.first is not None and number > rule.first):
            return False
        if rule.every is not None and number % rule.every:
            return False
        return rule.probability is None or self.random.random() < rule.probability


class FaultPlan:
    """The faults in force: layers of rules (``add``/``clear`` for a test's, ``using`` for a step's), the first
    rule of the newest layer that fires deciding a request's fault (``pick``)."""

    def __init__(self) -> None:
        self._layers: list[list[_Counting]] = []
        self._tasks: dict[str, tuple[str, str]] = {}  # made-up UPID -> (kind, exit status)
        self._made = 0
        self._suspended = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._layers or self._tasks) and not self._suspended

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """No fault for the block (the plugin's own cleanup: what a test created is removed whatever it injects)."""
        with self._lock:
            self._suspended += 1
        try:
            yield
        finally:
            with self._lock:
                self._suspended -= 1

    def add(self, rules: Iterable[FaultRule]) -> None:
        """A layer of ``rules`` in force until ``clear`` (or until a ``using`` block it is in ends)."""
        with self._lock:
            self._layers.append([_Counting(rule, random=random.Random(rule.seed)) for rule in rules])

    def clear(self) -> None:
        with self._lock:
            self._layers.clear()
            self._tasks.clear()

    @contextmanager
    def using(self, rules: Iterable[FaultRule]) -> Iterator[FaultPlan]:
        """``rules`` in force for the block (a step's faults), on top of those already in force."""
        with self._lock:
            depth = len(self._layers)
        self.add(rules)
        try:
            yield self
        finally:
            with self._lock:
                del self._layers[depth:]

    def pick(self, method: str, path: str | None, params: Mapping[str, str] | None = None) -> Injected | None:
        """The fault ``method path`` gets instead of the cluster's answer, or None (it goes to the cluster)."""
        if path is None or not self.active:
            return None
        given = dict(params or {})
        with self._lock:
            task = TASK_STATUS.match(path)
            if method == "GET" and task and task[2] in self._tasks:
                kind, exitstatus = self._tasks[task[2]]
                return ok_answer(kind, task_status(task[2], kind, exitstatus))
            for layer in reversed(self._layers):
                for counting in layer:
                    if counting.rule.matches(method, path) and counting.fires():
                        return self._answer(counting.rule, method, path, given)
        return None

    def _answer(self, rule: FaultRule, method: str, path: str, params: dict[str, str]) -> Injected:
        kind = rule.fault
        status, template, _ = KINDS[kind]
        message = fill(rule.message or template, path, params)
        if kind in TRANSPORT:
            return Injected(kind, 0, "", transport=kind, delay=rule.delay or 0.0)
        if kind.startswith("task-"):
            task = TASK_STATUS.match(path)
            if task:  # the status read of a real task: it failed, or runs on, as far as the tool can tell
                return ok_answer(kind, task_status(task[2], kind, message))
            self._made += 1
            upid = made_up_upid(path, params, self._made)
            self._tasks[upid] = (kind, message)
            return ok_answer(kind, upid, upid=upid)
        if status == 596:  # AnyEvent::HTTP's own status, passed on by pveproxy with an empty body
            delay = (rule.delay or SLOW_DELAY) if kind == "slow" else 0.0
            return Injected(kind, 596, message, (("Server", "pve-api-daemon/3.0"),), b"", delay=delay)
        return pve_error_answer(kind, status, message)


def parse_rule(data: Any, where: str = "fault") -> FaultRule:
    """A rule from a mapping (a profile's ``faults`` item, a marker's arguments); ``InvalidInput`` naming
    ``where`` and the key at fault."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected a mapping with fault (one of {', '.join(KINDS)})")
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(KEYS)})")
    kind = data.get("fault")
    if kind not in KINDS:
        raise InvalidInput(f"{where}.fault: expected one of {', '.join(KINDS)}, got {kind!r}")
    path = data.get("path", "/**")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput(f"{where}.path: expected an API path below /api2/json, starting with /, got {path!r}")
    methods = data.get("methods", [])
    methods = [methods] if isinstance(methods, str) else methods
    if not isinstance(methods, (list, tuple)) or any(str(m).upper() not in METHODS for m in methods):
        raise InvalidInput(f"{where}.methods: expected a list of {', '.join(METHODS)}, got {methods!r}")
    counts = {key: _count(data.get(key), f"{where}.{key}", key == "after") for key in ("first", "after", "every")}
    probability = data.get("probability")
    if probability is not None and (isinstance(probability, bool) or not isinstance(probability, (int, float))
                                    or not 0 <= probability <= 1):
        raise InvalidInput(f"{where}.probability: expected a number from 0 to 1, got {probability!r}")
    delay = data.get("delay")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0):
        raise InvalidInput(f"{where}.delay: expected a number of seconds, got {delay!r}")
    message = data.get("message")
    if message is not None and (not isinstance(message, str) or not message.strip()):
        raise InvalidInput(f"{where}.message: expected a non-empty string")
    return FaultRule(kind, path, frozenset(str(m).upper() for m in methods), counts["first"], counts["after"] or 0,
                     counts["every"], None if probability is None else float(probability),
                     _count(data.get("seed"), f"{where}.seed", True) or 0,
                     None if delay is None else float(delay), message)


def _count(value: Any, where: str, zero: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        raise InvalidInput(f"{where}: expected a whole number {'0 or more' if zero else 'from 1'}, got {value!r}")
    return value


def parse_rules(data: Any, where: str = "faults") -> tuple[FaultRule, ...]:
    """Rules from a list of mappings (a profile step's ``faults``)."""
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: expected a list of faults")
    return tuple(parse_rule(item, f"{where}[{index + 1}]") for index, item in enumerate(data))
