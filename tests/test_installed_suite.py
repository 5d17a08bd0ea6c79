"""The validation suite as an installed package: ``pytest --pyargs pytest_proxmox_mpc.validation`` from any folder
keeps its state (audit trail, ledger, cassettes) in that folder, never beside the suite; replay without cassettes is
one line naming where it looked; the clone's cassettes replay the installed suite too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_proxmox_mpc import validation as installed

REPO = Path(__file__).resolve().parent.parent
SUITE = Path(installed.__file__).resolve().parent  # site-packages when installed, validation/ when editable


def run_suite(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest --pyargs pytest_proxmox_mpc.validation ARGS`` in ``folder``, without PVE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVE_")}
    return subprocess.run([sys.executable, "-m", "pytest", "--pyargs", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def beside_the_suite(run_id: str) -> list[Path]:
    """The files of run ``run_id`` in a state folder at or above the suite's folder, up to the checkout (or to
    site-packages): there must be none."""
    top = REPO if SUITE.is_relative_to(REPO) else SUITE.parent.parent
    found: list[Path] = []
    for folder in (SUITE, *SUITE.parents):
        if (folder / ".pytest_proxmox_mpc").is_dir():
            found += (folder / ".pytest_proxmox_mpc").rglob(f"{run_id}*")
        if folder == top:
            return found
    return found


@pytest.mark.slow
def test_the_installed_suite_runs_from_an_empty_folder_and_keeps_its_state_there(tmp_path: Path) -> None:
    done = run_suite(tmp_path, "pytest_proxmox_mpc.validation", "-m", "phase1", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b7 passed\b", done.stdout), done.stdout
    run_id = re.search(r"proxmox: run (\S+), audit trail (\S+)", done.stdout)
    assert run_id is not None, done.stdout
    assert Path(run_id[2]) == tmp_path / ".pytest_proxmox_mpc" / "audit" / f"{run_id[1]}.jsonl"
    assert Path(run_id[2]).stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pytest_proxmox_mpc"]
    assert beside_the_suite(run_id[1]) == [], "the run wrote state beside the suite"


@pytest.mark.slow
def test_replay_without_cassettes_in_the_folder_is_one_line_naming_where_it_looked(tmp_path: Path) -> None:
    done = run_suite(tmp_path, "pytest_proxmox_mpc.validation", "--pve-target", "replay", "-p", "no:cacheprovider")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"ERROR: setting pve_target (from --pve-target): replay plays recorded cassettes, and there are none in "
        f"{tmp_path / 'cassettes'} (pve_cassette_dir, default): record them first on sim or a live cluster "
        "(--pve-record-mode once), or give --pve-cassette-dir DIR"]
    assert "passed" not in done.stdout and not (tmp_path / "cassettes").exists()


@pytest.mark.slow
def test_the_installed_suite_replays_the_cassettes_a_clone_recorded(tmp_path: Path) -> None:
    """Cassettes are named by the suite's folder and module, wherever it is installed; a guest's description, which
    names its test by node ID, matches whatever folder the recording ran from."""
    done = run_suite(tmp_path, "pytest_proxmox_mpc.validation.test_phase1_discovery",
                     "pytest_proxmox_mpc.validation.test_phase3_lifecycle", "--pve-target", "replay",
                     "--pve-max-phase", "3", f"--pve-cassette-dir={REPO / 'cassettes'}", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b9 passed\b", done.stdout), done.stdout
    assert "temporary guests: 2 created, 2 removed" in done.stdout, done.stdout  # the lifecycle test's VM and CT


TIMEOUTS = """
import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for item in items:
        mark = item.get_closest_marker("timeout")
        print("TIMEOUT", item.name, mark.args[0] if mark else None)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("given", "expected"), [([], "300.0"), (["--timeout", "20"], "None")],
                         ids=["none-given", "given"])
def test_the_installed_suite_never_runs_without_a_timeout(tmp_path: Path, given: list[str], expected: str) -> None:
    """A project's ini knows nothing of the suite: its tests get 300 s each unless the run sets a timeout (a marker
    would override --timeout, so none is added then)."""
    (tmp_path / "conftest.py").write_text(TIMEOUTS)
    done = run_suite(tmp_path, "pytest_proxmox_mpc.validation.test_phase1_discovery", "--collect-only", "-q", "-s",
                     "-p", "no:cacheprovider", *given)
    assert done.returncode == 0, done.stdout + done.stderr
    timeouts = {line.split()[2] for line in done.stdout.splitlines() if line.startswith("TIMEOUT ")}
    assert timeouts == {expected}, done.stdout
