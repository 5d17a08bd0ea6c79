"""The ``mpc_tool`` fixture: the system under test (``--mpc-console``/``--mpc-cli``, driven by ``--mpc-profile``)
for one test, in a fresh workspace, talking to the safety proxy of the test's phase. Registered by ``plugin.py``.

Every step it runs goes to the run report (``tool-steps`` worker file: per test and phase, transcript masked,
duration). A step that cannot run here (no command for it, a missing binary) skips the test with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..config import phases
from ..errors import StepUnavailable
from ..stash import RUN_KEY
from ..workspace.fixtures import workspace_node
from .driver import Commands, ToolDriver
from .profile import Step
from .transcript import StepRun

STEPS_FILE = "tool-steps"  # the worker file the report reads the steps from
NO_TOOL = ("no system under test to drive: give --mpc-console CMD and/or --mpc-cli CMD (and --mpc-profile if it "
           "is not Proxmox-MPC)")


class StepLog:
    """This worker's steps, rewritten to its worker file after each one (a killed run keeps what ran)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.steps: list[dict[str, Any]] = []

    def record(self, step: StepRun) -> None:
        self.steps.append(step.to_dict())
        self.run.files.write_worker_file(STEPS_FILE, self.run.worker, {"steps": self.steps})


class SkippingDriver(ToolDriver):
    """``ToolDriver`` whose unavailable steps skip the test (skipped is never passed)."""

    def init(self, restart: bool | None = None) -> StepRun:
        try:
            return super().init(restart)
        except StepUnavailable as exc:
            pytest.skip(str(exc))

    def step(self, name: str, /, **extra: object) -> StepRun:
        try:
            return super().step(name, **extra)
        except StepUnavailable as exc:
            pytest.skip(str(exc))

    def available(self, name: str) -> Step:
        try:
            return super().available(name)
        except StepUnavailable as exc:
            pytest.skip(str(exc))


@pytest.fixture(scope="session")
def _mpc_step_log(pytestconfig: pytest.Config) -> StepLog:
    return StepLog(pytestconfig.stash[RUN_KEY])


@pytest.fixture
def mpc_tool(request: pytest.FixtureRequest, pytestconfig: pytest.Config, tmp_path: Path,
             _mpc_step_log: StepLog) -> Iterator[ToolDriver]:
    """The system under test for this test: ``init()``, ``step(name, **values)``, ``snapshot()``/``changes()``,
    ``secret_leaks()``, ``reserve_vmid()`` (phases 3-4); its workspace is ``mpc_tool.workspace``. The tool is
    told the proxy's address and the proxy's own API token; its console is ended when the test ends, and the
    guests it created and left are removed (``pve_proxy``)."""
    run = pytestconfig.stash[RUN_KEY]
    settings = run.settings
    if settings.mpc_console is None and settings.mpc_cli is None:
        pytest.skip(NO_TOOL)
    access = request.getfixturevalue("pve_proxy")
    readonly = request.getfixturevalue("pve_readonly")
    nodes = readonly.nodes.get()
    if not any(row.get("status") == "online" for row in nodes):
        pytest.skip("no node of the cluster is online: the tool has none to point at (bring one online)")
    node = workspace_node(readonly, nodes)
    commands = Commands.given(settings.mpc_console, settings.mpc_cli, pytestconfig.invocation_params.dir)
    driver = SkippingDriver(settings.mpc_profile, commands, access,
                            tmp_path / "workspace", node, test=request.node.nodeid,
                            phase=phases.phase_of_test(request.node), record=_mpc_step_log.record,
                            refusals=lambda: [refusal.line() for refusal in run.trail.refusals],
                            masked=[secret.reveal() for secret in request.getfixturevalue("pve_target").credentials])
    driver.readonly = readonly
    yield driver
    driver.close()
