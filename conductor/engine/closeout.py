"""Closeout records: the minimal report.md and the decision.json the conductor always writes.

The closeout skill (skills/, another issue) writes the full report; when it is absent or fails,
`minimal_report` stands in: the decision, the reason and every gate verdict, nothing invented.
decision.json is written by the conductor itself, atomically, after report.md: it is the last
file of a run, so its presence means every record it rests on is on disk.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from conductor.runtime.clock import utc_now


def decision_record(*, run_id: str, decision: str, exit_code: int, reason: str, failure_class: Optional[str],
                    stage: Optional[str], statuses: dict[str, str], verdicts: Sequence[dict[str, Any]],
                    budget: dict[str, Any], transcript: Optional[str], report: Optional[str]) -> dict[str, Any]:
    return {
        "schema_version": 1, "run_id": run_id, "decision": decision, "exit_code": exit_code, "reason": reason,
        "failure_class": failure_class, "stage": stage, "stages": statuses,
        "verdicts": [{"stage": v["stage"], "gate": v["gate"], "attempt": v["attempt"], "pass": v["pass"],
                      "failure_class": v["failure_class"]} for v in verdicts],
        "budget": budget, "transcript": transcript, "report": report, "written_at": utc_now(),
    }


def _md(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def minimal_report(*, config: dict[str, Any], decision: str, exit_code: int, reason: str,
                   statuses: dict[str, str], verdicts: Sequence[dict[str, Any]], transcript: Optional[str],
                   budget: dict[str, Any]) -> str:
    lines = [
        f"# Release decision: {decision} (exit {exit_code})", "",
        f"Reason: {_md(reason)}", "",
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
    if verdicts:
        lines += ["| stage | attempt | gate | verdict | failure_class | detail |", "|---|---|---|---|---|---|"]
        lines += [f"| {v['stage']} | {v['attempt']} | {v['gate']} | {'PASS' if v['pass'] else 'FAIL'} | "
                  f"{v['failure_class'] or ''} | {_md(v['detail'])[:300]} |" for v in verdicts]
    else:
        lines.append("No gate ran in this run.")
    lines += ["", "## Run", "",
              f"- turns: {budget.get('turns')}, cost: ${budget.get('cost_usd', 0):.4f}, "
              f"wall: {budget.get('elapsed_s', 0):.1f} s",
              f"- transcript: `{transcript}`" if transcript else "- transcript: not recorded",
              "", "This is the conductor's minimal report; the closeout skill writes the full one.", ""]
    return "\n".join(lines)
