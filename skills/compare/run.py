"""The compare runner: finds the two sealed lm-eval runs and writes a small summary. The decision
is the compare gate's, made afterwards on the same two directories."""

from __future__ import annotations

from typing import Any

from conductor.runtime.fsutil import atomic_write_json
from skills.common.runner import SKILL_FAILED, RunContext, SkillFailure, main, progress
from skills.common.sealed import MissingArtifact, describe_eval_dir, eval_dirs
from skills.compare import CompareInput, criterion

SUMMARY = "compare_summary.json"


def run(inp: CompareInput, rc: RunContext) -> dict[str, Any]:
    progress(0.1, "locating the sealed evaluation runs")
    try:
        c = criterion(rc.config, inp)
        base, cand = eval_dirs(rc.workspace, rc.sealed)
    except (ValueError, MissingArtifact) as exc:
        raise SkillFailure(SKILL_FAILED, str(exc)) from None
    sides = {"baseline": describe_eval_dir(base), "candidate": describe_eval_dir(cand)}
    missing = [f"{side} ({d['dir']})" for side, d in sides.items() if not d["exists"]]
    if missing:
        raise SkillFailure(SKILL_FAILED, f"sealed evaluation output missing: {', '.join(missing)}")
    summary = {"criterion": {"threshold": c.value, "kind": c.kind, "anomalous_gain": c.anomalous_gain},
               "release": {k: rc.config.get(k) for k in ("threshold", "threshold_kind", "anomalous_gain")},
               **sides}
    path = atomic_write_json(rc.out_dir / SUMMARY, summary)
    progress(1.0, "ready for the compare gate")
    return {"summary": f"baseline {rc.rel(base)} vs candidate {rc.rel(cand)} at the {c.kind} threshold "
                       f"{c.value:g} (anomalous gain above {c.anomalous_gain:g}); the compare gate decides",
            "artifacts": {"summary": rc.rel(path)},
            "data": {"baseline_dir": rc.rel(base), "candidate_dir": rc.rel(cand), "threshold": c.value,
                     "threshold_kind": c.kind, "anomalous_gain": c.anomalous_gain}}


if __name__ == "__main__":
    raise SystemExit(main(CompareInput, run))
