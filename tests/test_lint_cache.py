"""ansible-lint results kept by what they depend on: the same content, version and config reuse one, reported
as cached; a change to any of them lints again. A project whose ``ansible.cfg`` names a YAML inventory is linted in
two parts (``lintsplit``): its playbooks against a stand-in inventory, its inventory on its own, each kept by its own
content. ansible-lint (and its yaml rule run alone) are played by doubles here (they cost seconds per run);
tests/test_lint_split.py holds the real ones to the whole-project run."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators import lintsplit as split
from pytest_proxmox_mpc.validators import lintyaml

VIOLATION = "playbooks/site.yml:4: fqcn[action-core]: Use FQCN for builtin module actions (shell)."
TRUTHY = "inventory.yml:3: yaml[truthy]: Truthy value should be one of [false, true]"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ansible"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "site.yml").write_text("---\n- hosts: all\n  tasks:\n    - shell: uptime\n")
    (root / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n")
    (root / ".ansible-lint").write_text("---\nprofile: production\n")
    (root / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")
    return root


def files_of(project: Path) -> list[str]:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str]]]:
    """ansible-lint as a double that judges what the project it is given holds: a violation in the playbook while it
    runs a shell, one in the inventory while it says 'bad' (the yaml rule run alone says that too); each run is
    recorded with its kind (``lint`` or ``yaml``) and the files it saw."""
    seen: list[tuple[str, list[str]]] = []

    def run(project: Path, home: Path, *options: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(("lint", files_of(project)))
        lines = []
        playbook = project / "playbooks" / "site.yml"
        if playbook.is_file() and "shell:" in playbook.read_text():
            lines.append(VIOLATION)
        if "bad" in (project / "inventory.yml").read_text():
            lines.append(TRUTHY)
        return subprocess.CompletedProcess([], 2 if lines else 0, stdout="\n".join(lines) + "\n", stderr="")

    def yaml_rule(project: Path, home: Path, files: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        seen.append(("yaml", list(files)))
        bad = "bad" in (project / "inventory.yml").read_text()
        return subprocess.CompletedProcess([], 2 if bad else 0, stdout=TRUTHY + "\n" if bad else "", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    monkeypatch.setattr(lint, "run_yaml_judgement", yaml_rule)
    return seen


def notes(findings: list) -> list[tuple[str, str]]:
    return [(f.resource, f.note) for f in findings]


def test_a_kept_result_is_reused_and_reported_as_cached(project: Path, tmp_path: Path,
                                                        judged: list[tuple[str, list[str]]]) -> None:
    cache = tmp_path / "cache"
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    again = lint.lint_ansible(project, tmp_path / "home", cache)
    assert sorted(kind for kind, _ in judged) == ["lint", "yaml"], "the first call lints both parts, the second none"
    assert notes(first) == [("ansible/playbooks/site.yml", "4: fqcn[action-core]: Use FQCN for builtin module "
                                                           "actions (shell).")]
    assert notes(again) == [(first[0].resource, first[0].note + " (cached result)")]
    assert [(o.cached, o.kept is not None and o.kept.parent == cache) for o in lint.LINT_OUTCOMES[-2:]] == [
        (False, True), (True, True)]


def test_without_a_cache_every_call_lints(project: Path, tmp_path: Path, judged: list[tuple[str, list[str]]]) -> None:
    lint.lint_ansible(project, tmp_path / "home")
    lint.lint_ansible(project, tmp_path / "home")
    assert len(judged) == 4 and not any(o.cached for o in lint.LINT_OUTCOMES[-2:])


def test_unreadable_kept_results_are_linted_again(project: Path, tmp_path: Path,
                                                  judged: list[tuple[str, list[str]]]) -> None:
    cache = tmp_path / "cache"
    lint.lint_ansible(project, tmp_path / "home", cache)
    kept = sorted(cache.glob("*.json"))
    assert len(kept) == 3, "the result, and each of its two parts"
    for path in kept:
        path.write_text("{not json")
    assert "cached" not in lint.lint_ansible(project, tmp_path / "home", cache)[0].note
    assert len(judged) == 4


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
                                                                   judged: list[tuple[str, list[str]]],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The second caller waits for the first one's result instead of linting the same content again."""
    cache, found = tmp_path / "cache", []
    workers: list[threading.Thread] = []
    double = lint.run_ansible_lint

    def run(project_dir: Path, home: Path, *options: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        if not workers:  # while the first lint runs, a second worker asks for the same content
            worker = threading.Thread(target=lambda: found.extend(lint.lint_ansible(project, home, cache)))
            workers.append(worker)
            worker.start()
            worker.join(2.0)  # it waits on the lock (without the lock it would lint again here)
        return double(project_dir, home, *options, **kwargs)
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    first = lint.lint_ansible(project, tmp_path / "home", cache)
    (worker,) = workers
    worker.join(30.0)
    assert not worker.is_alive()
    assert sorted(kind for kind, _ in judged) == ["lint", "yaml"], "the second worker linted the same content again"
    assert notes(found) == [(first[0].resource, first[0].note + " (cached result)")]


def test_the_playbooks_are_linted_against_a_stand_in_and_the_inventory_on_its_own(
        project: Path, tmp_path: Path, judged: list[tuple[str, list[str]]]) -> None:
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n    db: {vmid: 102, x: bad}\n")
    found = lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache")
    assert notes(found) == [("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip()),
                            ("ansible/inventory.yml", TRUTHY.split(":", 1)[1].strip())]
    assert dict(judged) == {"lint": [".ansible-lint", "ansible.cfg", "inventory.yml", "playbooks/site.yml"],
                            "yaml": ["inventory.yml"]}
    assert lint.LINT_OUTCOMES[-1].inventory_apart


def test_another_inventory_of_the_same_groups_is_judged_alone_and_the_playbooks_reused_saying_so(
        project: Path, tmp_path: Path, judged: list[tuple[str, list[str]]]) -> None:
    cache = tmp_path / "cache"
    (project / "group_vars").mkdir()
    (project / "group_vars" / "all.yml").write_text("---\nx: 1\n")
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n    db: {vmid: 102, x: bad}\n")
    lint.lint_ansible(project, tmp_path / "home", cache)
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n    cache: {vmid: 103}\n")
    second = lint.lint_ansible(project, tmp_path / "home", cache)
    assert sorted(kind for kind, _ in judged) == ["lint", "yaml", "yaml"], "the stand-in is the same: it was kept"
    assert notes(second) == [("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip() + lint.APART)]
    assert "cached result" in lint.APART and "inventory was linted on its own" in lint.APART
    assert (lint.LINT_OUTCOMES[-1].cached, lint.LINT_OUTCOMES[-1].inventory_apart) == (False, True)
    assert notes(lint.lint_ansible(project, tmp_path / "home", cache)) == [
        ("ansible/playbooks/site.yml", VIOLATION.split(":", 1)[1].strip() + " (cached result)")]
    assert len(judged) == 3 and lint.LINT_OUTCOMES[-1].cached, "both parts were kept"


@pytest.mark.parametrize("change", ["playbook", "group vars", "lint config"])
def test_a_change_outside_the_inventory_lints_the_playbooks_again(project: Path, tmp_path: Path,
                                                                 judged: list[tuple[str, list[str]]],
                                                                 change: str) -> None:
    cache = tmp_path / "cache"
    lint.lint_ansible(project, tmp_path / "home", cache)
    target = {"playbook": "playbooks/site.yml", "group vars": "group_vars/all.yml",
              "lint config": ".ansible-lint"}[change]
    path = project / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "---\n") + "# changed\n")
    lint.lint_ansible(project, tmp_path / "home", cache)
    assert any(kind == "lint" and target in files for kind, files in judged[2:])


WHOLE = {
    "no inventory named": ("ansible.cfg", "[defaults]\nroles_path = roles\n"),
    "unparsed is failed": ("ansible.cfg",
                           "[defaults]\ninventory = inventory.yml\n[inventory]\nunparsed_is_failed = 1\n"),
    "inventory outside": ("ansible.cfg", "[defaults]\ninventory = /etc/ansible/hosts\n"),
    "no ini file": ("ansible.cfg", "not an ini file\n"),
    "vars plugins at start": ("ansible.cfg", "[defaults]\ninventory = inventory.yml\nrun_vars_plugins = start\n"),
    "inventory plugin": ("inventory.yml", "---\nplugin: community.general.proxmox\nurl: https://pve:8006\n"),
    "inventory not YAML": ("inventory.yml", "---\nall: [unclosed\n"),
    "playbook reads groups": ("playbooks/site.yml", "---\n- hosts: \"{{ groups['all'][0] }}\"\n  tasks: []\n"),
    "playbook reads hostvars": ("playbooks/more.yml", "---\n- hosts: all\n  vars:\n    x: \"{{ hostvars }}\"\n"),
    "playbook names the inventory": ("playbooks/more.yml", "---\n- hosts: all\n  vars_files: [../inventory.yml]\n"),
}


@pytest.mark.parametrize("case", sorted(WHOLE))
def test_a_project_the_split_cannot_be_shown_for_is_linted_whole(project: Path, tmp_path: Path,
                                                                 judged: list[tuple[str, list[str]]],
                                                                 case: str) -> None:
    relative, text = WHOLE[case]
    (project / relative).write_text(text)
    assert split.why_whole(project, split.inventory_sources(project)) is not None
    lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache")
    ((kind, files),) = judged
    assert kind == "lint" and files == files_of(project), "ansible-lint ran on the project itself"
    assert not lint.LINT_OUTCOMES[-1].inventory_apart


def test_an_ini_inventory_a_folder_or_a_symbolic_link_are_not_split(project: Path) -> None:
    (project / "hosts.ini").write_text("[web]\nweb1\n")
    (project / "ansible.cfg").write_text("[defaults]\ninventory = hosts.ini\n")
    assert "no YAML file" in str(split.why_whole(project, split.inventory_sources(project)))
    (project / "inventory").mkdir()
    (project / "inventory" / "hosts.yml").write_text("---\nall: {}\n")
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory/, inventory.yml ; two sources\n")
    assert split.inventory_sources(project) == ("inventory", "inventory.yml")
    assert "no YAML file" in str(split.why_whole(project, split.inventory_sources(project)))
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")
    assert split.why_whole(project, ("inventory.yml",)) is None
    (project / "linked.yml").symlink_to(project / "playbooks" / "site.yml")
    assert "symbolic links" in str(split.why_whole(project, ("inventory.yml",)))


def test_in_sources_and_failing_on_unparsed_by_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert split.in_sources("inventory/hosts.yml", ("inventory",)) and not split.in_sources("inventory.yml.bak",
                                                                                             ("inventory.yml",))
    monkeypatch.setenv("ANSIBLE_INVENTORY_UNPARSED_FAILED", "yes")
    assert split.inventory_sources(project) == ()


def test_where_the_yaml_rule_alone_would_not_be_all_ansible_lint_does_ansible_lint_judges_the_inventory(
        project: Path, tmp_path: Path, judged: list[tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot(project: Path, home: Path, files: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        judged.append(("yaml", list(files)))
        return subprocess.CompletedProcess([], lintyaml.CANNOT, stdout="", stderr="a noqa comment")
    monkeypatch.setattr(lint, "run_yaml_judgement", cannot)
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101, x: bad}\n")
    found = lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache")
    assert sorted(kind for kind, _ in judged) == ["lint", "lint", "yaml"]
    inventory_alone = next(files for kind, files in judged[1:] if kind == "lint" and "playbooks/site.yml" not in files)
    assert inventory_alone == [".ansible-lint", "ansible.cfg", "inventory.yml"]
    assert ("ansible/inventory.yml", TRUTHY.split(":", 1)[1].strip()) in notes(found)
