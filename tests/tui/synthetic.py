"""Synthetic runs, told event by event: hand-made, never recorded by the run loop.

For what a loop-recorded transcript cannot give: the view-model unit tests (test_model.py), a live
run with the live-only events (text deltas, log lines, progress; a transcript keeps none of them)
for the flow tests, and the 10,000-event run of benchmarks/bench_tui.py. Events go through the
core's EventBus with a deterministic clock and fixed run ids; `Scenario.write(path)` records one
with the core's TranscriptWriter (to a temporary place: the curated, loop-recorded transcripts in
transcripts/ come from scripts/record_transcripts.py, and none of these belongs there). Gate
verdicts are real Verdicts: compare verdicts from the compare gate's own `decide`, the others built
with the gates' `verdict_from_checks`, so every card has the shape a real gate prints. A written
synthetic transcript has no tool definitions in its plan, so replay refuses it.

    passing()      a passing run, ACCEPT
    repair()       quantize fails QUANT_COVERAGE_FAILURE, the agent repairs, the run goes on (in progress)
    approval()     compare is INDETERMINATE, the conductor asks a person (answered: approve)
    divergence()   a passing run whose compare facts were altered afterwards, and that verdict's seq
    report()       a finished run, REGRESSION on one task
    big(n)         about n recorded events, for the benchmark
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from conductor.engine.config import ReleaseConfig
from conductor.transcript.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    BudgetUpdate,
    DecisionMade,
    EventBus,
    GateVerdict,
    RunFinished,
    RunStarted,
    SkillFinished,
    SkillLog,
    SkillProgress,
    SkillStarted,
    StageOpened,
    StageRetry,
    StageSealed,
    TextDelta,
    ToolCall,
    ToolResult,
    TranscriptHeader,
    Usage,
)
from gates.compare.decide import decide as compare_decide
from gates.compare.models import CompareFacts
from gates.contract import check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from tests.compare_facts import carry

T0 = datetime(2025, 6, 2, 9, 0, 0, tzinfo=timezone.utc).timestamp()
PLAN = [("preflight", []), ("quantize", ["preflight"]), ("serve", ["quantize"]), ("eval_baseline", ["preflight"]),
        ("eval_candidate", ["quantize", "serve"]), ("compare", ["eval_baseline", "eval_candidate"]),
        ("audits", ["eval_baseline", "eval_candidate", "compare"]), ("closeout", ["compare", "audits"])]
TASKS = ["conductor_facts_mc", "conductor_facts_gen"]


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Scenario:
    """A run told event by event; `t` is the scenario clock (epoch seconds)."""

    def __init__(self, run_id: str, **config: Any):
        self.run_id = run_id
        self.config = ReleaseConfig(workspace=f"runs/{run_id}", provider="autopilot", **config)
        self.t = T0
        self.events: list[Any] = []
        self.bus = EventBus(clock=lambda: iso(self.t))
        self.bus.subscribe(self.events.append)
        self.turn = 0
        self.ids = 0
        self.usage = Usage()
        self.cost = 0.0
        self.opened: dict[str, float] = {}
        self.recorded = 0  # events a transcript keeps (not ephemeral)

    # -- primitives
    def wait(self, s: float) -> None:
        self.t += s

    def emit(self, event: Any, after: float = 0.2) -> Any:
        self.wait(after)
        if not event.ephemeral:
            self.recorded += 1
        return self.bus.emit(event)

    def header(self) -> TranscriptHeader:
        return TranscriptHeader(conductor_version="0.1.0", run_id=self.run_id,
                                config=self.config.model_dump(mode="json"), provider="autopilot",
                                model="autopilot-1", host="gpu-node-07", started_at=iso(T0))

    def start(self) -> None:
        plan = [{"stage": s, "depends_on": d, "tools": [], "gates": []} for s, d in PLAN]
        self.emit(RunStarted(run_id=self.run_id, workspace=f"runs/{self.run_id}", plan=plan), after=0)

    def open(self, stage: str, attempt: int = 1, tools: Optional[list[str]] = None) -> None:
        self.opened.setdefault(stage, self.t)
        self.emit(StageOpened(stage=stage, attempt=attempt, tools=tools or [stage]))

    def say(self, stage: str, text: str, tool: Optional[str] = None, inp: Optional[dict[str, Any]] = None,
            stream: bool = True) -> str:
        """One model turn: streamed text (live only), the complete message, its tool call."""
        self.turn += 1
        self.ids += 1
        tid = f"toolu_{self.run_id[-4:]}{self.ids:04d}"
        if stream and text:
            words = text.split(" ")
            for i in range(0, len(words), 4):
                self.emit(TextDelta(turn=self.turn, text=" ".join(words[i:i + 4]) + " "), after=0.05)
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if tool:
            content.append({"type": "tool_use", "id": tid, "name": tool, "input": inp or {}})
        u = Usage(
            input_tokens=2400 + 310 * self.turn,
            output_tokens=180,
            cache_read_input_tokens=9000 + 250 * self.turn,
            cache_creation_input_tokens=0 if self.turn > 1 else 9000,
        )
        cost = round((u.input_tokens * 3 + u.output_tokens * 15 + u.cache_read_input_tokens * 0.3) / 1e6, 6)
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + u.input_tokens,
            output_tokens=self.usage.output_tokens + u.output_tokens,
            cache_read_input_tokens=self.usage.cache_read_input_tokens + u.cache_read_input_tokens,
        )
        self.cost += cost
        self.emit(
            AssistantMessage(
                turn=self.turn,
                stage=stage,
                content=content,
                stop_reason="tool_use" if tool else "end_turn",
                model="autopilot-1",
                usage=u,
                cost_usd=cost,
                latency_s=1.2,
            ),
            after=1.2,
        )
        if tool:
            self.emit(ToolCall(turn=self.turn, stage=stage, tool_use_id=tid, name=tool, input=inp or {}))
        self.budget()
        return tid

    def budget(self) -> None:
        b = self.config.budgets
        self.emit(
            BudgetUpdate(
                turns=self.turn,
                input_tokens=self.usage.input_tokens,
                output_tokens=self.usage.output_tokens,
                cache_read_tokens=self.usage.cache_read_input_tokens,
                cost_usd=round(self.cost, 6),
                elapsed_s=self.t - T0,
                limits={
                    "max_turns": b.max_turns,
                    "max_cost_usd": b.max_cost_usd,
                    "max_input_tokens": b.max_input_tokens,
                    "max_wall_s": b.max_wall_s,
                },
            ),
            after=0,
        )

    def skill(
        self,
        stage: str,
        skill: str,
        tid: str,
        seconds: float,
        lines: list[str],
        *,
        ok: bool = True,
        result: Optional[dict[str, Any]] = None,
        attempt: int = 1,
        finish: bool = True,
    ) -> None:
        argv = ["python", "-m", f"skills.{skill}.run", "--out", f"runs/{self.run_id}/stages/{stage}/attempt-{attempt}"]
        self.emit(
            SkillStarted(
                stage=stage,
                skill=skill,
                tool_use_id=tid,
                argv=argv,
                log_path=f"runs/{self.run_id}/logs/{stage}-{attempt}.log",
            )
        )
        step = seconds / max(1, len(lines))
        for i, line in enumerate(lines, 1):
            self.emit(SkillLog(stage=stage, skill=skill, lines=[line]), after=step)
            self.emit(
                SkillProgress(stage=stage, skill=skill, fraction=i / len(lines), message=f"{i}/{len(lines)}"), after=0
            )
        if finish:
            self.emit(
                SkillFinished(
                    stage=stage,
                    skill=skill,
                    tool_use_id=tid,
                    exit_code=0 if ok else 1,
                    duration_s=seconds,
                    ok=ok,
                    result=result or {"ok": ok},
                ),
                after=0.3,
            )

    def gate(
        self, stage: str, gate: str, verdict: dict[str, Any], facts: Optional[dict[str, Any]] = None, attempt: int = 1
    ) -> None:
        self.emit(
            GateVerdict(
                stage=stage,
                gate=gate,
                attempt=attempt,
                facts=facts,
                verdict=verdict,
                exit_code=0 if verdict["pass"] else 1,
                duration_s=0.4,
            ),
            after=0.5,
        )

    def result(self, stage: str, tid: str, name: str, content: str, is_error: bool = False) -> None:
        self.emit(ToolResult(stage=stage, tool_use_id=tid, name=name, is_error=is_error, content=content))

    def seal(self, stage: str, artifacts: Optional[dict[str, str]] = None) -> None:
        self.emit(
            StageSealed(
                stage=stage,
                artifacts=artifacts or {f"stages/{stage}/result.json": "ab" * 32},
                seal_path=f"seals/{stage}.json",
                duration_s=round(self.t + 0.1 - self.opened[stage], 3),
            ),
            after=0.1,
        )

    def decide(
        self, decision: str, code: int, reason: str, fc: Optional[str] = None, stage: Optional[str] = None
    ) -> None:
        self.emit(DecisionMade(decision=decision, exit_code=code, reason=reason, failure_class=fc, stage=stage))

    def finish(self, decision: str, code: int) -> None:
        durations = {e.stage: e.duration_s for e in self.events if e.type == "stage_sealed"}
        self.emit(
            RunFinished(
                decision=decision,
                exit_code=code,
                stage_durations_s=durations,
                turns=self.turn,
                input_tokens=self.usage.input_tokens,
                output_tokens=self.usage.output_tokens,
                cache_read_tokens=self.usage.cache_read_input_tokens,
                cost_usd=round(self.cost, 6),
                wall_s=round(self.t + 0.1 - T0, 3),
                transcript=f"runs/{self.run_id}/transcript.jsonl",
            ),
            after=0.1,
        )

    def write(self, path: Path) -> Path:
        from conductor.transcript.jsonl import TranscriptWriter

        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        with TranscriptWriter(path, self.header()) as w:
            for e in self.events:
                w(e)
        return path

    # -- stages, as a careful operator drives them
    def simple_stage(
        self,
        stage: str,
        tool: str,
        inp: dict[str, Any],
        text: str,
        lines: list[str],
        seconds: float,
        verdicts: list[tuple[str, dict[str, Any], Optional[dict[str, Any]]]],
        result: dict[str, Any],
    ) -> None:
        self.open(stage)
        tid = self.say(stage, text, tool, inp)
        self.skill(stage, tool, tid, seconds, lines, result=result)
        for gate, verdict, facts in verdicts:
            self.gate(stage, gate, verdict, facts)
        self.result(
            stage,
            tid,
            tool,
            _json({"ok": True, "summary": result.get("summary", ""), "gates": {g: "PASS" for g, _, _ in verdicts}}),
        )
        self.seal(stage)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, separators=(",", ":"))


def V(
    gate: str, checks: list[Any], detail: str, evidence: Optional[dict[str, Any]] = None, priority: tuple = ()
) -> dict[str, Any]:
    return verdict_from_checks(gate, checks, pass_detail=detail, evidence=evidence or {}, priority=priority).model_dump(
        mode="json", by_alias=True
    )


def ptq_pass(recipe: str = "fp8", ratio: float = 0.532) -> dict[str, Any]:
    src = 269_060_096
    return V(
        "ptq",
        [
            check("recipe_matches_modules", True, f"recipe {recipe} covers 210 linear layers"),
            check("layers_quantized", True, "210 of 210 covered linear layers stored as float8_e4m3fn"),
            check("declaration_matches_tensors", True, "hf_quant_config.json agrees with the tensors"),
            check("size_reduced", True, f"export weights are {ratio:.3f}x the source's"),
            check("serving_files_present", True, "config, tokenizer and generation files present"),
        ],
        f"quantized as the recipe says ({recipe.upper()}), weights {ratio:.3f}x the source's",
        {"recipe": recipe, "size_ratio": ratio, "source_weight_bytes": src, "export_weight_bytes": int(src * ratio)},
    )


def ptq_coverage_fail() -> dict[str, Any]:
    return V(
        "ptq",
        [
            check("recipe_matches_modules", True, "recipe fp8 covers 210 linear layers"),
            check(
                "layers_quantized",
                False,
                "60 of 210 covered linear layers left in bfloat16 (mlp.down_proj in 30 blocks, "
                "lm_head excluded by pattern)",
                failure_class=FC.QUANT_COVERAGE_FAILURE,
                observed=150,
                expected=210,
            ),
            check(
                "declaration_matches_tensors",
                False,
                "hf_quant_config.json declares FP8 for down_proj but the tensors are bf16",
                failure_class=FC.QUANT_COVERAGE_FAILURE,
            ),
            check("size_reduced", True, "export weights are 0.689x the source's"),
        ],
        "",
        {"recipe": "fp8", "size_ratio": 0.689},
        priority=(FC.QUANT_COVERAGE_FAILURE,),
    )


def serve_pass() -> dict[str, Any]:
    return V(
        "serve",
        [
            check("health_200", True, "/health returned 200 after 38.2s (ceiling 900s)"),
            check("model_listed", True, "/v1/models lists the checkpoint"),
            check("canary_coherent", True, "3 of 3 canary answers contain the expected fact"),
        ],
        "server healthy in 38.2s; canary answers coherent",
    )


def eval_pass(side: str, n: int = 20000) -> dict[str, Any]:
    return V(
        "eval_run",
        [
            check("run_terminal_success", True, "run status SUCCESS"),
            check("samples_accounted", True, f"{n} of {n} samples scored on each task"),
            check("reported_matches_rederived", True, "re-derived scores equal the reported ones"),
            check("responses_nonempty", True, "no empty or errored responses"),
        ],
        f"{side}: {len(TASKS)} tasks complete; scores re-derived from per-sample logs",
    )


def compare_facts(
    cand: dict[str, float], base: Optional[dict[str, float]] = None, n: int = 20000, se: float = 0.003
) -> dict[str, Any]:
    base = base or {"conductor_facts_mc": 0.6215, "conductor_facts_gen": 0.4830}

    def side(scores: dict[str, float], ident: str) -> dict[str, Any]:
        return {
            "model_identity": ident,
            "settings": {"backend": "hf"},
            "tasks": {
                t: {
                    "score": s,
                    "stderr": se,
                    "samples": n,
                    "scale": "unit",
                    "metric": "acc" if t.endswith("mc") else "exact_match",
                    "output_type": "multiple_choice" if t.endswith("mc") else "generate_until",
                    "num_fewshot": 0,
                }
                for t, s in scores.items()
            },
        }

    return CompareFacts.model_validate(
        carry(
            {
                "baseline": side(base, "smollm2-135m-instruct (bf16)"),
                "candidate": side(cand, "smollm2-135m-instruct-fp8"),
                "threshold": {"kind": "absolute", "value": 0.01},
            }
        )
    ).model_dump(mode="json")


def compare_verdict(facts: dict[str, Any]) -> dict[str, Any]:
    return compare_decide(CompareFacts.model_validate(facts)).model_dump(mode="json", by_alias=True)


def verbosity_pass() -> dict[str, Any]:
    return V(
        "verbosity",
        [check("completion_tokens_within", True, "candidate 41.8 vs baseline 41.2 tokens (+1.5%, limit 5%)")],
        "completion length within 5% of the baseline",
    )


LOG = {
    "preflight": [
        "checking python 3.11, torch 2.13 (cpu)",
        "disk: 51.2 GiB free",
        "model: embedded smollm2-135m-instruct (gguf -> hf, cached)",
    ],
    "quantize": [
        "loading checkpoint (bfloat16, 134.5M params)",
        "calibrating on 64 samples",
        "calibration 32/64",
        "calibration 64/64",
        "exporting HF checkpoint",
        "export written: 143.2 MB",
    ],
    "serve": [
        "vllm serve runs/stages/quantize/export --max-model-len 2048",
        "INFO loading weights took 12.41s",
        "INFO graph capture 9.8s",
        "INFO Uvicorn running on http://127.0.0.1:8011",
        "canary 3/3 ok",
    ],
    "eval": [
        "lm_eval --tasks conductor_facts_mc,conductor_facts_gen --log_samples",
        "conductor_facts_mc 10000/20000",
        "conductor_facts_mc 20000/20000",
        "conductor_facts_gen 10000/20000",
        "conductor_facts_gen 20000/20000",
        "results written",
    ],
}


def opening(s: Scenario) -> None:
    s.start()
    s.simple_stage(
        "preflight",
        "preflight",
        {},
        "Starting the release of smollm2-135m-instruct with FP8. First I check the machine.",
        LOG["preflight"],
        4.0,
        [],
        {"summary": "cpu only; 51 GiB free"},
    )


def quantize_ok(s: Scenario, recipe: str = "fp8") -> None:
    s.simple_stage(
        "quantize",
        "quantize",
        {"recipe": recipe, "calib_size": 64},
        "Preflight passed. Quantizing with the FP8 recipe, 64 calibration samples.",
        LOG["quantize"],
        95.0,
        [("ptq", ptq_pass(recipe), None)],
        {"summary": "exported 143.2 MB"},
    )


def middle(s: Scenario) -> None:
    s.simple_stage(
        "serve",
        "serve",
        {"max_model_len": 2048},
        "The checkpoint is quantized. Serving it with a canary.",
        LOG["serve"],
        41.0,
        [("serve", serve_pass(), None)],
        {"summary": "healthy in 38.2s"},
    )
    s.simple_stage(
        "eval_baseline",
        "evaluate",
        {"target": "baseline", "tasks": TASKS},
        "Evaluating the bf16 baseline on both tasks.",
        LOG["eval"],
        310.0,
        [("eval_run", eval_pass("baseline"), None)],
        {"summary": "2 tasks, 20000 samples each"},
    )
    s.simple_stage(
        "eval_candidate",
        "evaluate",
        {"target": "candidate", "tasks": TASKS},
        "Now the FP8 candidate, same settings.",
        LOG["eval"],
        295.0,
        [("eval_run", eval_pass("candidate"), None)],
        {"summary": "2 tasks, 20000 samples each"},
    )


def compare_stage(
    s: Scenario, facts: dict[str, Any], verdict: Optional[dict[str, Any]] = None, seal: bool = True
) -> str:
    s.open("compare")
    tid = s.say(
        "compare", "Both evaluations are complete and like for like. Comparing.", "compare", {"threshold": 0.01}
    )
    s.skill("compare", "compare", tid, 1.0, ["collecting re-derived scores", "deciding"], result={"ok": True})
    v = verdict or compare_verdict(facts)
    s.gate("compare", "compare", v, facts)
    s.result(
        "compare",
        tid,
        "compare",
        _json({"gate": "compare", "pass": v["pass"], "failure_class": v["failure_class"], "detail": v["detail"][:200]}),
        is_error=not v["pass"],
    )
    if v["pass"] and seal:
        s.seal("compare")
    return tid


def closing(s: Scenario, decision: str = "ACCEPT", code: int = 0, reason: str = "") -> None:
    s.simple_stage(
        "audits",
        "verbosity",
        {},
        "Compare passed. Running the verbosity audit.",
        ["matching completions", "average completion tokens computed"],
        3.0,
        [("verbosity", verbosity_pass(), None)],
        {"summary": "+1.5%"},
    )
    s.open("closeout")
    s.say("closeout", "Every gate passed. Writing the decision and the report.", None)
    s.seal("closeout")
    s.decide(decision, code, reason or "every gate passed; every task within 0.01 of the baseline")
    s.finish(decision, code)


# ----------------------------------------------------------------------------------- scenarios


def passing(run_id: str = "r-20250602-pass") -> Scenario:
    s = Scenario(run_id)
    opening(s)
    quantize_ok(s)
    middle(s)
    compare_stage(s, compare_facts({"conductor_facts_mc": 0.6190, "conductor_facts_gen": 0.4795}))
    closing(s)
    return s


def repair() -> Scenario:
    """quantize fails coverage, the agent repairs (no exclusions), passes; the run is then serving."""
    s = Scenario("r-20250602-repair")
    opening(s)
    s.open("quantize")
    tid = s.say(
        "quantize",
        "Preflight passed. Quantizing with FP8; I exclude down_proj to be safe.",
        "quantize",
        {"recipe": "fp8", "calib_size": 64, "exclude": ["*down_proj*"]},
    )
    s.skill("quantize", "quantize", tid, 88.0, LOG["quantize"], result={"ok": True, "summary": "exported 185.4 MB"})
    v = ptq_coverage_fail()
    s.gate("quantize", "ptq", v)
    s.result(
        "quantize",
        tid,
        "quantize",
        _json(
            {
                "gate": "ptq",
                "pass": False,
                "failure_class": "QUANT_COVERAGE_FAILURE",
                "detail": v["detail"][:160],
                "retries_left": 2,
                "hint": "quantize every layer the recipe covers; drop the exclusion",
            }
        ),
        is_error=True,
    )
    s.emit(StageRetry(stage="quantize", failure_class="QUANT_COVERAGE_FAILURE", retries_left=2, budget_for_class=2))
    s.open("quantize", attempt=2)
    tid = s.say(
        "quantize",
        "The gate is right: my exclusion left 60 layers in bf16 and the declaration claims FP8. "
        "Re-running without the exclusion.",
        "quantize",
        {"recipe": "fp8", "calib_size": 64},
    )
    s.skill(
        "quantize",
        "quantize",
        tid,
        97.0,
        LOG["quantize"],
        attempt=2,
        result={"ok": True, "summary": "exported 143.2 MB"},
    )
    s.gate("quantize", "ptq", ptq_pass(), attempt=2)
    s.result("quantize", tid, "quantize", _json({"ok": True, "gates": {"ptq": "PASS"}}))
    s.seal("quantize")
    s.open("serve")
    tid = s.say(
        "serve", "Coverage is complete now. Serving the checkpoint with a canary.", "serve", {"max_model_len": 2048}
    )
    s.skill("serve", "serve", tid, 20.0, LOG["serve"][:3], finish=False)
    return s


def approval() -> Scenario:
    """compare is INDETERMINATE (2000 samples cannot resolve 1 point): the conductor asks a person."""
    s = Scenario("r-20250602-approval", eval={"limit": 2000})
    opening(s)
    quantize_ok(s)
    middle(s)
    facts = compare_facts({"conductor_facts_mc": 0.6190, "conductor_facts_gen": 0.4795}, n=2000, se=0.0108)
    compare_stage(s, facts)
    v = compare_verdict(facts)
    rows = v["evidence"]["tasks"]
    need = max(r.get("samples_needed_per_side") or 0 for r in rows)
    worst = max(r["drop"] for r in rows)
    s.emit(
        ApprovalRequested(
            request_id="apr-1",
            stage="compare",
            kind="approval",
            question=f"The comparison is {v['failure_class']}: with 2000 samples per side it cannot tell "
            f"a 1-point drop from noise (~{need:,} per side needed). Accept the FP8 candidate "
            "anyway?",
            context={
                "failure_class": v["failure_class"],
                "worst_drop": round(worst, 4),
                "samples_needed_per_side": need,
            },
        )
    )
    s.emit(
        ApprovalDecided(request_id="apr-1", answer="approve", text="fine for an internal preview", by="human"), after=21
    )
    s.seal("compare")
    closing(s, reason="a person accepted an INDETERMINATE comparison: fine for an internal preview")
    return s


def divergence() -> tuple[Scenario, int]:
    """A passing run whose recorded compare facts were altered afterwards: re-deciding on them
    gives ACCURACY_REGRESSION where the record says PASS."""
    s = passing("r-20250602-diverge")
    gate = next(e for e in s.events if e.type == "gate_verdict" and e.gate == "compare")
    facts = copy.deepcopy(gate.facts)
    facts["candidate"]["tasks"]["conductor_facts_gen"]["score"] = 0.4610
    gate.facts = facts
    return s, gate.seq


def report() -> Scenario:
    s = Scenario("r-20250602-regress", recipe="int4_awq")
    opening(s)
    quantize_ok(s, "int4_awq")
    middle(s)
    facts = compare_facts({"conductor_facts_mc": 0.6172, "conductor_facts_gen": 0.4633})
    compare_stage(s, facts)
    v = compare_verdict(facts)
    s.decide("REGRESSION", 10, v["detail"][:240], fc="ACCURACY_REGRESSION", stage="compare")
    s.finish("REGRESSION", 10)
    return s


def big(n_events: int = 10_000) -> Scenario:
    """A long run for the benchmark: the agent reads artifacts turn after turn between stages."""
    s = Scenario("r-bench-10k", budgets={"max_turns": 100_000, "max_cost_usd": 10_000.0})
    opening(s)
    quantize_ok(s)
    i = 0
    while s.recorded < n_events - 120:
        i += 1
        tid = s.say(
            "serve",
            f"Reading artifact {i} to check the server settings.",
            "read_artifact",
            {"path": f"stages/serve/attempt-1/log-{i}.txt"},
            stream=False,
        )
        s.result("serve", tid, "read_artifact", f"line {i}: INFO engine ready, max_model_len=2048")
        if i % 50 == 0:
            s.gate(
                "serve",
                "serve",
                serve_pass()
                if i % 100
                else V(
                    "serve",
                    [check("health_200", False, "/health 503 after 900s", failure_class=FC.DEPLOYMENT_HEALTH_FAILED)],
                    "",
                ),
                attempt=i // 50,
            )
    middle(s)
    compare_stage(s, compare_facts({"conductor_facts_mc": 0.6190, "conductor_facts_gen": 0.4795}))
    closing(s)
    return s
