"""skills/compare and skills/audits: the gate arguments they build from a sealed context, and that
the real gates accept them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conductor.gating.runner import run_gate
from conductor.runtime.executor import LocalExecutor
from conductor.runtime.skill import GateCall, SkillContext, SkillResult
from conductor.runtime.workspace import Workspace
from skills.audits import SKILL as AUDITS
from skills.audits import AuditsInput
from skills.compare import SKILL as COMPARE
from skills.compare import CompareInput, criterion

ROOT = Path(__file__).resolve().parents[2]
LMEVAL = ROOT / "tests" / "fixtures" / "lmeval_real_output"
CONFIG = {"threshold": 0.01, "threshold_kind": "absolute", "anomalous_gain": 0.05, "verbosity_tolerance": 0.05}


def sealed_ctx(tmp: Path, config: dict | None = None, with_checkpoints: bool = True) -> SkillContext:
    ws = tmp / "ws"
    for stage in ("eval_baseline", "eval_candidate"):
        shutil.copytree(LMEVAL, ws / "stages" / stage / "attempt-1" / "lmeval")
    sealed = {s: SkillResult(ok=True, artifacts={"lmeval_dir": f"stages/{s}/attempt-1/lmeval"})
              for s in ("eval_baseline", "eval_candidate")}
    if with_checkpoints:
        (tmp / "src").mkdir()
        (ws / "stages" / "quantize" / "attempt-2" / "export").mkdir(parents=True)
        sealed["preflight"] = SkillResult(ok=True, artifacts={"checkpoint": str(tmp / "src")})
        sealed["quantize"] = SkillResult(ok=True, artifacts={"source": str(tmp / "src"),
                                                             "export": "stages/quantize/attempt-2/export"})
    return SkillContext(workspace=ws, out_dir=ws / "stages" / "x" / "attempt-1", config=config or CONFIG,
                        sealed=sealed, python=sys.executable)


def base_cand(ctx: SkillContext) -> tuple[str, str]:
    return (str(ctx.workspace / "stages/eval_baseline/attempt-1/lmeval"),
            str(ctx.workspace / "stages/eval_candidate/attempt-1/lmeval"))


# -- compare ------------------------------------------------------------------------------------


def test_compare_gate_args_come_from_the_release(tmp_path):
    ctx = sealed_ctx(tmp_path)
    b, c = base_cand(ctx)
    assert COMPARE.gates(CompareInput(), ctx, SkillResult(ok=True)) == [GateCall(gate="compare", args=[
        "--artifacts", b, c, "--threshold", "0.01", "--absolute", "--anomalous-gain", "0.05"])]
    rel = sealed_ctx(tmp_path / "r", {**CONFIG, "threshold": 0.02, "threshold_kind": "relative"})
    assert COMPARE.gates(CompareInput(threshold=0.005), rel, SkillResult(ok=True))[0].args[3:] == [
        "--threshold", "0.005", "--relative", "--anomalous-gain", "0.05"]


@pytest.mark.parametrize("inp, ok", [
    ({}, ("absolute", 0.01)),
    ({"threshold": 0.005}, ("absolute", 0.005)),
    ({"relative": True}, ("relative", 0.01)),
    ({"threshold": 0.02}, None),
])
def test_the_agent_may_only_tighten_the_criterion(inp, ok):
    if ok is None:
        with pytest.raises(ValueError, match="looser"):
            criterion(CONFIG, CompareInput(**inp))
    else:
        c = criterion(CONFIG, CompareInput(**inp))
        assert (c.kind, c.value, c.anomalous_gain) == (*ok, 0.05)
    with pytest.raises(ValueError, match="relative"):
        criterion({**CONFIG, "threshold_kind": "relative"}, CompareInput(relative=False))


def test_a_looser_request_fails_before_anything_runs(tmp_path):
    with pytest.raises(ValueError):
        COMPARE.command(CompareInput(threshold=0.5), sealed_ctx(tmp_path))


def test_compare_runner_writes_its_summary(tmp_path):
    ctx = sealed_ctx(tmp_path)
    argv = COMPARE.command(CompareInput(), ctx)
    proc = subprocess.run(argv, cwd=ctx.workspace, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    res = json.loads((ctx.out_dir / "result.json").read_text())
    assert res["ok"] and res["artifacts"] == {"summary": "stages/x/attempt-1/compare_summary.json"}
    summary = json.loads((ctx.workspace / res["artifacts"]["summary"]).read_text())
    assert summary["criterion"] == {"threshold": 0.01, "kind": "absolute", "anomalous_gain": 0.05}
    assert summary["baseline"]["status"] == "SUCCESS"


def test_compare_runner_without_sealed_evaluations(tmp_path):
    ctx = SkillContext(workspace=tmp_path, out_dir=tmp_path / "o", config=CONFIG, sealed={}, python=sys.executable)
    proc = subprocess.run(COMPARE.command(CompareInput(), ctx), cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    res = json.loads((ctx.out_dir / "result.json").read_text())
    assert proc.returncode == 1 and res["failure_class"] == "SKILL_FAILED" and "eval_baseline" in res["error"]


# -- audits -------------------------------------------------------------------------------------


def test_audits_gate_args(tmp_path):
    ctx = sealed_ctx(tmp_path)
    b, c = base_cand(ctx)
    export = str(ctx.workspace / "stages/quantize/attempt-2/export")
    assert AUDITS.gates(AuditsInput(), ctx, SkillResult(ok=True)) == [
        GateCall(gate="verbosity", args=["--artifacts", b, c, "--tolerance", "0.05"]),
        GateCall(gate="audit", args=["--artifacts", b, c, "--baseline-checkpoint", str(tmp_path / "src"),
                                     "--candidate-checkpoint", export])]
    bare = sealed_ctx(tmp_path / "bare", with_checkpoints=False)
    assert AUDITS.gates(AuditsInput(), bare, SkillResult(ok=True))[1].args == ["--artifacts", *base_cand(bare)]


def test_the_real_gates_accept_these_arguments(tmp_path):
    """Same run on both sides: compare and verbosity decide (exit 0/1, never 2); the audit sees
    the candidate reproduce the baseline exactly and says CACHING_DETECTED."""
    ctx = sealed_ctx(tmp_path)
    ws = Workspace(ctx.workspace)
    ex = LocalExecutor()
    calls = COMPARE.gates(CompareInput(), ctx, SkillResult(ok=True)) + AUDITS.gates(AuditsInput(), ctx,
                                                                                     SkillResult(ok=True))
    runs = {c.gate: run_gate(c, executor=ex, workspace=ws, out_dir=ctx.out_dir, timeout_s=60) for c in calls}
    for name, r in runs.items():
        assert r.error is None and r.exit_code in (0, 1), (name, r.verdict)
        assert r.facts is not None
    assert runs["verbosity"].verdict.passed
    assert runs["audit"].verdict.failure_class == "CACHING_DETECTED"
    assert runs["compare"].verdict.evidence["tasks"]
