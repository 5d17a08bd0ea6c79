"""Every input file a user names is read without trusting it: a FIFO, a device or a directory is refused at once
(no hang, no MemoryError), a file far larger than its kind needs is refused before it is read whole, and the error
is one line naming the file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import ExclusionList, InvalidInput, ProxmoxMpcError
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
