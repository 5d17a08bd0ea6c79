"""The system under test driven through its console and CLI (``pytest_proxmox_mpc.sut``): the profile and its
errors, what the suite reads from a workspace and a transcript, and the validation suite's tool tests against the
test double ``tests/doubles/mpc_console.py`` on a fakepve process as live, recorded and replayed, and on sim, each
of the double's defects failing the test named for it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from pytest_proxmox_mpc.errors import ProfileError
from pytest_proxmox_mpc.sut.profile import PACKAGED, load_profile, resolve_profile
from pytest_proxmox_mpc.sut.snapshot import WorkspaceSnapshot, changes
from pytest_proxmox_mpc.sut.transcript import judge, secret_leaks

from .conftest import FakePveProcess

REPO = Path(__file__).resolve().parent.parent
VALIDATION = REPO / "validation"
DOUBLE = REPO / "tests" / "doubles" / "mpc_console.py"
CONSOLE = f"{sys.executable} {DOUBLE}"
TOOL_MODULES = [str(VALIDATION / f"test_phase{n}_tool.py") for n in (1, 2, 3)]
PASSED, SKIPPED = 9, 3  # the tool tests of phases 1-3 against the double; "the profile's other steps" skip
PACKAGED_PROFILE = (PACKAGED / "proxmox-mpc.yaml").read_text(encoding="utf-8")


def bad_profile(tmp_path: Path, old: str, new: str) -> str:
    assert old in PACKAGED_PROFILE
    path = tmp_path / "p.yaml"
    path.write_text(PACKAGED_PROFILE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return str(caught.value)


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(PACKAGED_PROFILE.splitlines(), start=1) if text in line)


@pytest.mark.parametrize(("old", "new", "at", "problem"), [
    ("    run: /status\n", "    run: /status {secret}\n", "run: /status {secret}",
     "steps.status.run: unknown placeholder {secret}"),
    ("    via: console\n    run: /status", "    via: telnet\n    run: /status", "via: telnet",
     "steps.status.via: expected console or cli, got 'telnet'"),
    ('    success: ["✅ Connected to Proxmox server"]', '    success: ["(unclosed"]', '["(unclosed"]',
     "steps.status.success[1]: not a regular expression"),
    ("  status:\n    phase: 1", "  status:\n    phase: 5", "phase: 5", "steps.status.phase: expected 1, 2, 3 or 4"),
    ("  status:\n    phase: 1", "  status:\n    phase: 1\n    retries: 3", "retries: 3",
     "steps.status: unknown key 'retries'"),
    ('answer: "{token_secret}", secret: true}', 'answer: "{token_secret}"}', "{token_secret}",
     "init.answers[5].answer: types {token_secret}: mark it secret: true"),
])
def test_a_malformed_profile_is_one_line_naming_file_line_and_problem(tmp_path: Path, old: str, new: str, at: str,
                                                                     problem: str) -> None:
    message = bad_profile(tmp_path, old, new)
    text = PACKAGED_PROFILE.replace(old, new, 1)
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if at in content)
    assert message.startswith(f"{tmp_path / 'p.yaml'}:{line}: {problem}"), message
    assert len(message.splitlines()) == 1


def test_a_profile_that_is_no_yaml_or_misses_a_key_names_the_line(tmp_path: Path) -> None:
    assert bad_profile(tmp_path, "name: proxmox-mpc\n", "name: [proxmox-mpc\n").startswith(f"{tmp_path / 'p.yaml'}:")
    message = bad_profile(tmp_path, "    run: /status\n", "")
    assert message == f"{tmp_path / 'p.yaml'}:{line_of('  status:') + 1}: steps.status: missing key 'run'"


def test_a_malformed_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", tool="name: x\nconsole: {prompt: '> '}\ninit: {run: /init, answers: []}\nsteps: 3\n")
    result = pytester.runpytest("--mpc-profile", "tool.yaml", "--mpc-console", "true")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"setting mpc_profile (from --mpc-profile): {pytester.path / 'tool.yaml'}:4: steps: expected a mapping" \
        in result.stderr.str()
    result = pytester.runpytest("--mpc-profile", "nosuch")
    assert "'nosuch' is neither a packaged profile (proxmox-mpc) nor a file" in result.stderr.str()


def test_the_packaged_profile_has_a_step_for_every_phase() -> None:
    profile = resolve_profile("proxmox-mpc", REPO)
    assert {step.phase for step in profile.steps.values()} == {1, 2, 3, 4}
    assert [a.secret for a in profile.answers].count(True) == 1
    assert profile.step("invalid-create") is not None and profile.step("invalid-create").expect == "failure"


def test_judge_reads_success_and_failure_lines_and_the_exit_status() -> None:
    step = resolve_profile("proxmox-mpc", REPO).steps["sync"]
    assert judge(step, "🔄 ...\n✅ Infrastructure synchronization complete!\n", None)[0] == "success"
    assert judge(step, "✅ Infrastructure synchronization complete!\n❌ database is locked\n", None) == (
        "failure", "printed '❌ database is locked'")
    assert judge(step, "🔄 Synchronizing\n", None)[0] == "unclear"
    assert judge(step, "✅ Infrastructure synchronization complete!", 3)[0] == "failure"


def test_secret_leaks_allow_the_token_secret_only_as_config_tokensecret(tmp_path: Path) -> None:
    secret = "5f0c1d3e-aaaa-bbbb-cccc-1234567890ab"
    (tmp_path / ".proxmox" / "logs").mkdir(parents=True)
    (tmp_path / ".proxmox" / "config.yml").write_text(f"host: h\ntokenSecret: {secret}\n")
    assert secret_leaks(tmp_path, [secret], [("init", "🔐 Token secret: \r\n")]) == []
    (tmp_path / ".proxmox" / "config.yml").write_text(f"host: h\ntokenSecret: {secret}\nnote: {secret}\n")
    (tmp_path / ".proxmox" / "history").write_text(f"/init\n{secret}\n")
    with sqlite3.connect(tmp_path / ".proxmox" / "state.db") as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (secret,))
    assert secret_leaks(tmp_path, [secret], [("init", f"Token secret: {secret[:8]}\x1b[0m{secret[8:]}")]) == [
        "the transcript of 'init'", ".proxmox/config.yml", ".proxmox/history", ".proxmox/state.db"]


def test_changes_list_files_lines_and_rows_and_let_activity_files_grow(tmp_path: Path) -> None:
    (tmp_path / ".proxmox" / "logs").mkdir(parents=True)
    (tmp_path / "terraform").mkdir()
    (tmp_path / "terraform" / "main.tf").write_text("a\nb\n")
    (tmp_path / ".proxmox" / "logs" / "mpc.jsonl").write_text("{}\n")
    with sqlite3.connect(tmp_path / ".proxmox" / "state.db") as conn:
        conn.execute("CREATE TABLE vms (id INTEGER PRIMARY KEY, name TEXT)")
    before = WorkspaceSnapshot.take(tmp_path)
    (tmp_path / "terraform" / "main.tf").write_text("# generated now\na\nB\n")
    (tmp_path / "terraform" / "new.tf").write_text("x\n")
    (tmp_path / ".proxmox" / "logs" / "mpc.jsonl").write_text("{}\n{}\n")
    with sqlite3.connect(tmp_path / ".proxmox" / "state.db") as conn:
        conn.execute("INSERT INTO vms VALUES (1, 'a')")
    found = changes(before, WorkspaceSnapshot.take(tmp_path), appendable=[".proxmox/logs/**"])
    assert found == ["terraform/main.tf: line 1 added: '# generated now'; line 3 changed: 'b' -> 'B'",
                     "terraform/new.tf: written (it was not there)",
                     ".proxmox/state.db: table vms: 1 rows added or changed, 0 removed or changed"]
    assert changes(before, before) == []
    usage = tmp_path / "usage"
    (usage / ".proxmox").mkdir(parents=True)
    with sqlite3.connect(usage / ".proxmox" / "state.db") as conn:
        conn.execute("CREATE TABLE vms (id INTEGER PRIMARY KEY, name TEXT, uptime INTEGER, updated_at INTEGER)")
        conn.execute("INSERT INTO vms VALUES (1, 'a', 10, 1000)")
    first = WorkspaceSnapshot.take(usage)
    with sqlite3.connect(usage / ".proxmox" / "state.db") as conn:
        conn.execute("UPDATE vms SET uptime = 70, updated_at = 2000")
    assert changes(first, WorkspaceSnapshot.take(usage), usage=True) == [], "a live guest's uptime moves"
    assert changes(first, WorkspaceSnapshot.take(usage)) == [
        ".proxmox/state.db: table vms: 1 rows added or changed, 1 removed or changed"]
    with sqlite3.connect(usage / ".proxmox" / "state.db") as conn:
        conn.execute("UPDATE vms SET name = 'b'")
    assert changes(first, WorkspaceSnapshot.take(usage), usage=True) != []
    (tmp_path / ".proxmox" / "logs" / "mpc.jsonl").write_text("{'rewritten': 1}\n")
    assert any(line.startswith(".proxmox/logs/mpc.jsonl: ")
               for line in changes(before, WorkspaceSnapshot.take(tmp_path), appendable=[".proxmox/logs/**"]))


def tool_run(pytester: pytest.Pytester, *args: str, modules: list[str] = TOOL_MODULES) -> pytest.RunResult:
    return pytester.runpytest(*modules, "-p", "no:cacheprovider", "--mpc-profile", "proxmox-mpc", "--mpc-console",
                              CONSOLE, "--pve-max-phase", "3", *args)


@pytest.mark.slow
def test_without_a_tool_every_tool_test_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*TOOL_MODULES, "--pve-max-phase", "3", "-rs")
    result.assert_outcomes(skipped=PASSED + SKIPPED)
    result.stdout.fnmatch_lines(["*no system under test to drive: give --mpc-console CMD and/or --mpc-cli CMD*"])


@pytest.mark.slow
def test_the_tool_passes_on_a_fakepve_process_as_live_is_recorded_and_replays_offline(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fakepve_process: FakePveProcess) -> None:
    """A user's flow: the whole tool suite against a cluster reached as live (a process of its own, with its own
    certificate, exclusions and password), recorded; then the cassettes replayed without it. (The sim target
    drives the tool in each defect run below.)"""
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    cassettes = f"--pve-cassette-dir={pytester.path / 'cassettes'}"  # rootdir is this checkout: not its cassettes
    recorded = tool_run(pytester, "--pve-host", fakepve_process.address, f"--pve-ca-bundle={fakepve_process.cafile}",
                        "--pve-exclusions", "excl.yaml", "--pve-record-mode", "once", "--pve-report", "r", cassettes)
    recorded.assert_outcomes(passed=PASSED, skipped=SKIPPED)
    recorded.stdout.fnmatch_lines(["proxmox: target=live max_phase=3 *sut_console=*"])
    recorded.stdout.fnmatch_lines(["*tool guests through the safety proxy: 1 created, 1 removed by the tool, "
                                   "0 removed by the plugin, 0 left*"])
    markdown = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert "## System under test" in markdown and "### Phase 3" in markdown
    assert "| test_the_tools_own_create_sync_and_delete_of_a_temporary_guest | create-vm | vm create --vmid" in markdown
    recorded_files = sorted(p.name for p in (pytester.path / "cassettes").rglob("*.yaml"))
    assert "test_the_tools_own_create_sync_and_delete_of_a_temporary_guest.yaml" in recorded_files
    assert fakepve_process.password not in "".join(
        p.read_text(encoding="utf-8") for p in (pytester.path / "cassettes").rglob("*.yaml"))
    monkeypatch.delenv("PVE_PASSWORD")
    replayed = tool_run(pytester, "--pve-target", "replay", "--pve-exclusions", "excl.yaml", cassettes)
    replayed.assert_outcomes(passed=PASSED, skipped=SKIPPED)
    replayed.stdout.fnmatch_lines(["proxmox: target=replay max_phase=3 *sut_console=*"])


@pytest.mark.slow
def test_plan_and_apply_without_terraform_are_skipped_with_the_reason(pytester: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]))
    assert shutil.which("terraform") is None, "a terraform in /usr/bin or /bin: this test cannot take it away"
    result = tool_run(pytester, "-rs", "--pve-max-phase", "4", modules=[str(VALIDATION / "test_phase4_tool.py")])
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*step 'plan' needs terraform, which is not installed here*",
                                 "*step 'apply' needs terraform, which is not installed here*"])


DEFECTS = [
    ("echo-secret", 1, "test_init_points_the_tool_at_the_proxy_and_the_secret_shows_nowhere",
     ["*the token secret typed at the secret prompt is echoed or kept: it appears in the transcript of 'init'*"]),
    ("dry-run-writes", 1, "test_sync_dry_run_leaves_the_workspace_exactly_as_it_was",
     ["*'/sync --dry-run' wrote to the workspace (a dry run that writes: the flag is ignored or not honoured*",
      "*terraform/main.tf: written (it was not there)*", "*.proxmox/state.db: table vms: 8 rows added or changed*"]),
    ("db-write-fails", 2, "test_sync_writes_what_it_reports_and_passes_every_workspace_check",
     ["*'/sync' reports success, but state.db holds 0 of 19 rows (nodes, guests, storages): success printed over "
      "failed database writes*"]),
    ("nonidempotent-sync", 2, "test_a_second_sync_changes_nothing",
     ["*a second '/sync' of an unchanged cluster changed the workspace (not idempotent: generated timestamps?)*",
      "*terraform/main.tf: line 1 changed: '# generated *' -> '# generated *'*"]),
    ("placeholder-vmid", 2, "test_create_vm_declares_a_new_guest_with_a_free_vmid_and_changes_nothing_else",
     ["*terraform/vms/test_vm_safe.tf proxmox_vm_qemu.test_vm_safe: a placeholder vmid, not a free one: vmid 100 is "
      "taken on the cluster; vmid 100 is declared already by terraform/vms/tmpl_debian12.tf*"]),
    ("leak-guest", 3, "test_the_tools_own_create_sync_and_delete_of_a_temporary_guest",
     ["*'vm delete 99000*' reports success, but guest 99000* is still on the cluster: a leaked guest (the plugin "
      "removes it when the test ends)*",
      "*tool guests through the safety proxy: 1 created, 0 removed by the tool, 1 removed by the plugin, 0 left*"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("defect", "phase", "test", "lines"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_of_the_double_fails_the_test_named_for_it(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch, defect: str,
                                                               phase: int, test: str, lines: list[str]) -> None:
    monkeypatch.setenv("MPC_DOUBLE_DEFECTS", defect)
    result = tool_run(pytester, "-k", test, modules=[str(VALIDATION / f"test_phase{phase}_tool.py")])
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(lines)
    result.stdout.fnmatch_lines([f"FAILED *::{test}*"])
