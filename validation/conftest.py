"""Fixtures of the validation suite (the plugin's own come from its ``pytest11`` entry point)."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from pytest_proxmox_mpc import ExclusionList, Inventory
from pytest_proxmox_mpc.fixtures import Target, settings_of, workspace_checks
from pytest_proxmox_mpc.report import NOT_JUDGED_PROPERTY
from pytest_proxmox_mpc.validators import LINT_OUTCOMES, CheckContext, WorkspaceCheck, prepare_checks
from pytest_proxmox_mpc.workspace import Workspace

HERE = Path(__file__).resolve().parent
# Seconds one test may take unless the run sets a timeout of its own: a run against a production cluster must never
# hang. A clone's ini sets it; the installed suite (``pytest --pyargs pytest_proxmox_mpc.validation``) runs in a
# project whose ini knows nothing of it.
DEFAULT_TIMEOUT = 300.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with ``CHECK_AREA`` gets one test per workspace check of that area: the registry as the run's
    ``pytest_proxmox_mpc_workspace_checks`` hooks left it, each marked with the criteria it gives evidence for."""
    for fixture, phase in (("faulted_sync", 2), ("faulted_write", 3)):  # the profile's steps with faults
        if fixture in metafunc.fixturenames:
            names = [step.name for step in settings_of(metafunc.config).mpc_profile.of_phase(phase) if step.faults]
            metafunc.parametrize(fixture, names or [None], ids=names or ["none"])
    area = getattr(metafunc.module, "CHECK_AREA", None)
    if area is not None and "check" in metafunc.fixturenames:
        metafunc.parametrize("check", [
            pytest.param(check, id=check.name, marks=[pytest.mark.pve_criterion(c) for c in check.criteria])
            for check in workspace_checks(metafunc.config, area)])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test of the suite gets ``DEFAULT_TIMEOUT`` when neither --timeout, PYTEST_TIMEOUT nor an ini key of
    pytest-timeout sets one (a ``timeout`` marker would override them, so it is added only then)."""
    if config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT") or config.getini("timeout"):
        return
    for item in items:
        if item.path.resolve().is_relative_to(HERE) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


@pytest.fixture
def check_context(tmp_path: Path, pve_target: Target, pve_inventory: Inventory, pve_exclusions: ExclusionList,
                  pve_lint_cache: Path, pytestconfig: pytest.Config) -> CheckContext:
    """A scratch directory for one check, the run's own credentials (which no generated file may hold), the
    guests the run's exclusion list protects (which no playbook may change), where ansible-lint results are
    kept by content (``--pve-lint-cache``) and where it finds collections (``--pve-ansible-collections``)."""
    protected = pve_exclusions.resolve(guest.facts for guest in pve_inventory.guests.values())
    return CheckContext(scratch=tmp_path, secrets=tuple(secret.reveal() for secret in pve_target.credentials),
                        protected=protected, lint_cache=pve_lint_cache,
                        collections=settings_of(pytestconfig).ansible_collections)


@pytest.fixture(scope="session")
def started_checks(request: pytest.FixtureRequest, mpc_workspace: Workspace, pve_lint_cache: Path,
                   tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> None:
    """The slow parts of the workspace checks this run selected (ansible-lint, parsing the Terraform) started in the
    background once the workspace is made, so that they run while the checks before them do (each check takes its
    part, or does it afresh if the workspace changed)."""
    selected: list[WorkspaceCheck] = [item.callspec.params["check"] for item in request.session.items
                                      if "check" in getattr(getattr(item, "callspec", None), "params", {})]
    context = CheckContext(scratch=tmp_path_factory.mktemp("started-checks"), lint_cache=pve_lint_cache,
                           collections=settings_of(pytestconfig).ansible_collections)
    prepare_checks(mpc_workspace.path, context, selected)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Each ansible-lint result a test used, as a ``user_properties`` entry: ``ansible-lint`` = ran (on the whole
    project), split (its playbooks against a stand-in inventory, its inventory on its own), or cached;
    and each thing it could not judge on this machine (a collection not installed here), as ``pve_not_judged``,
    which the run's report and summary show (it fails no test)."""
    seen = len(LINT_OUTCOMES)
    try:
        return (yield)
    finally:
        for outcome in LINT_OUTCOMES[seen:]:
            label = "cached" if outcome.cached else "split" if outcome.inventory_apart else "ran"
            item.user_properties.append(("ansible-lint", label))
            item.user_properties += [(NOT_JUDGED_PROPERTY, note) for note in outcome.not_judged]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line: how many ansible-lint results were linted afresh (whole or in two parts) and how many came from the
    cache; then one line per thing ansible-lint could not judge on this machine."""
    counts = {"ran": 0, "split": 0, "cached": 0}
    not_judged: dict[str, None] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                for name, value in getattr(report, "user_properties", ()):
                    if name == "ansible-lint" and value in counts:
                        counts[value] += 1
                    elif name == NOT_JUDGED_PROPERTY:
                        not_judged[str(value)] = None
    if any(counts.values()):
        terminalreporter.write_line(f"ansible-lint: {counts['ran']} linted whole, {counts['split']} linted in two "
                                    "parts (the playbooks against a stand-in inventory, the inventory on its own), "
                                    f"{counts['cached']} cached result(s) (kept by content in --pve-lint-cache)")
    for note in not_judged:  # not the workspace's defects: what this machine lacks to judge it
        terminalreporter.write_line(f"ansible-lint, not judged: {note}", yellow=True)
