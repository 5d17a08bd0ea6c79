"""The seed plan's success criteria, each judged met, not met or not evaluated, with its evidence.

A criterion is judged from the run's own records (audit trail, ledger, snapshots, gates) where they
can show it, and from the tests marked ``@pytest.mark.pve_criterion("<id>")`` otherwise (both when
both exist: the tests must have passed and the evidence must hold). Nothing here imports pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .programs import isolation

MET, NOT_MET, NOT_EVALUATED = "met", "not met", "not evaluated"
LATENCY_BUDGET_MS = 2000.0
SUCCESS_RATE = 0.99

Evidence = tuple[bool | None, str]  # (None: nothing to judge by)


def _connected(r: Mapping[str, Any]) -> Evidence:
    answered, failed = r["requests"]["answered"], r["requests"]["connection_failures"]
    if answered == 0 and failed == 0:
        return None, "no request was sent"
    return failed == 0 and answered > 0, f"{answered} requests answered, {failed} without an answer"


def _inventory(r: Mapping[str, Any]) -> Evidence:
    snapshot = r["snapshots"]["before"]
    if snapshot is None:
        return None, r["snapshots"].get("problem") or "no inventory snapshot was taken"
    return True, f"snapshot of {snapshot['summary']} in {snapshot['requests']} requests"


def _read_only(r: Mapping[str, Any]) -> Evidence:
    writes = r["requests"]["writes_in_phases_1_2"]
    changes = r["unintended_changes"]
    if changes is None:
        return (writes == 0 or None), f"{writes} writes sent by phase 1-2 tests; no second snapshot to compare"
    return writes == 0 and not changes, f"{writes} writes sent by phase 1-2 tests, {len(changes)} unintended changes"


def _audited(r: Mapping[str, Any]) -> Evidence:
    total = r["requests"]["total"]
    if total == 0:
        return None, "no request was sent"
    return True, f"{total} requests in the audit trail {r['requests']['audit_file']}"


def _cleaned_up(r: Mapping[str, Any]) -> Evidence:
    g = r["temporary_guests"]
    if g["created"] == 0:
        return None, "no temporary guest was created"
    left = g["created"] - g["removed"]
    return left == 0 and g["leaked"] == 0, (f"{g['created']} created, {g['removed']} removed, {g['kept']} kept, "
                                            f"{g['leaked']} leaked")


def _success_rate(threshold: float) -> Callable[[Mapping[str, Any]], Evidence]:
    def judge(r: Mapping[str, Any]) -> Evidence:
        answered, ok = r["requests"]["answered"], r["requests"]["succeeded"]
        failed = r["requests"]["connection_failures"]
        total = answered + failed
        if total == 0:
            return None, "no request was sent"
        rate = ok / total
        return rate >= threshold, f"{ok} of {total} requests succeeded ({rate:.2%}; needed {threshold:.1%})"
    return judge


def _latency(r: Mapping[str, Any]) -> Evidence:
    lat = r["latency"]
    if not lat["count"]:
        return None, "no answered request"
    return lat["p95_ms"] <= LATENCY_BUDGET_MS, (f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms, "
                                                f"max {lat['max_ms']:.0f} ms; {lat['over_budget']} calls over "
                                                f"the {LATENCY_BUDGET_MS / 1000:g} s budget")


def _no_changes(r: Mapping[str, Any]) -> Evidence:
    changes = r["unintended_changes"]
    if changes is None:
        return None, "no second snapshot to compare"
    return not changes, f"{len(changes)} unintended changes"


def _no_refusals(r: Mapping[str, Any]) -> Evidence:
    on_purpose = r["requests"].get("refused_on_purpose", 0)  # by tests that probe the policy: no attempt of the tool
    refused = r["requests"]["refused"] - on_purpose
    changes = r["unintended_changes"]
    ok = refused == 0 and not changes
    return (ok if changes is not None else (ok or None)), (
        f"{refused} requests refused ({on_purpose} more by tests that probe the policy on purpose), "
        f"{len(changes) if changes is not None else 'unknown'} unintended changes")


@dataclass(frozen=True)
class Criterion:
    """A success criterion of the seed plan: its id, phase (0: the whole run), wording and evidence."""

    id: str
    phase: int
    text: str
    evidence: Callable[[Mapping[str, Any]], Evidence] | None = None


CRITERIA: tuple[Criterion, ...] = (
    Criterion("p1-connectivity", 1, "API connectivity established without errors", _connected),
    Criterion("p1-inventory", 1, "Complete resource inventory discovered", _inventory),
    Criterion("p1-schema", 1, "Database schema validated with real data"),
    Criterion("p1-no-modifications", 1, "No modifications to production environment", _read_only),
    Criterion("p1-audited", 1, "All operations logged and auditable", _audited),
    Criterion("p2-sync", 2, "Database synchronization completes without errors"),
    Criterion("p2-accurate", 2, "All production resources accurately represented"),
    Criterion("p2-iac-valid", 2, "Generated IaC files are valid and complete"),
    Criterion("p2-state-tracking", 2, "State tracking functions correctly"),
    Criterion("p2-no-impact", 2, "No impact on production Proxmox server", _read_only),
    Criterion("p3-api-ops", 3, "API operations execute successfully", _success_rate(SUCCESS_RATE)),
    Criterion("p3-cleanup", 3, "All test resources cleaned up automatically", _cleaned_up),
    Criterion("p3-error-handling", 3, "Error handling works correctly"),
    Criterion("p3-rollback", 3, "Rollback procedures function as expected"),
    Criterion("p3-no-permanent-changes", 3, "No permanent changes to production environment", _no_refusals),
    Criterion("p4-workflows", 4, "All workflows complete successfully"),
    Criterion("p4-load", 4, "System performs reliably under load"),
    Criterion("p4-recovery", 4, "Error recovery mechanisms work correctly"),
    Criterion("p4-cleanup", 4, "Complete test environment cleanup", _cleaned_up),
    Criterion("run-success-rate", 0, "99%+ API operation success rate", _success_rate(SUCCESS_RATE)),
    Criterion("run-latency", 0, "< 2 second response time for API calls", _latency),
    Criterion("run-sync-time", 0, "< 30 second sync time for typical infrastructure"),
    Criterion("run-no-unintended-changes", 0, "Zero unintended production changes", _no_changes),
    Criterion("run-audit-trail", 0, "Complete audit trail for all operations", _audited),
    Criterion("safety-isolated-network", 0, "Test operations in isolated network segments", isolation),
)
CRITERIA_IDS = frozenset(criterion.id for criterion in CRITERIA)


def judge(criterion: Criterion, report: Mapping[str, Any], tests: Mapping[str, str]) -> dict[str, Any]:
    """The criterion's row: status and evidence. ``tests`` maps the node ids marked with it to outcomes."""
    phases_run = report["phases_run"]
    if criterion.phase and criterion.phase not in phases_run:
        return _row(criterion, NOT_EVALUATED, f"no phase {criterion.phase} test ran")
    verdicts: list[bool] = []
    evidence: list[str] = []
    if criterion.evidence is not None:
        met, text = criterion.evidence(report)
        evidence.append(text)
        if met is not None:
            verdicts.append(met)
    ran = {test: outcome for test, outcome in tests.items() if outcome in ("passed", "failed")}
    if ran:
        failed = sorted(test for test, outcome in ran.items() if outcome == "failed")
        verdicts.append(not failed)
        evidence.append(f"{len(ran) - len(failed)} of {len(ran)} tests passed"
                        + (f" (failed: {', '.join(failed[:3])})" if failed else ""))
    elif tests:
        evidence.append(f"{len(tests)} tests marked, none ran")
    if not verdicts:
        return _row(criterion, NOT_EVALUATED, "; ".join(evidence) or "no test is marked with it")
    return _row(criterion, MET if all(verdicts) else NOT_MET, "; ".join(evidence))


def _row(criterion: Criterion, status: str, evidence: str) -> dict[str, Any]:
    return {"id": criterion.id, "phase": criterion.phase, "text": criterion.text, "status": status,
            "evidence": evidence}
