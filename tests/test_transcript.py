"""Where a secret shows in what a tool printed or wrote: whole, interleaved with a masked echo, or partly; and the
report's transcripts with every such place masked (``pytest_proxmox_mpc.sut.transcript``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc.sut.transcript import MASK, mask, secret_leaks, shows

SECRET = "5f0c1d3e-7a4b-4c2d-9e8f-1234567890ab"


@pytest.mark.parametrize(("text", "masked"), [
    (f"Unknown command: {SECRET}", f"Unknown command: {MASK}"),
    ("🔐 Token Secret: " + "*".join(SECRET) + "*", f"🔐 Token Secret: {MASK}*"),  # each key echoed, then its mask
    ("Token: " + "\b \b".join(SECRET[:10]), f"Token: {MASK}\b \b" + "\b \b".join(SECRET[8:10])),
    (f"secret={SECRET[:12]}****", f"secret={MASK}{SECRET[8:12]}****"),  # the first characters shown, the rest masked
    (f"the tail {SECRET[-9:]}", f"the tail {MASK}{SECRET[-1:]}"),
])
def test_a_secret_shown_whole_interleaved_or_partly_is_found_and_masked(text: str, masked: str) -> None:
    assert shows(text, [SECRET])
    assert mask(text, [SECRET]) == masked
    assert not shows(mask(text, [SECRET]), [SECRET]), "a masked transcript still shows the secret"


@pytest.mark.parametrize("text", [
    "🔐 Token Secret: ********************************",
    "correlationId: 5f0c1d3a-1111-4222-8333-444444444444",  # another UUID sharing 7 characters in a row
    f"{SECRET[:7]} and {SECRET[7:14]}",  # 7 characters, then 7 others: never 8 of it in a row
    "",
])
def test_a_text_that_does_not_show_the_secret_is_left_as_it_is(text: str) -> None:
    assert not shows(text, [SECRET])
    assert mask(text, [SECRET]) == text


def test_a_short_secret_is_masked_only_where_it_shows_whole() -> None:
    assert mask("pw abc, ab, abcd", ["abc"]) == f"pw {MASK}, ab, {MASK}d"


def test_secret_leaks_name_the_lines_and_a_partly_shown_secret_in_a_file(tmp_path: Path) -> None:
    (tmp_path / ".proxmox").mkdir()
    (tmp_path / ".proxmox" / "config.yml").write_text(f"host: h\ntokenSecret: {SECRET}\n")
    (tmp_path / "main.tf").write_text(f'token = "{SECRET[:16]}..."\n')
    transcript = "🔐 Token Secret: " + "*".join(SECRET) + f"*\nUnknown command: {SECRET}\n"
    found = secret_leaks(tmp_path, [SECRET], [("init", transcript)])
    assert found == ["the transcript of 'init' (in clear, on 2 line(s): '🔐 Token Secret: ****'; "
                     "'Unknown command: ***')", "main.tf"]
    assert SECRET not in " ".join(found)
    masked_echo = "🔐 Token Secret: " + "*".join(SECRET) + "*\n"
    (tmp_path / "clean").mkdir()
    assert secret_leaks(tmp_path / "clean", [SECRET], [("init", masked_echo)]) == [
        "the transcript of 'init' (partly, on 1 line(s): '🔐 Token Secret: ****')"]
