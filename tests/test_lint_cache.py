"""ansible-lint results kept by what they depend on: the same content, version and config reuse one, reported
as cached; a change to any of them lints again. ansible-lint itself is played by a double here (it costs
seconds per run); tests/test_iac_export.py runs the real one through the same cache."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from pytest_proxmox_mpc.validators import ansible as lint

VIOLATION = "playbooks/site.yml:4: fqcn[action-core]: Use FQCN for builtin module actions (shell)."


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ansible"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "site.yml").write_text("---\n- hosts: all\n  tasks:\n    - shell: uptime\n")
    (root / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n")
    (root / ".ansible-lint").write_text("---\nprofile: production\n")
    (root / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")
    return root


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """ansible-lint as a double that reports one violation and counts its runs."""
    seen: list[Path] = []

    def run(project: Path, home: Path, *options: str, timeout: float = 0) -> subprocess.CompletedProcess[str]:
        seen.append(project)
        return subprocess.CompletedProcess([], 2, stdout=VIOLATION + "\n", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    return seen


def test_a_kept_result_is_reused_and_reported_as_cached(project: Path, tmp_path: Path, runs: list[Path]) -> None:
    cache = tmp_path / "cache"
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    again = lint.lint_ansible(project, tmp_path / "home", cache)
    assert len(runs) == 1
    assert [f.note for f in first] == ["4: fqcn[action-core]: Use FQCN for builtin module actions (shell)."]
    assert [f.note for f in again] == [first[0].note + " (cached result)"]
    assert [(o.cached, o.kept is not None and o.kept.parent == cache) for o in lint.LINT_OUTCOMES[-2:]] == [
        (False, True), (True, True)]


def test_without_a_cache_every_call_lints(project: Path, tmp_path: Path, runs: list[Path]) -> None:
    lint.lint_ansible(project, tmp_path / "home")
    lint.lint_ansible(project, tmp_path / "home")
    assert len(runs) == 2 and not any(o.cached for o in lint.LINT_OUTCOMES[-2:])


def test_an_unreadable_kept_result_is_linted_again(project: Path, tmp_path: Path, runs: list[Path]) -> None:
    cache = tmp_path / "cache"
    lint.lint_ansible(project, tmp_path / "home", cache)
    (kept,) = cache.glob("*.json")
    kept.write_text("{not json")
    assert "cached" not in lint.lint_ansible(project, tmp_path / "home", cache)[0].note
    assert len(runs) == 2


@pytest.mark.parametrize("change", ["playbook", "inventory", "group vars", "lint config", "ansible.cfg"])
def test_the_key_follows_the_content_linted(project: Path, change: str) -> None:
    before = lint.lint_key(project, ("-f", "pep8"))
    target = {"playbook": "playbooks/site.yml", "inventory": "inventory.yml", "group vars": "group_vars/all.yml",
              "lint config": ".ansible-lint", "ansible.cfg": "ansible.cfg"}[change]
    path = project / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "---\n") + "# changed\n")
    assert lint.lint_key(project, ("-f", "pep8")) != before


def test_the_key_follows_versions_options_and_the_ansible_environment(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = lint.lint_key(project, ("-f", "pep8"))
    assert lint.lint_key(project, ("-f", "pep8", "--strict")) != before
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", "/elsewhere")
    assert lint.lint_key(project, ("-f", "pep8")) != before
    monkeypatch.delenv("ANSIBLE_ROLES_PATH")
    assert lint.lint_key(project, ("-f", "pep8")) == before
    monkeypatch.setenv("ANSIBLE_HOME", "/another/home")  # set per lint by run_ansible_lint: no difference
    assert lint.lint_key(project, ("-f", "pep8")) == before
    real = lint._version
    monkeypatch.setattr(lint, "_version", lambda package: "99.0" if package == "ansible-lint" else real(package))
    assert lint.lint_key(project, ("-f", "pep8")) != before


def test_what_ansible_lint_writes_itself_does_not_change_the_key(project: Path) -> None:
    before = lint.lint_key(project, ("-f", "pep8"))
    (project / ".ansible" / "tmp").mkdir(parents=True)
    (project / ".ansible" / "tmp" / "state").write_text("x")
    assert lint.lint_key(project, ("-f", "pep8")) == before


def test_two_workers_linting_the_same_content_at_once_lint_it_once(project: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The second caller waits for the first one's result instead of linting the same content again."""
    cache, calls, second = tmp_path / "cache", [], []

    def run(project: Path, home: Path, *options: str, timeout: float = 0) -> subprocess.CompletedProcess[str]:
        calls.append(project)
        if len(calls) == 1:  # while the first lint runs, a second worker asks for the same content
            worker = threading.Thread(target=lambda: second.extend(lint.lint_ansible(project, home, cache)))
            worker.start()
            worker.join(2.0)
            second.append(worker)
        return subprocess.CompletedProcess([], 2, stdout=VIOLATION + "\n", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    worker = second.pop()
    worker.join(10.0)
    assert len(calls) == 1, "the second worker linted the same content again"
    assert [f.note for f in second] == [first[0].note + " (cached result)"]
