"""The run report: one dict built from the run's records, written as JSON and as Markdown (same content).

Every figure comes from a file the run keeps (audit trail, ledger, watch and incident files) or from
the test outcomes, so the report agrees with them by construction. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..guests.liveness import SOURCE as BEAT_SOURCE
from ..proxy.toolguests import counts_by_test
from ..safety.policy import LOGIN_PATH
from .criteria import CRITERIA, LATENCY_BUDGET_MS, judge


@dataclass(frozen=True)
class TestOutcome:
    """A test's phase (None: unmarked), outcome (passed, failed, skipped) and the criteria it is marked with."""

    nodeid: str
    phase: int | None
    outcome: str
    criteria: tuple[str, ...] = ()
    reason: str = ""
    expects_refusal: bool = False  # marked pve_expect_refusal: it probes the policy on purpose
    not_judged: tuple[str, ...] = ()  # what a check could not judge on this machine (fails no test)


@dataclass
class ReportInputs:
    """Everything the report is made of."""

    run_id: str
    target: Mapping[str, Any]
    max_phase: int
    tests: Sequence[TestOutcome]
    audit: Sequence[Mapping[str, Any]]
    audit_file: str
    ledger: Sequence[Mapping[str, Any]]
    watches: Sequence[Mapping[str, Any]]
    incidents: Sequence[Mapping[str, Any]]
    exit_status: int
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5 is the median) of non-empty ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _requests(audit: Sequence[Mapping[str, Any]], audit_file: str, probes: Collection[str] = ()) -> dict[str, Any]:
    by = Counter(f"{str(r.get('method', '?')).upper()} {r.get('decision', '?')}" for r in audit)
    allowed = [r for r in audit if r.get("decision") == "allowed"]
    answered = [r for r in allowed if r.get("status") is not None]
    return {
        "total": len(audit), "audit_file": audit_file, "by_method_decision": dict(sorted(by.items())),
        "refused": sum(1 for r in audit if r.get("decision") == "refused"),
        "refused_on_purpose": sum(1 for r in audit if r.get("decision") == "refused" and r.get("test") in probes),
        "answered": len(answered), "succeeded": sum(1 for r in answered if int(r["status"]) < 400),
        "connection_failures": len(allowed) - len(answered),
        "writes_in_phases_1_2": sum(1 for r in allowed if r.get("phase") in (1, 2) and r.get("method") != "GET"
                                    and r.get("path") != LOGIN_PATH and r.get("source") != BEAT_SOURCE),
    }


def _latency(audit: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    times = [float(r["duration_ms"]) for r in audit if r.get("status") is not None and r.get("duration_ms") is not None]
    if not times:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "budget_ms": LATENCY_BUDGET_MS,
                "over_budget": 0}
    return {"count": len(times), "p50_ms": round(percentile(times, 0.5), 3),
            "p95_ms": round(percentile(times, 0.95), 3), "max_ms": round(max(times), 3), "budget_ms": LATENCY_BUDGET_MS,
            "over_budget": sum(1 for t in times if t > LATENCY_BUDGET_MS)}


def _guests(ledger: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    count = Counter(str(event.get("event")) for event in ledger)
    by_test = counts_by_test(ledger)
    return {"created": count["created"], "removed": count["destroyed"], "kept": count["kept"],
            "leaked": count["leaked"], "swept": count["swept"],
            "by_tools": {test: {"created": c.created, "removed_by_tool": c.removed_by_tool,
                                "removed_by_plugin": c.removed_by_plugin, "left": c.left}
                         for test, c in sorted(by_test.items())}}


def _tests(tests: Iterable[TestOutcome]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for test in tests:
        table.setdefault(f"phase{test.phase}" if test.phase else "unphased", Counter())[test.outcome] += 1
    return {phase: {k: counts[k] for k in ("passed", "failed", "skipped")} for phase, counts in sorted(table.items())}


def _gates(watches: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
    """The gate results of every worker that evaluated them; the worst outcome per gate."""
    rank = {"passed": 0, "warning": 1, "failed": 2}
    worst: dict[str, dict[str, Any]] = {}
    for watch in watches:
        for gate in watch.get("gates") or []:
            if gate["name"] not in worst or rank[gate["outcome"]] > rank[worst[gate["name"]]["outcome"]]:
                worst[gate["name"]] = {k: gate[k] for k in ("name", "outcome", "detail")}
    return list(worst.values()) or None


def _changes(watches: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
    seen: dict[str, dict[str, Any]] = {}
    compared = False
    for watch in watches:
        if watch.get("changes") is not None:
            compared = True
            for change in watch["changes"]:
                seen.setdefault(change["line"], change)
    return list(seen.values()) if compared else None


def build_report(inputs: ReportInputs) -> dict[str, Any]:
    """The report as plain data."""
    watches = list(inputs.watches)
    first = next((w for w in watches if w.get("before")), None)
    report: dict[str, Any] = {
        "run_id": inputs.run_id,
        "target": {**inputs.target, "version": next((w["version"] for w in watches if w.get("version")), None)},
        "max_phase": inputs.max_phase,
        "phases_run": sorted({t.phase for t in inputs.tests if t.phase and t.outcome in ("passed", "failed")}),
        "tests": _tests(inputs.tests),
        "gates": _gates(watches),
        "abort": inputs.incidents[0] if inputs.incidents else None,
        "requests": _requests(inputs.audit, inputs.audit_file,
                              {t.nodeid for t in inputs.tests if t.expects_refusal}),
        "temporary_guests": _guests(inputs.ledger),
        "snapshots": {"before": first["before"] if first else None,
                      "after": first.get("after") if first else None,
                      "problem": next((w["problem"] for w in watches if w.get("problem")), None)},
        "unintended_changes": _changes(watches),
        "latency": _latency(inputs.audit),
        "exit_status": inputs.exit_status,
        "not_judged": list(dict.fromkeys(note for test in inputs.tests for note in test.not_judged)),
        **inputs.extra,
    }
    marked: dict[str, dict[str, str]] = {}
    for test in inputs.tests:
        for criterion in test.criteria:
            marked.setdefault(criterion, {})[test.nodeid] = test.outcome
    report["criteria"] = [judge(c, report, marked.get(c.id, {})) for c in CRITERIA]
    return report


def write_report(report: Mapping[str, Any], stem: Path) -> tuple[Path, Path]:
    """Write ``stem.json`` and ``stem.md``; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    as_json, as_md = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".md")
    as_json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    as_md.write_text(to_markdown(report), encoding="utf-8")
    return as_json, as_md


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _workspaces(workspaces: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The workspaces under test (one per worker that built one): how each was made, and a command's run."""
    if not workspaces:
        return []
    out = ["", "## Workspace under test", "",
           *_table(("source", "path", "copied from", "sync"),
                   ((w["source"], w["path"], w.get("copied_from") or "", w.get("sync") or "") for w in workspaces))]
    for run in (w["command"] for w in workspaces if w.get("command")):
        out += ["", f"The command exited with {run['exit_status']} after {run['duration_s']} s; the command and the "
                "tail of its output (secrets masked):", "", *_fenced(f"$ {run['command']}\n{run['output_tail']}")]
    return out


def _not_judged(notes: Sequence[str] | None) -> list[str]:
    """What the checks could not judge on the machine the suite ran on (no test failed for it)."""
    if not notes:
        return []
    return ["", "## Not judged here", "", "What depends on the machine the suite ran on, not on the workspace "
            "(no test failed for it):", "", *(f"- {note}" for note in notes)]


def _fenced(text: str) -> list[str]:
    """``text`` as a code block whose fence outlasts any run of backticks inside."""
    shown = text.rstrip()
    fence = "`" * max(3, 1 + max(map(len, re.findall("`+", shown)), default=0))
    return [fence, shown, fence]


def _tool_steps(steps: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """The system under test's steps, per phase: outcome, duration, refused requests, transcript (masked)."""
    if not steps:
        return []
    out = ["", "## System under test", ""]
    for phase in sorted({s.get("phase") or 0 for s in steps}):
        mine = [s for s in steps if (s.get("phase") or 0) == phase]
        out += [f"### Phase {phase or 'unmarked'}", "",
                *_table(("test", "step", "command", "outcome", "seconds", "refused"),
                        ((s["test"].rpartition("::")[2], s["step"], s["command"], f"{s['outcome']}: {s['reason']}",
                          s["duration_s"], "; ".join(s.get("refused") or [])) for s in mine)), ""]
        for s in mine:
            out += [f"{s['test'].rpartition('::')[2]}, {s['step']} ({s['via']}, {s['duration_s']} s):", "",
                    *_fenced(s["transcript"] or "(no output)"), ""]
    return out


def to_markdown(r: Mapping[str, Any]) -> str:
    """The report as Markdown: the same content as the JSON, as sections and tables."""
    t, req, lat, g = r["target"], r["requests"], r["latency"], r["temporary_guests"]
    out = [f"# Proxmox validation run {r['run_id']}", "",
           f"Target: {' '.join(filter(None, (t.get('kind'), t.get('url'))))} (PVE {t.get('version') or 'unknown'}); "
           f"phases allowed up to {r['max_phase']}, run: {', '.join(map(str, r['phases_run'])) or 'none'}; "
           f"exit status {r['exit_status']}.",
           "", "## Tests", "", *_table(("phase", "passed", "failed", "skipped"),
                                     ((p, c["passed"], c["failed"], c["skipped"]) for p, c in r["tests"].items())),
           "", "## Gates", ""]
    out += (_table(("gate", "outcome", "detail"), ((x["name"], x["outcome"], x["detail"]) for x in r["gates"]))
            if r["gates"] else ["Not evaluated (no phase 3/4 test reached the cluster)."])
    out += ["", "## Abort", ""]
    abort = r["abort"]
    out += [f"Aborted ({abort.get('trigger')}) in {abort.get('test')}: {'; '.join(abort.get('problems', []))}"
            f" (incident file {abort.get('file')})" if abort else "The run was not aborted."]
    out += ["", "## Requests", "", f"{plural(req['total'], 'request')} in {req['audit_file']}: "
            f"{req['answered']} answered, "
            f"{req['succeeded']} succeeded, {req['connection_failures']} without an answer, {req['refused']} refused.",
            "", *_table(("method and decision", "requests"), req["by_method_decision"].items()),
            "", "## Temporary guests", "",
            *_table(("created", "removed", "kept", "leaked", "swept"),
                    [(g["created"], g["removed"], g["kept"], g["leaked"], g["swept"])]),
            *(["", "Created by tools through the safety proxy:", "",
               *_table(("test", "created", "removed by the tool", "removed by the plugin", "left"),
                       ((test, c["created"], c["removed_by_tool"], c["removed_by_plugin"], c["left"])
                        for test, c in g["by_tools"].items()))] if g["by_tools"] else []),
            "", "## Unintended changes", ""]
    changes = r["unintended_changes"]
    out += ([f"- {c['line']}" for c in changes] or ["None."]) if changes is not None else [
        "Not compared: " + (r["snapshots"].get("problem") or "no snapshot was taken.")]
    out += ["", "## API latency", ""]
    out += (_table(("calls", "p50 ms", "p95 ms", "max ms", "budget ms", "over budget"),
                   [(lat["count"], lat["p50_ms"], lat["p95_ms"], lat["max_ms"], lat["budget_ms"], lat["over_budget"])])
            if lat["count"] else ["No answered request."])
    out += _workspaces(r.get("workspaces"))
    out += _not_judged(r.get("not_judged"))
    out += _tool_steps(r.get("tool_steps"))
    out += ["", "## Success criteria", "",
            *_table(("criterion", "phase", "status", "evidence"),
                    ((c["text"], c["phase"] or "run", c["status"], c["evidence"]) for c in r["criteria"])), ""]
    return "\n".join(out)


def plural(count: int, noun: str) -> str:
    """``1 request``, ``2 requests``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def short_lines(r: Mapping[str, Any]) -> list[str]:
    """The terminal summary's short form."""
    counts = Counter(c["status"] for c in r["criteria"])
    lines = [f"criteria: {counts['met']} met, {counts['not met']} not met, {counts['not evaluated']} not evaluated"]
    unjudged = [c["id"] for c in r["criteria"] if c["status"] == "not evaluated"]
    if unjudged:
        lines.append("criteria not evaluated: " + ", ".join(unjudged))
    lines += [f"criterion not met: {c['text']} ({c['evidence']})" for c in r["criteria"] if c["status"] == "not met"]
    for gate in r["gates"] or []:
        if gate["outcome"] != "passed":
            lines.append(f"gate {gate['name']}: {gate['outcome']}: {gate['detail']}")
    lat = r["latency"]
    if lat["count"]:
        lines.append(f"API latency: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, max {lat['max_ms']:.1f} ms "
                     f"({lat['over_budget']} over the {lat['budget_ms'] / 1000:g} s budget)")
    for change in r["unintended_changes"] or []:
        lines.append(f"UNINTENDED CHANGE: {change['line']}")
    return lines
