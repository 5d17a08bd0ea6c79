"""ansible-lint results kept by what they depend on: the same content, version and config reuse one, reported
as cached; a change to any of them lints again. ansible-lint itself is played by a double here (it costs
seconds per run); tests/test_iac_export.py runs the real one through the same cache, an inventory judged apart
included."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators import lintsplit as split

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

    def run(project: Path, home: Path, *options: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
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
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", "/another/tmp")  # set per lint by run_ansible_lint: no difference
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
    cache, calls, found = tmp_path / "cache", [], []
    workers: list[threading.Thread] = []

    def run(project: Path, home: Path, *options: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(project)
        if len(calls) == 1:  # while the first lint runs, a second worker asks for the same content
            worker = threading.Thread(target=lambda: found.extend(lint.lint_ansible(project, home, cache)))
            workers.append(worker)
            worker.start()
            worker.join(2.0)  # it waits on the lock (without the lock it would lint again here)
        return subprocess.CompletedProcess([], 2, stdout=VIOLATION + "\n", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    (worker,) = workers
    worker.join(30.0)
    assert not worker.is_alive()
    assert len(calls) == 1, "the second worker linted the same content again"
    assert [f.note for f in found] == [first[0].note + " (cached result)"]


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """ansible-lint as a double that judges what the project it is given holds: a violation in the playbook
    while it runs a shell, one in the inventory while it says 'bad'; each run's files are recorded."""
    seen: list[list[str]] = []

    def run(project: Path, home: Path, *options: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()))
        lines = []
        if "shell:" in ((project / "playbooks" / "site.yml").read_text() if seen[-1].count("playbooks/site.yml")
                        else ""):
            lines.append(VIOLATION)
        if "bad" in (project / "inventory.yml").read_text():
            lines.append("inventory.yml:3: yaml[truthy]: Truthy value should be one of [false, true]")
        return subprocess.CompletedProcess([], 2 if lines else 0, stdout="\n".join(lines) + "\n", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    return seen


def notes(findings: list) -> list[tuple[str, str]]:
    return [(f.resource, f.note) for f in findings]


def test_another_inventory_alone_is_linted_and_the_rest_reused_saying_so(project: Path, tmp_path: Path,
                                                                          judged: list[list[str]]) -> None:
    cache = tmp_path / "cache"
    (project / "group_vars").mkdir()
    (project / "group_vars" / "all.yml").write_text("---\nx: 1\n")
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101, note: bad}\n")
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    assert notes(first) == [("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip()),
                            ("ansible/inventory.yml", "3: yaml[truthy]: Truthy value should be one of [false, true]")]
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n    db: {vmid: 102}\n")
    second = lint.lint_ansible(project, tmp_path / "home", cache)
    assert len(judged) == 2 and judged[1] == [".ansible-lint", "ansible.cfg", "inventory.yml"]
    assert notes(second) == [("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip() + lint.APART)]
    assert "cached result" in lint.APART and "inventory was linted on its own" in lint.APART
    assert (lint.LINT_OUTCOMES[-1].cached, lint.LINT_OUTCOMES[-1].inventory_apart) == (False, True)
    assert notes(lint.lint_ansible(project, tmp_path / "home", cache)) == [
        ("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip() + lint.APART)]
    assert len(judged) == 2 and lint.LINT_OUTCOMES[-1].cached, "both parts were kept"


@pytest.mark.parametrize("change", ["playbook", "group vars", "lint config"])
def test_a_change_outside_the_inventory_lints_the_whole_project(project: Path, tmp_path: Path,
                                                                judged: list[list[str]], change: str) -> None:
    cache = tmp_path / "cache"
    lint.lint_ansible(project, tmp_path / "home", cache)
    target = {"playbook": "playbooks/site.yml", "group vars": "group_vars/all.yml",
              "lint config": ".ansible-lint"}[change]
    path = project / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "---\n") + "# changed\n")
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    db: {vmid: 102}\n")
    lint.lint_ansible(project, tmp_path / "home", cache)
    assert len(judged) == 2 and "playbooks/site.yml" in judged[1]
    assert not lint.LINT_OUTCOMES[-1].inventory_apart


@pytest.mark.parametrize("cfg", ["[defaults]\nroles_path = roles\n",
                                 "[defaults]\ninventory = inventory.yml\n[inventory]\nunparsed_is_failed = True\n",
                                 "[defaults]\ninventory = /etc/ansible/hosts\n", "not an ini file\n"])
def test_without_an_inventory_judged_apart_another_inventory_lints_the_whole_project(
        project: Path, tmp_path: Path, judged: list[list[str]], cfg: str) -> None:
    (project / "ansible.cfg").write_text(cfg)
    cache = tmp_path / "cache"
    lint.lint_ansible(project, tmp_path / "home", cache)
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    db: {vmid: 102}\n")
    lint.lint_ansible(project, tmp_path / "home", cache)
    assert len(judged) == 2 and "playbooks/site.yml" in judged[1]


def test_an_inventory_folder_or_several_are_judged_apart_and_failing_on_unparsed_by_environment_is_not(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "inventory").mkdir()
    (project / "inventory" / "hosts.yml").write_text("---\nall: {}\n")
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory/, inventory.yml ; two sources\n")
    assert split.inventory_sources(project) == ("inventory", "inventory.yml")
    assert split.in_sources("inventory/hosts.yml", ("inventory",)) and not split.in_sources("inventory.yml.bak",
                                                                                             ("inventory.yml",))
    monkeypatch.setenv("ANSIBLE_INVENTORY_UNPARSED_FAILED", "yes")
    assert split.inventory_sources(project) == ()
