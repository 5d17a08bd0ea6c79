"""The plugin's own hooks: implement them in a ``conftest.py`` or a plugin of your project.

Each is called once per process, at configure time, after the settings are resolved (so ``--pve-*`` flags
and ini keys are known) and before any test runs::

    # conftest.py
    def pytest_proxmox_mpc_secret_names(config):
        return ["vault-token", "x-api-key"]

    def pytest_proxmox_mpc_workspace_checks(config, checks):
        checks.append(WorkspaceCheck("our-naming-rule", "iac", ("p2-iac-valid",), our_naming_rule))

    def pytest_proxmox_mpc_adjust_policy(config, policy):
        policy.exclusions = policy.exclusions.merged(ExclusionList.parse("protect:\n  names: [db-*]", "conftest.py"))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .config.adjust import PolicyAdjustment
    from .validators.checks import WorkspaceCheck


@pytest.hookspec
def pytest_proxmox_mpc_secret_names(config: pytest.Config) -> Iterable[str]:
    """Names of parameters, answer fields and headers whose values are secret in your setup, beyond the
    plugin's own list (any case; matched as whole names). Their values become ``***`` in cassettes, audit lines,
    reports and messages, as the built-in ones do. Every implementation's names are added."""
    raise NotImplementedError  # a hookspec's body never runs


@pytest.hookspec
def pytest_proxmox_mpc_workspace_checks(config: pytest.Config, checks: list[WorkspaceCheck]) -> None:
    """Add, remove or replace workspace checks: ``checks`` starts as ``validators.WORKSPACE_CHECKS`` and is
    changed in place. The validation suite runs what it holds after every implementation (one test each, in
    the area's test module); ``pytest_proxmox_mpc.workspace_checks(config)`` gives the same list to a project's
    own tests. Check names must stay unique."""


@pytest.hookspec
def pytest_proxmox_mpc_adjust_policy(config: pytest.Config, policy: PolicyAdjustment) -> None:
    """Change the run's temporary VMID range (``policy.temp_range``, inclusive ``(first, last)``) or exclusion
    list (``policy.exclusions``; ``ExclusionList.merged`` adds to it). The result is checked as a setting is,
    and the report header says the hook changed it."""
