"""Every input file a user names is read without trusting it: a FIFO, a device or a directory is refused at once
(no hang, no MemoryError), a file far larger than its kind needs is refused before it is read whole, and the error
is one line naming the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import ExclusionList, InvalidInput, ProxmoxMpcError, SettingsError
from pytest_proxmox_mpc.config.settings import resolve
from pytest_proxmox_mpc.config.sources import RawSources
from pytest_proxmox_mpc.files.inputs import LIMITS
from pytest_proxmox_mpc.model.apischema import ApiSchema
from pytest_proxmox_mpc.sim.scenario import load_scenario
from pytest_proxmox_mpc.sut import load_profile

LOADERS: dict[str, Callable[[Path], Any]] = {
    "exclusion list": ExclusionList.load,
    "profile": load_profile,
    "scenario": load_scenario,
    "API schema": ApiSchema.from_file,
}


def refusal(kind: str, path: Path) -> str:
    with pytest.raises(ProxmoxMpcError) as caught:
        LOADERS[kind](path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: cannot read: "), message
    return message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_fifo_nobody_writes_to_is_refused_at_once(kind: str, tmp_path: Path) -> None:
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    assert "not a regular file" in refusal(kind, fifo)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_device_that_never_ends_is_refused(kind: str) -> None:
    assert "not a regular file" in refusal(kind, Path("/dev/zero"))


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_directory_is_refused(kind: str, tmp_path: Path) -> None:
    assert "a directory" in refusal(kind, tmp_path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_file_larger_than_its_kind_needs_is_refused(kind: str, tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as file:  # sparse: no disk is used for the size
        file.truncate(LIMITS[kind] + 1)
    assert "larger than" in refusal(kind, big)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_missing_file_is_named(kind: str, tmp_path: Path) -> None:
    assert os.strerror(2) in refusal(kind, tmp_path / "nosuch")


def test_the_refusals_are_input_errors_a_caller_can_catch_as_value_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        load_scenario(tmp_path)
    with pytest.raises(ValueError):
        ApiSchema.from_file(tmp_path)


SECRET = "5f0c1d3e-aaaa-bbbb-cccc-1234567890ab"


@pytest.mark.parametrize(("content", "problem"), [
    (f"{SECRET}\nsecond-line\n", "line break or a control character (line 1)"),
    (f"{SECRET}\r\n\r\n", "line break or a control character (line 1)"),
    (f"{SECRET}\x00\n", "line break or a control character (line 1)"),
    ("\n", "the secret is empty"),
])
def test_a_secret_file_that_cannot_go_into_a_header_is_a_usage_error_without_the_secret(
        tmp_path: Path, content: str, problem: str) -> None:
    token = tmp_path / "token"
    token.write_text(content)
    with pytest.raises(SettingsError) as caught:
        resolve(RawSources(options={"pve_host": "pve", "pve_token_name": "ci"}, ini={},
                           environ={"PVE_TOKEN_VALUE_FILE": str(token)}, rootdir=tmp_path))
    message = str(caught.value)
    assert problem in message and f"PVE_TOKEN_VALUE_FILE ({token})" in message
    assert SECRET not in message and SECRET[:8] not in message and "\n" not in message


@pytest.mark.parametrize("special", ["/dev/zero", "a directory"])
def test_a_secret_file_that_is_no_file_is_one_line(tmp_path: Path, special: str) -> None:
    target = tmp_path if special == "a directory" else Path(special)
    with pytest.raises(SettingsError, match=r"^environment variable PVE_PASSWORD_FILE: cannot read "):
        resolve(RawSources(options={"pve_host": "pve"}, ini={}, environ={"PVE_PASSWORD_FILE": str(target)},
                           rootdir=tmp_path))
