"""``ansible-lint --offline`` on a workspace's Ansible: one finding per violation, results kept by what they depend
on (``lint_key``), an inventory judged apart from the rest (``lintsplit``), and what depends on the machine the
suite runs on set apart (``lintcollections``): a module of a collection not installed here is "not judged here",
recorded in ``LINT_OUTCOMES``, never a finding.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..files.lock import exclusively
from . import lintcollections, lintsplit
from .findings import Finding

CHECK = "ansible"
LINT_TIMEOUT = 300
LINT_OPTIONS = ("-f", "pep8")  # one violation a line: path:line: rule: message


def run_ansible_lint(project: Path, home: Path, *options: str, timeout: float = LINT_TIMEOUT,
                     collections: lintcollections.Collections | None = None) -> subprocess.CompletedProcess[str]:
    """``ansible-lint --offline --nocolor OPTIONS`` on ``project`` (its own ``.ansible-lint`` settings apply),
    with this interpreter's ansible-lint, writing only below ``home``, finding collections where ``collections``
    says (by default: ``ANSIBLE_COLLECTIONS_PATH``, else the user's own, as ``lintcollections`` tells)."""
    found = collections or lintcollections.Collections(lintcollections.search_path(), {})
    env = {**os.environ, "ANSIBLE_HOME": str(home / "ansible"), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
           "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1", **found.environment(),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "ansiblelint", "--offline", "--nocolor", *options,
                           "--project-dir", str(project)], cwd=project, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


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
    for path in sorted(p for p in project.rglob("*") if p.is_file() and not _is_lint_cache(p.relative_to(project))):
        relative = path.relative_to(project)
        if keep is None or keep(relative.as_posix()):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


_OWN_ENV = frozenset({"ANSIBLE_HOME", "ANSIBLE_LOCAL_TEMP"})  # set per lint by run_ansible_lint


def _is_lint_cache(relative: Path) -> bool:
    return bool(relative.parts) and relative.parts[0] in (".ansible", ".cache")  # what ansible-lint writes itself


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


@dataclass(frozen=True)
class LintOutcome:
    """One ``lint_ansible`` call: the project, whether the result was a kept one (``cached``), its file,
    whether only the inventory was linted, the rest of the result kept from a run of the same playbooks,
    vars and config (``inventory_apart``), and what could not be judged on this machine (``not_judged``: one
    note per violation that a collection not installed here explains, none of them a finding)."""

    project: Path
    cached: bool
    kept: Path | None
    inventory_apart: bool = False
    not_judged: tuple[str, ...] = ()


LINT_OUTCOMES: list[LintOutcome] = []
"""This process's ``lint_ansible`` calls in order, so a suite can say which results were cached, and what it could
not judge here."""
Result = tuple[int, str, str]  # ansible-lint's return code, output and error output
APART = " (cached result of the same playbooks, vars and config; the inventory was linted on its own)"


@dataclass(frozen=True)
class _Lint:
    """One ``lint_ansible`` call's settings: its project, home, cache and the collections ansible-lint sees."""

    project: Path
    home: Path
    cache: Path | None
    collections: lintcollections.Collections


def lint_ansible(ansible_dir: Path, home: Path, cache: Path | None = None,
                 collections: Sequence[Path] | None = None) -> list[Finding]:
    """``ansible-lint --offline`` on the project (its own ``.ansible-lint`` settings), writing only below
    ``home``; one finding per violation it reports, but for those a collection not installed here explains
    (``lintcollections``: not judged here, recorded in ``LINT_OUTCOMES``). ``collections``: where ansible-lint
    finds collections (default: ``ANSIBLE_COLLECTIONS_PATH``, else the user's own). With ``cache`` (a
    directory), a result is kept under the project's ``lint_key`` and reused for the same content, options,
    versions, config and collections; such findings say so (and ``LINT_OUTCOMES`` records every call, cached or
    not). A project whose ``ansible.cfg`` names its inventory (``lintsplit``) also keeps the violations outside
    the inventory, under a key of everything but the inventory: the same project with another inventory is then
    judged by those and by ansible-lint on the inventory alone (itself kept by the inventory's and the config's
    content), and says so."""
    ansible_dir = ansible_dir.resolve()  # ansible-lint runs in another directory: a relative path is lost there
    lint = _Lint(ansible_dir, home, cache, lintcollections.collections_for(ansible_dir, collections))
    key = lint_key(ansible_dir, LINT_OPTIONS, collections=lint.collections)
    kept = cache / f"{key}.json" if cache is not None else None
    # Workers that lint the same content at once take turns: the second reads what the first kept.
    with exclusively(kept.with_suffix(".lock")) if kept is not None else nullcontext():
        return _lint_or_reuse(lint, kept)


def _lint_or_reuse(lint: _Lint, kept: Path | None) -> list[Finding]:
    """``lint_ansible`` once its turn has come: a kept result, the inventory linted apart, or a whole run."""
    options, ansible_dir, cache = LINT_OPTIONS, lint.project, lint.cache
    result = _kept_result(kept)
    if result is not None:
        findings, notes = _judged(lint, result, " (cached result)")
        LINT_OUTCOMES.append(LintOutcome(ansible_dir, True, kept, not_judged=notes))
        return findings
    # A kept result that is unreadable: the whole project is linted again, and kept afresh.
    sources = lintsplit.inventory_sources(ansible_dir) if kept is not None and not kept.exists() else ()
    rest_kept = None
    if cache is not None and sources:
        rest_kept = cache / (lint_key(ansible_dir, (*options, "rest", *sources),
                                      lambda rel: not lintsplit.in_sources(rel, sources), lint.collections) + ".rest")
        rest = _kept_result(rest_kept)
        if rest is not None:
            return _inventory_apart(lint, cache, sources, rest)
    result = _lint_and_keep(lint, ansible_dir, kept)
    violations = _violations(result[1])
    if rest_kept is not None and (violations or result[0] == 0):  # a run that failed as a whole is not split
        outside = [line for line in violations if not lintsplit.in_sources(line.split(":", 1)[0], sources)]
        _keep(rest_kept, (2 if outside else 0, "\n".join(outside), ""))
    findings, notes = _judged(lint, result, "")
    LINT_OUTCOMES.append(LintOutcome(ansible_dir, False, kept, not_judged=notes))
    return findings


def _inventory_apart(lint: _Lint, cache: Path, sources: tuple[str, ...], rest: Result) -> list[Finding]:
    """The kept violations outside the inventory, and ansible-lint's on the inventory with the config alone."""
    project, home = lint.project, lint.home
    key = lint_key(project, (*LINT_OPTIONS, "inventory"), lambda r: lintsplit.judged_apart(r, sources),
                   lint.collections)
    kept = cache / f"{key}.json"
    result = _kept_result(kept)
    cached = result is not None
    if result is None:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home) as staged:
            lintsplit.stage(project, sources, Path(staged))
            result = _lint_and_keep(lint, Path(staged), kept)
    outside, notes = _judged(lint, rest, APART)
    inside, more = _judged(lint, result, " (cached result)" if cached else "")
    LINT_OUTCOMES.append(LintOutcome(project, cached, kept, inventory_apart=True, not_judged=notes + more))
    return outside + inside


def _lint_and_keep(lint: _Lint, project: Path, kept: Path | None) -> Result:
    """ansible-lint's result on ``project`` with the suite's options, kept in ``kept`` (if given)."""
    done = run_ansible_lint(project, lint.home, *LINT_OPTIONS, collections=lint.collections)
    result = done.returncode, done.stdout, done.stderr
    _keep(kept, result)
    return result


def _violations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^\S+:\d+", line)]


def _judged(lint: _Lint, result: Result, suffix: str) -> tuple[list[Finding], tuple[str, ...]]:
    """The findings of a result, and the notes of its violations that cannot be judged here (not findings)."""
    returncode, stdout, stderr = result
    if returncode == 0:
        return [], ()
    violations = _violations(stdout)
    if not violations:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        return [Finding(CHECK, "ansible/", "ansible-lint", note=f"exited with {returncode}: {tail}{suffix}")], ()
    findings, notes = [], []
    for line in violations:
        note = lintcollections.not_judged(line, lint.project, lint.collections)
        if note is not None:
            notes.append(note)
        else:
            findings.append(Finding(CHECK, f"ansible/{line.split(':', 1)[0]}", "ansible-lint",
                                    note=line.split(":", 1)[1].strip() + suffix))
    return findings, tuple(notes)


def _keep(kept: Path | None, result: Result) -> None:
    if kept is None:
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    temporary = kept.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(list(result)), encoding="utf-8")
    os.replace(temporary, kept)  # a reader without the lock (an older version) sees it whole


def _kept_result(kept: Path | None) -> Result | None:
    """A kept (returncode, stdout, stderr), or None when there is none (or it is unreadable: lint again)."""
    if kept is None or not kept.is_file():
        return None
    try:
        returncode, stdout, stderr = json.loads(kept.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    return int(returncode), str(stdout), str(stderr)
