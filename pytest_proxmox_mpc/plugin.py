"""The pytest plugin: wires hooks and fixtures to the modules that do the work.

Registered through the ``pytest11`` entry point as ``proxmox_mpc``.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from . import phases, proxyfixtures, watchfixtures, workspacefixtures
from .audit import new_run_id
from .client import connect_checked
from .criteria import CRITERIA_IDS
from .errors import SettingsError, TargetUnavailable, one_line
from .exclusions import ExclusionList
from .guests import protected_vmids
from .incident import ABORT_EXIT_CODE, Abort, write_incident
from .options import OPTIONS, add_flags
from .policy import ReadOnlyPolicy
from .recording import Recording, RecordingHooks
from .reporting import CRITERIA_PROPERTY, PHASE_PROPERTY, RunReporter
from .run import Run
from .settings import RawSources, Settings, resolve
from .stash import REFUSALS_REPORTED, RUN_KEY, TEST_FAILED, TEST_RAN, USAGE_ERROR
from .target import Target, TargetSession
from .tempfixtures import (  # noqa: F401  (imported here, they are registered with the plugin)
    _pve_factory_context,
    _pve_sweep_before_run,
    _pve_writer,
    factory_fixture_names,
    temp_ct,
    temp_ct_module,
    temp_ct_session,
    temp_vm,
    temp_vm_module,
    temp_vm_session,
)
from .trail import AuditView
from .watch import database_abort

# The phase a test without a phase marker gets from the fixtures it uses: talking to the cluster makes
# it phase 1, creating temporary guests phase 3.
FIXTURE_PHASES = {**dict.fromkeys(("pve_target", "pve_readonly", "pve_client", "pve_sim", "pve_inventory"), 1),
                  "mpc_workspace": 2, **dict.fromkeys(factory_fixture_names(), phases.WRITE_PHASE)}
EXPECT_REFUSAL = "pve_expect_refusal"
CRITERION = "pve_criterion"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("proxmox", "pytest-proxmox-mpc: safe validation against Proxmox VE")
    add_flags(group.addoption)
    for opt in OPTIONS:
        if opt.ini:
            parser.addini(opt.ini, opt.help, default=None)


def pytest_configure(config: pytest.Config) -> None:
    for phase in phases.PHASES.values():
        config.addinivalue_line("markers", phase.marker_help())
    ini = {opt.ini: config.getini(opt.ini) for opt in OPTIONS if opt.ini}
    options = {opt.dest: config.getoption(opt.dest) for opt in OPTIONS}
    src = RawSources(options=options, ini=ini, environ=os.environ,
                     inifile=str(config.inipath) if config.inipath else None, rootdir=config.rootpath)
    config.addinivalue_line("markers", f"{EXPECT_REFUSAL}: the test sends requests the policy refuses on purpose; "
                            "they are audited but neither fail the test nor abort the run")
    worker_input = getattr(config, "workerinput", None)
    run_id = worker_input.get("pve_run_id") if worker_input else None
    try:
        settings = resolve(src)
        run = config.stash[RUN_KEY] = Run.start(settings, config.rootpath, run_id or new_run_id(),
                                                worker_input["workerid"] if worker_input else "main",
                                                int(worker_input.get("workercount", 1)) if worker_input else 1)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if run.recorder is not None:
        hooks = RecordingHooks(run.recorder, replay=settings.target == "replay")
        config.pluginmanager.register(hooks, "proxmox_mpc_recording")
    # The watch's fixtures (pve_inventory, the gates), which fixtures here depend on.
    config.pluginmanager.register(watchfixtures, "proxmox_mpc_watch")
    config.pluginmanager.register(workspacefixtures, "proxmox_mpc_workspace")
    config.pluginmanager.register(proxyfixtures, "proxmox_mpc_proxy")
    config.addinivalue_line("markers", f"{CRITERION}(*ids): the test is evidence for these success criteria of "
                            "the run report (ids: pytest-proxmox-mpc's criteria.CRITERIA)")
    if worker_input is None:
        config.pluginmanager.register(RunReporter(run), "proxmox_mpc_reporter")
        if config.pluginmanager.hasplugin("xdist"):
            config.pluginmanager.register(_XdistController(run.run_id), "proxmox_mpc_xdist")
    if not settings.verify_ssl:  # the user chose it, and the header says so: one warning per request is noise
        config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


class _XdistController:
    """Registered on the xdist controller only: hands the run id to every worker it starts."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["pve_run_id"] = self.run_id


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN_KEY in config.stash:
        config.stash[RUN_KEY].close()


def run_of(config: pytest.Config) -> Run:
    """This process's state of the run."""
    return config.stash[RUN_KEY]


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this run."""
    return run_of(config).settings


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = run_of(config)
    return [*run.settings.header_lines(), f"proxmox: run {run.run_id}, audit trail {run.files.audit}"]


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
        implied = [FIXTURE_PHASES[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_PHASES]
        if phase is None and implied:
            phase = max(implied)
            item.add_marker(phases.PHASES[phase].marker)
        item.user_properties += [(PHASE_PROPERTY, phase), (CRITERIA_PROPERTY, criteria)]
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
    item.stash[REFUSALS_REPORTED] = 0
    try:
        result = yield
    finally:
        refusals = run.trail.end_test()
    abort = None
    if refusals and run.settings.abort_on_violation and not _expects_refusal(item):
        abort = Abort.refused(item.nodeid, refusals)
    elif run.watch is not None:  # the seed's other abort triggers: connection, usage, local database
        wrote = (phase or 0) >= phases.WRITE_PHASE and item.stash.get(TEST_RAN, False)
        abort = run.watch.after_test(item.nodeid, wrote=wrote)
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


@pytest.fixture(scope="session")
def _pve_target_session(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                        ) -> Iterator[TargetSession]:
    session = TargetSession(settings_of(pytestconfig), tmp_path_factory.mktemp("pve-target"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def pve_sim(_pve_target_session: TargetSession) -> Any:
    """The simulated cluster's ``fakepve.FakePve`` (inject faults, add guests); skips on other targets."""
    sim = _pve_target_session.sim
    if sim is None:
        pytest.skip(f"pve_sim needs --pve-target sim (the target is {_pve_target_session.kind})")
    return sim.pve


@pytest.fixture(scope="session")
def _pve_connection(pytestconfig: pytest.Config, _pve_target_session: TargetSession) -> tuple[Any, str]:
    """The read-only client and the PVE version, from one login and one GET /version."""
    endpoint = _pve_target_session.endpoint
    guard = run_of(pytestconfig).guard(ReadOnlyPolicy())
    try:
        api, version = connect_checked(endpoint, guard)
    except TargetUnavailable as exc:
        problem = str(exc)
    else:
        return api, version
    pytest.fail(f"proxmox: {problem}", pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def pve_readonly(_pve_connection: tuple[Any, str], _pve_watch: Any) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` that can only read: any method but GET (and the login) raises
    ``ReadOnlyViolation`` before anything is sent."""
    return _pve_connection[0]


@pytest.fixture(scope="session")
def pve_target(_pve_target_session: TargetSession, _pve_connection: tuple[Any, str], _pve_watch: Any) -> Target:
    """What the run talks to: kind (sim, live), API base URL and PVE version."""
    return Target(kind=_pve_target_session.kind, base_url=_pve_target_session.endpoint.base_url,
                  version=_pve_connection[1])


@pytest.fixture(scope="session")
def pve_exclusions(pytestconfig: pytest.Config) -> ExclusionList:
    """The production exclusion list of the run (empty without ``--pve-exclusions``):
    ``pve_exclusions.protects(vmid=..., name=..., node=..., storage=...)``."""
    return settings_of(pytestconfig).exclusions


@pytest.fixture(scope="session")
def _pve_protected(_pve_connection: tuple[Any, str], pve_exclusions: ExclusionList) -> frozenset[int]:
    """The vmids protected by name, tag or pool, resolved against the inventory when the session starts."""
    try:
        return protected_vmids(_pve_connection[0], pve_exclusions)
    except Exception as exc:  # an unresolved exclusion list must not let writes through: no client at all
        problem = one_line(exc)
    pytest.fail(f"proxmox: cannot resolve the exclusion list against the cluster: {problem}", pytrace=False)


@pytest.fixture
def pve_client(request: pytest.FixtureRequest, pytestconfig: pytest.Config, pve_readonly: Any,
               _pve_protected: frozenset[int]) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` with the running test's phase policy: a refused request raises
    ``PhaseViolation`` or ``ExclusionViolation`` (both ``SafetyViolation``) before anything is sent."""
    phase = phases.phase_of_test(request.node) or phases.DEFAULT_PHASE
    return run_of(pytestconfig).client(pve_readonly, phase, _pve_protected)


@pytest.fixture(scope="session")
def pve_audit(pytestconfig: pytest.Config) -> AuditView:
    """The current run's audit trail: ``pve_audit.records(test=nodeid)``, ``pve_audit.refusals()``."""
    run = run_of(pytestconfig)
    return AuditView(run.files.audit, run.run_id)


@pytest.fixture
def pve_recording(request: pytest.FixtureRequest) -> Recording:
    """Whether this test records (``state == "recording"``), replays (``"replaying"``) or neither (``"off"``)."""
    hooks = request.config.pluginmanager.get_plugin("proxmox_mpc_recording")
    return hooks.state_of(request.node.nodeid) if isinstance(hooks, RecordingHooks) else Recording("off")
