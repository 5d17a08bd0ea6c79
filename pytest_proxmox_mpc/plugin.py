"""The pytest plugin: wires hooks and fixtures to the modules that do the work.

Registered through the ``pytest11`` entry point as ``proxmox_mpc``.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from . import phases
from .audit import AuditSummary, new_run_id
from .client import connect, read_version
from .errors import SettingsError, TargetUnavailable
from .exclusions import ExclusionList
from .guests import protected_vmids
from .incident import ABORT_EXIT_CODE, abort_message, write_incident
from .ledger import ledger_lines
from .policy import ReadOnlyPolicy
from .recording import Recording, RecordingHooks
from .run import Run
from .settings import OPTIONS, RawSources, Settings, resolve
from .stash import REFUSALS_REPORTED, RUN_KEY, TEST_FAILED, USAGE_ERROR
from .target import Target, TargetSession
from .tempfixtures import (  # noqa: F401  (imported here, they are registered with the plugin)
    WRITE_PHASE,
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

# The phase a test without a phase marker gets from the fixtures it uses: talking to the cluster makes
# it phase 1, creating temporary guests phase 3.
FIXTURE_PHASES = {**dict.fromkeys(("pve_target", "pve_readonly", "pve_client", "pve_sim"), 1),
                  **dict.fromkeys(factory_fixture_names(), WRITE_PHASE)}
EXPECT_REFUSAL = "pve_expect_refusal"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("proxmox", "pytest-proxmox-mpc: safe validation against Proxmox VE")
    for opt in OPTIONS:
        if opt.negative_flag:
            group.addoption(opt.flag, action="store_const", const=True, dest=opt.dest, default=None,
                            help=opt.help)
            group.addoption(opt.negative_flag, action="store_const", const=False, dest=opt.dest,
                            help="do not " + opt.help.replace(" (default)", ""))
        else:
            group.addoption(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.help)
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
    if config.pluginmanager.hasplugin("xdist") and worker_input is None:
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
        try:
            phase = phases.phase_of(mark.name for mark in item.iter_markers())
        except phases.TwoPhases as exc:
            message = f"{item.nodeid} {exc}"
            if hasattr(config, "workerinput"):  # raising here would crash an xdist worker: fail at setup
                item.stash[USAGE_ERROR] = message
                continue
            raise pytest.UsageError(message) from None
        implied = [FIXTURE_PHASES[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_PHASES]
        if phase is None and implied:
            phase = max(implied)
            item.add_marker(phases.PHASES[phase].marker)
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
    run.trail.begin_test(item.nodeid, phases.phase_of_test(item))
    item.stash[REFUSALS_REPORTED] = 0
    try:
        result = yield
    finally:
        refusals = run.trail.end_test()
    if refusals and run.settings.abort_on_violation and not _expects_refusal(item):
        incident = write_incident(run.files.incident(run.worker), target=run.settings.target, test=item.nodeid,
                                  refusals=refusals)
        message = abort_message(item.nodeid, refusals, incident)
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
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # the controller reports for the whole run
        return
    run = run_of(config)
    view = AuditView(run.files.audit, run.run_id)
    records = view.records()
    incidents = run.files.incidents()
    guests = ledger_lines(run.files.ledger, "pytest-proxmox-mpc sweep (with this run's connection settings)")
    if not (records or incidents or guests):
        return
    terminalreporter.section("proxmox audit")
    terminalreporter.write_line(f"{len(records)} requests in {run.files.audit}")
    for line in [*AuditSummary.of(records).lines(), *guests]:
        terminalreporter.write_line(line)
    for incident in incidents:
        terminalreporter.write_line(f"run aborted: incident file {incident}", red=True, bold=True)


@pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down and every worker has ended
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    run = run_of(session.config)
    if run.files.ledger.exists():  # the sweeper may now remove whatever this run left
        run.ledger_file.event("run-finished")
    # Under xdist the worker that aborted exits with ABORT_EXIT_CODE, the controller only sees a stop.
    if run.files.incidents():
        session.exitstatus = ABORT_EXIT_CODE


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
        api = connect(endpoint, guard)
        version = read_version(api, endpoint)  # token logins are checked only by a first request
    except TargetUnavailable as exc:
        problem = str(exc)
    else:
        return api, version
    pytest.fail(f"proxmox: {problem}", pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def pve_readonly(_pve_connection: tuple[Any, str]) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` that can only read: any method but GET (and the login) raises
    ``ReadOnlyViolation`` before anything is sent."""
    return _pve_connection[0]


@pytest.fixture(scope="session")
def pve_target(_pve_target_session: TargetSession, _pve_connection: tuple[Any, str]) -> Target:
    """What the run talks to: kind (sim, live), API base URL and PVE version."""
    return Target(kind=_pve_target_session.kind, base_url=_pve_target_session.endpoint.base_url,
                  version=_pve_connection[1])


@pytest.fixture(scope="session")
def pve_exclusions(pytestconfig: pytest.Config) -> ExclusionList:
    """The production exclusion list of the run (empty without ``--pve-exclusions``):
    ``pve_exclusions.protects(vmid=..., name=..., node=..., storage=...)``."""
    return settings_of(pytestconfig).exclusions


@pytest.fixture(scope="session")
def _pve_protected(pve_readonly: Any, pve_exclusions: ExclusionList) -> frozenset[int]:
    """The vmids protected by name, tag or pool, resolved against the inventory when the session starts."""
    try:
        return protected_vmids(pve_readonly, pve_exclusions)
    except Exception as exc:  # an unresolved exclusion list must not let writes through: no client at all
        problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
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
