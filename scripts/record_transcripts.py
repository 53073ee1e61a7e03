"""Record the curated transcripts in transcripts/ through the real run loop.

    .venv/bin/python scripts/record_transcripts.py                # every scenario (a minute or two)
    .venv/bin/python scripts/record_transcripts.py --only repair  # one

Each scenario is one `conductor.session.run_session`, the path `conductor run` takes (workspace,
redacting transcript writer, executor, event bus, the loop, closeout), driven by the scripted
provider: the agent's turns are written out below, text and tool calls, and read the way an
operator would. The skills are the real ones' contracts (name, description, input model, the
gates they name with the arguments they pass, their repairs); compare, audits and closeout run
their real runners, while preflight, quantize, serve and the two evaluations run
tests/fakes/fixture_artifacts.py, which lays down the artifacts those tools would have written:

  - the source: a synthetic tiny Llama checkpoint (2 layers, hidden 64, bf16), and its exports in
    modelopt's exact layout (tests/fixtures/checkpoints.py; headers real, weights zero);
  - the evaluations: the real lm-eval 0.4.13 output in tests/fixtures/lmeval_real_output for the
    baseline; for the candidate a copy under another model identity whose log-likelihoods are
    scaled (same choices, different numbers) and, where a scenario says so, some generated answers
    made wrong with the reported scores recomputed, or one of tests/eval_run_cases' corruptions;
  - the serve record: the shape the serve skill writes (health probes, model list, canaries).

The six gates (ptq, serve, eval_run, compare, verbosity, audit) run for real on those artifacts:
they collect their facts and decide; replay re-decides on the recorded facts. The tasks have 10
and 20 documents, so the compare gate can only resolve a drop of about 0.14: the scenarios that
are meant to decide use a release threshold of 0.15; the anomalous one keeps the default 0.01.

    scripted_pass.jsonl        every gate passes: ACCEPT
    scripted_repair.jsonl      ptq: QUANT_COVERAGE_FAILURE (a matrix left in bf16, declared FP8); the agent
                               reads the facts and quantizes again; then ACCEPT
    scripted_approval.jsonl    eval_run on the candidate: REPORTED_MISMATCH; the person approves a re-run;
                               then ACCEPT
    scripted_anomalous.jsonl   eval_run: INFRA_TRANSIENT, retried once; compare at 0.01: INDETERMINATE;
                               the person denies: ANOMALOUS
    scripted_regression.jsonl  compare: ACCURACY_REGRESSION on conductor_tiny_gen: REGRESSION
    scripted_pass_altered.jsonl + .seq   scripted_pass with the candidate's recorded compare facts
                               lowered afterwards: replay diverges at the compare verdict (the seq in .seq),
                               and reports that the hash chain breaks there (the line was edited by hand)

Times (timestamps, durations) are the recording's own: the session takes no clock. Re-recording
changes them, so update the TUI snapshots afterwards (pytest tests/tui --snapshot-update).
The runs are recorded under /tmp/conductor-transcripts, so the paths inside the transcripts are
the same from one recording to the next.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402

from conductor.approver import NoHumanApprover, QueueApprover  # noqa: E402
from conductor.config import load_config  # noqa: E402
from conductor.fsutil import atomic_write_json  # noqa: E402
from conductor.providers.base import ModelResponse  # noqa: E402
from conductor.providers.scripted import ScriptedProvider, tool_use  # noqa: E402
from conductor.replay import replay_transcript  # noqa: E402
from conductor.session import run_session  # noqa: E402
from conductor.skill import GateCall, SkillContext, SkillResult  # noqa: E402
from conductor.transcript import read_transcript  # noqa: E402
from conductor.workspace import Workspace  # noqa: E402
from tests.fakes import fixture_artifacts as fx  # noqa: E402

OUT = ROOT / "transcripts"
WORK = Path("/tmp/conductor-transcripts")
SOURCE = WORK / "models" / "tiny-llama"
BASELINE_ID = "/tmp/conductor-lmeval-fixture/tiny-llama"  # what the fixture's lm-eval run evaluated
CANDIDATE_ID = BASELINE_ID + "-fp8"
TASKS = ["conductor_tiny_mc", "conductor_tiny_gen"]
ALTERED = "scripted_pass_altered"
FIXTURE_NOTE = "artifacts laid down by tests/fakes/fixture_artifacts.py (scripts/record_transcripts.py)"


# ---------------------------------------------------------------- skills


def attempt_of(ctx: SkillContext) -> int:
    return int(ctx.out_dir.name.rsplit("-", 1)[-1])


def rel(ctx: SkillContext, path: Path) -> str:
    return Workspace(ctx.workspace).rel(path)


Plan = Callable[[BaseModel, SkillContext], dict[str, Any]]


class FixtureSkill:
    """A real skill's contract (name, stage, description, input model, gates, repairs) whose runner
    is swapped for the fixture process: `plan(input, ctx)` says what it lays down and reports."""

    def __init__(self, real: Any, plan: Plan):
        self.real, self.plan = real, plan
        self.name, self.stage, self.description = real.name, real.stage, real.description
        self.input_model, self.doc_path, self.timeout_s = real.input_model, real.doc_path, 120.0

    def command(self, inp: BaseModel, ctx: SkillContext) -> list[str]:
        spec = self.plan(inp, ctx)
        spec["result"].setdefault("data", {})["fixture"] = FIXTURE_NOTE
        path = atomic_write_json(Path(ctx.out_dir) / "fixture.json", spec)
        return [ctx.python, "-m", "tests.fakes.fixture_artifacts", str(path)]

    def gates(self, inp: BaseModel, ctx: SkillContext, result: SkillResult) -> list[GateCall]:
        return self.real.gates(inp, ctx, result)

    def operator_call(self, ctx: SkillContext, last_failure: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        return self.real.operator_call(ctx, last_failure)


def preflight_plan(inp: BaseModel, ctx: SkillContext) -> dict[str, Any]:
    return {"lines": [f"model {SOURCE}: LlamaForCausalLM, 2 layers, hidden 64, bf16 safetensors",
                      f"tasks {', '.join(TASKS)} found (tests/fixtures/lmeval_tasks)",
                      "CUDA not available; 2 CPU(s); vLLM not probed (fixture)"],
            "result": {"ok": True, "summary": f"checkpoint {SOURCE} (llama, 2 layers); {len(TASKS)} task(s) found",
                       "artifacts": {"checkpoint": str(SOURCE)},
                       "data": {"model": {"spec": str(SOURCE)}, "tasks": TASKS}}}


def quantize_plan(broken_attempts: tuple[int, ...]) -> Plan:
    """`broken_attempts`: attempts whose export leaves model.layers.1.mlp.down_proj in bf16 (declared FP8)."""
    from skills.quantize import export_dir, resolved_source

    def plan(inp: BaseModel, ctx: SkillContext) -> dict[str, Any]:
        src, out = resolved_source(inp, ctx), export_dir(inp, ctx)  # type: ignore[arg-type]
        broken = ["model.layers.1.mlp.down_proj"] if attempt_of(ctx) in broken_attempts else []
        recipe = inp.recipe  # type: ignore[attr-defined]
        lines = [f"loading {src} (bfloat16)", f"calibrating {recipe} on {inp.calib_size} sequences",  # type: ignore
                 f"exporting to {out.name}", "export written"]
        return {"lines": lines,
                "steps": [{"op": "export", "dst": out.name, "source": src, "recipe": recipe, "left_bf16": broken}],
                "result": {"ok": True, "summary": f"{recipe}: export written to {out.name}",
                           "artifacts": {"source": src, "export": rel(ctx, out)},
                           "data": {"recipe": recipe, "calib_size": inp.calib_size,  # type: ignore[attr-defined]
                                    "seed": inp.seed, "excluded_by_request": {"patterns": inp.exclude}}}}  # type: ignore

    return plan


def serve_plan(inp: BaseModel, ctx: SkillContext) -> dict[str, Any]:
    export = ctx.sealed["quantize"].artifacts["export"]
    name = "tiny-llama-fp8"
    answers = {"What is the capital of France?": "The capital of France is Paris.",
               "What is 2 + 2?": "2 + 2 = 4.",
               "What color is the sky on a clear day?": "The sky is blue on a clear day.",
               "How many days are there in a week?": "There are seven days in a week.",
               "What is the opposite of hot?": "The opposite of hot is cold.",
               "What do bees make?": "Bees make honey."}
    from gates.serve.canaries import DEFAULT_CANARIES

    canaries = [{"prompt": c.prompt, "must_contain": list(c.must_contain), "completion": answers[c.prompt],
                 "finish_reason": "stop", "http_status": 200, "error": None, "latency_s": 0.21,
                 "completion_tokens": 9} for c in DEFAULT_CANARIES]
    record = {"server_kind": "vllm", "server_version": "0.11.0", "model_requested": name,
              "base_url": "http://127.0.0.1:8011", "load_ceiling_s": 900.0,
              "health_probes": [{"t_s": 2.0, "http_status": None, "error": "connection refused"},
                                {"t_s": 21.5, "http_status": 503, "error": None},
                                {"t_s": 38.2, "http_status": 200, "error": None}],
              "reported_time_to_healthy_s": 38.2, "models_listed": [name], "canaries": canaries,
              "server_exit": None, "log_tail": ["INFO:     Application startup complete."],
              "checkpoint": export, "checkpoint_role": "candidate"}
    return {"lines": [f"vllm serve {export} --served-model-name {name}", "INFO loading weights",
                      "INFO:     Application startup complete.", f"canaries {len(canaries)}/{len(canaries)} answered"],
            "steps": [{"op": "json", "dst": "serve_record.json", "data": record}],
            "result": {"ok": True, "summary": f"{name} healthy in 38.2s; {len(canaries)} canaries answered",
                       "artifacts": {"serve_record": rel(ctx, ctx.out_dir / "serve_record.json")},
                       "data": {"role": "candidate", "served_name": name}}}


def eval_plan(side: str, by_attempt: dict[int, dict[str, Any]]) -> Plan:
    """`by_attempt`: the lmeval step's options for that attempt (the candidate's identity and log-likelihood
    scale are always set on the candidate side)."""

    def plan(inp: BaseModel, ctx: SkillContext) -> dict[str, Any]:
        opts = dict(by_attempt.get(attempt_of(ctx), {}))
        if side == "candidate":
            opts = {"identity": CANDIDATE_ID, "ll_scale": 1.0125, **opts}
        record = opts.get("record") or {}
        status = record.get("status", "SUCCESS")
        if status == "SUCCESS":
            last = "lm-eval success"
            summary = (f"lm-eval hf evaluated the {side} (in-process) on {len(TASKS)} task(s), 30 samples; "
                       "the eval_run gate re-derives the scores")
        else:
            last = f"lm-eval {status.lower()}: {record.get('error')}"
            summary = f"lm-eval {status} on the {side} (exit {record.get('exit_code')}): {record.get('error')}; " \
                      "the eval_run gate judges it"
        return {"lines": [f"lm_eval run --model hf --tasks {','.join(TASKS)} --log_samples --seed 1234",
                          f"{TASKS[0]}: 20/20", f"{TASKS[1]}: 10/10", last],
                "steps": [{"op": "lmeval", "dst": "lmeval", **opts}],
                "result": {"ok": True, "summary": summary,
                           "artifacts": {"lmeval_dir": rel(ctx, ctx.out_dir / "lmeval")},
                           "data": {"side": side, "backend": "hf", "status": status, "samples_total": 30}}}

    return plan


@dataclass
class Knobs:
    threshold: float = 0.15
    broken_quantize: tuple[int, ...] = ()
    candidate: dict[int, dict[str, Any]] = field(default_factory=dict)


def skills_for(k: Knobs) -> list[Any]:
    from skills.registry import skill_for

    real = {s: skill_for(s) for s in ("preflight", "quantize", "serve", "eval_baseline", "eval_candidate",
                                      "compare", "audits", "closeout")}
    return [FixtureSkill(real["preflight"], preflight_plan),
            FixtureSkill(real["quantize"], quantize_plan(k.broken_quantize)),
            FixtureSkill(real["serve"], serve_plan),
            FixtureSkill(real["eval_baseline"], eval_plan("baseline", {})),
            FixtureSkill(real["eval_candidate"], eval_plan("candidate", k.candidate)),
            real["compare"], real["audits"], real["closeout"]]


# ---------------------------------------------------------------- the agent's turns


Turn = tuple[str, str, str, dict[str, Any]]  # (stage, text, tool, input)


class Script:
    """The scripted agent: one turn per call, in order; a turn asked for in another stage is a bug."""

    def __init__(self, name: str, turns: list[Turn]):
        self.name, self.turns, self.n = name, turns, 0

    def __call__(self, req: Any) -> ModelResponse:
        if self.n >= len(self.turns):
            raise AssertionError(f"{self.name}: the loop asks for turn {self.n + 1} in stage {req.stage!r}; "
                                 f"the script has {len(self.turns)}")
        stage, text, tool, inp = self.turns[self.n]
        self.n += 1
        if stage != req.stage:
            raise AssertionError(f"{self.name}: turn {self.n} is scripted for {stage!r}, the open stage is {req.stage!r}")
        return tool_use(tool, inp, text=text, tool_id=f"toolu_{self.name}_{self.n:02d}")


OPENING: list[Turn] = [
    ("preflight", "Releasing the tiny Llama with FP8. First, preflight: the checkpoint, the tasks, this machine.",
     "preflight", {}),
]
QUANTIZE = ("quantize", "Preflight passed: a 2-layer Llama in bf16, both tasks present. Quantizing with the fp8 "
                        "recipe, 64 calibration sequences.", "quantize", {"recipe": "fp8", "calib_size": 64})
SERVE = ("serve", "The ptq gate agrees with the export. Serving the candidate and asking the canaries.", "serve",
         {"checkpoint": "candidate"})
EVAL_BASE = ("eval_baseline", "The server is healthy and the canaries are right. Evaluating the bf16 baseline "
                              "on both tasks.", "evaluate_baseline", {})
EVAL_CAND = ("eval_candidate", "Baseline scored. Now the candidate, with the baseline's settings.",
             "evaluate_candidate", {})
COMPARE = ("compare", "Both evaluations passed their gate. Comparing at the release's threshold.", "compare", {})
AUDITS = ("audits", "Compare decided. Running the verbosity and caching audits.", "audits", {})


def pass_turns() -> list[Turn]:
    return OPENING + [QUANTIZE, SERVE, EVAL_BASE, EVAL_CAND, COMPARE, AUDITS]


def repair_turns() -> list[Turn]:
    return OPENING + [
        QUANTIZE,
        ("quantize", "The ptq gate failed QUANT_COVERAGE_FAILURE: one covered matrix is stored in bf16 while the "
                     "export declares FP8 for it. Reading the gate's facts before I change anything.",
         "read_artifact", {"path": "stages/quantize/attempt-1/ptq.facts.json", "max_bytes": 4000}),
        ("quantize", "Only model.layers.1.mlp.down_proj is affected and the recipe covers it, so excluding it would "
                     "hide the problem. The export is inconsistent: quantizing again from the source, with more "
                     "calibration data and another seed.", "quantize", {"recipe": "fp8", "calib_size": 128, "seed": 1}),
        ("serve", "Coverage is complete now (14 of 16 matrices in FP8; lm_head and embeddings excluded by the "
                  "recipe). Serving the candidate.", "serve", {"checkpoint": "candidate"}),
        EVAL_BASE, EVAL_CAND, COMPARE, AUDITS]


def approval_turns() -> list[Turn]:
    return OPENING + [QUANTIZE, SERVE, EVAL_BASE, EVAL_CAND,
                      ("eval_candidate", "The person approved a re-run. Evaluating the candidate again, same "
                                         "settings, so that the reported scores can be re-derived.",
                       "evaluate_candidate", {}),
                      COMPARE, AUDITS]


def anomalous_turns() -> list[Turn]:
    return OPENING + [QUANTIZE, SERVE, EVAL_BASE, EVAL_CAND,
                      ("eval_candidate", "INFRA_TRANSIENT: lm-eval lost its connection. The same call once more.",
                       "evaluate_candidate", {}),
                      COMPARE]


def regression_turns() -> list[Turn]:
    return OPENING + [QUANTIZE, SERVE, EVAL_BASE, EVAL_CAND, COMPARE]


@dataclass
class Scenario:
    name: str
    turns: Callable[[], list[Turn]]
    knobs: Knobs = field(default_factory=Knobs)
    answers: list[Any] = field(default_factory=list)  # the person's answers, in order
    expect: str = "ACCEPT"


SCENARIOS = [
    Scenario("scripted_pass", pass_turns),
    Scenario("scripted_repair", repair_turns, Knobs(broken_quantize=(1,))),
    Scenario("scripted_approval", approval_turns, Knobs(candidate={1: {"corrupt": "edit_score"}}),
             answers=[("approve", "re-run the candidate's evaluation; the score must come from its own samples")]),
    Scenario("scripted_anomalous", anomalous_turns, Knobs(threshold=0.01, candidate={1: {"record": {
                 "status": "FAILED", "exit_code": 1,
                 "error": "requests.exceptions.ConnectionError: [Errno 111] Connection refused"}}}),
             answers=[("deny", "10 and 20 documents cannot resolve a 1-point drop; do not publish on this")],
             expect="ANOMALOUS"),
    Scenario("scripted_regression", regression_turns, Knobs(candidate={1: {"wrong_gen": [0, 1, 3, 4]}}),
             expect="REGRESSION"),
]


# ---------------------------------------------------------------- recording


def record(s: Scenario, out: Path) -> Path:
    ws = Workspace(WORK / "runs" / s.name)
    if ws.root.exists():
        shutil.rmtree(ws.root)
    cfg = load_config(overrides={"workspace": str(ws.root), "provider": "scripted", "model": str(SOURCE),
                                 "tasks": TASKS, "threshold": s.knobs.threshold, "recipe": "fp8"})
    approver = QueueApprover(s.answers) if s.answers else NoHumanApprover()
    provider = ScriptedProvider(Script(s.name, s.turns()))
    outcome = run_session(cfg, provider, skills_for(s.knobs), approver, run_id=s.name.replace("_", "-"), workspace=ws)
    if outcome.decision != s.expect:
        raise SystemExit(f"{s.name}: decided {outcome.decision} ({outcome.reason}), expected {s.expect}")
    dst = out / f"{s.name}.jsonl"
    shutil.copyfile(ws.transcript_path, dst)
    return dst


def alter(src: Path, dst: Path) -> int:
    """Lower the candidate's conductor_tiny_gen scores in the recorded compare facts; returns that seq."""
    lines, seq = [], None
    for line in src.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if seq is None and d.get("type") == "gate_verdict" and d["gate"] == "compare":
            d["facts"] = lowered(d["facts"])
            seq = d["seq"]
        lines.append(json.dumps(d, separators=(",", ":"), ensure_ascii=False))
    if seq is None:
        raise SystemExit(f"{src.name} has no compare verdict to alter")
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dst.with_suffix(".seq").write_text(f"{seq}\n", encoding="utf-8")
    return seq


def lowered(facts: dict[str, Any]) -> dict[str, Any]:
    """The candidate's conductor_tiny_gen score set to 0.3 (recorded 0.7): a drop the gate must refuse."""
    facts = copy.deepcopy(facts)
    facts["candidate"]["tasks"]["conductor_tiny_gen"]["score"] = 0.3
    return facts


def summary(path: Path) -> str:
    t = read_transcript(path)
    decision = next((e.decision for e in reversed(t.events) if e.type == "decision"), None)
    fails = [f"{e.stage}/{e.gate}:{e.verdict['failure_class']}" for e in t.events
             if e.type == "gate_verdict" and not e.verdict["pass"]]
    approvals = [e.answer for e in t.events if e.type == "approval_decided"]
    return f"{path.name:32} {decision:11} {len(t.events):3} events  failures {fails or '-'}  approvals {approvals or '-'}"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", help="scenario name without the scripted_ prefix (repeatable)")
    ap.add_argument("--out", type=Path, default=OUT, help="where the transcripts go (default: transcripts/)")
    args = ap.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.only or s.name.removeprefix("scripted_") in args.only]
    if (WORK / "models").exists():
        shutil.rmtree(WORK / "models")
    fx.source(SOURCE)
    args.out.mkdir(parents=True, exist_ok=True)
    for s in chosen:
        path = record(s, args.out)
        rep = replay_transcript(path)
        if rep.divergence is not None or rep.exit_code != 0 or not rep.tamper_evident:
            raise SystemExit(f"{path.name} does not replay cleanly: {rep.detail} {rep.integrity}")
        print(summary(path), flush=True)
        if s.name == "scripted_pass":
            altered = args.out / f"{ALTERED}.jsonl"
            seq = alter(path, altered)
            rep = replay_transcript(altered)
            if rep.divergence is None or rep.divergence.seq != seq:
                raise SystemExit(f"{altered.name}: expected a divergence at seq {seq}, got {rep.divergence}")
            print(f"{altered.name:32} diverges at seq {seq}: {rep.divergence.expected} -> {rep.divergence.found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
