"""Every code example of the documentation (``docs/**/*.md``) and of ``README.md`` runs here, or is checked.

Each fenced block is one of:

- run: a Python block is executed against a simulated cluster served for it (its ``PVE_*`` settings in the
  environment); a Python or YAML block whose first line is ``# NAME.py`` / ``# NAME.yaml`` is a file the page's
  other blocks use; a shell block that runs ``pytest`` or ``pytest-proxmox-mpc`` runs (on the simulated cluster,
  the run's default target) in a folder with the page's files, after the page's earlier shell blocks.
- checked: a shell block aimed at a live cluster (a placeholder host ``pve1.example.org``, ``PORT``, ``...``), a CI
  configuration and an ini file are checked statically: every ``--flag`` exists (in pytest with the plugin, or
  in the console command's subcommand), every ``PVE_*`` / ``MPC_*`` variable and ini key is in the option table,
  and every value the table can parse parses. An exclusion list loads as one, a profile as one.
- marked: anything else has ``<!-- not-run: REASON -->`` on the line before it.

An unmarked block that is none of these fails ``test_every_block_is_run_checked_or_marked``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

import docs_reference
from pytest_proxmox_mpc import ExclusionList
from pytest_proxmox_mpc.cli import SUBCOMMANDS
from pytest_proxmox_mpc.config.options import OPTIONS, SECRET_ENV, Option
from pytest_proxmox_mpc.sut import load_profile
from pytest_proxmox_mpc.validators import WORKSPACE_CHECKS
from tests.simapi import served

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
SCENARIO = ROOT / "pytest_proxmox_mpc" / "sim" / "scenarios" / "homelab.json"

# The two commands README.md opens with: .ci/run runs them as they stand, so they must not change.
README_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -q '.[sim]' && .venv/bin/pytest validation -m phase1",
    "python3 -m venv .venv && .venv/bin/pip install -q '.[test]' && .venv/bin/pytest tests -n 2",
)
# Features the docs describe that this branch does not have yet: a page whose runnable blocks use one runs whole
# only once it is there (until then its other runnable blocks run, and the whole page's test is skipped).
WAITING: dict[str, str] = {}  # text in a block -> why its page's shell blocks cannot run yet (a feature to come)

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
NOT_RUN = re.compile(r"^<!-- not-run: (?P<reason>\S.*?) -->$")
FILE_NAME = re.compile(r"^# (?P<name>[\w./-]+\.(?:py|yaml|yml|toml))$")
LIVE = re.compile(r"example\.(?:org|com)|\bPORT\b|\.\.\.")
VARIABLE = re.compile(r"\b(?:PVE|MPC)_[A-Z0-9_]+\b")
SHELL = ("sh", "bash", "shell", "console")
OUR_COMMANDS = ("pytest", "pytest-proxmox-mpc")
SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ">", ">>", "<"})
SUMMARY = re.compile(r"^=*\s*(?P<counts>(?:\d+ \w+(?:, )?)+) in [\d.]+s")


@dataclass(frozen=True)
class Block:
    """One fenced block: its page, the line its fence opens on, its language, its text and its not-run reason."""

    page: Path
    line: int
    lang: str
    text: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def file_name(self) -> str | None:
        """The file the block is, when its first line names one (``# exclusions.yaml``)."""
        match = FILE_NAME.match(self.text.splitlines()[0]) if self.text else None
        return match.group("name") if match else None

    @property
    def kind(self) -> str:
        """run-by-ci, script, file, sim, live, ci-config, ini, marked, or unknown."""
        if self.not_run:
            return "marked"
        if self.page.name == "README.md" and self.page.parent == ROOT and self.text.strip() in README_COMMANDS:
            return "run-by-ci"
        if self.lang == "python":
            return "file" if self.file_name else "script"
        if self.lang in ("yaml", "yml"):
            return yaml_kind(self)
        if self.lang == "toml":
            return "ini"
        if self.lang in SHELL:
            if LIVE.search(self.text):
                return "live"
            if any(command and program(command) in OUR_COMMANDS for command in commands(self.text)):
                return "sim"
        return "unknown"


def blocks_of(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence or not fence.group("lang"):
            index += 1
            continue
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        note = NOT_RUN.match(before)
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        found.append(Block(page, index + 1, fence.group("lang"), "\n".join(lines[index + 1:end]) + "\n",
                           note.group("reason") if note else None))
        index = end + 1
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def yaml_kind(block: Block) -> str:
    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError:
        return "unknown"
    if not isinstance(data, dict):
        return "unknown"
    if "protect" in data:
        return "file" if block.file_name else "unknown"  # an exclusion list, loaded as one
    if {"console", "init", "steps"} <= data.keys():
        return "file" if block.file_name else "unknown"  # a profile, loaded as one
    if "jobs" in data or any(isinstance(job, dict) and "script" in job for job in data.values()):
        return "ci-config"
    return "unknown"


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, as words (continuation lines joined, comments dropped)."""
    found: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        try:
            words = list(lexer)
        except ValueError:  # an unbalanced quote: the words as they stand
            words = line.split()
        current: list[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS:
                if current:
                    found.append(current)
                current = []
            else:
                current.append(word)
    return found


def program_and_arguments(command: list[str]) -> tuple[str, list[str]]:
    """What a command runs, and its arguments: ``pytest`` for ``.venv/bin/pytest`` and ``python -m pytest``;
    variable assignments before it skipped."""
    words = [*command]
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
        words.pop(0)
    name = Path(words[0]).name if words else ""
    if name.startswith("python") and words[1:3] == ["-m", "pytest"]:
        return "pytest", words[3:]
    return name, words[1:]


def program(command: list[str]) -> str:
    return program_and_arguments(command)[0]


def blocks(*kinds: str) -> list[Any]:
    return [pytest.param(block, id=block.where) for block in BLOCKS if block.kind in kinds]


# --- what exists: flags, variables, ini keys -------------------------------------------------------------------

OPTION_BY_FLAG = {flag: opt for opt in OPTIONS for flag in (opt.flag, opt.negative_flag, *opt.aliases) if flag}
VARIABLES = {opt.env for opt in OPTIONS if opt.env} | {name for pair in SECRET_ENV.values() for name in pair}
INI_KEYS = {opt.ini for opt in OPTIONS}
LONG_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


@cache
def pytest_flags() -> frozenset[str]:
    """Every long flag ``pytest --help`` lists with the plugin (and the installed plugins) loaded."""
    return frozenset(LONG_FLAG.findall(docs_reference.pytest_output("--help")))


@cache
def subcommand_flags() -> dict[str, frozenset[str]]:
    """Each ``pytest-proxmox-mpc`` subcommand and the long flags its help lists."""
    import argparse

    subparsers = argparse.ArgumentParser(prog="pytest-proxmox-mpc").add_subparsers()
    parsers = [module.add_parser(subparsers) for module in SUBCOMMANDS]
    return {sub.prog.split()[-1]: frozenset(LONG_FLAG.findall(sub.format_help())) for sub in parsers}


def problems_of_command(command: list[str]) -> list[str]:
    """What a command names that does not exist: flags, a subcommand, values its option cannot parse."""
    name, args = program_and_arguments(command)
    if name == "pytest":
        known = pytest_flags()
    elif name == "pytest-proxmox-mpc":
        sub = next((word for word in args if not word.startswith("-")), None)
        if sub not in subcommand_flags():
            return [f"pytest-proxmox-mpc has no subcommand {sub!r}"]
        known = subcommand_flags()[sub]
    else:
        return []
    problems = []
    for index, word in enumerate(args):
        if not word.startswith("--"):
            continue
        flag, _, value = word.partition("=")
        if flag not in known:
            problems.append(f"{name}: no flag {flag}")
            continue
        opt = OPTION_BY_FLAG.get(flag)
        if opt is None or opt.kind == "bool" or flag == opt.negative_flag:
            continue
        value = value or (args[index + 1] if index + 1 < len(args) else "")
        problem = value_problem(opt, value)
        if problem:
            problems.append(f"{flag} {value}: {problem}")
    return problems


def value_problem(opt: Option, value: str) -> str | None:
    """Why the option's parser refuses ``value`` (a placeholder value is not judged)."""
    if not value or any(mark in value for mark in ("$", "...", "<", "{")):
        return None
    try:
        opt.parse(value)
    except ValueError as exc:
        return str(exc)
    return None


def variable_problems(text: str) -> list[str]:
    return [f"{name} is no setting's variable" for name in sorted(set(VARIABLE.findall(text)) - VARIABLES)]


def scripts_of(data: Any) -> Iterator[str]:
    """The shell scripts of a CI configuration: ``run`` (GitHub Actions), ``script`` and its kin (GitLab CI)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("run", "script", "before_script", "after_script"):
                yield from ([value] if isinstance(value, str) else [v for v in value if isinstance(v, str)])
            else:
                yield from scripts_of(value)
    elif isinstance(data, list):
        for item in data:
            yield from scripts_of(item)


def static_problems(block: Block) -> list[str]:
    problems = variable_problems(block.text)
    scripts = list(scripts_of(yaml.safe_load(block.text))) if block.kind == "ci-config" else [block.text]
    for script in scripts:
        for command in commands(script):
            problems += problems_of_command(command)
    return problems


# --- the tests ----------------------------------------------------------------------------------------------------


def test_every_block_is_run_checked_or_marked() -> None:
    unknown = [f"{block.where} ({block.lang})" for block in BLOCKS if block.kind == "unknown"]
    assert not unknown, ("blocks neither run nor checked: make them runnable, point them at a placeholder host, "
                         f"or mark them <!-- not-run: REASON -->: {unknown}")


def test_readme_opens_with_the_two_commands_ci_runs_and_stays_a_landing_page() -> None:
    readme = [block for block in BLOCKS if block.page == ROOT / "README.md"]
    assert tuple(block.text.strip() for block in readme[:2]) == README_COMMANDS
    assert "head -n 2" in (ROOT / ".ci" / "run").read_text()  # .ci/run runs the first two fenced commands
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


@pytest.mark.parametrize("block", blocks("live", "ci-config", "sim", "run-by-ci"))
def test_commands_name_only_flags_variables_and_values_that_exist(block: Block) -> None:
    assert not static_problems(block), f"{block.where}: {static_problems(block)}"


@pytest.mark.parametrize("block", blocks("ini"))
def test_ini_examples_name_only_ini_keys_of_the_table(block: Block) -> None:
    section = block.text.split("[tool.pytest.ini_options]")[1].split("\n[")[0]
    keys = dict(re.findall(r"^(\w+)\s*=\s*(.+?)\s*$", section, re.MULTILINE))
    ours = {key for key in keys if key.startswith(("pve_", "mpc_"))}
    assert ours and ours <= INI_KEYS, f"{block.where}: not ini keys of the table: {sorted(ours - INI_KEYS)}"
    for key in ours:
        opt = next(opt for opt in OPTIONS if opt.ini == key)
        assert value_problem(opt, keys[key].strip('"')) is None


@pytest.mark.parametrize("block", [pytest.param(block, id=block.where) for block in BLOCKS
                                   if block.kind == "file" and block.lang in ("yaml", "yml")])
def test_exclusion_lists_and_profiles_of_the_docs_load(block: Block, tmp_path: Path) -> None:
    path = tmp_path / Path(str(block.file_name)).name
    path.write_text(block.text)
    if "protect" in yaml.safe_load(block.text):
        assert not ExclusionList.load(path).is_empty()
    else:
        assert load_profile(path).steps


@pytest.fixture(scope="module")
def cluster_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a process that reaches a simulated cluster through the plugin's settings."""
    with served(SCENARIO, tmp_path_factory.mktemp("docs-cluster")) as (_, endpoint):
        assert endpoint.password is not None
        yield {"PVE_HOST": endpoint.netloc, "PVE_CA_BUNDLE": str(endpoint.verify), "PVE_USER": endpoint.user,
               "PVE_PASSWORD": endpoint.password.reveal()}


def example_environment(**extra: str) -> dict[str, str]:
    """The tests' environment without settings of the developer's (the lint cache of this test run kept), the
    interpreter's folder first on PATH (``pytest`` is this one), and ``extra``."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PVE_", "MPC_")) or name == "PVE_LINT_CACHE"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def write_files(page: Path, folder: Path) -> None:
    for block in BLOCKS:
        if block.page == page and block.kind == "file" and block.file_name:
            (folder / block.file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / block.file_name).write_text(block.text)


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks("script"))
def test_python_examples_run_against_a_simulated_cluster(block: Block, tmp_path: Path,
                                                          cluster_environment: dict[str, str]) -> None:
    write_files(block.page, tmp_path)
    (tmp_path / "example.py").write_text(block.text)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=example_environment(**cluster_environment),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{block.where} failed:\n{done.stdout}{done.stderr}"


def shell_runs() -> list[Any]:
    """Per page: its runnable shell blocks in order. A page with blocks that wait for a feature runs whole in a test
    skipped until the feature is there, and runs its other blocks now."""
    params = []
    for page in PAGES:
        runnable = [block for block in BLOCKS if block.page == page and block.kind == "sim"]
        waiting = {reason for block in runnable for text, reason in WAITING.items() if text in block.text}
        name = str(page.relative_to(ROOT))
        if not waiting:
            if runnable:
                params.append(pytest.param(runnable, id=name))
            continue
        now = [block for block in runnable if not any(text in block.text for text in WAITING)]
        if now:
            params.append(pytest.param(now, id=f"{name}-now"))
        params.append(pytest.param(runnable, id=name, marks=pytest.mark.skip(reason="; ".join(sorted(waiting)))))
    return params


@pytest.mark.slow
@pytest.mark.parametrize("runnable", shell_runs())
def test_shell_examples_run_on_the_simulated_cluster(runnable: list[Block], tmp_path: Path) -> None:
    write_files(runnable[0].page, tmp_path)
    for block in runnable:
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=tmp_path,
                              env=example_environment(), capture_output=True, text=True, timeout=600, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{output}"
        summaries = [m.group("counts") for m in map(SUMMARY.match, output.splitlines()) if m]
        assert len(summaries) == sum(program(c) == "pytest" for c in commands(block.text)), output
        for counts in summaries:  # each pytest run passed tests: a run that only skipped proves nothing
            assert "passed" in counts and "failed" not in counts and "error" not in counts, f"{block.where}: {counts}"


# --- the reference ------------------------------------------------------------------------------------------------


def test_the_settings_reference_lists_every_option_of_the_table() -> None:
    page = (ROOT / "docs" / "reference" / "settings.md").read_text()
    assert "<!-- reference: settings -->" in page and "<!-- reference: secrets -->" in page
    rows = [line for line in docs_reference.settings().splitlines() if line.startswith("| `")]
    assert len(rows) == len(OPTIONS)
    for opt, row in zip(OPTIONS, rows, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert opt.flag in cells[0] and (opt.negative_flag or "") in cells[0], row
        assert all(alias in cells[0] for alias in opt.aliases), row
        assert cells[1].startswith(f"`{opt.ini}`") and cells[2] == (f"`{opt.env}`" if opt.env else "(none)"), row
        assert cells[3] == docs_reference.cell(opt.default_text()), row
    secrets = docs_reference.secrets()
    assert all(f"`{name}`" in secrets for name in VARIABLES - {opt.env for opt in OPTIONS})


def test_the_settings_reference_lists_every_flag_and_ini_key_pytest_registers() -> None:
    help_text = docs_reference.pytest_output("--help")
    registered = {flag for flag in LONG_FLAG.findall(help_text) if flag.startswith(("--pve-", "--no-pve-", "--mpc-"))}
    ini_section = help_text.split("\n[pytest] ")[1]
    ini_keys = set(re.findall(r"^  ((?:pve|mpc)_\w+) \(", ini_section, re.MULTILINE))
    listed = docs_reference.settings()
    assert registered and {flag for flag in registered if f"`{flag}" not in listed} == set()
    assert ini_keys == INI_KEYS and all(f"`{key}`" in listed for key in ini_keys)


def test_every_check_of_the_registry_is_described_in_the_reference() -> None:
    page = (ROOT / "docs" / "reference" / "checks.md").read_text()
    described = re.findall(r'^- <a id="([\w-]+)"></a>`\1`: ', page, re.MULTILINE)
    assert described == [check.name for check in WORKSPACE_CHECKS]
    assert "<!-- reference: checks -->" in page


def test_every_reference_section_a_page_asks_for_is_made() -> None:
    asked = {name for page in PAGES for name in docs_reference.PLACEHOLDER.findall(page.read_text())}
    assert asked == set(docs_reference.SECTIONS)
    fixtures = docs_reference.fixtures()
    for name in ("pve_readonly", "pve_client", "temp_vm", "temp_ct_session", "pve_proxy", "mpc_workspace"):
        assert f"`{name}`" in fixtures
    assert "`@pytest.mark.phase4`" in docs_reference.markers() and "pve_expect_refusal" in docs_reference.markers()
    assert "| 13 |" in docs_reference.exit_codes() and "| 15 |" in docs_reference.exit_codes()
    with pytest.raises(KeyError, match="unknown reference section 'nothing'"):
        docs_reference.expand("<!-- reference: nothing -->")
