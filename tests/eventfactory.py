"""Events and headers for tests and benchmarks: a small complete run, and synthetic volume."""

from __future__ import annotations

from typing import Any, Iterator

from conductor.transcript import events as E


def header(run_id: str = "r-test", **config: Any) -> E.TranscriptHeader:
    cfg = {"model": "embedded:smollm2-135m-instruct", "recipe": "fp8", "tasks": ["t1"], "threshold": 0.01}
    cfg.update(config)
    return E.TranscriptHeader(conductor_version="0.1.0", run_id=run_id, config=cfg, provider="scripted",
                              model="scripted-1", host="testhost", started_at="2025-01-01T00:00:00.000Z")


def verdict(gate: str, passed: bool, fc: str | None = None) -> dict[str, Any]:
    return {"schema_version": 1, "gate": gate, "pass": passed, "failure_class": None if passed else fc,
            "detail": "all good" if passed else "something failed",
            "checks": [{"name": "c", "pass": passed, "detail": "d", "failure_class": None if passed else fc,
                        "observed": None, "expected": None}], "evidence": {}}


def small_run() -> list[Any]:
    """A complete run: one failing gate, a retry, a pass, a seal, a decision."""
    return [
        E.RunStarted(run_id="r-test", workspace="/tmp/ws", plan=[{"stage": "quantize", "depends_on": []}]),
        E.StageOpened(stage="quantize", tools=["quantize"]),
        E.TextDelta(turn=1, text="Let me"),
        E.AssistantMessage(turn=1, stage="quantize", content=[
            {"type": "text", "text": "Quantizing now."},
            {"type": "tool_use", "id": "tu1", "name": "quantize", "input": {"recipe": "fp8"}}],
            stop_reason="tool_use", usage=E.Usage(input_tokens=100, output_tokens=20), cost_usd=0.01),
        E.ToolCall(turn=1, stage="quantize", tool_use_id="tu1", name="quantize", input={"recipe": "fp8"}),
        E.SkillStarted(stage="quantize", skill="quantize", tool_use_id="tu1", argv=["python"], log_path="logs/q.log"),
        E.SkillLog(stage="quantize", skill="quantize", lines=["working"]),
        E.SkillFinished(stage="quantize", skill="quantize", tool_use_id="tu1", exit_code=0, duration_s=1.5, ok=True),
        E.GateVerdict(stage="quantize", gate="ptq", attempt=1, facts={"x": 1},
                      verdict=verdict("ptq", False, "SIZE_NOT_REDUCED"), exit_code=1, duration_s=0.2),
        E.ToolResult(stage="quantize", tool_use_id="tu1", name="quantize", is_error=True, content="FAIL"),
        E.StageRetry(stage="quantize", failure_class="SIZE_NOT_REDUCED", retries_left=1, budget_for_class=2),
        E.BudgetUpdate(turns=1, input_tokens=100, output_tokens=20, cache_read_tokens=0, cost_usd=0.01,
                       elapsed_s=2.0, limits={"max_turns": 80}),
        E.AssistantMessage(turn=2, stage="quantize", content=[
            {"type": "tool_use", "id": "tu2", "name": "quantize", "input": {"recipe": "int8_sq"}}],
            stop_reason="tool_use", usage=E.Usage(input_tokens=150, output_tokens=10), cost_usd=0.02),
        E.GateVerdict(stage="quantize", gate="ptq", attempt=2, facts={"x": 2}, verdict=verdict("ptq", True),
                      exit_code=0, duration_s=0.2),
        E.StageSealed(stage="quantize", artifacts={"stages/quantize/attempt-2/export": "ab" * 32},
                      seal_path="seals/quantize.json", duration_s=3.0),
        E.DecisionMade(decision="ACCEPT", exit_code=0, reason="every gate passed"),
        E.RunFinished(decision="ACCEPT", exit_code=0, stage_durations_s={"quantize": 3.0}, turns=2,
                      input_tokens=250, output_tokens=30, cache_read_tokens=0, cost_usd=0.03, wall_s=4.0,
                      transcript="/tmp/ws/transcript.jsonl"),
    ]


def synthetic_events(n: int) -> Iterator[Any]:
    """n recorded (non-ephemeral) events of realistic size, in a repeating pattern."""
    facts = {"baseline": {"tasks": {f"task{i}": {"avg_completion_tokens": 41.5, "samples": 500, "complete": True}
                                    for i in range(8)}}, "tolerance": 0.05}
    pattern = [
        lambda i: E.AssistantMessage(turn=i, stage="eval", content=[
            {"type": "text", "text": "Evaluating the candidate on the tasks. " * 5},
            {"type": "tool_use", "id": f"tu{i}", "name": "eval_run", "input": {"tasks": ["a", "b"], "limit": 100}}],
            stop_reason="tool_use", usage=E.Usage(input_tokens=5000, output_tokens=200), cost_usd=0.02),
        lambda i: E.ToolCall(turn=i, stage="eval", tool_use_id=f"tu{i}", name="eval_run", input={"tasks": ["a", "b"]}),
        lambda i: E.SkillStarted(stage="eval", skill="eval_run", tool_use_id=f"tu{i}",
                                 argv=["python", "-m", "skills.eval_run.run", "--out", "/x"], log_path="logs/eval.log"),
        lambda i: E.SkillFinished(stage="eval", skill="eval_run", tool_use_id=f"tu{i}", exit_code=0,
                                  duration_s=12.5, ok=True, result={"ok": True, "artifacts": {"out": "stages/x"}}),
        lambda i: E.GateVerdict(stage="eval", gate="verbosity", attempt=1, facts=facts,
                                verdict=verdict("verbosity", True), exit_code=0, duration_s=0.3),
        lambda i: E.ToolResult(stage="eval", tool_use_id=f"tu{i}", name="eval_run", is_error=False,
                               content='{"pass": true, "detail": "ok"}' * 3),
    ]
    for i in range(n):
        yield pattern[i % len(pattern)](i)
