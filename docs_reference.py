"""The reference sections of the documentation, made from the code at build time (a MkDocs hook: ``hooks:`` in
mkdocs.yml).

A page asks for a section with an HTML comment on a line of its own, ``<!-- reference: settings -->``, and
``on_page_markdown`` puts the section's Markdown there. Each section reads the one place in the code that defines
what it lists: the option table ``OPTIONS``, the fixtures and markers pytest reports with the plugin loaded, the
hook specifications, the exit codes, the workspace checks, the success criteria and the console command's parsers.
Nothing is copied by hand, so the reference cannot drift from the code. An unknown section name stops the build.
The tests (``tests/test_docs.py``) import this module: it needs MkDocs only to be called by it.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import hookspecs
from pytest_proxmox_mpc.cli import SUBCOMMANDS, parser
from pytest_proxmox_mpc.cli.common import EXIT_CODES
from pytest_proxmox_mpc.config.options import OPTIONS, SECRET_ENV, Option
from pytest_proxmox_mpc.report.criteria import CRITERIA
from pytest_proxmox_mpc.safety import incident
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS

PLACEHOLDER = re.compile(r"^<!-- reference: ([a-z-]+) -->$", re.MULTILINE)

# What the plugin's own exit codes mean: the constants are in safety/incident.py, their meaning is said here.
PLUGIN_EXIT_CODES = {
    "ABORT_EXIT_CODE": "the run was aborted by a safety trigger (a refused request with abort on, usage over the "
                       "threshold, lost connections, a corrupt state database); the incident file says which",
    "UNINTENDED_CHANGE_EXIT_CODE": "the run finished, but the second snapshot shows changes to the cluster that "
                                   "its ledger does not explain",
    "GATES_SKIPPED_EXIT_CODE": "the safety gates skipped every test of a phase the run asked for: it proved nothing "
                               "of that phase (the last line of the summary names the gate)",
}
SECRET_HELP = {
    "PVE_TOKEN_VALUE": "the API token's secret (with `--pve-token-name`)",
    "PVE_TOKEN_VALUE_FILE": "a file that holds the API token's secret",
    "PVE_PASSWORD": "the password (a login without `--pve-token-name`)",
    "PVE_PASSWORD_FILE": "a file that holds the password",
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' hook: every ``<!-- reference: NAME -->`` line replaced by section NAME."""
    return expand(markdown)


def expand(markdown: str) -> str:
    """``markdown`` with its reference placeholders replaced; ``KeyError`` names an unknown section."""
    def section(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SECTIONS:
            raise KeyError(f"unknown reference section {name!r}; known: {', '.join(sorted(SECTIONS))}")
        return SECTIONS[name]().rstrip("\n")
    return PLACEHOLDER.sub(section, markdown)


def cell(text: str) -> str:
    """Text for a Markdown table cell: a pipe outside a code span escaped (inside one, it is not a separator)."""
    parts = text.split("`")
    return "`".join(part if index % 2 else part.replace("|", "\\|") for index, part in enumerate(parts))


def flags_of(opt: Option) -> list[str]:
    """The flags of a setting as a user types them: the flag (with its value), its ``--no-`` flag, older spellings."""
    flags = [opt.flag if opt.kind == "bool" else f"{opt.flag} {opt.metavar}"]
    if opt.negative_flag:
        flags.append(opt.negative_flag)
    return flags + list(opt.aliases)


def settings() -> str:
    """Every row of the option table: flags, ini key and type, environment variable, default; then what each does."""
    rows = ["| flag | ini key | environment variable | default |", "|---|---|---|---|"]
    for opt in OPTIONS:
        flags = "<br>".join(f"`{flag}`" for flag in flags_of(opt))
        env = f"`{opt.env}`" if opt.env else "(none)"
        rows.append(f"| {flags} | `{opt.ini}` ({opt.ini_type}) | {env} | {cell(opt.default_text())} |")
    lines = [*rows, "", "What each setting does:", ""]
    lines += [f"- <a id=\"{opt.flag[2:]}\"></a>`{opt.flag}`: {opt.help}." for opt in OPTIONS]
    return "\n".join(lines) + "\n"


def secrets() -> str:
    """The secrets: environment variables only, never a flag or an ini key."""
    rows = ["| environment variable | what it holds |", "|---|---|"]
    for name in (env for pair in SECRET_ENV.values() for env in pair):
        rows.append(f"| `{name}` | {SECRET_HELP[name]} |")
    return "\n".join(rows) + "\n"


@contextlib.contextmanager
def _neutral_folder() -> Iterator[Path]:
    """An empty folder with an empty ini file: pytest run there sees only the installed plugins."""
    with tempfile.TemporaryDirectory(prefix="docs-reference-") as folder:
        (Path(folder) / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        yield Path(folder)


@cache
def pytest_output(*args: str) -> str:
    """What ``pytest ARGS`` prints in an empty folder, with the plugin loaded by its entry point."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PVE_", "MPC_", "PYTEST_"))}
    env["COLUMNS"] = "200"
    with _neutral_folder() as folder:
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    if done.returncode not in (0, 5):
        raise RuntimeError(f"pytest {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


FIXTURE_LINE = re.compile(r"^(?P<name>\w+)(?: \[(?P<scope>\w+) scope\])? -- ")
SECTION_LINE = re.compile(r"^-+ fixtures defined from (?P<module>\S+) -+$")


def plugin_fixtures() -> list[tuple[str, str, str, str]]:
    """(name, scope, module, docstring) of every public fixture of the plugin, as ``pytest --fixtures`` lists it."""
    found: list[tuple[str, str, str, str]] = []
    module = ""
    for line in pytest_output("--fixtures", "-v").splitlines():
        if section := SECTION_LINE.match(line):
            module = section.group("module")
        elif not module.startswith("pytest_proxmox_mpc."):
            continue
        elif fixture := FIXTURE_LINE.match(line):
            found.append((fixture.group("name"), fixture.group("scope") or "function", module, ""))
        elif line.startswith("    ") and found:
            name, scope, where, doc = found[-1]
            found[-1] = (name, scope, where, f"{doc} {line.strip()}".strip())
    return [fixture for fixture in found if not fixture[0].startswith("_")]


def fixtures() -> str:
    rows = ["| fixture | scope | what it gives |", "|---|---|---|"]
    for name, scope, _, doc in sorted(plugin_fixtures()):
        rows.append(f"| <a id=\"{name}\"></a>`{name}` | {scope} | {cell(_rst_to_md(doc))} |")
    return "\n".join(rows) + "\n"


MARKER_LINE = re.compile(r"^@pytest\.mark\.(?P<name>(phase\d|pve_\w+))(?P<args>\([^)]*\))?: (?P<help>.*)$")


def plugin_markers() -> list[tuple[str, str, str]]:
    """(name, arguments, help) of the plugin's markers, as ``pytest --markers`` lists them."""
    return [(m.group("name"), m.group("args") or "", m.group("help"))
            for m in map(MARKER_LINE.match, pytest_output("--markers").splitlines()) if m]


def markers() -> str:
    rows = ["| marker | what it means |", "|---|---|"]
    for name, args, text in plugin_markers():
        rows.append(f"| `@pytest.mark.{name}{args}` | {cell(text)} |")
    return "\n".join(rows) + "\n"


def plugin_hooks() -> list[tuple[str, str, str]]:
    """(name, signature, docstring) of each hook the plugin specifies."""
    return [(name, f"{name}({', '.join(inspect.signature(spec).parameters)})", inspect.getdoc(spec) or "")
            for name, spec in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("pytest_proxmox_mpc_")]


def hooks() -> str:
    parts = []
    for name, signature, doc in plugin_hooks():
        parts.append(f"## `{name}`\n\n`{signature}`\n\n{_rst_to_md(doc)}\n")
    return "\n".join(parts)


def exit_codes() -> str:
    rows = ["| code | meaning |", "|---|---|"]
    rows += [f"| {int(code)} | pytest: {code.name.lower().replace('_', ' ')} |" for code in pytest.ExitCode]
    constants = {name: value for name, value in vars(incident).items() if name.endswith("_EXIT_CODE")}
    if set(constants) != set(PLUGIN_EXIT_CODES):
        raise KeyError(f"exit codes of safety/incident.py {sorted(constants)} differ from those described "
                       f"{sorted(PLUGIN_EXIT_CODES)}")
    rows += [f"| {value} | {PLUGIN_EXIT_CODES[name]} (`{name}`) |" for name, value in sorted(constants.items(),
                                                                                          key=lambda kv: kv[1])]
    return "\n".join(rows) + "\n"


def console_exit_codes() -> str:
    rows = ["| code | meaning |", "|---|---|"]
    rows += [f"| {code} | {cell(meaning)} |" for code, meaning in EXIT_CODES.items()]
    return "\n".join(rows) + "\n"


def checks() -> str:
    rows = ["| check | area | success criteria it gives evidence for |", "|---|---|---|"]
    for check in WORKSPACE_CHECKS:
        slow = " (slow)" if check.slow else ""
        rows.append(f"| [`{check.name}`](#{check.name}){slow} | {check.area} | "
                    f"{', '.join(f'`{c}`' for c in check.criteria)} |")
    return "\n".join(rows) + "\n"


def criteria() -> str:
    rows = ["| id | phase | criterion | judged from |", "|---|---|---|---|"]
    for criterion in CRITERIA:
        phase = str(criterion.phase) if criterion.phase else "the run"
        judged = "the run's records" if criterion.evidence else "tests marked with it"
        rows.append(f"| `{criterion.id}` | {phase} | {criterion.text} | {judged} |")
    return "\n".join(rows) + "\n"


def console() -> str:
    """``pytest-proxmox-mpc --help`` and each subcommand's help, as the command prints them."""
    parts = [_help_block("pytest-proxmox-mpc --help", parser().format_help)]
    commands = argparse.ArgumentParser(prog="pytest-proxmox-mpc").add_subparsers()
    for module in SUBCOMMANDS:
        sub = module.add_parser(commands)
        name = sub.prog.split()[-1]
        parts.append(f"## `{name}`\n\n" + _help_block(f"pytest-proxmox-mpc {name} --help", sub.format_help))
    return "\n".join(parts)


def _help_block(command: str, format_help: Callable[[], str]) -> str:
    with _columns(100):
        text = format_help()
    return f"```text\n$ {command}\n{text.rstrip()}\n```\n"


@contextlib.contextmanager
def _columns(width: int) -> Iterator[None]:
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def _rst_to_md(text: str) -> str:
    """A docstring's reStructuredText literals (````x````) as Markdown code (```x```), its lines joined."""
    return re.sub(r"``(.+?)``", r"`\1`", " ".join(text.split()))


SECTIONS: dict[str, Callable[[], str]] = {
    "settings": settings, "secrets": secrets, "fixtures": fixtures, "markers": markers, "hooks": hooks,
    "exit-codes": exit_codes, "console-exit-codes": console_exit_codes, "checks": checks, "criteria": criteria,
    "console": console,
}
