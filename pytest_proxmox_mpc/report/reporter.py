"""The end of a run, on the process that reports (the xdist controller, or the only process).

``RunReporter`` collects test outcomes (xdist forwards every worker's reports, with the phase and
criteria the plugin put in each item's ``user_properties``), marks the run finished in the ledger,
sets the exit status for an abort or unintended changes, builds the report from the run's files,
writes it with ``--pve-report`` and prints the short form in the terminal summary.

The summary (requests by method, guests made, the success criteria judged) is for a session that validates: one
with a test its author marked with a phase or ``pve_criterion`` (the validation suite's every test), or one that
asks (``--pve-report``, ``-m`` naming a phase). A session that merely uses the plugin's fixtures as a harness (a
project testing its own tooling against ``pve_sim``, the plugin's own tests) is not judged against the plan's
criteria: it sees only what needs attention (a refused request, a guest left behind, an unintended change,
skipping gates, an abort).
"""

from __future__ import annotations

from typing import Any

import pytest

from ..config.target import live_endpoint
from ..files.runfiles import read_json_files
from ..proxy.toolguests import counts_by_test, summary_line
from ..run import Run
from ..safety.audit import AuditSummary
from ..safety.incident import ABORT_EXIT_CODE, GATES_SKIPPED_EXIT_CODE, UNINTENDED_CHANGE_EXIT_CODE, read_incidents
from ..safety.ledger import ledger_lines, read_events, unresolved
from ..safety.trail import AuditView
from ..watch.gates import gate_skipped_phases
from .build import ReportInputs, TestOutcome, build_report, plural, short_lines, write_report

PHASE_PROPERTY, CRITERIA_PROPERTY, PROBE_PROPERTY = "pve_phase", "pve_criteria", "pve_expects_refusal"
VALIDATES_PROPERTY = "pve_validates"  # the test's author marked it with a phase or a criterion
# The ledger's summary lines about guests a session left on the cluster (and how to remove them), and what a sweep
# it asked for (--pve-sweep) removed or left alone.
LEFT_BEHIND = ("kept ", "leaked ", "remove them later", "nothing is left on a cluster", "swept ", "sweep: ")
NOT_JUDGED_PROPERTY = "pve_not_judged"  # one entry per thing a check could not judge on this machine
_RANK = {"passed": 0, "skipped": 1, "failed": 2}


class OutcomeCollector:
    """Each test's outcome: failed if any of its phases failed, skipped if it was skipped, else passed."""

    def __init__(self) -> None:
        self.outcomes: dict[str, TestOutcome] = {}
        self.validating_tests = 0  # tests whose author marked them with a phase or a criterion

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup" and dict(report.user_properties).get(VALIDATES_PROPERTY):
            self.validating_tests += 1
        if report.when == "call" or report.failed or report.skipped:
            outcome = "failed" if report.failed else ("skipped" if report.skipped else "passed")
            if report.when == "call" and getattr(report, "wasxfail", None) is not None:
                outcome = "skipped" if report.skipped else "passed"
            known = self.outcomes.get(report.nodeid)
            if known is not None and _RANK[known.outcome] >= _RANK[outcome]:
                return
            props: dict[str, Any] = dict(report.user_properties)
            reason = str(report.longrepr[-1]) if report.skipped and isinstance(report.longrepr, tuple) else ""
            not_judged = tuple(str(value) for name, value in report.user_properties if name == NOT_JUDGED_PROPERTY)
            self.outcomes[report.nodeid] = TestOutcome(report.nodeid, props.get(PHASE_PROPERTY), outcome,
                                                       tuple(props.get(CRITERIA_PROPERTY, ())), reason,
                                                       bool(props.get(PROBE_PROPERTY, False)), not_judged)


def connection_lines(run: Run) -> list[str]:
    """What the workers learnt when they connected (the API schema, a credentials warning), each line once."""
    found = read_json_files(run.files.worker_files("connection"))
    return list(dict.fromkeys(line for data in found for line in data.get("lines", [])))


def _warns(line: str) -> bool:
    """A connection line that warns: credentials that could write, or no API schema to classify writes with."""
    return line.startswith("proxmox: WARNING") or " none (" in line


def run_report(run: Run, collector: OutcomeCollector, exit_status: int, audit: list[dict[str, Any]],
               ledger: list[dict[str, Any]], watches: list[dict[str, Any]]) -> dict[str, Any]:
    """The report of ``run`` as plain data (see ``report.build_report``), from its audit records, ledger
    events and the workers' watch files as the caller read them."""
    files, settings = run.files, run.settings
    url = f"https://{live_endpoint(settings).netloc}" if settings.target == "live" else None
    inputs = ReportInputs(
        run_id=run.run_id, target={"kind": settings.target, "url": url}, max_phase=settings.max_phase,
        tests=list(collector.outcomes.values()), audit=audit, audit_file=str(files.audit),
        ledger=ledger,
        watches=watches, incidents=read_incidents(files.incidents()),
        exit_status=exit_status, extra={"workspaces": read_json_files(files.worker_files("workspace")),
                                            "connection": connection_lines(run),
                                            "temp_network": str(settings.temp_network) if settings.temp_network
                                            else None,
                                            "tool_steps": [step for steps in read_json_files(
                                                files.worker_files("tool-steps")) for step in steps.get("steps", [])]})
    return build_report(inputs)


class RunReporter(OutcomeCollector):
    """Registered by the plugin on the reporting process only."""

    def __init__(self, run: Run, asked: bool = True) -> None:
        super().__init__()
        self.run = run
        self.asked = asked  # the run asks to be judged: --pve-report, -m naming a phase
        self.report: dict[str, Any] | None = None
        self.written: tuple[Any, ...] = ()
        self._audit: list[dict[str, Any]] | None = None
        self._ledger: list[dict[str, Any]] | None = None
        self.gates_skipped: dict[int, str] = {}  # phases whose every test the gates skipped, and why

    def audit(self) -> list[dict[str, Any]]:
        """This run's audit records, read once: at session finish every worker has written its last line."""
        if self._audit is None:
            self._audit = AuditView(self.run.files.audit, self.run.run_id).records()
        return self._audit

    def ledger(self) -> list[dict[str, Any]]:
        """This run's ledger events, read once, after session finish marked the run finished."""
        if self._ledger is None:
            self._ledger = read_events(self.run.files.ledger)
        return self._ledger

    @pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down and every worker has ended
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        run = self.run
        if run.files.ledger.exists():  # the sweeper may now remove whatever this run left
            for guest in unresolved(read_events(run.files.ledger)):  # a worker died before removing them
                run.ledger_file.event("leaked", vmid=guest.get("vmid"), node=guest.get("node"), type=guest.get("type"),
                                      name=guest.get("name"), test=guest.get("test"), source=guest.get("source"),
                                      reason=f"its process ({guest.get('worker')}) ended without removing it")
            run.ledger_file.event("run-finished")
        watches = read_json_files(run.files.worker_files("watch"))
        # Under xdist the worker that aborted exits with ABORT_EXIT_CODE, the controller only sees a stop.
        self.gates_skipped = gate_skipped_phases((t.phase, t.outcome, t.reason) for t in self.outcomes.values())
        if run.files.incidents():
            session.exitstatus = ABORT_EXIT_CODE
        elif any(watch.get("changes") for watch in watches):
            session.exitstatus = UNINTENDED_CHANGE_EXIT_CODE
        elif self.gates_skipped and session.exitstatus == 0:
            session.exitstatus = GATES_SKIPPED_EXIT_CODE
        if not (watches or run.files.audit.exists() or run.files.incidents()):
            return  # the run never talked to a cluster: nothing to report
        self.report = run_report(run, self, int(session.exitstatus), self.audit(), self.ledger(), watches)
        if run.settings.report is not None:
            self.written = write_report(self.report, run.settings.report)
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        if session.exitstatus == ABORT_EXIT_CODE and terminal is not None:
            self.pytest_terminal_summary(terminal)  # pytest prints no summary for an exit code it does not know
            # pytest prints the abort's line after the summary (session.shouldstop), and again at unconfigure as
            # an interruption it remembered: once is enough. (A run pytest itself calls interrupted, the
            # controller of a run whose worker aborted, prints it once, from that memo.)
            if exitstatus != pytest.ExitCode.INTERRUPTED and getattr(terminal, "_keyboardinterrupt_memo", None):
                terminal._keyboardinterrupt_memo = None

    @property
    def validates(self) -> bool:
        """The session validates a cluster (see the module's doc): it gets the whole summary and the criteria."""
        return self.asked or self.validating_tests > 0

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.validates:
            self._attention(terminalreporter)
            return
        run = self.run
        records = self.audit()
        guests = ledger_lines(run.files.ledger, self.ledger(), run.settings.sweep_command())
        tools = summary_line(counts_by_test(self.ledger()))
        guests += [tools] if tools else []
        if not (records or self.report or guests):
            return
        terminalreporter.section("proxmox audit")
        own = [r for r in records if r.get("source") != "watch"]
        by_watch = len(records) - len(own)
        watched = f", and {by_watch} by the watch (snapshots, gates, checks)" if by_watch else ""
        terminalreporter.write_line(f"{plural(len(own), 'request')} in {run.files.audit}{watched}")
        for line in connection_lines(run):
            terminalreporter.write_line(line, yellow=_warns(line))
        for line in [*AuditSummary.of(own).lines(), *guests]:
            terminalreporter.write_line(line)
        for line in short_lines(self.report) if self.report else []:
            terminalreporter.write_line(line, red=line.startswith(("UNINTENDED", "criterion not met")))
        for path in self.written:
            terminalreporter.write_line(f"report: {path}")
        for phase, why in self.gates_skipped.items():
            terminalreporter.write_line(f"proxmox: the safety gates skipped every phase {phase} test (exit code "
                                        f"{GATES_SKIPPED_EXIT_CODE}): {why}", red=True, bold=True)
        for incident in run.files.incidents():
            terminalreporter.write_line(f"run aborted: incident file {incident}", red=True, bold=True)

    def _attention(self, terminalreporter: Any) -> None:
        """A session that does not validate: only what needs attention, under the same heading; nothing when all
        went well."""
        run = self.run
        lines = [line for line in connection_lines(run) if _warns(line)]  # credentials that could write, no schema
        lines += [line for line in AuditSummary.of(self.audit()).lines() if line.startswith("refused ")]
        lines += [line for line in ledger_lines(run.files.ledger, self.ledger(), run.settings.sweep_command())
                  if line.startswith(LEFT_BEHIND)]
        lines += [line for line in short_lines(self.report) if line.startswith("UNINTENDED")] if self.report else []
        gates = [f"proxmox: the safety gates skipped every phase {phase} test (exit code {GATES_SKIPPED_EXIT_CODE}): "
                 f"{why}" for phase, why in self.gates_skipped.items()]
        incidents = [f"run aborted: incident file {incident}" for incident in run.files.incidents()]
        if not (lines or gates or incidents):
            return
        terminalreporter.section("proxmox audit")
        for line in lines:
            terminalreporter.write_line(line, yellow=_warns(line),
                                        red=line.startswith(("UNINTENDED", "refused ", "leaked ")))
        for line in [*gates, *incidents]:
            terminalreporter.write_line(line, red=True, bold=True)
