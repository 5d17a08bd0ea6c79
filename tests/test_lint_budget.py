"""ansible-lint's budget grows with the project and running over it is one clear finding, its processes all stopped;
a lint started ahead (``start_lint``, ``prepare_checks``) is taken by the check for the same content only."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_proxmox_mpc.validators import CheckContext, lintprocess, prepare_checks
from pytest_proxmox_mpc.validators import ansible_lint as lint


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "workspace" / "ansible"
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "site.yml").write_text("---\n- name: Site\n  hosts: all\n  tasks: []\n")
    (root / "inventory.yml").write_text("---\nall:\n  hosts:\n    web: {vmid: 101}\n")
    (root / "ansible.cfg").write_text("[defaults]\ninventory = inventory.yml\n")
    return root


def test_the_budget_grows_with_the_project(project: Path) -> None:
    small = lintprocess.budget_seconds(project)
    assert small >= lintprocess.BASE_SECONDS
    (project / "inventory.yml").write_text("---\nall:\n  hosts:\n" + "".join(
        f"    host{i}: {{vmid: {i}, note: {'x' * 40}}}\n" for i in range(40_000)))
    megabytes = (project / "inventory.yml").stat().st_size / 1e6
    assert megabytes > 2
    assert lintprocess.budget_seconds(project) >= small + lintprocess.SECONDS_A_MB * (megabytes - 0.01)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_run_over_its_budget_is_stopped_with_every_process_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"sleep 600 & echo $! > {pidfile}; wait"  # a child of its own, as ansible-playbook is ansible-lint's
    done = lintprocess.run(["sh", "-c", script], tmp_path, {"PATH": "/usr/bin:/bin"}, seconds=5)
    assert done.returncode == lintprocess.OVER_BUDGET
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while alive(grandchild) and time.monotonic() < deadline:  # SIGKILL is delivered, not awaited
        time.sleep(0.05)
    assert not alive(grandchild), "the run's own child was left running"


def test_running_over_the_budget_is_one_finding_that_says_so(project: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    over = subprocess.CompletedProcess([], lintprocess.OVER_BUDGET, stdout="", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", lambda *args, **kwargs: over)
    monkeypatch.setattr(lint, "run_yaml_judgement", lambda *args, **kwargs: over)
    (finding,) = lint.lint_ansible(project, tmp_path / "home", tmp_path / "cache")
    assert finding.resource == "ansible/" and "did not finish within its budget of" in finding.note
    assert f"{lintprocess.BASE_SECONDS:.0f} s and {lintprocess.SECONDS_A_MB:.0f} s a MB" in finding.note
    assert not list((tmp_path / "cache").glob("*.json")), "a run stopped on its budget is not kept"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """ansible-lint and its yaml rule as doubles that pass and count their runs."""
    runs: list[str] = []

    def run(kind: str) -> subprocess.CompletedProcess[str]:
        runs.append(kind)
        return subprocess.CompletedProcess([], 0, stdout="", stderr="")
    monkeypatch.setattr(lint, "run_ansible_lint", lambda *args, **kwargs: run("lint"))
    monkeypatch.setattr(lint, "run_yaml_judgement", lambda *args, **kwargs: run("yaml"))
    return runs


def test_a_lint_started_ahead_is_taken_by_the_check(project: Path, tmp_path: Path, counted: list[str]) -> None:
    context = CheckContext(scratch=tmp_path / "scratch", lint_cache=tmp_path / "cache")
    seen = len(lint.LINT_OUTCOMES)
    prepare_checks(project.parent, context)
    prepare_checks(project.parent, context)  # started once
    assert lint.lint_ansible(project, tmp_path / "elsewhere", context.lint_cache) == []
    assert sorted(counted) == ["lint", "yaml"]
    assert len(lint.LINT_OUTCOMES) == seen + 1 and not lint.LINT_OUTCOMES[-1].cached, "one outcome, by the check"
    prepare_checks(project.parent, context)  # kept now: nothing is started again
    lint.lint_ansible(project, tmp_path / "elsewhere", context.lint_cache)
    assert len(counted) == 2 and lint.LINT_OUTCOMES[-1].cached


def test_a_project_changed_after_the_start_is_linted_afresh(project: Path, tmp_path: Path, counted: list[str]) -> None:
    cache = tmp_path / "cache"
    lint.start_lint(project, tmp_path / "home", cache)
    deadline = time.monotonic() + 60
    while len(list(cache.glob("*.json"))) < 3 and time.monotonic() < deadline:  # the started lint has kept its result
        time.sleep(0.05)
    (project / "playbooks" / "site.yml").write_text("---\n- name: Changed\n  hosts: all\n  tasks: []\n")
    lint.lint_ansible(project, tmp_path / "home", cache)
    assert sorted(counted) == ["lint", "lint", "yaml"], "the changed playbooks were linted; the same inventory was not"


def test_a_failure_in_the_background_is_raised_by_the_check(project: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise OSError("no ansible-lint here")
    monkeypatch.setattr(lint, "run_ansible_lint", broken)
    monkeypatch.setattr(lint, "run_yaml_judgement", broken)
    lint.start_lint(project, tmp_path / "home")
    with pytest.raises(OSError, match="no ansible-lint here"):
        lint.lint_ansible(project, tmp_path / "home")


def test_the_budget_module_runs_a_real_command_within_budget(tmp_path: Path) -> None:
    done = lintprocess.run([sys.executable, "-c", "print('judged')"], tmp_path, {}, seconds=600)
    assert (done.returncode, done.stdout.strip()) == (0, "judged")
