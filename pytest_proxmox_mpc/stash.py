"""The keys under which the plugin keeps its state on pytest objects (one place, shared by its modules)."""

from __future__ import annotations

import pytest

from .config.settings import Settings
from .run import Run
from .validators.checks import WorkspaceCheck

RUN_KEY = pytest.StashKey[Run]()  # on the config: this process's state of the run
TEST_FAILED = pytest.StashKey[bool]()  # on an item: a phase of the test failed
TEST_RAN = pytest.StashKey[bool]()  # on an item: its call phase ran (it was not skipped at setup)
USAGE_ERROR = pytest.StashKey[str]()  # on an item: a usage problem found at collection, reported at setup
REFUSALS_REPORTED = pytest.StashKey[int]()  # on an item: refusals already turned into a failure
WORKSPACE_CHECKS = pytest.StashKey[tuple[WorkspaceCheck, ...]]()  # on the config: the checks after the hooks


def run_of(config: pytest.Config) -> Run:
    """This process's state of the run."""
    return config.stash[RUN_KEY]


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this run."""
    return run_of(config).settings


def workspace_checks(config: pytest.Config, area: str | None = None) -> list[WorkspaceCheck]:
    """The workspace checks of this run (``validators.WORKSPACE_CHECKS`` as the projects' hooks left them), all
    of them or those of ``area`` (``sync`` or ``iac``), in order."""
    return [check for check in config.stash[WORKSPACE_CHECKS] if area is None or check.area == area]
