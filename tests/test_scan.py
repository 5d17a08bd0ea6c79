"""scan-secrets: finds planted secrets of every kind, passes the plugin's own scrubbed output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc.cli import main as cli

PLANTED = {
    "ticket.yaml": "      string: '{\"data\":{\"x\":"
                   "\"PVE:root@pam:6740B6E1::aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRpY2tldA==\"}}'\n",
    "csrf.jsonl": '{"note":"6740B6E1:Qm9ndXMgQ1NSRiB0b2tlbiBmb3IgYSB0ZXN0IHJ1bg"}\n',
    "token.yaml": "    headers:\n      X: PVEAPIToken=ci@pve!validation=5f0c1d3e-aaaa-bbbb-cccc-1234567890ab\n",
    "key.json": '{"pem": "-----BEGIN RSA PRIVATE KEY-----"}\n',
    "header.yaml": "    headers:\n      Authorization:\n      - anything\n",
    "field.jsonl": '{"params":{"password":"hunter2"}}\n',
    "form.yaml": "    body: username=root%40pam&password=hunter2\n",
    # A console transcript in a tool-steps file: one JSON line, its line breaks escaped.
    "transcript.json": '{"transcript": "Token ID: proxy\\nToken Secret: 5f0c1d3e-aaaa\\nDefault node: pve1"}\n',
}
# What the plugin writes of a console that showed a typed secret: masks, stars, an empty answer.
MASKED_TRANSCRIPTS = (
    '{"transcript": "Token ID: proxy\\n\\ud83d\\udd10 Token Secret: ***\\n\\nUnknown command: ***\\n"}',
    '{"transcript": "Token Secret: ************************************\\r\\nDefault node [pve]: pve1"}',
    '{"transcript": "Token secret: \\nDefault node [pve]: pve1", "test": "test_the_secret_shows_nowhere"}',
)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_secret_is_found(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / name).write_text(PLANTED[name])
    assert cli(["scan-secrets", str(tmp_path / "cassettes")]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'cassettes' / name}:" in out and "1 file(s)" in out


def test_a_masked_console_transcript_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = tmp_path / "tool-steps"
    steps.mkdir()
    (steps / "run.main.json").write_text("\n".join(MASKED_TRANSCRIPTS) + "\n")
    assert cli(["scan-secrets", str(steps)]) == 0, capsys.readouterr().out


def test_scrubbed_output_passes(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    pytester.makepyfile(test_reads="""
import pytest

@pytest.mark.phase3
def test_reads(pve_client, temp_vm):
    temp_vm()
    assert pve_client.access.users.get()
""")
    pytester.runpytest("--pve-max-phase", "3", "--pve-record-mode", "once").assert_outcomes(passed=1)
    assert cli(["scan-secrets", str(pytester.path / "cassettes"), str(pytester.path / ".pytest_proxmox_mpc")]) == 0
    assert "0 secret-looking value(s)" in capsys.readouterr().out


def test_a_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["scan-secrets", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
