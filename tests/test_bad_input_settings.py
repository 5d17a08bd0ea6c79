"""Bad input, table-driven, second table of settings: more flags, environment variables and ini keys a user gets
wrong, and the settings that contradict each other. Each row: exit 4 before any test runs, one ERROR line naming
the setting and what is wrong, no traceback, no secret, no file changed (``tests/badinput.py``)."""

from __future__ import annotations

import pytest

from .badinput import FAILED, LIVE, SECRET, TOKEN, Mistake, check, env, flag, ini

PEM_JUNK = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
WRITES = "import pytest\n\n@pytest.mark.phase3\ndef test_x(temp_ct):\n    temp_ct()\n"

MISTAKES = {
    # flags
    "sweep-age-too-short": flag("--pve-sweep-age=1s", "setting pve_sweep_age (from --pve-sweep-age)"),
    "sweep-age-word": flag("--pve-sweep-age=soon", "setting pve_sweep_age (from --pve-sweep-age)"),
    "connection-failures-zero": flag("--pve-max-connection-failures=0", "setting pve_max_connection_failures"),
    "connection-failures-word": flag("--pve-max-connection-failures=many", "setting pve_max_connection_failures"),
    "threshold-negative": flag("--pve-usage-threshold=-0.5", "setting pve_usage_threshold"),
    "threshold-over-100-percent": flag("--pve-usage-threshold=150%", "setting pve_usage_threshold"),
    "range-over-the-vmid-maximum": flag("--pve-temp-vmid-range=990000-1000000000", "setting pve_temp_vmid_range"),
    "range-three-numbers": flag("--pve-temp-vmid-range=1-2-3", "setting pve_temp_vmid_range"),
    "host-unclosed-ipv6": flag("--pve-host=[::1", "the ']' is missing"),
    "host-port-zero": flag("--pve-host=pve1:0", "setting pve_host"),
    "user-empty-name": flag("--pve-user=@pam", "setting pve_user"),
    "user-empty-realm": flag("--pve-user=root@", "setting pve_user"),
    "timeout-not-a-number": flag("--pve-timeout=nan", "setting pve_timeout"),
    "phase-fraction": flag("--pve-max-phase=1.5", "setting pve_max_phase"),
    "provider-capitals": flag("--mpc-tf-provider=BPG", "setting mpc_tf_provider"),
    "max-file-size-zero": flag("--mpc-max-file-size=0", "setting mpc_max_file_size"),
    "ca-bundle-missing": Mistake(args=(*LIVE, "--pve-ca-bundle=nosuch.pem"), says="setting pve_ca_bundle"),
    "ca-bundle-not-pem": Mistake(args=(*LIVE, "--pve-ca-bundle=ca.pem"), files={"ca.pem": "hello\n"},
                                 says="setting pve_ca_bundle"),
    "ca-bundle-broken-pem": Mistake(args=(*LIVE, "--pve-ca-bundle=ca.pem"), files={"ca.pem": PEM_JUNK},
                                    says="setting pve_ca_bundle"),
    "ca-bundle-without-verification": Mistake(args=(*LIVE, "--pve-ca-bundle=ca.pem", "--no-pve-verify-ssl"),
                                              files={"ca.pem": PEM_JUNK}, says="but TLS verification is off"),
    "schema-missing": flag("--pve-api-schema=nosuch.json", "setting pve_api_schema"),
    "workspace-missing": flag("--mpc-workspace=nosuch", "setting mpc_workspace (from --mpc-workspace)"),
    "workspace-not-a-workspace": Mistake(args=("--mpc-workspace=ws",), files={"ws/README": "x"},
                                         says="is not a Proxmox-MPC workspace"),
    "workspace-and-command": Mistake(args=("--mpc-workspace=ws", "--mpc-command=true"),
                                     files={"ws/.proxmox/x": ""}, says="both choose the workspace"),
    "command-on-replay": Mistake(args=("--mpc-command=true", "--pve-target=replay"), says="setting mpc_command"),
    "record-on-replay": Mistake(args=("--pve-target=replay", "--pve-record-mode=once"),
                                says="cannot record on the replay target"),
    "live-without-host": flag("--pve-target=live", "needs a host"),
    "live-token-without-secret": Mistake(args=TOKEN, env={"PVE_PASSWORD": SECRET},
                                         says="token 'ci' needs its secret"),
    "live-without-a-secret": Mistake(args=LIVE, env={"PVE_TOKEN_VALUE": ""}, says="needs a secret"),
    "live-phase3-without-exclusions": Mistake(args=(*LIVE, "--pve-max-phase=3"), says="which needs a production "
                                              "exclusion list"),
    "live-sweep-without-exclusions": Mistake(args=(*LIVE, "--pve-sweep"), says="setting pve_sweep"),
    "live-phase3-empty-protect": Mistake(args=(*LIVE, "--pve-max-phase=3", "--pve-exclusions=ex.yaml"),
                                         files={"ex.yaml": "protect:\n"}, says="ex.yaml: protects nothing"),
    "live-phase3-protect-empty-mapping": Mistake(args=(*LIVE, "--pve-max-phase=3", "--pve-exclusions=ex.yaml"),
                                                 files={"ex.yaml": "protect: {}\n"}, says="protects nothing"),
    "exclusions-cover-temp-range": Mistake(args=("--pve-exclusions=ex.yaml",),
                                           files={"ex.yaml": "protect:\n  vmids: ['990000-999999']\n"},
                                           says="overlap the temporary range 990000-999999"),
    "exclusions-vmid-in-temp-range": Mistake(args=("--pve-exclusions=ex.yaml", "--pve-temp-vmid-range=5000-5999"),
                                             files={"ex.yaml": "protect:\n  vmids: [100, 5005]\n"},
                                             says="protects vmid 5005, inside the temporary range 5000-5999"),
    "token-and-password-both": Mistake(args=TOKEN, env={"PVE_TOKEN_VALUE": SECRET, "PVE_PASSWORD": SECRET + "x"},
                                       says="PVE_TOKEN_VALUE and PVE_PASSWORD are both set"),
    "token-file-and-password-both": Mistake(args=LIVE, env={"PVE_TOKEN_VALUE_FILE": "t", "PVE_PASSWORD": SECRET},
                                            files={"t": SECRET}, says="PVE_TOKEN_VALUE_FILE and PVE_PASSWORD are"),
    # files that never end: FIFOs nobody writes to
    "exclusions-a-fifo": Mistake(args=("--pve-exclusions=pipe",), fifos=("pipe",),
                                 says="pipe: cannot read: not a regular file, not an exclusion list file"),
    "profile-a-fifo": Mistake(args=("--mpc-profile=pipe",), fifos=("pipe",), says="'pipe' is neither a packaged "
                              "profile (proxmox-mpc) nor a file"),
    "token-file-a-fifo": Mistake(args=TOKEN, env={"PVE_TOKEN_VALUE_FILE": "pipe"}, fifos=("pipe",),
                                 says="PVE_TOKEN_VALUE_FILE: cannot read pipe: not a regular file"),
    "schema-a-fifo": Mistake(args=("--pve-api-schema=pipe", "--pve-max-phase=3"), fifos=("pipe",),
                             says="pipe: cannot read: not a regular file"),
    # settings the cluster contradicts: the tests that need it fail with one line (exit 1)
    "temp-pool-the-cluster-lacks": Mistake(args=("--pve-max-phase=3", "--pve-temp-pool=nosuchpool"), test=WRITES,
                                           ret=FAILED, says="usage error: setting pve_temp_pool (from "
                                           "--pve-temp-pool): pool 'nosuchpool' does not exist on the cluster"),
    "excluded-node-the-cluster-lacks": Mistake(args=("--pve-max-phase=3", "--pve-exclusions=ex.yaml"), test=WRITES,
                                               files={"ex.yaml": "protect:\n  nodes: [pve-prod-9]\n"}, ret=FAILED,
                                               says="ex.yaml: protects node pve-prod-9, which the cluster does not "
                                               "have (its nodes: pve1, pve2, pve3)"),
    # the environment
    "env-verify-ssl": env("PVE_VERIFY_SSL", "maybe", "setting pve_verify_ssl (from environment variable"),
    "env-sweep": env("PVE_SWEEP", "perhaps", "setting pve_sweep (from environment variable PVE_SWEEP)"),
    "env-keep-on-failure": env("PVE_KEEP_ON_FAILURE", "2", "setting pve_keep_on_failure"),
    "env-anonymize": env("PVE_ANONYMIZE", "yes please", "setting pve_anonymize"),
    "env-user": env("PVE_USER", "root", "setting pve_user (from environment variable PVE_USER)"),
    "env-range": env("PVE_TEMP_VMID_RANGE", "a-b", "setting pve_temp_vmid_range (from environment variable"),
    "env-record-mode": env("PVE_RECORD_MODE", "sometimes", "setting pve_record_mode (from environment variable"),
    "env-threshold": env("PVE_USAGE_THRESHOLD", "most", "setting pve_usage_threshold (from environment variable"),
    "env-backup-age": env("PVE_BACKUP_MAX_AGE", "old", "setting pve_backup_max_age (from environment variable"),
    "env-connection-failures": env("PVE_MAX_CONNECTION_FAILURES", "0", "setting pve_max_connection_failures"),
    "env-profile": env("MPC_PROFILE", "nosuch", "setting mpc_profile (from environment variable MPC_PROFILE)"),
    "env-provider": env("MPC_TF_PROVIDER", "aws", "setting mpc_tf_provider (from environment variable"),
    "env-max-file-size": env("MPC_MAX_FILE_SIZE", "big", "setting mpc_max_file_size (from environment variable"),
    "env-require-backups": env("PVE_REQUIRE_BACKUPS", "always", "setting pve_require_backups"),
    "env-token-file-empty": env("PVE_TOKEN_VALUE_FILE", "t", "the secret is empty", *TOKEN, t=""),
    "env-password-file-a-directory": env("PVE_PASSWORD_FILE", ".", "environment variable PVE_PASSWORD_FILE: cannot "
                                         "read .: a directory", *LIVE),
    "env-token-file-not-utf8": env("PVE_TOKEN_VALUE_FILE", "t", "PVE_TOKEN_VALUE_FILE: cannot read t: not UTF-8",
                                   *TOKEN, t=b"\xff\xfe" + SECRET.encode()),
    "env-token-file-huge": env("PVE_TOKEN_VALUE_FILE", "t", "PVE_TOKEN_VALUE_FILE: cannot read t: larger than",
                               *TOKEN, t=SECRET * 3000),
    "env-password-two-lines": env("PVE_PASSWORD", f"{SECRET}\n{SECRET}", "holds a line break", *LIVE),
    # ini keys
    "ini-host": ini("pve_host = bad host", "setting pve_host (from ini key pve_host in"),
    "ini-user": ini("pve_user = root", "setting pve_user (from ini key pve_user in"),
    "ini-record-mode": ini("pve_record_mode = sometimes", "setting pve_record_mode (from ini key"),
    "ini-threshold": ini("pve_usage_threshold = most", "setting pve_usage_threshold (from ini key"),
    "ini-verify-ssl": ini("pve_verify_ssl = sometimes", "setting pve_verify_ssl (from ini key"),
    "ini-sweep-age": ini("pve_sweep_age = 1", "setting pve_sweep_age (from ini key"),
    "ini-connection-failures": ini("pve_max_connection_failures = 0", "setting pve_max_connection_failures (from ini"),
    "ini-profile": ini("mpc_profile = nosuch", "setting mpc_profile (from ini key"),
    "ini-schema-missing": ini("pve_api_schema = nosuch.json", "setting pve_api_schema (from ini key"),
    "ini-backup-age": ini("pve_backup_max_age = old", "setting pve_backup_max_age (from ini key"),
    "ini-provider": ini("mpc_tf_provider = aws", "setting mpc_tf_provider (from ini key"),
    "ini-workspace-missing": ini("mpc_workspace = nosuch", "setting mpc_workspace (from ini key"),
    "ini-cassette-dir-a-file": Mistake(ini="pve_cassette_dir = taken\npve_record_mode = once",
                                       files={"taken": "a file"}, says="setting pve_cassette_dir (from ini key"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistaken_setting_is_one_line_naming_it_before_any_test_runs(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    check(MISTAKES[name], pytester, monkeypatch)
