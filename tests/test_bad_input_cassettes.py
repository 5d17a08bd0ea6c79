"""Bad input, table-driven: cassettes broken as they get broken (a merge conflict, a hand edit, a copy cut short,
another tool's format, a folder where the file was). A test recorded on the sim is replayed from the broken
cassette: the test fails with one line naming the cassette (and its line) and what to do, no traceback, no secret,
and the cassette is left as it was for the user to restore (``tests/badinput.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .badinput import FAILED, Mistake, check

RECORDED = "def test_nodes(pve_readonly):\n    assert pve_readonly.nodes.get()\n"
TEST = "cassettes/test_x/test_nodes.yaml"
SESSION = "cassettes/_session/_pve_connection.yaml"


def cut_in_first_answer(text: str) -> str:
    return text[:text.index("\n", text.index("\n", text.index("response:")) + 1) + 1]


def in_place(edit: Callable[[str], str]) -> Callable[[Path], None]:
    return lambda path: path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")


def replaced_by_folder(path: Path) -> None:
    path.unlink()
    (path / "inside").mkdir(parents=True)


BREAKS: dict[str, tuple[str, Callable[[Path], None], str]] = {  # name: (cassette, how it breaks, the line says)
    "not-yaml": (TEST, in_place(lambda t: t.replace("interactions:\n", "interactions:\n- [unclosed\n", 1)),
                 "cassettes/test_x/test_nodes.yaml:3: not valid YAML"),
    "merge-conflict": (TEST, in_place(lambda t: "<<<<<<< HEAD\n" + t), "test_nodes.yaml:2: not valid YAML"),
    "format-version-2": (TEST, in_place(lambda t: t.replace("\nversion: 1", "\nversion: 2")),
                         "unknown cassette format version '2' (vcrpy's 'version'; this plugin reads 1)"),
    "no-format-version": (TEST, in_place(lambda t: t.replace("\nversion: 1", "")),
                          "test_nodes.yaml: no format version (vcrpy's 'version'; this plugin reads 1)"),
    "cut-short": (TEST, in_place(cut_in_first_answer), "test_nodes.yaml:2: interaction 1 has no answer status"),
    "empty": (TEST, in_place(lambda t: ""), "test_nodes.yaml: not a vcrpy cassette"),
    "interactions-not-a-list": (TEST, in_place(lambda t: "interactions: 5\nversion: 1\n"),
                                "test_nodes.yaml: not a vcrpy cassette"),
    "not-utf8": (TEST, lambda p: p.write_bytes(b"\xff\xfe" + p.read_bytes()), "test_nodes.yaml: cannot be read"),
    "a-folder-in-its-place": (TEST, replaced_by_folder, "test_nodes.yaml: a directory, not a cassette file"),
    "session-cut-short": (SESSION, in_place(cut_in_first_answer),
                          "_session/_pve_connection.yaml:2: interaction 1 has no answer status"),
    "session-format-version": (SESSION, in_place(lambda t: t.replace("\nversion: 1", "\nversion: 99")),
                               "_pve_connection.yaml:"),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cassettes of RECORDED's one test, recorded once on the sim."""
    where = tmp_path_factory.mktemp("recorded")
    return where


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_broken_cassette_fails_its_test_with_one_line_naming_it(
        name: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, recorded: Path) -> None:
    if not (recorded / "cassettes").exists():
        pytester.makepyfile(test_x=RECORDED)
        pytester.runpytest("--pve-record-mode", "once", "-p", "no:randomly").assert_outcomes(passed=1)
        shutil.copytree(pytester.path / "cassettes", recorded / "cassettes")
    else:
        shutil.copytree(recorded / "cassettes", pytester.path / "cassettes")
    cassette, breaks, says = BREAKS[name]
    breaks(pytester.path / cassette)
    check(Mistake(args=("--pve-target=replay",), test=RECORDED, ret=FAILED, says=says), pytester, monkeypatch)
