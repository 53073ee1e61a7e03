"""Closeout records: the minimal report.md and the decision.json the conductor always writes.

The closeout skill writes the full report; when it is absent or fails, `minimal_report` stands in:
the decision, the reason and every gate verdict, nothing invented, read from the same release
report model (conductor.runtime.report) every other surface shows. decision.json is written by
the conductor itself, atomically, after report.md: it is the last file of a run, so its presence
means every record it rests on is on disk.
"""

from __future__ import annotations

from typing import Any, Optional

from conductor.runtime.clock import utc_now
from conductor.runtime.report import ReleaseReport


def decision_record(*, run_id: str, report: ReleaseReport, statuses: dict[str, str], budget: dict[str, Any],
                    transcript: Optional[str], report_path: Optional[str]) -> dict[str, Any]:
    """decision.json: the decision `report` holds (report.decide was called), with every verdict."""
    assert report.decision is not None, "decision.json is written once the run has its decision"
    return {
        "schema_version": 1, "run_id": run_id, "decision": report.decision.value, "exit_code": report.exit_code,
        "reason": report.reason, "failure_class": report.failure_class, "stage": report.stage, "stages": statuses,
        "verdicts": [{k: v for k, v in g.record().items() if k != "detail"} for g in report.gates],
        "budget": budget, "transcript": transcript, "report": report_path, "written_at": utc_now(),
    }


def _md(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def minimal_report(*, config: dict[str, Any], report: ReleaseReport, statuses: dict[str, str],
                   transcript: Optional[str], budget: dict[str, Any]) -> str:
    assert report.decision is not None, "the minimal report is written once the run has its decision"
    lines = [
        f"# Release decision: {report.decision.value} (exit {report.exit_code})", "",
        f"Reason: {_md(report.reason)}", "",
        "## Release", "",
        f"- model: `{config.get('model')}`",
        f"- recipe: `{config.get('recipe')}`",
        f"- tasks: {', '.join(f'`{t}`' for t in config.get('tasks', []))}",
        f"- threshold: {config.get('threshold')} ({config.get('threshold_kind')})", "",
        "## Stages", "",
        "| stage | status |", "|---|---|",
        *[f"| {s} | {st} |" for s, st in statuses.items()], "",
        "## Gate verdicts", "",
    ]
    if report.gates:
        lines += ["| stage | attempt | gate | verdict | failure_class | detail |", "|---|---|---|---|---|---|"]
        lines += [f"| {g.stage} | {g.attempt} | {g.gate} | {'PASS' if g.passed else 'FAIL'} | "
                  f"{g.failure_class or ''} | {_md(g.detail)[:300]} |" for g in report.gates]
    else:
        lines.append("No gate ran in this run.")
    lines += ["", "## Run", "",
              f"- turns: {budget.get('turns')}, cost: ${budget.get('cost_usd', 0):.4f}, "
              f"wall: {budget.get('elapsed_s', 0):.1f} s",
              f"- transcript: `{transcript}`" if transcript else "- transcript: not recorded",
              "", "This is the conductor's minimal report; the closeout skill writes the full one.", ""]
    return "\n".join(lines)
