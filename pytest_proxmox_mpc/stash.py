"""The keys under which the plugin keeps its state on pytest objects (one place, shared by its modules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .config.settings import Settings
from .run import Run

if TYPE_CHECKING:  # the validators (SQLAlchemy, python-hcl2) are imported when checks are first asked for
    from .validators.checks import WorkspaceCheck

RUN_KEY = pytest.StashKey[Run]()  # on the config: this process's state of the run
TEST_FAILED = pytest.StashKey[bool]()  # on an item: a phase of the test failed
TEST_RAN = pytest.StashKey[bool]()  # on an item: its call phase ran (it was not skipped at setup)
USAGE_ERROR = pytest.StashKey[str]()  # on an item: a usage problem found at collection, reported at setup
REFUSALS_REPORTED = pytest.StashKey[int]()  # on an item: refusals already turned into a failure
WORKSPACE_CHECKS = pytest.StashKey["tuple[WorkspaceCheck, ...]"]()  # on the config: the checks after the hooks


def run_of(config: pytest.Config) -> Run:
    """This process's state of the run."""
    return config.stash[RUN_KEY]


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this run."""
    return run_of(config).settings


def workspace_checks(config: pytest.Config, area: str | None = None) -> list[WorkspaceCheck]:
    """The workspace checks of this run (``validators.WORKSPACE_CHECKS`` as the projects' hooks left them), all
    of them or those of ``area`` (``sync`` or ``iac``), in order."""
    if WORKSPACE_CHECKS not in config.stash:
        config.stash[WORKSPACE_CHECKS] = hooked_workspace_checks(config)
    return [check for check in config.stash[WORKSPACE_CHECKS] if area is None or check.area == area]


def hooked_workspace_checks(config: pytest.Config) -> tuple[WorkspaceCheck, ...]:
    """``validators.WORKSPACE_CHECKS`` as the projects' ``pytest_proxmox_mpc_workspace_checks`` hooks leave it;
    ``pytest.UsageError`` if two checks share a name."""
    from .validators.checks import WORKSPACE_CHECKS as BUILTIN_CHECKS

    checks = list(BUILTIN_CHECKS)
    config.hook.pytest_proxmox_mpc_workspace_checks(config=config, checks=checks)
    names = [check.name for check in checks]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise pytest.UsageError(f"pytest_proxmox_mpc_workspace_checks: check names must be unique: {', '.join(twice)}")
    return tuple(checks)
