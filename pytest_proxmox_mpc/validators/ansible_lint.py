"""``ansible-lint --offline`` on a workspace's Ansible: one finding per violation, results kept by what they depend
on (``lint_key``), the playbooks linted against a stand-in inventory and the inventory on its own (``lintsplit``),
started ahead in the background (``start_lint``), within a budget that grows with the project (``lintprocess``),
and what depends on the machine the suite runs on set apart (``lintcollections``): a module of a collection not
installed here is "not judged here", recorded in ``LINT_OUTCOMES``, never a finding.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..files.inputs import cannot_judge
from ..files.lock import exclusively
from . import lintcollections, lintjobs, lintprocess, lintsplit, lintstandin, lintyaml
from .findings import Finding
from .lintresults import Result, failed_whole, judged, keep, kept_result, path_of, violations

CHECK = "ansible"
LINT_OPTIONS = ("-f", "pep8")  # one violation a line: path:line: rule: message
APART = " (cached result of the same playbooks, vars and config; the inventory was linted on its own)"
CACHED = " (cached result)"


def run_ansible_lint(project: Path, home: Path, *options: str, timeout: float | None = None,
                     collections: lintcollections.Collections | None = None) -> subprocess.CompletedProcess[str]:
    """``ansible-lint --offline --nocolor OPTIONS`` on ``project`` (its own ``.ansible-lint`` settings apply),
    with this interpreter's ansible-lint, writing only below ``home``, finding collections where ``collections``
    says (by default: ``ANSIBLE_COLLECTIONS_PATH``, else the user's own, as ``lintcollections`` tells); stopped
    after ``timeout`` seconds (default: the project's budget), with ``lintprocess.OVER_BUDGET`` as return code."""
    found = collections or lintcollections.Collections(lintcollections.search_path(), {})
    env = {**os.environ, "ANSIBLE_HOME": str(home / "ansible"), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
           "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1", **found.environment(),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    seconds = lintprocess.budget_seconds(project) if timeout is None else timeout
    return lintprocess.run([sys.executable, "-m", "ansiblelint", "--offline", "--nocolor", *options,
                            "--project-dir", str(project)], project, env, seconds)


def run_yaml_judgement(project: Path, home: Path, files: Sequence[str],
                       timeout: float) -> subprocess.CompletedProcess[str]:
    """ansible-lint's yaml rule alone on ``files`` of ``project`` (``lintyaml``), in the environment
    ``run_ansible_lint`` gives ansible-lint; return code ``lintyaml.CANNOT`` where that would not be all of
    ansible-lint's judgement."""
    env = {**os.environ, "ANSIBLE_HOME": str(home / "ansible"), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
           "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1"}
    return lintprocess.run([sys.executable, "-c", lintyaml.COMMAND, *files], project, env, timeout)


def lint_key(project: Path, options: tuple[str, ...], keep: Callable[[str], bool] | None = None,
             collections: lintcollections.Collections | None = None) -> str:
    """What an ansible-lint result depends on: every file of ``project``, path and content (the playbooks, vars,
    roles; its config, ``.ansible-lint`` and ``ansible.cfg``; and the inventory, which ansible-lint lints as
    YAML and its syntax checks load through ``ansible.cfg``), the options, the versions of ansible-lint and
    ansible-core, the ``ANSIBLE_*`` environment the syntax checks see (their own home and temp aside), and the
    collections installed where ansible-lint looks (``collections``, found for ``project`` when not given).
    ``keep`` (given a file's relative POSIX path) limits the files to those a part of the project's lint
    judges (see ``lintsplit``)."""
    environment = sorted((name, value) for name, value in os.environ.items()
                         if name.startswith("ANSIBLE_") and name not in _OWN_ENV)
    installed = (collections or lintcollections.collections_for(project)).fingerprint()
    digest = hashlib.sha256(repr((options, _version("ansible-lint"), _version("ansible-core"), environment,
                                  installed)).encode())
    for relative in lintsplit.project_files(project):
        if keep is None or keep(relative):
            digest.update(relative.encode() + b"\0" + (project / relative).read_bytes() + b"\0")
    return digest.hexdigest()


_OWN_ENV = frozenset({"ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP"})  # set per lint by run_ansible_lint


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


@dataclass(frozen=True)
class LintOutcome:
    """One ``lint_ansible`` call: the project, whether the result was a kept one (``cached``), its file, whether
    the playbooks were linted against a stand-in inventory and the inventory on its own (``inventory_apart``),
    and what could not be judged on this machine (``not_judged``: one note per violation that a collection not
    installed here explains, none of them a finding)."""

    project: Path
    cached: bool
    kept: Path | None
    inventory_apart: bool = False
    not_judged: tuple[str, ...] = ()


LINT_OUTCOMES: list[LintOutcome] = []
"""This process's ``lint_ansible`` calls in order, so a suite can say which results were cached, and what it could
not judge here."""
Judged = tuple[list[Finding], LintOutcome]


@dataclass(frozen=True)
class _Lint:
    """One ``lint_ansible`` call's settings: its project, home, cache, the collections ansible-lint sees and the
    content key of the whole project."""

    project: Path
    home: Path
    cache: Path | None
    collections: lintcollections.Collections
    key: str

    def kept(self, key: str, suffix: str = ".json") -> Path | None:
        return self.cache / f"{key}{suffix}" if self.cache is not None else None


def _settings(ansible_dir: Path, home: Path, cache: Path | None, collections: Sequence[Path] | None) -> _Lint:
    ansible_dir = ansible_dir.resolve()  # ansible-lint runs in another directory: a relative path is lost there
    found = lintcollections.collections_for(ansible_dir, collections)
    return _Lint(ansible_dir, home, cache, found, lint_key(ansible_dir, LINT_OPTIONS, collections=found))


def lint_ansible(ansible_dir: Path, home: Path, cache: Path | None = None,
                 collections: Sequence[Path] | None = None) -> list[Finding]:
    """``ansible-lint --offline`` on the project (its own ``.ansible-lint`` settings), writing only below
    ``home``; one finding per violation it reports, but for those a collection not installed here explains
    (``lintcollections``: not judged here, recorded in ``LINT_OUTCOMES``). ``collections``: where ansible-lint
    finds collections (default: ``ANSIBLE_COLLECTIONS_PATH``, else the user's own). With ``cache`` (a
    directory), a result is kept under the project's ``lint_key`` and reused for the same content, options,
    versions, config and collections; such findings say so (and ``LINT_OUTCOMES`` records every call, cached or
    not). A project ``lintsplit`` may split is linted in two parts at once: its playbooks against a stand-in
    inventory, its inventory on its own; each part is kept too (another inventory with the same groups reuses the
    first part, and says so). A lint ``start_lint`` began for the same content is taken, not run again."""
    unjudged = not_lintable(ansible_dir)
    if unjudged:  # ansible-lint would read them whole (and the content key too): one finding each, no lint
        return [Finding(CHECK, f"ansible/{relative}", "ansible-lint", note=f"not linted: {problem}")
                for relative, problem in unjudged]
    lint = _settings(ansible_dir, home, cache, collections)
    job = lintjobs.take(_job_key(lint))
    judged: Judged = job.result() if job is not None else _lint_now(lint)
    LINT_OUTCOMES.append(judged[1])
    return judged[0]


def start_lint(ansible_dir: Path, home: Path, cache: Path | None = None,
               collections: Sequence[Path] | None = None) -> None:
    """``lint_ansible``'s work begun in the background, for a ``lint_ansible`` call of the same project, cache and
    collections to take (if its content is still the same), so that ansible-lint runs while other checks do.
    Nothing is started for a result the cache keeps already."""
    if not ansible_dir.is_dir() or not_lintable(ansible_dir):
        return  # the check says so when it runs
    lint = _settings(ansible_dir, home, cache, collections)
    kept = lint.kept(lint.key)
    if kept is None or not kept.is_file():
        lintjobs.start(_job_key(lint), lambda: _lint_now(lint))


def not_lintable(ansible_dir: Path) -> list[tuple[str, str]]:
    """(file, why) of each file of the project too large to lint, or not a regular file (``cannot_judge``)."""
    if not ansible_dir.is_dir():
        return []
    found = ((relative, cannot_judge(ansible_dir / relative)) for relative in lintsplit.project_files(ansible_dir))
    return [(relative, problem) for relative, problem in found if problem is not None]


def _job_key(lint: _Lint) -> str:
    return f"{lint.project.resolve()}\0{lint.cache}\0{lint.key}"


def _lint_now(lint: _Lint) -> Judged:
    """A kept result, the project linted in two parts (``lintsplit``), or the whole project linted."""
    kept = lint.kept(lint.key)
    # Workers that lint the same content at once take turns: the second reads what the first kept.
    with exclusively(kept.with_suffix(".lock")) if kept is not None else nullcontext():
        result = kept_result(kept)
        if result is not None:
            findings, notes = judged(lint.project, lint.collections, result, CACHED)
            return findings, LintOutcome(lint.project, True, kept, not_judged=notes)
        sources = lintsplit.inventory_sources(lint.project)
        if lintsplit.why_whole(lint.project, sources) is None:
            split = _split(lint, sources)
            if split is not None:
                return split
        done = run_ansible_lint(lint.project, lint.home, *LINT_OPTIONS, collections=lint.collections)
        result = done.returncode, done.stdout, done.stderr
        if result[0] != lintprocess.OVER_BUDGET:
            keep(kept, result)  # an unreadable kept result is replaced too
        findings, notes = judged(lint.project, lint.collections, result, "")
        return findings, LintOutcome(lint.project, False, kept, not_judged=notes)


def _split(lint: _Lint, sources: tuple[str, ...]) -> Judged | None:
    """The playbooks against a stand-in inventory and the inventory on its own, at once, each kept by its own
    content; None when a part failed as a whole (then the whole project is linted)."""
    project = lint.project
    standins = lintstandin.standin_texts(project, sources)
    shown = hashlib.sha256(json.dumps(standins, sort_keys=True).encode()).hexdigest()
    rest_key = lint_key(project, (*LINT_OPTIONS, "stand-in", *sources, shown),
                        lambda rel: not lintsplit.in_sources(rel, sources), lint.collections)
    inventory_key = lint_key(project, (*LINT_OPTIONS, "inventory"), lambda rel: lintsplit.judged_apart(rel, sources),
                             lint.collections)
    seconds = lintprocess.budget_seconds(project)
    with ThreadPoolExecutor(2) as pool:  # two processes: the cores share them with the checks that run meanwhile
        rest_part = pool.submit(_part, lint, lint.kept(rest_key, ".stand-in.json"),
                                lambda home: _lint_standin(lint, standins, home, seconds))
        inventory_part = pool.submit(_part, lint, lint.kept(inventory_key, ".inventory.json"),
                                     lambda home: _judge_inventory(lint, sources, home, seconds))
        (rest, rest_cached), (inventory, inventory_cached) = rest_part.result(), inventory_part.result()
    if failed_whole(rest) or failed_whole(inventory):
        return None
    if lintprocess.OVER_BUDGET in (rest[0], inventory[0]):
        findings, notes = judged(project, lint.collections, (lintprocess.OVER_BUDGET, "", ""), "")
        return findings, LintOutcome(project, False, None, inventory_apart=True, not_judged=notes)
    outside = [line for line in violations(rest[1]) if not lintsplit.in_sources(path_of(line), sources)]
    inside = violations(inventory[1])
    keep(lint.kept(lint.key), (2 if outside or inside else 0, "\n".join([*outside, *inside]),
                               f"{rest[2]}\n{inventory[2]}"))  # what each part said besides, as ansible-lint does
    found, notes = judged(project, lint.collections, (2 if outside else 0, "\n".join(outside), ""),
                          (APART if not inventory_cached else CACHED) if rest_cached else "")
    more, other = judged(project, lint.collections, inventory, CACHED if inventory_cached else "")
    return found + more, LintOutcome(project, rest_cached and inventory_cached, lint.kept(lint.key),
                                     inventory_apart=True, not_judged=notes + other)


def _part(lint: _Lint, kept: Path | None, produce: Callable[[Path], Result]) -> tuple[Result, bool]:
    """One part's result: kept (True), or produced now and kept unless it failed or ran over its budget."""
    result = kept_result(kept)
    if result is not None:
        return result, True
    result = produce(lint.home)
    if result[0] != lintprocess.OVER_BUDGET and not failed_whole(result):
        keep(kept, result)
    return result, False


def _lint_standin(lint: _Lint, standins: dict[str, str], home: Path, seconds: float) -> Result:
    """ansible-lint on a copy of the project with its inventory's stand-ins."""
    return _staged(lint, home / "stand-in", lambda into: lintsplit.stage_with_standins(lint.project, standins, into),
                   seconds)


def _judge_inventory(lint: _Lint, sources: tuple[str, ...], home: Path, seconds: float) -> Result:
    """The inventory judged as YAML by ansible-lint's yaml rule (``lintyaml``), or, where that is not all ansible-lint
    would do, by ansible-lint on the inventory and the config files alone."""
    (home / "inventory").mkdir(parents=True, exist_ok=True)
    done = run_yaml_judgement(lint.project, home / "inventory", sources, seconds)
    if done.returncode != lintyaml.CANNOT:
        return done.returncode, done.stdout, done.stderr
    return _staged(lint, home / "inventory", lambda into: lintsplit.stage(lint.project, sources, into), seconds)


def _staged(lint: _Lint, home: Path, stage: Callable[[Path], None], seconds: float) -> Result:
    """ansible-lint on what ``stage`` puts in a folder of its own, its paths shown as the project's."""
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home) as folder:
        staged = Path(folder) / "project"
        stage(staged)
        done = run_ansible_lint(staged, home, *LINT_OPTIONS, timeout=seconds, collections=lint.collections)
        stdout, stderr = done.stdout, done.stderr
        for path in {str(staged), os.path.realpath(staged)}:
            stdout, stderr = stdout.replace(path, str(lint.project)), stderr.replace(path, str(lint.project))
    return done.returncode, stdout, stderr
