"""The audits runner: finds the two sealed lm-eval runs and the checkpoints the audit gate will
hash, and writes a small summary. The verdicts are the gates'."""

from __future__ import annotations

from typing import Any

from conductor.runtime.fsutil import atomic_write_json
from skills.audits import AuditsInput, checkpoints
from skills.common.runner import SKILL_FAILED, RunContext, SkillFailure, main, progress
from skills.common.sealed import MissingArtifact, describe_eval_dir, eval_dirs

SUMMARY = "audits_summary.json"


def run(inp: AuditsInput, rc: RunContext) -> dict[str, Any]:
    progress(0.1, "locating the sealed evaluation runs and checkpoints")
    try:
        base, cand = eval_dirs(rc.workspace, rc.sealed)
    except MissingArtifact as exc:
        raise SkillFailure(SKILL_FAILED, str(exc)) from None
    sides = {"baseline": describe_eval_dir(base), "candidate": describe_eval_dir(cand)}
    missing = [f"{side} ({d['dir']})" for side, d in sides.items() if not d["exists"]]
    if missing:
        raise SkillFailure(SKILL_FAILED, f"sealed evaluation output missing: {', '.join(missing)}")
    base_ckpt, cand_ckpt = checkpoints(rc.workspace, rc.sealed)
    summary = {**sides, "baseline_checkpoint": str(base_ckpt) if base_ckpt else None,
               "candidate_checkpoint": str(cand_ckpt) if cand_ckpt else None,
               "verbosity_tolerance": float(rc.config.get("verbosity_tolerance", 0.05))}
    path = atomic_write_json(rc.out_dir / SUMMARY, summary)
    progress(1.0, "ready for the verbosity and audit gates")
    hashed = "both checkpoints" if base_ckpt and cand_ckpt else "the evaluated paths (checkpoints not sealed)"
    return {"summary": f"baseline {rc.rel(base)} vs candidate {rc.rel(cand)}; the audit hashes {hashed}",
            "artifacts": {"summary": rc.rel(path)}, "data": summary}


if __name__ == "__main__":
    raise SystemExit(main(AuditsInput, run))
