"""The profile of a system under test: how to start it, how its ``init`` is answered, and the steps each phase runs.

A profile is a YAML file (the packaged ``proxmox-mpc`` one, or the user's, ``--mpc-profile NAME-or-PATH``)::

    name: proxmox-mpc
    console: {prompt: "proxmox-mpc> ", exit: /exit, start_timeout: 120}
    cli: {command: "tsx {console_dir}/../src/cli.ts"}   # without --mpc-cli (or {fallback: console})
    path: ["{console_dir}/../node_modules/.bin"]          # put first on the tool's PATH where they exist
    env: {NODE_EXTRA_CA_CERTS: "{cafile}"}
    activity_files: [".proxmox/logs/**"]   # files the tool may append to on any command
    init:
      run: /init
      answers: [{prompt: "Proxmox host", answer: "{host}"}, {prompt: "(?i)secret", answer: "{token_secret}",
                 secret: true, keys: true}, ...]   # keys: typed key by key, Enter a keystroke of its own
      success: ["initialized successfully"]
      failure: ["❌"]
      restart_after: true            # the console must be started again to see the workspace init wrote
    steps:
      sync: {phase: 2, via: console, run: /sync, success: [...], failure: [...], timeout: 300}
      discover: {phase: 1, via: cli, run: discover-all, counts: {vms: "VMs: (\\d+)"}}  # what it says it found
      create-vm: {phase: 3, via: cli, run: "vm create --vmid {vmid} ...", expect: success}
      plan: {phase: 4, via: console, run: /plan, requires: [terraform], runs: [terraform]}
      sync-lock-timeouts: {phase: 2, via: console, run: /sync, retry: sync,   # judged under its faults
                           faults: [{fault: lock-timeout, methods: [GET], path: "/nodes/*/qemu/*/config", every: 3}]}

Prompts, success and failure lines are regular expressions searched in the tool's output. Templates take the
placeholders of ``PLACEHOLDERS``. Anything malformed is a ``ProfileError`` naming the file and line. Nothing here
imports pytest.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidInput, ProfileError, UnreadableInput
from ..faults import FaultRule, parse_rules
from ..files.inputs import read_text_input

PACKAGED = Path(__file__).resolve().parent / "profiles"
PHASES = (1, 2, 3, 4)
VIAS = ("console", "cli")
PLACEHOLDERS = frozenset({"host", "port", "url", "user", "token_name", "token_id", "token_secret", "node", "cafile",
                          "skip_tls", "workspace", "name", "vmid", "ostemplate", "storage", "console_dir"})
COUNTED = ("nodes", "vms", "containers", "storages")  # what a step's ``counts`` may say it found
DEFAULT_TIMEOUT = 300.0  # seconds a step may take: generous, a loaded CI machine runs the tool slowly


@dataclass(frozen=True)
class Answer:
    """One question of ``init``: the prompt (a regex), the answer (a template), whether it is the secret, whether
    it is typed key by key (a prompt that reads raw keystrokes: Enter is then a keystroke of its own)."""

    prompt: str
    answer: str
    secret: bool = False
    keys: bool = False


@dataclass(frozen=True)
class Step:
    """One command of the tool: through the ``console`` or the ``cli``, its template, the lines that mean success
    and failure, the outcome the suite expects, the binaries it needs, the programs it starts that reach the
    cluster's machines outside the PVE API (``runs``), and the regexes that read what it says it found (``counts``:
    kind -> a regex whose first group is a number)."""

    name: str
    phase: int
    via: str
    run: str
    success: tuple[str, ...] = ()
    failure: tuple[str, ...] = ()
    expect: str = "success"
    requires: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    runs: tuple[str, ...] = ()
    counts: Mapping[str, str] = field(default_factory=dict)
    restart_after: bool = False
    faults: tuple[FaultRule, ...] = ()  # injected through the safety proxy while the step runs
    retry: str | None = None  # the step that must succeed once the faults are cleared (a faulted step's)


@dataclass(frozen=True)
class Profile:
    """A parsed profile (``source``: its file)."""

    name: str
    source: str
    prompt: str
    exit: str
    start_timeout: float
    init: Step
    answers: tuple[Answer, ...]
    steps: Mapping[str, Step]
    env: Mapping[str, str] = field(default_factory=dict)
    cli_fallback: bool = False
    cli_command: str | None = None
    path: tuple[str, ...] = ()
    activity_files: tuple[str, ...] = ()

    def step(self, name: str) -> Step | None:
        return self.steps.get(name)

    def of_phase(self, phase: int) -> list[Step]:
        return [step for step in self.steps.values() if step.phase == phase]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    """Walks the composed YAML; every problem is a ``ProfileError`` at the line of the node at fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node | None, problem: str) -> ProfileError:
        return ProfileError(self.source, _line(node) if node is not None else 1, problem)

    def mapping(self, node: yaml.Node, where: str, required: tuple[str, ...],
                optional: tuple[str, ...] = ()) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where}: expected a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in out:
                raise self.fail(key, f"{where}: duplicate key {name!r}")
            if name not in required + optional:
                raise self.fail(key, f"{where}: unknown key {name!r} (allowed: {', '.join(required + optional)})")
            out[name] = value
        missing = [name for name in required if name not in out]
        if missing:
            raise self.fail(node, f"{where}: missing key {missing[0]!r}")
        return out

    def text(self, node: yaml.Node, where: str, template: bool = False) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null" or not str(node.value):
            raise self.fail(node, f"{where}: expected a non-empty string")
        value = str(node.value)
        if template:
            try:
                fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            except ValueError as exc:
                raise self.fail(node, f"{where}: not a valid template ({exc})") from None
            unknown = sorted(fields - PLACEHOLDERS)
            if unknown:
                raise self.fail(node, f"{where}: unknown placeholder {{{unknown[0]}}} (known: "
                                      + ", ".join(sorted(PLACEHOLDERS)) + ")")
        return value

    def regex(self, node: yaml.Node, where: str) -> str:
        value = self.text(node, where)
        try:
            re.compile(value)
        except re.error as exc:
            raise self.fail(node, f"{where}: not a regular expression ({exc})") from None
        return value

    def items(self, node: yaml.Node | None, where: str, each: Callable[[yaml.Node, str], Any]) -> tuple[Any, ...]:
        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{where}: expected a list")
        return tuple(each(item, f"{where}[{index + 1}]") for index, item in enumerate(node.value))

    def number(self, node: yaml.Node | None, where: str, default: float) -> float:
        if node is None:
            return default
        try:
            value = float(str(node.value))
        except ValueError:
            value = -1.0
        if not isinstance(node, yaml.ScalarNode) or value <= 0:
            raise self.fail(node, f"{where}: expected a positive number of seconds")
        return value

    def flag(self, node: yaml.Node | None, where: str) -> bool:
        if node is None:
            return False
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, f"{where}: expected true or false")
        return str(node.value).lower() in ("true", "yes", "on")

    def step(self, name: str, node: yaml.Node, where: str, init: bool = False) -> Step:
        keys = self.mapping(node, where, ("run",) if init else ("phase", "via", "run"),
                            ("success", "failure", "timeout", "answers", "restart_after") if init else
                            ("success", "failure", "expect", "requires", "timeout", "runs", "counts", "faults",
                             "retry"))
        phase, via = 1, "console"
        if not init:
            phase_text = str(keys["phase"].value)
            if not phase_text.isdigit() or int(phase_text) not in PHASES:
                raise self.fail(keys["phase"], f"{where}.phase: expected 1, 2, 3 or 4")
            phase, via = int(phase_text), self.text(keys["via"], f"{where}.via")
            if via not in VIAS:
                raise self.fail(keys["via"], f"{where}.via: expected console or cli, got {via!r}")
        expect = self.text(keys["expect"], f"{where}.expect") if "expect" in keys else "success"
        if expect not in ("success", "failure"):
            raise self.fail(keys["expect"], f"{where}.expect: expected success or failure, got {expect!r}")
        return Step(name, phase, via, self.text(keys["run"], f"{where}.run", template=True),
                    self.items(keys.get("success"), f"{where}.success", self.regex),
                    self.items(keys.get("failure"), f"{where}.failure", self.regex), expect,
                    self.items(keys.get("requires"), f"{where}.requires", self.text),
                    self.number(keys.get("timeout"), f"{where}.timeout", DEFAULT_TIMEOUT),
                    self.items(keys.get("runs"), f"{where}.runs", self.text),
                    self.counts(keys.get("counts"), f"{where}.counts"),
                    self.flag(keys.get("restart_after"), f"{where}.restart_after"),
                    self.faults(keys.get("faults"), f"{where}.faults"),
                    self.text(keys["retry"], f"{where}.retry") if "retry" in keys else None)

    def faults(self, node: yaml.Node | None, where: str) -> tuple[FaultRule, ...]:
        """``faults``: rules of ``faults.parse_rules`` (a list of mappings)."""
        if node is None:
            return ()
        try:
            return parse_rules(yaml.safe_load(yaml.serialize(node)), where)
        except InvalidInput as exc:
            raise self.fail(node, str(exc)) from None

    def counts(self, node: yaml.Node | None, where: str) -> dict[str, str]:
        """``counts``: a kind of ``COUNTED`` -> a regex with a group that captures the number."""
        if node is None:
            return {}
        out = {}
        for kind, value in self.mapping(node, where, (), COUNTED).items():
            pattern = self.regex(value, f"{where}.{kind}")
            if re.compile(pattern).groups < 1:
                raise self.fail(value, f"{where}.{kind}: the regex needs a group that captures the number")
            out[kind] = pattern
        return out

    def variables(self, node: yaml.Node) -> dict[str, yaml.Node]:
        """``env``: any variable names, each once."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, "env: expected a mapping of variable names to templates")
        return self.mapping(node, "env", (), tuple(str(key.value) for key, _ in node.value))

    def answer(self, node: yaml.Node, where: str) -> Answer:
        keys = self.mapping(node, where, ("prompt", "answer"), ("secret", "keys"))
        answer = Answer(self.regex(keys["prompt"], f"{where}.prompt"),
                        self.text(keys["answer"], f"{where}.answer", template=True),
                        self.flag(keys.get("secret"), f"{where}.secret"), self.flag(keys.get("keys"), f"{where}.keys"))
        if "{token_secret}" in answer.answer and not answer.secret:
            # Typed only once the terminal's echo is off: a secret typed earlier is echoed by the terminal itself.
            raise self.fail(keys["answer"], f"{where}.answer: types {{token_secret}}: mark it secret: true")
        return answer

    def profile(self, text: str) -> Profile:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ProfileError(self.source, mark.line + 1 if mark is not None else 1,
                               f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
        if root is None:
            raise self.fail(None, "empty profile: expected a mapping with name, console, init and steps")
        top = self.mapping(root, "profile", ("name", "console", "init", "steps"),
                           ("cli", "env", "activity_files", "path"))
        console = self.mapping(top["console"], "console", ("prompt",), ("exit", "start_timeout"))
        init_keys = self.mapping(top["init"], "init", ("run", "answers"),
                                 ("success", "failure", "timeout", "restart_after"))
        cli = self.mapping(top["cli"], "cli", (), ("fallback", "command")) if "cli" in top else {}
        fallback = self.text(cli["fallback"], "cli.fallback") if "fallback" in cli else None
        if fallback not in (None, "console"):
            raise self.fail(cli["fallback"], f"cli.fallback: expected console, got {fallback!r}")
        if fallback and "command" in cli:
            raise self.fail(cli["command"], "cli: give command or fallback, not both")
        env = self.variables(top["env"]) if "env" in top else {}
        steps_node = top["steps"]
        if not isinstance(steps_node, yaml.MappingNode):
            raise self.fail(steps_node, "steps: expected a mapping of step names")
        names = tuple(str(key.value) for key, _ in steps_node.value)
        steps = {name: self.step(name, value, f"steps.{name}")
                 for name, value in self.mapping(steps_node, "steps", (), names).items()}
        for (_, value), step in zip(steps_node.value, steps.values(), strict=True):
            if step.retry is not None and step.retry not in steps:
                at = next(node for key, node in value.value if key.value == "retry")
                raise self.fail(at, f"steps.{step.name}.retry: no step {step.retry!r} in the profile")
        return Profile(
            name=self.text(top["name"], "name"), source=self.source,
            prompt=self.text(console["prompt"], "console.prompt"),
            exit=self.text(console["exit"], "console.exit") if "exit" in console else "/exit",
            start_timeout=self.number(console.get("start_timeout"), "console.start_timeout", 120.0),
            init=self.step("init", top["init"], "init", init=True),
            answers=self.items(init_keys["answers"], "init.answers", self.answer),
            steps=steps, env={name: self.text(value, f"env.{name}", template=True) for name, value in env.items()},
            cli_fallback=fallback == "console",
            cli_command=self.text(cli["command"], "cli.command", template=True) if "command" in cli else None,
            path=self.items(top.get("path"), "path", lambda node, where: self.text(node, where, template=True)),
            activity_files=self.items(top.get("activity_files"), "activity_files", self.text))


def load_profile(path: Path) -> Profile:
    """The profile in ``path``; ``ProfileError`` (file and line) when it cannot be read or is malformed."""
    try:
        text = read_text_input(path, "profile")
    except UnreadableInput as exc:
        raise ProfileError(str(path), None, exc.problem) from None
    return _parsed(str(path), text)


@functools.lru_cache(maxsize=32)
def _parsed(source: str, text: str) -> Profile:
    """Kept by file and text: every pytest run resolves its settings, and YAML with line numbers takes 30 ms."""
    return _Reader(source).profile(text)


def packaged_profiles() -> list[str]:
    return sorted(path.stem for path in PACKAGED.glob("*.yaml"))


def resolve_profile(value: str, rootdir: Path) -> Profile:
    """``value`` as a packaged profile's name or a path (relative to ``rootdir``), loaded."""
    if value in packaged_profiles():
        return load_profile(PACKAGED / f"{value}.yaml")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else Path(rootdir) / path
    if not path.is_file():
        raise InvalidInput(f"{value!r} is neither a packaged profile ({', '.join(packaged_profiles())}) nor a file")
    return load_profile(path)
