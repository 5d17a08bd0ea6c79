"""Signals a CI runner or a user sends: SIGTERM cleans up as Ctrl-C does, and a second Ctrl-C during the cleanup
prints one line instead of a traceback, while the guests still go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from pytest_proxmox_mpc.guests.interrupts import STOPPING
from pytest_proxmox_mpc.safety.ledger import read_events

from .livetarget import FakePveProcess, in_range, live

WAITS = """
import time
from pathlib import Path

import pytest


@pytest.mark.phase3
def test_waits_with_two_guests(temp_vm):
    temp_vm()
    temp_vm()
    Path("created").write_text("yes")
    time.sleep(600)
"""


def start_run(pytester: pytest.Pytester, server: FakePveProcess) -> subprocess.Popen[str]:
    """The run as its own process, once its test created its guests."""
    pytester.makepyfile(test_waits=WAITS)
    process = subprocess.Popen([sys.executable, "-m", "pytest", *live(pytester, server)], cwd=pytester.path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    deadline = time.monotonic() + 120
    while not (pytester.path / "created").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the run did not create its guests:\n" + (process.communicate()[0] or ""))
        time.sleep(0.1)
    return process


def removed_everything(pytester: pytest.Pytester, cluster: Any) -> None:
    assert in_range(cluster) == [], "a temporary guest was left on the cluster"
    (ledger,) = (pytester.path / ".pytest_proxmox_mpc" / "ledger").glob("*.jsonl")
    events = [event["event"] for event in read_events(ledger)]
    assert events.count("created") == 2 and events.count("destroyed") == 2, events


@pytest.mark.slow
def test_sigterm_removes_the_guests_as_ctrl_c_does(pytester: pytest.Pytester, fakepve_process: FakePveProcess,
                                                   cluster: Any) -> None:
    process = start_run(pytester, fakepve_process)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "stopped by SIGTERM" in out
    removed_everything(pytester, cluster)


@pytest.mark.slow
def test_a_second_ctrl_c_during_the_cleanup_prints_one_line_and_the_guests_still_go(
        pytester: pytest.Pytester, fakepve_process: FakePveProcess, cluster: Any) -> None:
    process = start_run(pytester, fakepve_process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)  # the second arrives while the first is being handled: it must not break the cleanup
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out
    assert out.count("Traceback") == 0, out
    assert STOPPING in out
    removed_everything(pytester, cluster)
