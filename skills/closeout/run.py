"""The closeout runner: records -> report dict -> report.json and report.md (both atomic)."""

from __future__ import annotations

import json
from typing import Any

from conductor.runtime.fsutil import atomic_write_json, atomic_write_text
from skills.closeout import CloseoutInput
from skills.closeout.records import load_records
from skills.closeout.render import render_markdown
from skills.closeout.report import build_report
from skills.common.runner import SKILL_FAILED, RunContext, SkillFailure, main, progress

REPORT_MD = "report.md"
REPORT_JSON = "report.json"


def _decision(rc: RunContext) -> dict[str, Any]:
    if rc.decision:
        return dict(rc.decision)
    try:  # run by hand on a finished workspace
        return json.loads((rc.workspace / "decision.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SkillFailure(SKILL_FAILED, "no decision to report: the conductor passes it to closeout "
                                         "(and this workspace has no decision.json)") from None


def _config(rc: RunContext) -> dict[str, Any]:
    if rc.config:
        return rc.config
    try:
        return json.loads((rc.workspace / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run(inp: CloseoutInput, rc: RunContext) -> dict[str, Any]:
    progress(0.1, "reading the seals, verdicts and results in the workspace")
    recs = load_records(rc.workspace, _config(rc), _decision(rc))
    progress(0.5, "building the report")
    report = build_report(recs)
    json_path = atomic_write_json(rc.workspace / REPORT_JSON, report)
    md_path = atomic_write_text(rc.workspace / REPORT_MD, render_markdown(report))
    progress(1.0, "report written")
    rec = report["recommendation"]
    return {"summary": f"{report['decision']['decision']}: {rec['verdict']} ({len(report['gates'])} verdicts, "
                       f"{len((report.get('compare') or {}).get('tasks') or [])} task rows)",
            "artifacts": {"report": rc.rel(md_path), "report_json": rc.rel(json_path)},
            "data": {"recommendation": rec, "records": report["records"]}}


if __name__ == "__main__":
    raise SystemExit(main(CloseoutInput, run))
