"""Bad input, table-driven: each row is one mistake a user makes with a flag, an environment variable, an ini key or
an input file. For every row the run stops with a usage error (exit 4) before any test runs, in one line that names
the setting (and the file) and what is wrong, with no traceback and no secret; and the user's files are unchanged
(the assertion is ``tests/badinput.py``'s, shared by every table). The other tables, one per surface:
``test_bad_input_settings.py``, ``_files.py``, ``_cassettes.py``, ``_workspaces.py``, ``_servers.py``, ``_tool.py``;
the last test here counts them all."""

from __future__ import annotations

import pytest

from . import (
    test_bad_input_cassettes,
    test_bad_input_files,
    test_bad_input_servers,
    test_bad_input_settings,
    test_bad_input_tool,
    test_bad_input_workspaces,
)
from .badinput import LIVE, NOT_YAML, SECRET, TOKEN, Mistake, check, env, flag, ini

MISTAKES = {
    # flags, one setting each
    "host-with-a-space": flag("--pve-host=bad host", "setting pve_host (from --pve-host): 'bad host' has characters"),
    "host-with-a-scheme": flag("--pve-host=https://pve1", "setting pve_host (from --pve-host): 'https://pve1' should"),
    "host-with-a-path": flag("--pve-host=pve1/api2", "setting pve_host"),
    "host-port-too-big": flag("--pve-host=pve1:99999", "has a port that is not a number from 1 to 65535"),
    "host-port-not-a-number": flag("--pve-host=pve1:https", "has a port that is not a number"),
    "host-ipv6-junk-after": flag("--pve-host=[::1]x", "should be [IPV6]:PORT"),
    "host-empty-name": flag("--pve-host=:8006", "has no host name"),
    "host-quote": flag("--pve-host=pve'1", "has characters no host name"),
    "phase-too-high": flag("--pve-max-phase=7", "setting pve_max_phase (from --pve-max-phase): '7' is not one of"),
    "phase-zero": flag("--pve-max-phase=0", "setting pve_max_phase"),
    "phase-word": flag("--pve-max-phase=three", "setting pve_max_phase"),
    "range-backwards": flag("--pve-temp-vmid-range=999999-990000", "setting pve_temp_vmid_range"),
    "range-below-100": flag("--pve-temp-vmid-range=5-60", "should have 100 <= FIRST <= LAST"),
    "range-one-number": flag("--pve-temp-vmid-range=990000", "should be a VMID range FIRST-LAST"),
    "range-words": flag("--pve-temp-vmid-range=low-high", "setting pve_temp_vmid_range"),
    "timeout-negative": flag("--pve-timeout=-1", "setting pve_timeout (from --pve-timeout): '-1' must be more than 0"),
    "timeout-zero": flag("--pve-timeout=0", "must be more than 0 seconds"),
    "timeout-word": flag("--pve-timeout=long", "is not a number of seconds"),
    "target-unknown": flag("--pve-target=cloud", "setting pve_target (from --pve-target): 'cloud' is not one of"),
    "record-mode-unknown": flag("--pve-record-mode=sometimes", "setting pve_record_mode"),
    "user-without-realm": flag("--pve-user=root", "setting pve_user (from --pve-user): 'root' should be USER@REALM"),
    "threshold-over-one": flag("--pve-usage-threshold=2", "setting pve_usage_threshold"),
    "threshold-word": flag("--pve-usage-threshold=most", "is not a fraction"),
    "backup-age-word": flag("--pve-backup-max-age=old", "is not a duration"),
    "backup-age-negative": flag("--pve-backup-max-age=-5", "must not be negative"),
    "scenario-unknown": flag("--pve-sim-scenario=nosuch", "no packaged scenario 'nosuch'"),
    "profile-unknown": flag("--mpc-profile=nosuch", "'nosuch' is neither a packaged profile"),
    "provider-unknown": flag("--mpc-tf-provider=aws", "setting mpc_tf_provider (from --mpc-tf-provider)"),
    "audit-log-under-a-file": Mistake(args=("--pve-audit-log=taken/audit.jsonl",), files={"taken": "a file"},
                                      says="setting pve_audit_log (from --pve-audit-log): cannot make the folder "
                                           "taken: a file is in the way"),
    "cassette-dir-is-a-file": Mistake(args=("--pve-cassette-dir=taken", "--pve-record-mode=once"),
                                      files={"taken": "a file"},
                                      says="setting pve_cassette_dir (from --pve-cassette-dir): cannot make the "
                                           "folder taken: a file is in the way"),
    # input files named by a flag
    "exclusions-missing": flag("--pve-exclusions=nosuch.yaml", "nosuch.yaml: cannot read: "),
    "exclusions-a-device": flag("--pve-exclusions=/dev/zero", "/dev/zero: cannot read: not a regular file"),
    "exclusions-a-directory": flag("--pve-exclusions=.", ": cannot read: a directory"),
    "exclusions-not-yaml": flag("--pve-exclusions=bad.yaml", "bad.yaml:", **{"bad.yaml": NOT_YAML}),
    "exclusions-not-utf8": flag("--pve-exclusions=bin.yaml", "bin.yaml: cannot read: not UTF-8",
                                **{"bin.yaml": b"protect:\n  names: [\xff]\n"}),
    "exclusions-unknown-key": flag("--pve-exclusions=ex.yaml", "ex.yaml:2", **{"ex.yaml": "protect:\n  guests: [a]\n"}),
    "exclusions-huge": flag("--pve-exclusions=big.yaml", "big.yaml: cannot read: larger than",
                            **{"big.yaml": "#" * (1024 * 1024 + 10)}),
    "profile-a-device": flag("--mpc-profile=/dev/zero", "/dev/zero"),
    "profile-not-yaml": flag("--mpc-profile=p.yaml", "p.yaml", **{"p.yaml": NOT_YAML}),
    "scenario-not-json": flag("--pve-sim-scenario=s.json", "s.json:1: not valid JSON", **{"s.json": "{nope"}),
    "scenario-a-directory": flag("--pve-sim-scenario=sub", "no packaged scenario 'sub'", **{"sub/x": ""}),
    "schema-not-a-schema": flag("--pve-api-schema=s.json", "setting pve_api_schema (from --pve-api-schema): s.json: "
                                                           "not a PVE API schema", **{"s.json": "{}"}),
    "schema-a-device": flag("--pve-api-schema=/dev/zero", "/dev/zero: cannot read: not a regular file"),
    # the environment
    "env-phase": env("PVE_MAX_PHASE", "9", "setting pve_max_phase (from environment variable PVE_MAX_PHASE): '9'"),
    "env-host-space": env("PVE_HOST", "a b", "setting pve_host (from environment variable PVE_HOST)"),
    "env-timeout": env("PVE_TIMEOUT", "soon", "setting pve_timeout (from environment variable PVE_TIMEOUT)"),
    "env-target": env("PVE_TARGET", "cloud", "setting pve_target (from environment variable PVE_TARGET)"),
    "env-token-file-two-lines": env("PVE_TOKEN_VALUE_FILE", "token", "environment variable PVE_TOKEN_VALUE_FILE "
                                    "(token): the secret holds a line break", *TOKEN,
                                    token=f"{SECRET}\nsecond-line\n"),
    "env-token-file-a-device": env("PVE_TOKEN_VALUE_FILE", "/dev/zero", "environment variable PVE_TOKEN_VALUE_FILE: "
                                   "cannot read /dev/zero: not a regular file", *TOKEN),
    "env-password-file-missing": env("PVE_PASSWORD_FILE", "nosuch", "environment variable PVE_PASSWORD_FILE: cannot "
                                     "read nosuch", *LIVE),
    "env-password-control-character": env("PVE_PASSWORD", f"{SECRET}\x07", "environment variable PVE_PASSWORD: the "
                                          "secret holds a line break or a control character", *LIVE),
    "env-exclusions-missing": env("PVE_EXCLUSIONS", "nosuch.yaml", "nosuch.yaml: cannot read"),
    # ini keys
    "ini-phase": ini("pve_max_phase = 9", "setting pve_max_phase (from ini key pve_max_phase in"),
    "ini-target": ini("pve_target = cloud", "setting pve_target (from ini key pve_target in"),
    "ini-range": ini("pve_temp_vmid_range = 1-2", "setting pve_temp_vmid_range (from ini"),
    "ini-exclusions-missing": ini("pve_exclusions = nosuch.yaml", "nosuch.yaml: cannot read"),
    "ini-timeout": ini("pve_timeout = never", "setting pve_timeout (from ini"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_is_one_line_naming_the_setting_before_any_test_runs(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    check(MISTAKES[name], pytester, monkeypatch)


def test_the_tables_cover_every_surface_with_at_least_150_mistakes() -> None:
    surfaces = {"flag": 0, "env": 0, "ini": 0, "file": 0}
    for mistake in [*MISTAKES.values(), *test_bad_input_settings.MISTAKES.values()]:
        surfaces["env" if mistake.env else "ini" if mistake.ini else "flag"] += 1
        surfaces["file"] += bool(mistake.files) or any("/dev/" in arg for arg in mistake.args)
    surfaces |= {"input file": len(test_bad_input_files.MISTAKES), "cassette": len(test_bad_input_cassettes.BREAKS),
                 "workspace": len(test_bad_input_workspaces.BREAKS), "server": len(test_bad_input_servers.ROWS),
                 "tool and subcommand": len(test_bad_input_tool.MISTAKES)}
    assert min(surfaces.values()) >= 5, surfaces
    tables = (MISTAKES, test_bad_input_settings.MISTAKES, test_bad_input_files.MISTAKES,
              test_bad_input_cassettes.BREAKS, test_bad_input_workspaces.BREAKS, test_bad_input_servers.ROWS,
              test_bad_input_tool.MISTAKES)
    assert sum(len(table) for table in tables) >= 150, surfaces
