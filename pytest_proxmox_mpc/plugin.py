"""The pytest plugin: wires hooks and fixtures to the modules that do the work.

Registered through the ``pytest11`` entry point as ``proxmox_mpc``.
"""

from __future__ import annotations

import importlib
import os
import signal
from collections.abc import Generator
from typing import Any

import pytest

from . import hookspecs
from .config import phases
from .config.adjust import PolicyAdjustment
from .config.options import OPTIONS, Option, add_flags
from .config.settings import Settings, resolve
from .config.sources import RawSources
from .errors import SettingsError
from .files.inputs import MIB, YAML_FACTOR, set_limit
from .fixtures.access import hooked_workspace_checks, run_of, settings_of
from .fixtures.faults import MARKER as FAULT_MARKER
from .fixtures.faults import MARKER_HELP as FAULT_MARKER_HELP
from .fixtures.guests import factory_fixture_names
from .fixtures.stash import (
    REFUSALS_REPORTED,
    RUN_KEY,
    TEST_FAILED,
    TEST_RAN,
    USAGE_ERROR,
    WATCH_KEY,
    WORKSPACE_CHECKS,
)
from .guests import interrupts
from .recording.layout import RECORDING_PLUGIN, has_cassettes
from .report.criteria import CRITERIA_IDS
from .report.reporter import CRITERIA_PROPERTY, PHASE_PROPERTY, PROBE_PROPERTY, VALIDATES_PROPERTY, RunReporter
from .run import Run
from .safety import redact
from .safety.audit import new_run_id
from .safety.incident import ABORT_EXIT_CODE, Abort, write_incident
from .watch.watch import database_abort

# The fixtures, one module per concern, registered in this order at configure time (as pytest's own
# default_plugins are; registered, not named in pytest_plugins, which would re-import them for assertion
# rewriting and warn that they were imported already).
FIXTURE_MODULES = (
    "pytest_proxmox_mpc.fixtures.cluster",
    "pytest_proxmox_mpc.fixtures.safety",
    "pytest_proxmox_mpc.fixtures.recording",
    "pytest_proxmox_mpc.fixtures.watch",
    "pytest_proxmox_mpc.fixtures.guests",
    "pytest_proxmox_mpc.fixtures.workspace",
    "pytest_proxmox_mpc.fixtures.proxy",
    "pytest_proxmox_mpc.fixtures.sut",
    "pytest_proxmox_mpc.fixtures.faults",
)
FIXTURE_PREFIXES = ("pve_", "temp_vm", "temp_ct", "mpc_")  # the plugin's public fixtures (its autouse ones are _pve_*)
HEADER_SHOWN = pytest.StashKey[bool]()

# The phase a test without a phase marker gets from the fixtures it uses: talking to the cluster makes
# it phase 1, creating temporary guests phase 3.
FIXTURE_PHASES = {**dict.fromkeys(("pve_target", "pve_readonly", "pve_client", "pve_sim", "pve_inventory"), 1),
                  "mpc_workspace": 2, "mpc_tool": 1, **dict.fromkeys(factory_fixture_names(), phases.WRITE_PHASE)}
EXPECT_REFUSAL = "pve_expect_refusal"
CRITERION = "pve_criterion"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("proxmox", "pytest-proxmox-mpc: safe validation against Proxmox VE")
    add_flags(group.addoption)
    for opt in OPTIONS:
        parser.addini(opt.ini, opt.full_help(), type=opt.ini_type, default=None)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    for name in FIXTURE_MODULES:
        config.pluginmanager.register(importlib.import_module(name), name)
    for phase in phases.PHASES.values():
        config.addinivalue_line("markers", phase.marker_help())
    options = {opt.dest: config.getoption(opt.dest) for opt in OPTIONS}
    try:
        ini = {opt.ini: _ini_value(config, opt) for opt in OPTIONS}
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    src = RawSources(options=options, ini=ini, environ=os.environ,
                     inifile=str(config.inipath) if config.inipath else None, rootdir=config.rootpath)
    config.addinivalue_line("markers", FAULT_MARKER_HELP)
    config.addinivalue_line("markers", f"{EXPECT_REFUSAL}: the test sends requests the policy refuses on purpose; "
                            "they are audited but neither fail the test nor abort the run")
    worker_input = getattr(config, "workerinput", None)
    run_id = worker_input.get("pve_run_id") if worker_input else None
    try:
        settings = _adjusted(config, resolve(src))
        set_limit("Terraform file", int(settings.mpc_max_file_size * MIB))
        set_limit("workspace file", int(settings.mpc_max_file_size * MIB * YAML_FACTOR))
        _check_replay(settings)
        run = config.stash[RUN_KEY] = Run.start(settings, config.rootpath, run_id or new_run_id(),
                                                worker_input["workerid"] if worker_input else "main",
                                                int(worker_input.get("workercount", 1)) if worker_input else 1)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    for line in settings.overrides if worker_input is None else ():  # once, from the process that reports
        config.issue_config_time_warning(pytest.PytestConfigWarning(f"proxmox: {line}"), stacklevel=2)
    if settings.max_phase >= phases.WRITE_PHASE:  # a run that may create guests removes them on SIGTERM too
        config.add_cleanup(interrupts.stop_on_signals())
    if config.hook.pytest_proxmox_mpc_workspace_checks.get_hookimpls():  # a project's checks: judged now (exit 4)
        config.stash[WORKSPACE_CHECKS] = hooked_workspace_checks(config)
    if run.recorder is not None:
        from .fixtures.cassettes import RecordingHooks  # vcrpy only for a run that records or replays

        hooks = RecordingHooks(run.recorder, replay=settings.target == "replay")
        config.pluginmanager.register(hooks, RECORDING_PLUGIN)
    config.addinivalue_line("markers", f"{CRITERION}(*ids): the test is evidence for these success criteria of "
                            "the run report (ids: pytest-proxmox-mpc's criteria.CRITERIA)")
    if worker_input is None:
        config.pluginmanager.register(RunReporter(run, asked=_asks_for_report(config)), "proxmox_mpc_reporter")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistController(run.run_id), "proxmox_mpc_xdist")
    if not settings.verify_ssl:  # the user chose it, and the header says so: one warning per request is noise
        config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


def _ini_value(config: pytest.Config, opt: Option) -> Any:
    """An ini key's value as pytest parsed it for its type (a path made absolute against the ini file); None
    when unset. A value pytest cannot parse is a ``SettingsError`` naming the key and the file."""
    try:
        value = config.getini(opt.ini)
    except (ValueError, pytest.UsageError) as exc:
        where = f" in {config.inipath}" if config.inipath else ""
        raise SettingsError(f"setting {opt.ini} (from ini key {opt.ini}{where}): {str(exc).splitlines()[0]}") from None
    if opt.kind == "path" and isinstance(value, list):
        if len(value) > 1:
            raise SettingsError(f"setting {opt.ini} (from ini key {opt.ini} in {config.inipath}): "
                                f"{' '.join(map(str, value))!r} names more than one path")
        return str(value[0]) if value else None
    return value


def _check_replay(settings: Settings) -> None:
    """The replay target needs cassettes: none where the settings look for them is a ``SettingsError`` (one line,
    naming the folder), not one error per test (the installed suite run in a project that recorded nothing)."""
    if settings.target == "replay" and not has_cassettes(settings.cassette_dir):
        raise SettingsError(f"setting pve_target ({settings.sources['target']}): replay plays recorded cassettes, and "
                            f"there are none in {settings.cassette_dir} (pve_cassette_dir, "
                            f"{settings.sources['cassette_dir']}): record them first on sim or a live cluster "
                            "(--pve-record-mode once), or give --pve-cassette-dir DIR")


def _adjusted(config: pytest.Config, settings: Settings) -> Settings:
    """The settings after the projects' hooks: their secret names registered, their policy adjustments applied."""
    names = [str(name) for names in config.hook.pytest_proxmox_mpc_secret_names(config=config) for name in names]
    config.add_cleanup(redact.add_secret_names(names))
    adjustment = PolicyAdjustment(settings.temp_vmid_range, settings.exclusions)
    config.hook.pytest_proxmox_mpc_adjust_policy(config=config, policy=adjustment)
    return adjustment.apply(settings, "hook pytest_proxmox_mpc_adjust_policy")


class _XdistController:
    """Registered on the xdist controller only: hands the run id to every worker it starts."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["pve_run_id"] = self.run_id


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN_KEY in config.stash:
        config.stash[RUN_KEY].close()


def _header(config: pytest.Config) -> list[str]:
    config.stash[HEADER_SHOWN] = True
    run = run_of(config)
    lines = [*run.settings.header_lines(), f"proxmox: run {run.run_id}, audit trail {run.files.audit}"]
    if run.settings.max_phase >= phases.WRITE_PHASE and run.settings.target != "replay" and \
            _timeout_method(config) == "thread":
        lines.append("proxmox: WARNING: pytest-timeout's thread method ends the whole process (os._exit) when a test "
                     "times out: this run cannot remove its temporary guests then; the next `pytest-proxmox-mpc "
                     "sweep` from this checkout removes them (the run's processes are gone). Use "
                     "--timeout-method=signal on a writing run")
    return lines


def _timeout_method(config: pytest.Config) -> str | None:
    """pytest-timeout's method for this run (its option, then its ini key, then its default), None without it."""
    if not config.pluginmanager.hasplugin("timeout"):
        return None
    method = config.getoption("timeout_method", None) or config.getini("timeout_method")
    return str(method) if method else ("signal" if hasattr(signal, "SIGALRM") else "thread")


def _chosen(config: pytest.Config) -> bool:
    """The user asked for the plugin: a setting given (flag, ini key, environment) or a phase selected with -m."""
    given = any(origin != "default" for origin in settings_of(config).sources.values())
    return given or "phase" in (config.getoption("markexpr", "") or "")


def _asks_for_report(config: pytest.Config) -> bool:
    """The run asks to be judged whatever its tests: ``--pve-report`` (flag, ini key or environment) or a phase
    selected with -m. (Other settings do not: a harness may point its fixtures at a cluster of its own.)"""
    return settings_of(config).report is not None or "phase" in (config.getoption("markexpr", "") or "")


def uses_plugin(item: pytest.Item) -> bool:
    """The test uses one of the plugin's fixtures or markers."""
    names = getattr(item, "fixturenames", ())
    return (any(name.startswith(FIXTURE_PREFIXES) for name in names)
            or any(mark.name in phases.MARKERS or mark.name in (EXPECT_REFUSAL, CRITERION, FAULT_MARKER)
                   for mark in item.iter_markers()))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The resolved settings, when the run chose the plugin; otherwise after collection, if a test uses it (a
    project that has the plugin installed and does not use it sees no line of it)."""
    return _header(config) if _chosen(config) else []


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    if config.stash.get(HEADER_SHOWN, False) or not any(uses_plugin(item) for item in items):
        return []
    return _header(config)


@pytest.hookimpl(tryfirst=True)  # before -m deselects: unmarked cluster tests must count as phase1
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    max_phase = settings_of(config).max_phase
    for item in items:
        criteria = [str(arg) for mark in item.iter_markers(CRITERION) for arg in mark.args]
        try:
            phase = phases.phase_of(mark.name for mark in item.iter_markers())
            unknown = sorted(set(criteria) - CRITERIA_IDS)
            if unknown:
                raise ValueError(f"has unknown {CRITERION} ids {', '.join(map(repr, unknown))}; known: "
                                 + ", ".join(sorted(CRITERIA_IDS)))
        except ValueError as exc:  # phases.TwoPhases too
            message = f"{item.nodeid} {exc}"
            if hasattr(config, "workerinput"):  # raising here would crash an xdist worker: fail at setup
                item.stash[USAGE_ERROR] = message
                continue
            raise pytest.UsageError(message) from None
        validates = phase is not None or bool(criteria)  # marked by its author, not by the fixtures it uses
        implied = [FIXTURE_PHASES[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_PHASES]
        if phase is None and implied:
            phase = max(implied)
            item.add_marker(phases.PHASES[phase].marker)
        item.user_properties += [(PHASE_PROPERTY, phase), (CRITERIA_PROPERTY, criteria),
                                 (PROBE_PROPERTY, _expects_refusal(item)), (VALIDATES_PROPERTY, validates)]
        if phase is not None and phase > max_phase:
            item.add_marker(pytest.mark.skip(reason=phases.skip_reason(phase, max_phase)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if USAGE_ERROR in item.stash:
        pytest.fail("usage error: " + item.stash[USAGE_ERROR], pytrace=False)


def _expects_refusal(item: pytest.Item) -> bool:
    return item.get_closest_marker(EXPECT_REFUSAL) is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None,
                            ) -> Generator[None, object, object]:
    run = run_of(item.config)
    phase = phases.phase_of_test(item)
    run.trail.begin_test(item.nodeid, phase)
    run.tests_started.append(item.nodeid)
    item.stash[REFUSALS_REPORTED] = 0
    try:
        result = yield
    finally:
        refusals = run.trail.end_test()
    abort = None
    if refusals and run.settings.abort_on_violation and not _expects_refusal(item):
        abort = Abort.refused(item.nodeid, refusals)
    elif WATCH_KEY in item.config.stash:  # the seed's other abort triggers: connection, usage, local database
        wrote = (phase or 0) >= phases.WRITE_PHASE and item.stash.get(TEST_RAN, False)
        abort = item.config.stash[WATCH_KEY].after_test(item.nodeid, wrote=wrote)
    else:
        abort = database_abort(run.watched_databases, item.nodeid)
    if abort is not None:
        incident = write_incident(run.files.incident(run.worker), target=run.settings.target, abort=abort)
        message = abort.message(incident)
        item.session.shouldstop = message  # under xdist this reaches the controller, which stops every worker
        pytest.exit(message, returncode=ABORT_EXIT_CODE)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A refused request fails the test even when the code under test swallowed the violation."""
    report = yield
    refusals = run_of(item.config).trail.refusals
    new = refusals[item.stash.get(REFUSALS_REPORTED, 0):]
    item.stash[REFUSALS_REPORTED] = len(refusals)
    if new and report.passed and not _expects_refusal(item):
        report.outcome = "failed"
        report.longrepr = "\n".join(["proxmox: the policy refused requests of this test:",
                                      *(refusal.line() for refusal in new)])
    if report.failed:
        item.stash[TEST_FAILED] = True
    if report.when == "call":
        item.stash[TEST_RAN] = True
    return report
