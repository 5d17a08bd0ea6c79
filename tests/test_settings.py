"""Settings: one precedence (option > environment > ini > default), checked values, secrets kept out."""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fakepve.certs import make_cert

from pytest_proxmox_mpc.config.options import OPTIONS
from pytest_proxmox_mpc.config.parsing import parse_host
from pytest_proxmox_mpc.config.settings import Settings, resolve
from pytest_proxmox_mpc.config.sources import RawSources
from pytest_proxmox_mpc.errors import SettingsError
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.sut.profile import PACKAGED as PROFILES
from pytest_proxmox_mpc.sut.profile import load_profile

# The packaged scenario as the installed plugin finds it (site-packages, or the source tree when editable). Built
# here, not taken from the homelab_scenario fixture: it is what resolving the name "homelab" must give.
PACKAGED = Path(str(resources.files("pytest_proxmox_mpc.sim") / "scenarios" / "homelab.json"))
PACKAGED_PROFILE = PROFILES / "proxmox-mpc.yaml"
# A live target with a password: every cross-check passes unless a test breaks it on purpose.
BASE_ENV = {"PVE_HOST": "pve.example.test", "PVE_PASSWORD": "pw-not-shown", "PVE_TOKEN_VALUE": "tok-not-shown"}


def sources(tmp_path: Path, options: dict[str, Any] | None = None, ini: dict[str, str] | None = None,
            env: dict[str, str] | None = None, base: dict[str, str] = BASE_ENV) -> RawSources:
    return RawSources(options=options or {}, ini=ini or {}, environ={**base, **(env or {})},
                      inifile=str(tmp_path / "pytest.ini"), rootdir=tmp_path)


def two_values(name: str, tmp_path: Path) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """Two raw values of a setting, each with what it resolves to; the first differs from the default."""
    ca_a, ca_b = (Path(make_cert(str(tmp_path), name=name, hosts=("127.0.0.1",))[0]) for name in "ab")
    other = tmp_path / "other.json"
    other.write_text('{"guests": []}')
    excl_a, excl_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    excl_a.write_text("protect:\n  vmids: [100]\n")
    excl_b.write_text("protect:\n  nodes: [pve1]\n")
    schema_a, schema_b = tmp_path / "a-apidoc.js", tmp_path / "b-apidoc.js"
    for schema in (schema_a, schema_b):
        schema.write_text("const apiSchema = [];")  # readable is all the settings check; Run.start parses it
    profile = tmp_path / "tool.yaml"
    profile.write_text(PACKAGED_PROFILE.read_text(encoding="utf-8").replace("name: proxmox-mpc", "name: mine"))
    ws_a, ws_b = tmp_path / "ws-a", tmp_path / "ws-b"
    for ws in (ws_a, ws_b):
        (ws / ".proxmox").mkdir(parents=True, exist_ok=True)
    return {
        "target": (("sim", "sim"), ("live", "live")),
        "host": (("10.0.0.1:8007", ("10.0.0.1", 8007)), ("10.0.0.2", ("10.0.0.2", 8006))),
        "user": (("alice@pve", "alice@pve"), ("bob@pam", "bob@pam")),
        "token_name": (("ci", "ci"), ("other", "other")),
        "verify_ssl": (("false", False), ("true", True)),
        "ca_bundle": ((str(ca_a), ca_a), (str(ca_b), ca_b)),
        "max_phase": (("2", 2), ("1", 1)),
        "sim_scenario": ((str(other), other), ("homelab", PACKAGED)),
        "timeout": (("5", 5.0), ("12.5", 12.5)),
        "api_schema": ((str(schema_a), schema_a), (str(schema_b), schema_b)),
        "require_readonly_credentials": (("yes", True), ("no", False)),
        "exclusions": ((str(excl_a), ExclusionList.load(excl_a)), (str(excl_b), ExclusionList.load(excl_b))),
        "temp_vmid_range": (("5000-5099", (5000, 5099)), ("6000-6000", (6000, 6000))),
        "audit_log": ((str(tmp_path / "a.jsonl"), tmp_path / "a.jsonl"), ("b.jsonl", Path("b.jsonl"))),
        "abort_on_violation": (("no", False), ("yes", True)),
        "temp_pool": (("ci-pool", "ci-pool"), ("other", "other")),
        "keep_on_failure": (("yes", True), ("no", False)),
        "sweep": (("on", True), ("off", False)),
        "sweep_age": (("30m", 1800.0), ("600", 600.0)),
        "record_mode": (("once", "once"), ("all", "all")),
        "anonymize": (("yes", True), ("no", False)),
        "cassette_dir": ((str(tmp_path / "tapes"), tmp_path / "tapes"), (str(tmp_path / "b"), tmp_path / "b")),
        "cassette_max_age": (("30d", 30 * 86400.0), ("off", None)),
        "usage_threshold": (("90%", 0.9), ("0.5", 0.5)),
        "require_backups": (("yes", True), ("no", False)),
        "backup_max_age": (("1d", 86400.0), ("3600", 3600.0)),
        "max_connection_failures": (("5", 5), ("1", 1)),
        # A .json or .md suffix is dropped: the report is written to both.
        "report": ((str(tmp_path / "run.json"), tmp_path / "run"), (str(tmp_path / "r"), tmp_path / "r")),
        "mpc_workspace": ((str(ws_a), ws_a), (str(ws_b), ws_b)),
        "mpc_command": (("node mpc.js sync", "node mpc.js sync"), ("proxmox-mpc", "proxmox-mpc")),
        "mpc_tf_provider": (("telmate", "telmate"), ("bpg", "bpg")),
        "mpc_console": (("bin/proxmox-mpc", "bin/proxmox-mpc"), ("mpc", "mpc")),
        "mpc_cli": (("npx tsx src/cli/index.ts", "npx tsx src/cli/index.ts"), ("mpc-cli", "mpc-cli")),
        "mpc_profile": ((str(profile), load_profile(profile)), ("proxmox-mpc", load_profile(PACKAGED_PROFILE))),
        "lint_cache": (("off", None), (str(tmp_path / "lint"), tmp_path / "lint")),
        "ansible_collections": ((f"{tmp_path / 'a'}:{tmp_path / 'b'}", (tmp_path / "a", tmp_path / "b")),
                                (str(tmp_path / "c"), (tmp_path / "c",))),
    }[name]


def value_of(settings: Settings, name: str) -> Any:
    return (settings.host, settings.port) if name == "host" else getattr(settings, name)


LEVELS = ("option", "env", "ini")  # highest first: a CI variable overrides a committed ini file


def place(opt: Any, level: str, raw: str) -> dict[str, Any]:
    if level == "option":
        return {"options": {opt.dest: raw}}
    if level == "ini":
        return {"ini": {opt.ini: raw}}
    return {"env": {opt.env: raw}}


@pytest.mark.parametrize("opt", OPTIONS, ids=[o.name for o in OPTIONS])
def test_every_setting_resolves_option_over_env_over_ini_over_default(opt: Any, tmp_path: Path) -> None:
    (raw_a, want_a), (raw_b, _) = two_values(opt.name, tmp_path)
    levels = [level for level in LEVELS if level != "env" or opt.env]
    assert opt.env or opt.name == "sim_scenario", "every setting but the sim's scenario has a variable"
    # Sweeping a live cluster needs an exclusion list, and a command needs a cluster (not replay): these
    # settings are checked on the sim target.
    base = {**BASE_ENV, "PVE_TARGET": "sim"} if opt.name in ("sweep", "mpc_command") else BASE_ENV
    base = {name: value for name, value in base.items() if name != opt.env}  # the level under test alone sets it
    default = value_of(resolve(sources(tmp_path, base=base)), opt.name)
    assert default != want_a
    for higher, lower in itertools.pairwise(levels):
        merged: dict[str, Any] = {"options": {}, "ini": {}, "env": {}}
        for level, raw in ((higher, raw_a), (lower, raw_b)):
            for key, part in place(opt, level, raw).items():
                merged[key].update(part)
        settings = resolve(sources(tmp_path, **merged, base=base))
        assert value_of(settings, opt.name) == want_a, f"{higher} must win over {lower}"
        assert settings.sources[opt.name] != "default"
    lowest = levels[-1]
    settings = resolve(sources(tmp_path, **place(opt, lowest, raw_a), base=base))
    assert value_of(settings, opt.name) == want_a, f"{lowest} must win over the default"


def test_defaults_without_anything_set(tmp_path: Path) -> None:
    settings = resolve(RawSources(options={}, ini={}, environ={}, rootdir=tmp_path))
    assert (settings.target, settings.user, settings.max_phase, settings.verify_ssl) == ("sim", "root@pam", 1, True)
    assert settings.sim_scenario.name == "homelab.json" and settings.sim_scenario.is_file()
    assert settings.port == 8006


def test_target_defaults_to_live_when_a_host_is_set(tmp_path: Path) -> None:
    settings = resolve(sources(tmp_path))
    assert settings.target == "live"
    assert settings.sources["target"] == "default"


@pytest.mark.parametrize(("src", "words"), [
    ({"env": {"PVE_TARGET": "cloud"}}, ["setting pve_target", "environment variable PVE_TARGET", "'cloud'"]),
    ({"options": {"pve_max_phase": "7"}}, ["setting pve_max_phase", "from --pve-max-phase", "'7'", "1, 2, 3, 4"]),
    ({"ini": {"pve_max_phase": "two"}}, ["setting pve_max_phase", "ini key pve_max_phase in", "pytest.ini"]),
    ({"env": {"PVE_HOST": "https://pve:8006"}}, ["setting pve_host", "PVE_HOST", "without a scheme"]),
    ({"env": {"PVE_HOST": "pve:99999"}}, ["setting pve_host", "port"]),
    ({"options": {"pve_user": "root"}}, ["setting pve_user", "USER@REALM"]),
    ({"env": {"PVE_VERIFY_SSL": "maybe"}}, ["setting pve_verify_ssl", "not a boolean"]),
    ({"env": {"PVE_TIMEOUT": "0"}}, ["setting pve_timeout", "more than 0"]),
    ({"options": {"pve_ca_bundle": "/nonexistent/ca.pem"}}, ["setting pve_ca_bundle", "not a readable file"]),
    ({"options": {"pve_ca_bundle": __file__}}, ["setting pve_ca_bundle (from --pve-ca-bundle)", __file__,
                                                "holds no PEM certificate"]),
    ({"options": {"pve_ca_bundle": __file__, "pve_verify_ssl": False}},
     ["setting pve_ca_bundle (from --pve-ca-bundle)", "TLS verification is off (from --pve-verify-ssl)"]),
    ({"options": {"pve_target": "replay", "pve_record_mode": "once"}},
     ["setting pve_record_mode", "'once'", "cannot record on the replay target"]),
    ({"env": {"PVE_RECORD_MODE": "sometimes"}}, ["setting pve_record_mode", "none, once, new_episodes"]),
    ({"options": {"pve_sim_scenario": "nosuch"}}, ["setting pve_sim_scenario", "no packaged scenario 'nosuch'"]),
    ({"options": {"pve_temp_vmid_range": "999-100"}}, ["setting pve_temp_vmid_range", "FIRST <= LAST"]),
    ({"env": {"PVE_TEMP_VMID_RANGE": "lots"}}, ["setting pve_temp_vmid_range", "FIRST-LAST"]),
    ({"env": {"PVE_ABORT_ON_VIOLATION": "sometimes"}}, ["setting pve_abort_on_violation", "not a boolean"]),
    ({"env": {"PVE_SWEEP_AGE": "soon"}}, ["setting pve_sweep_age", "not a duration"]),
    ({"options": {"pve_sweep_age": "-1h"}}, ["setting pve_sweep_age", "must not be negative"]),
    ({"options": {"pve_sweep_age": "0"}}, ["setting pve_sweep_age", "must be at least 5m"]),
    ({"env": {"PVE_SWEEP_AGE": "4m"}}, ["setting pve_sweep_age", "must be at least 5m"]),
    ({"options": {"pve_sweep": "1"}}, ["setting pve_sweep", "needs a production exclusion list"]),
])
def test_bad_values_name_the_setting_and_where_it_came_from(tmp_path: Path, src: dict[str, Any],
                                                            words: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(sources(tmp_path, **src))
    for word in words:
        assert word in str(caught.value)


def test_live_without_a_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="needs a secret: set PVE_PASSWORD"):
        resolve(RawSources(options={"pve_target": "live", "pve_host": "pve"}, ini={}, environ={}, rootdir=tmp_path))
    with pytest.raises(SettingsError, match="token 'ci' needs its secret in PVE_TOKEN_VALUE"):
        resolve(RawSources(options={"pve_host": "pve", "pve_token_name": "ci"}, ini={},
                           environ={"PVE_PASSWORD": "x"}, rootdir=tmp_path))
    with pytest.raises(SettingsError, match="needs a host"):
        resolve(RawSources(options={"pve_target": "live"}, ini={}, environ={"PVE_PASSWORD": "x"}, rootdir=tmp_path))


def test_secrets_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("from-a-file\n")
    settings = resolve(RawSources(options={"pve_host": "pve", "pve_token_name": "ci"}, ini={},
                                  environ={"PVE_TOKEN_VALUE_FILE": str(secret_file)}, rootdir=tmp_path))
    assert settings.token_value == Secret("from-a-file")
    assert settings.auth == "token"
    with pytest.raises(SettingsError, match="PVE_PASSWORD_FILE: cannot read"):
        resolve(RawSources(options={"pve_host": "pve"}, ini={}, environ={"PVE_PASSWORD_FILE": "/nonexistent"},
                           rootdir=tmp_path))


def test_no_setting_takes_a_secret_from_a_flag_or_ini_key() -> None:
    names = {o.name for o in OPTIONS}
    assert not names & {"password", "token_value", "token_secret"}


def test_header_shows_values_but_never_secrets(tmp_path: Path) -> None:
    excl = tmp_path / "excl.yaml"
    excl.write_text("protect:\n  vmids: [100, '200-299']\n")
    settings = resolve(sources(tmp_path, options={"pve_token_name": "ci", "pve_max_phase": "3",
                                                  "pve_exclusions": str(excl)}))
    header = "\n".join(settings.header_lines())
    assert "host=pve.example.test:8006" in header and "token_name=ci" in header and "auth=token" in header
    assert "pw-not-shown" not in header and "tok-not-shown" not in header
    assert "WARNING: phase 3 tests may WRITE to the live cluster pve.example.test:8006" in header
    assert "WARNING" not in "\n".join(resolve(sources(tmp_path)).header_lines())
    assert f"exclusions: 1 vmid, 1 range (from {excl})" in header
    assert "temp_vmids=990000-999999" in header and "abort_on_violation=on" in header


def test_live_writes_need_an_exclusion_list(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^setting pve_max_phase \(from environment variable PVE_MAX_PHASE\): "
                                            r"4 writes to a live cluster, which needs a production exclusion list"):
        resolve(sources(tmp_path, env={"PVE_MAX_PHASE": "4"}))
    assert resolve(sources(tmp_path, env={"PVE_MAX_PHASE": "2"})).max_phase == 2
    assert resolve(sources(tmp_path, options={"pve_target": "sim", "pve_max_phase": "4"})).max_phase == 4


def test_a_malformed_exclusion_file_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    excl = tmp_path / "excl.yaml"
    excl.write_text("protect:\n  vmids: [100]\n  hosts: [pve1]\n")
    with pytest.raises(SettingsError) as caught:
        resolve(sources(tmp_path, options={"pve_exclusions": str(excl)}))
    message = str(caught.value)
    assert message.startswith(f"exclusion list (from --pve-exclusions): {excl}:3: ")
    assert "hosts" in message and "\n" not in message
    with pytest.raises(SettingsError, match=r"nosuch.yaml: cannot read"):
        resolve(sources(tmp_path, env={"PVE_EXCLUSIONS": str(tmp_path / "nosuch.yaml")}))


def test_relative_paths_in_an_ini_file_are_relative_to_that_file(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "excl.yaml").write_text("protect:\n  nodes: [pve1]\n")
    src = RawSources(options={}, ini={"pve_exclusions": "excl.yaml", "pve_audit_log": "logs/a.jsonl"},
                     environ=BASE_ENV, inifile=str(tmp_path / "conf" / "tox.ini"), rootdir=tmp_path)
    monkeypatch.chdir(tmp_path)
    settings = resolve(src)
    assert settings.exclusions.nodes == {"pve1"}
    assert settings.audit_log == tmp_path / "conf" / "logs" / "a.jsonl"


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r} {secret:>10}" + str([secret])
    assert secret.reveal() == "hunter2"


@pytest.mark.parametrize(("text", "expected"), [
    ("pve", ("pve", 8006)), ("pve:8443", ("pve", 8443)),
    ("[::1]:8006", ("::1", 8006)), ("[fe80::1]", ("fe80::1", 8006)),
])
def test_host_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_host(text) == expected


def test_broken_scenario_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "guests": [\n    {"vmid": 100,}\n  ]\n}\n')
    with pytest.raises(SettingsError, match=r"broken.json:3: not valid JSON"):
        resolve(sources(tmp_path, options={"pve_sim_scenario": str(broken)}))
    duplicate = tmp_path / "dup.json"
    duplicate.write_text('{"guests": [{"vmid": 100, "name": "a"}, {"vmid": 100, "name": "b"}]}')
    with pytest.raises(SettingsError, match=r"dup.json: guests\[1\]: vmid 100 is used twice"):
        resolve(sources(tmp_path, options={"pve_sim_scenario": str(duplicate)}))


def test_the_lint_cache_is_kept_at_the_rootdir_unless_turned_off_or_moved(tmp_path: Path) -> None:
    assert resolve(sources(tmp_path)).lint_cache == tmp_path / ".pytest_proxmox_mpc" / "lint-cache"
    assert resolve(sources(tmp_path, options={"pve_lint_cache": False})).lint_cache is None  # --no-pve-lint-cache
    assert resolve(sources(tmp_path, env={"PVE_LINT_CACHE": "off"})).lint_cache is None
    moved = resolve(sources(tmp_path, options={"pve_lint_cache": "~/lint"}))
    assert moved.lint_cache == Path("~/lint").expanduser() and moved.sources["lint_cache"] != "default"


@pytest.mark.parametrize("opt", [o for o in OPTIONS if o.env], ids=[o.name for o in OPTIONS if o.env])
def test_an_environment_variable_over_a_different_ini_key_is_named_with_it(opt: Any, tmp_path: Path) -> None:
    (raw_a, want_a), (raw_b, _) = two_values(opt.name, tmp_path)
    base = {**BASE_ENV, "PVE_TARGET": "sim"} if opt.name in ("sweep", "mpc_command") else BASE_ENV
    settings = resolve(sources(tmp_path, ini={opt.ini: raw_b}, env={opt.env: raw_a}, base=base))
    assert value_of(settings, opt.name) == want_a
    assert settings.sources[opt.name] == f"from environment variable {opt.env}"
    assert settings.overrides == (f"environment variable {opt.env} overrides ini key {opt.ini} in "
                                  f"{tmp_path / 'pytest.ini'} (unset it to use the ini key)",)
    # The same value in both, or an option above both: nothing is overridden that the user would miss.
    assert resolve(sources(tmp_path, ini={opt.ini: raw_a}, env={opt.env: raw_a}, base=base)).overrides == ()
    assert resolve(sources(tmp_path, options={opt.dest: raw_a}, ini={opt.ini: raw_b}, env={opt.env: raw_b},
                           base=base)).overrides == ()


def test_an_ini_value_the_environment_overrides_is_not_judged_but_still_named(tmp_path: Path) -> None:
    settings = resolve(sources(tmp_path, ini={"pve_max_phase": "seven"}, env={"PVE_MAX_PHASE": "2"}))
    assert settings.max_phase == 2
    assert settings.overrides == (f"environment variable PVE_MAX_PHASE overrides ini key pve_max_phase in "
                                  f"{tmp_path / 'pytest.ini'} (unset it to use the ini key)",)
