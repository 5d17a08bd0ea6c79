"""What depends on the machine the suite runs on is said apart: a module or role of an Ansible collection that is
not installed here is "not judged here", never a finding, and the run's summary and report say so; a misspelt
module stays a finding. ansible-lint is played by a double here; tests/test_mutations_ansible.py runs the real one
(with and without ``--pve-ansible-collections``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_proxmox_mpc.report import build as report_build
from pytest_proxmox_mpc.report.reporter import NOT_JUDGED_PROPERTY, OutcomeCollector
from pytest_proxmox_mpc.validators import ansible_lint as lint
from pytest_proxmox_mpc.validators import lintcollections as coll

MISSING = "playbooks/vms.yml:14:7: syntax-check[unknown-module]: couldn't resolve module/action '{}'. This often " \
          "indicates a misspelling, missing collection, or incorrect module path."
ROLE = "playbooks/vms.yml:5:7: syntax-check[specific][/]: the role '{}' was not found in /x/roles:/y"
FQCN = "playbooks/site.yml:4: fqcn[action-core]: Use FQCN for builtin module actions (shell)."


def collection(root: Path, name: str, version: str = "9.1.0") -> Path:
    namespace, short = name.split(".")
    folder = root / "ansible_collections" / namespace / short
    folder.mkdir(parents=True)
    (folder / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": version}}))
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ansible"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "vms.yml").write_text("---\n- hosts: vms\n  collections: [acme.tools]\n  tasks: []\n")
    return root


def here(*names: str) -> coll.Collections:
    return coll.Collections(("/nowhere",), dict.fromkeys(names, "1.0.0"))


@pytest.mark.parametrize(("line", "installed", "collection_named"), [
    (MISSING.format("timezone"), (), "community.general"),  # a short name ansible-core routes to its collection
    (MISSING.format("community.general.timezone"), (), "community.general"),
    (MISSING.format("community.docker.docker_container"), ("community.general",), "community.docker"),
    (MISSING.format("frobnicate"), (), "acme.tools"),  # the play's collections: keyword names where it may be
    (ROLE.format("community.general.foo"), (), "community.general"),
])
def test_a_name_of_a_collection_not_installed_here_is_not_judged(line: str, installed: tuple[str, ...],
                                                                 collection_named: str, project: Path) -> None:
    note = coll.not_judged(line, project, here(*installed))
    assert note is not None and note.startswith("ansible/playbooks/vms.yml:")
    assert f"cannot be judged here: collection {collection_named} is not installed" in note
    assert "judged nothing else in this file" in note and "--pve-ansible-collections" in note


@pytest.mark.parametrize(("line", "installed"), [
    (MISSING.format("timezone"), ("community.general",)),  # installed: the workspace's own mistake, whatever it is
    (MISSING.format("community.general.timzone"), ("community.general",)),  # a module the collection lacks
    (MISSING.format("ansible.builtin.comand"), ()),  # ansible.builtin is always here: a misspelling
    (MISSING.format("timezon"), ("acme.tools",)),  # routed nowhere, and the play's collection is here
    (ROLE.format("geerlingguy.docker"), ()),  # a role that is no collection's: the workspace does not ship it
    (FQCN, ()),
])
def test_everything_else_is_the_workspaces(line: str, installed: tuple[str, ...], project: Path) -> None:
    assert coll.not_judged(line, project, here(*installed)) is None


def test_collections_are_found_where_ansible_looks(tmp_path: Path, project: Path) -> None:
    configured = tmp_path / "mine"
    collection(configured, "community.general", "10.2.0")
    collection(project / "collections", "acme.tools", "0.1.0")
    found = coll.collections_for(project, [configured], environ={})
    assert found.search_path == (str(configured),)
    assert found.installed["community.general"] == "10.2.0" and found.installed["acme.tools"] == "0.1.0"
    assert found.environment() == {"ANSIBLE_COLLECTIONS_PATH": str(configured)}


def test_the_search_path_is_the_setting_then_the_environment_then_the_users_default(tmp_path: Path) -> None:
    assert coll.search_path([tmp_path / "a"], {"ANSIBLE_COLLECTIONS_PATH": "/env"}) == (str(tmp_path / "a"),)
    assert coll.search_path(None, {"ANSIBLE_COLLECTIONS_PATH": "/x:/y"}) == ("/x", "/y")
    assert coll.search_path(None, {"ANSIBLE_HOME": "/home/u/.ans"}) == ("/home/u/.ans/collections",
                                                                       coll.SYSTEM_COLLECTIONS)


def test_the_lint_key_follows_the_collections_installed(project: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_COLLECTIONS_PATH", raising=False)
    configured = tmp_path / "mine"
    before = lint.lint_key(project, ("-f", "pep8"), collections=coll.collections_for(project, [configured]))
    collection(configured, "community.general")
    after = lint.lint_key(project, ("-f", "pep8"), collections=coll.collections_for(project, [configured]))
    assert after != before, "a collection installed since: ansible-lint may judge what it could not"
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "home"))  # where the user's own collections are
    mine = lint.lint_key(project, ("-f", "pep8"))
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "another"))
    assert lint.lint_key(project, ("-f", "pep8")) != mine


def test_not_judged_is_no_finding_and_is_recorded(project: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def run(project: Path, home: Path, *options: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append(kwargs["collections"])
        out = "\n".join([MISSING.format("timezone"), MISSING.format("ansible.builtin.comand")])
        return subprocess.CompletedProcess([], 2, stdout=out + "\n", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", run)
    found = lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache", collections=[tmp_path / "mine"])
    assert [f.note for f in found] == [MISSING.format("ansible.builtin.comand").split(":", 1)[1].strip()]
    assert seen[0].search_path == (str(tmp_path / "mine"),), "the setting reaches ansible-lint"
    (note,) = lint.LINT_OUTCOMES[-1].not_judged
    assert "collection community.general is not installed (module 'timezone')" in note
    again = lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache", collections=[tmp_path / "mine"])
    assert len(seen) == 1 and lint.LINT_OUTCOMES[-1].cached and lint.LINT_OUTCOMES[-1].not_judged == (note,)
    assert [f.note for f in again] == [found[0].note + " (cached result)"]


def test_only_not_judged_violations_fail_nothing(project: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lint, "run_ansible_lint", lambda *a, **k: subprocess.CompletedProcess(
        [], 2, stdout=MISSING.format("community.general.ufw") + "\n", stderr=""))
    assert lint.lint_ansible(project, tmp_path / "home") == []
    assert len(lint.LINT_OUTCOMES[-1].not_judged) == 1


def test_the_report_lists_what_was_not_judged() -> None:
    collector = OutcomeCollector()
    notes = ("ansible/playbooks/vms.yml:14: cannot be judged here: collection community.general is not installed",)
    report = SimpleNamespace(nodeid="validation/test_phase2_iac.py::test_generated_iac[ansible-lint-offline]",
                             when="call", failed=False, skipped=False, longrepr=None,
                             user_properties=[("pve_phase", 2), ("ansible-lint", "ran"),
                                              *((NOT_JUDGED_PROPERTY, note) for note in notes)])
    collector.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    (outcome,) = collector.outcomes.values()
    assert outcome.outcome == "passed" and outcome.not_judged == notes
    other = report_build.TestOutcome("other", 2, "passed", not_judged=notes)
    built = report_build.build_report(report_build.ReportInputs(
        run_id="r", target={"kind": "sim"}, max_phase=2, tests=[outcome, other], audit=[], audit_file="a.jsonl",
        ledger=[], watches=[], incidents=[], exit_status=0))
    assert built["not_judged"] == list(notes), "each note once"
    assert f"## Not judged here\n\nWhat depends on the machine the suite ran on, not on the workspace (no test " \
           f"failed for it):\n\n- {notes[0]}" in report_build.to_markdown(built)
