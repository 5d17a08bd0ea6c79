"""The plugin as a user meets it: markers, report header, skip reasons, usage errors."""

from __future__ import annotations

import pytest

CLUSTER_TEST = """
import pytest

def test_unmarked_uses_cluster(pve_target):
    assert pve_target.kind == "sim"

def test_unmarked_no_cluster():
    pass

@pytest.mark.phase2
def test_phase2(pve_readonly):
    pass

@pytest.mark.phase3
def test_phase3(pve_readonly):
    pass

@pytest.mark.phase4
def test_phase4():
    pass
"""


def test_markers_describe_each_phase_with_its_risk(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines([
        "@pytest.mark.phase1: read-only infrastructure discovery*(risk: minimal)",
        "@pytest.mark.phase2: local database and IaC generation*(risk: low-medium)",
        "@pytest.mark.phase3: non-destructive API testing*(risk: medium)",
        "@pytest.mark.phase4: full workflow on temporary resources*(risk: medium-high)",
    ])


def test_report_header_shows_resolved_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--pve-max-phase", "2", "--pve-timeout", "7")
    result.stdout.fnmatch_lines(["proxmox: target=sim max_phase=2 scenario=*homelab.json timeout=7s "
                                 "abort_on_violation=off", "proxmox: exclusions: none",
                                 "proxmox: run *, audit trail */.pytest_proxmox_mpc/audit/*.jsonl"])
    assert "WARNING" not in result.stdout.str()


def test_report_header_warns_about_live_writes_and_hides_secrets(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVE_PASSWORD", "do-not-print-me")
    pytester.makepyfile("def test_x(): pass")
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    result = pytester.runpytest("--pve-host", "pve.example.test", "--pve-max-phase", "3", "--pve-exclusions",
                                "excl.yaml")
    result.stdout.fnmatch_lines([
        "proxmox: target=live max_phase=3 host=pve.example.test:8006 user=root@pam auth=password verify_ssl=true"
        " timeout=30s api_schema=auto temp_vmids=990000-999999 abort_on_violation=on",
        "proxmox: exclusions: 1 tag (from excl.yaml)",
        "proxmox: WARNING: phase 3 tests may WRITE to the live cluster pve.example.test:8006 (from --pve-max-phase)",
    ])
    assert "do-not-print-me" not in result.stdout.str() + result.stderr.str()


def test_phases_above_the_maximum_skip_with_the_flag_that_enables_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CLUSTER_TEST)
    result = pytester.runpytest("-rs", "--pve-max-phase", "2")
    result.assert_outcomes(passed=3, skipped=2)
    result.stdout.fnmatch_lines([
        "SKIPPED*phase 3 test (non-destructive API testing*); the run allows phases up to 2: "
        "enable with --pve-max-phase 3 (or PVE_MAX_PHASE=3)",
        "SKIPPED*phase 4 test*enable with --pve-max-phase 4*",
    ])


def test_unmarked_cluster_tests_count_as_phase1(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CLUSTER_TEST)
    result = pytester.runpytest("-m", "phase1", "-v")
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["*test_unmarked_uses_cluster PASSED*"])


def test_two_phase_markers_are_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.phase1
        @pytest.mark.phase3
        def test_both():
            pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_two_phase_markers_are_a_usage_error.py::test_both has phase "
                                 "markers phase1 and phase3; a test has one phase"])


@pytest.mark.slow
def test_two_phase_markers_under_xdist_fail_the_test_with_the_same_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.phase1

        @pytest.mark.phase2
        def test_both():
            pass

        def test_fine():
            pass
    """)
    result = pytester.runpytest("-n", "2", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*usage error: *test_both has phase markers phase1 and phase2*"])


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--pve-target", "cloud"], {},
     "ERROR: setting pve_target (from --pve-target): 'cloud' is not one of sim, replay, live"),
    (["--pve-max-phase", "7"], {}, "ERROR: setting pve_max_phase (from --pve-max-phase): '7' is not one of 1, 2, 3, 4"),
    ([], {"PVE_MAX_PHASE": "7"}, "ERROR: setting pve_max_phase (from environment variable PVE_MAX_PHASE): *"),
    (["--pve-host", "pve"], {}, "ERROR: setting pve_target (default): 'live' needs a secret: set PVE_PASSWORD*"),
    (["--pve-ca-bundle", "/nonexistent/ca.pem"], {},
     "ERROR: setting pve_ca_bundle (from --pve-ca-bundle): '/nonexistent/ca.pem' is not a readable file"),
    (["--pve-target", "replay", "--pve-record-mode", "all"], {},
     "ERROR: setting pve_record_mode (from --pve-record-mode): 'all' cannot record on the replay target*"),
])
def test_bad_settings_stop_the_run_with_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      args: list[str], env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "passed" not in result.stdout.str()  # no test ran


def test_ini_values_are_used_and_named_in_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npve_max_phase = 9\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: setting pve_max_phase (from ini key pve_max_phase in *tox.ini): '9' is*"])
    pytester.makeini("[pytest]\npve_max_phase = 3\n")
    pytester.runpytest().stdout.fnmatch_lines(["proxmox: target=sim max_phase=3*"])


def test_an_environment_variable_overrides_the_ini_file_and_the_run_warns_naming_both(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI job's variable beats a committed ini file (as pytest-django's do); the header names the source used."""
    pytester.makeini("[pytest]\npve_max_phase = 1\npve_timeout = 7\n")
    pytester.makefile(".yaml", excl="protect:\n  tags: [production]\n")
    pytester.makepyfile("def test_x(): pass")
    for name, value in {"PVE_HOST": "pve.example.test", "PVE_PASSWORD": "do-not-print-me", "PVE_MAX_PHASE": "3",
                        "PVE_TIMEOUT": "7"}.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest("--pve-exclusions", "excl.yaml")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "proxmox: target=live max_phase=3 *timeout=7s*",
        "proxmox: WARNING: phase 3 tests may WRITE to the live cluster pve.example.test:8006 "
        "(from environment variable PVE_MAX_PHASE)",
        "*PytestConfigWarning: proxmox: environment variable PVE_MAX_PHASE overrides ini key pve_max_phase in "
        f"{pytester.path / 'tox.ini'} (unset it to use the ini key)",
    ])
    assert "PVE_TIMEOUT" not in result.stdout.str()  # it agrees with its ini key: nothing to warn about
    assert "do-not-print-me" not in result.stdout.str() + result.stderr.str()
    monkeypatch.delenv("PVE_MAX_PHASE")
    quiet = pytester.runpytest("--pve-exclusions", "excl.yaml")
    quiet.assert_outcomes(passed=1)
    quiet.stdout.fnmatch_lines(["proxmox: target=live max_phase=1 *"])
    assert "overrides ini key" not in quiet.stdout.str()
