"""The report's content as data (report.json); `render.py` turns the same dict into report.md.

Every figure comes from a gate's verdict or facts, or from a sealed result: the size, the per-task
table, the verdict table and the decision from the release report model (`recs.report`,
conductor.runtime.report: the same figures the TUI and the headless summary show), the evaluation
settings from the eval_run facts, the canary from the serve verdict, the machine from preflight's
sealed result. The decision's wording is `gates.failure_classes.Decision`'s.

    report = build_report(load_records(ws, config, decision))
    report["recommendation"]      # {"publish": False, "verdict": "do not publish", "why": "..."}

Read from the producing skills' results (all optional; the gates' facts come first):
  evaluate (eval_baseline / eval_candidate) data: backend, model_identity, simulated_quantization
      (true or a short description), base_url, description
  serve data: candidate_servable (false when the candidate could not be served here),
      not_servable_reason (one sentence); a CHECKPOINT_NOT_SERVABLE verdict at serve counts too
"""

from __future__ import annotations

from typing import Any, Optional

from conductor.runtime.report import Judged, fc_name
from gates.failure_classes import Decision
from skills.closeout.records import Records

SCHEMA_VERSION = 1
ENDPOINT_BACKENDS = ("local-completions", "local-chat-completions", "openai-completions",
                     "openai-chat-completions")
EVAL_STAGES = {"baseline": "eval_baseline", "candidate": "eval_candidate"}
NOT_SERVABLE = "CHECKPOINT_NOT_SERVABLE"

SIZE_KEYS = ("source_weight_bytes", "export_weight_bytes", "size_ratio", "estimated_ratio", "source_file_bytes",
             "export_file_bytes", "quantized_matrices", "matrices", "source_precision", "recipe")


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


# ---------------------------------------------------------------- size (ptq)

def size_section(recs: Records) -> Optional[dict[str, Any]]:
    g, size = recs.report.ptq, recs.report.size
    if g is None:
        return None
    out = {k: getattr(size, k) if size is not None else None for k in SIZE_KEYS}
    out.update(gate_passed=g.verdict.passed, failure_class=fc_name(g.verdict), attempt=g.attempt)
    return out


# ---------------------------------------------------------------- per-task table (compare)

def task_rows(recs: Records) -> list[dict[str, Any]]:
    """The compare gate's rows (the report model's), on the unit scale when the gate put them there."""
    return [{"task": r.task, "baseline": r.shown_baseline, "candidate": r.shown_candidate, "delta": r.delta,
             "stderr_diff": r.stderr_diff, "threshold": r.threshold, "within": r.within, "verdict": r.verdict,
             "scale": "unit" if r.on_unit_scale else r.scale, "samples": r.samples_baseline, "mde": r.mde,
             "significant_drop": r.significant_drop, "higher_is_better": r.higher_is_better}
            for r in recs.report.rows]


def compare_section(recs: Records) -> Optional[dict[str, Any]]:
    g, figures = recs.report.compare, recs.report.compare_figures
    if g is None:
        return None
    v = g.verdict
    thr = figures.threshold.model_dump() if figures is not None and figures.threshold is not None else None
    return {"passed": v.passed, "failure_class": fc_name(v), "detail": v.detail, "attempt": g.attempt,
            "decision": figures.decision if figures else None, "threshold": thr,
            "anomalous_gain": figures.anomalous_gain if figures else None,
            "confidence": figures.confidence if figures else None,
            "settings_diff": (figures.settings_diff if figures else None) or [], "tasks": task_rows(recs)}


# ---------------------------------------------------------------- what was evaluated how

def _how(backend: Optional[str], data: dict[str, Any]) -> str:
    sim = data.get("simulated_quantization")
    if backend in ENDPOINT_BACKENDS:
        where = data.get("base_url")
        return f"through the vLLM endpoint (lm-eval `{backend}`" + (f", {where})" if where else ")")
    if backend == "hf":
        extra = ""
        if sim:
            extra = f", under modelopt's simulated quantization ({sim})" if isinstance(sim, str) else \
                ", under modelopt's simulated quantization"
        return f"in-process (lm-eval `hf` backend{extra})"
    if backend == "vllm":
        return "in-process vLLM (lm-eval `vllm` backend)"
    return f"lm-eval `{backend}`" if backend else "not evaluated (no eval_run facts on record)"


def side_section(recs: Records, side: str) -> dict[str, Any]:
    stage = EVAL_STAGES[side]
    g = recs.latest("eval_run", stage, prefer_pass=True)
    facts = _d(g.facts if g else None)
    settings = _d(facts.get("settings"))
    if not settings:  # fall back to what the compare gate collected
        cmp = recs.latest("compare")
        settings = _d(_d(_d(cmp.facts if cmp else None).get(side)).get("settings"))
    data = _d(recs.result_of(stage).get("data"))
    backend = settings.get("backend") or data.get("backend")
    tasks = _d(facts.get("tasks"))
    return {
        "stage": stage, "evaluated": facts.get("model_identity") or data.get("model_identity"),
        "backend": backend, "how": _how(backend, data), "settings": settings,
        "served": None if backend is None else backend in ENDPOINT_BACKENDS,
        "used_cache": facts.get("used_cache"), "eval_run_passed": g.verdict.passed if g else None,
        "num_fewshot": {t: _d(v).get("num_fewshot") for t, v in sorted(tasks.items())},
        "samples": {t: _d(v).get("samples_scored") for t, v in sorted(tasks.items())},
        "detail": data.get("description"),
    }


def _not_servable_reason(recs: Records) -> Optional[str]:
    for g in reversed(recs.gates):
        if fc_name(g.verdict) == NOT_SERVABLE and "serve" in (g.stage, g.gate):
            return f"{NOT_SERVABLE} at {g.stage}: {g.verdict.detail}"
    for a in reversed(recs.attempts):
        if a.failure_class == NOT_SERVABLE and a.stage in ("serve", "eval_candidate"):
            return f"{NOT_SERVABLE} at {a.stage}: {a.error or ''}".rstrip(": ")
    reason = _d(recs.result_of("serve").get("data")).get("not_servable_reason")  # as skills/serve/run.py writes it
    return reason if isinstance(reason, str) and reason else None


def evaluation_section(recs: Records, compare: Optional[dict[str, Any]]) -> dict[str, Any]:
    base, cand = side_section(recs, "baseline"), side_section(recs, "candidate")
    s = cand["settings"] or base["settings"]
    serve = _d(recs.result_of("serve").get("data"))
    served: Optional[bool] = None
    if cand["backend"] is not None:
        served = cand["backend"] in ENDPOINT_BACKENDS
    if serve.get("served") == "candidate":  # the serve stage ran the canary on the candidate itself
        served = True
    if serve.get("candidate_servable") is False:
        served = False
    out = {"baseline": base, "candidate": cand, "tasks": list(recs.config.get("tasks") or []),
           "lm_eval_version": s.get("lm_eval_version"), "limit": s.get("limit"),
           "apply_chat_template": s.get("apply_chat_template"), "fewshot_as_multiturn": s.get("fewshot_as_multiturn"),
           "system_instruction": s.get("system_instruction"), "gen_kwargs": s.get("gen_kwargs"),
           "seed": s.get("seed"), "settings_diff": (compare or {}).get("settings_diff") or [],
           "candidate_served": served, "not_served_note": None,
           "export_fidelity": _d(recs.result_of(EVAL_STAGES["candidate"]).get("data")).get("export_fidelity")}
    if served is False:
        reason = _not_servable_reason(recs)
        why = f"Why: {reason.rstrip('.')}." if reason else "No record says why."
        like = compare is not None and base["backend"] == cand["backend"] and not out["settings_diff"]
        instead = (f"Instead the candidate was evaluated {cand['how']}; the baseline was evaluated {base['how']}"
                   + (", with identical settings on both sides, so the comparison is like for like." if like else "."))
        out["not_served_note"] = (f"The candidate checkpoint was NOT served. {why} {instead} "
                                  "Serving the exported checkpoint was not verified in this run.")
    return out


# ---------------------------------------------------------------- canary (serve)

def canary_section(recs: Records) -> Optional[dict[str, Any]]:
    g = recs.latest("serve", prefer_pass=True)
    if g is None:
        return None
    v, ev = g.verdict, g.verdict.evidence
    return {"passed": v.passed, "failure_class": fc_name(v), "detail": v.detail, "attempt": g.attempt,
            "server_kind": ev.get("server_kind"), "server_version": ev.get("server_version"),
            "model_requested": ev.get("model_requested"),
            "time_to_healthy_s": _d(ev.get("health")).get("time_to_healthy_s"),
            "canaries": [{k: c.get(k) for k in ("prompt", "status", "reason", "completion")}
                         for c in ev.get("canaries") or [] if isinstance(c, dict)]}


# ---------------------------------------------------------------- attempts, retries, repairs

def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}


def attempts_section(recs: Records) -> list[dict[str, Any]]:
    out = []
    for stage in dict.fromkeys(a.stage for a in recs.attempts if a.stage != "closeout"):
        runs = [a for a in recs.attempts if a.stage == stage]
        history, prev = [], None
        for i, a in enumerate(runs, 1):
            n = a.attempt if a.attempt is not None else i
            failed_gates = [g for g in recs.gates if g.stage == stage and g.attempt == n and not g.verdict.passed]
            if a.ok is False:
                outcome = f"skill failed: {a.failure_class}" + (f" ({a.error[:200]})" if a.error else "")
            elif failed_gates:
                outcome = "; ".join(f"{g.gate} FAIL {fc_name(g.verdict)}" for g in failed_gates)
            elif a.ok is None:
                outcome = "did not finish"
            else:
                outcome = "passed"
            entry = {"attempt": n, "outcome": outcome, "input": a.input}
            if prev is not None:
                entry["changed"] = _changed(prev.input, a.input)
            history.append(entry)
            prev = a
        out.append({"stage": stage, "attempts": len(runs), "history": history})
    return out


# ---------------------------------------------------------------- environment (preflight)

def environment_section(recs: Records) -> Optional[dict[str, Any]]:
    data = _d(recs.result_of("preflight").get("data"))
    if not data:
        return None
    hw = _d(data.get("hardware"))
    return {"hardware": {k: hw.get(k) for k in ("cuda_available", "cuda_devices", "cpus_usable", "cpu_count",
                                                "memory", "platform")},
            "versions": _d(data.get("versions")), "vllm_python": data.get("vllm_python"),
            "vllm_version": _d(data.get("vllm")).get("version"), "notes": data.get("notes") or [],
            "checkpoint": _d(recs.result_of("preflight").get("artifacts")).get("checkpoint")}


# ---------------------------------------------------------------- the recommendation

def _latest_per_gate(recs: Records) -> list[Judged]:
    last: dict[tuple[str, str], Judged] = {}
    for g in recs.gates:
        last[(g.stage, g.gate)] = g
    return list(last.values())


def recommendation(recs: Records, size: Optional[dict[str, Any]], compare: Optional[dict[str, Any]],
                   evaluation: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """publish only on ACCEPT, and only when the records the decision rests on agree with it."""
    d = recs.decision
    decision, reason = str(d.get("decision")), str(d.get("reason") or "")
    if decision == "ACCEPT":
        problems = []
        if compare is None or not compare["passed"] or compare.get("decision") not in (None, "ACCEPT"):
            problems.append("no passing compare verdict is on record")
        failing = [f"{g.stage}/{g.gate} ({fc_name(g.verdict)})" for g in _latest_per_gate(recs)
                   if not g.verdict.passed]
        if failing:
            problems.append(f"the last verdict of {', '.join(failing)} is a FAIL")
        if not problems:
            rows = (compare or {}).get("tasks") or []
            worst = max((r for r in rows if isinstance(r.get("delta"), (int, float))),
                        key=lambda r: -r["delta"], default=None)
            thr = _d((compare or {}).get("threshold"))
            parts = ["every gate passed"]
            if size and isinstance(size.get("size_ratio"), (int, float)):
                parts.append(f"the {size.get('recipe') or recs.config.get('recipe')} checkpoint holds "
                             f"{size['size_ratio']:.3f}x the source's weight bytes")
            if rows:
                parts.append(f"all {len(rows)} task(s) are within the {thr.get('kind', 'absolute')} threshold "
                             f"{thr.get('value', recs.config.get('threshold'))}"
                             + (f" (largest drop {-worst['delta']:.4f} on {worst['task']})" if worst else ""))
            if (evaluation or {}).get("candidate_served") is False:
                parts.append("note: the candidate was not served on this machine, so serving the export was "
                             "not verified here")
            return {"publish": True, "verdict": "publish", "why": _sentence("; ".join(parts))}
        return {"publish": False, "verdict": "do not publish",
                "why": _sentence("the decision says ACCEPT, but the records it rests on do not: "
                                 + "; ".join(problems))}
    known = decision in {d.value for d in Decision}
    why = Decision(decision).why_not if known else f"the decision is {decision}"
    if decision == "REGRESSION" and compare:
        bad = [r for r in compare.get("tasks") or [] if r.get("verdict") == "REGRESSION"]
        if bad:
            why += ": " + "; ".join(f"{r['task']} {_num(r['baseline'])} -> {_num(r['candidate'])} "
                                    f"(drop {_num(-r['delta'] if isinstance(r.get('delta'), (int, float)) else None)} "
                                    f"> allowed {_num(r['threshold'])})" for r in bad)
    if reason:
        why += f". Reason on record: {reason}"
    return {"publish": False, "verdict": "do not publish", "why": _sentence(why)}


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def _num(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "n/a"


# ---------------------------------------------------------------- the whole report

def build_report(recs: Records) -> dict[str, Any]:
    cfg, d = recs.config, recs.decision
    size = size_section(recs)
    compare = compare_section(recs)
    evaluation = evaluation_section(recs, compare)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": cfg.get("model"), "recipe": cfg.get("recipe"), "tasks": list(cfg.get("tasks") or []),
        "threshold": {"value": cfg.get("threshold"), "kind": cfg.get("threshold_kind", "absolute")},
        "decision": {k: d.get(k) for k in ("decision", "exit_code", "reason", "failure_class", "stage")},
        "recommendation": recommendation(recs, size, compare, evaluation),
        "size": size,
        "compare": compare,
        "gates": [g.record() for g in recs.report.gates],
        "evaluation": evaluation,
        "canary": canary_section(recs),
        "attempts": attempts_section(recs),
        "approvals": recs.approvals,
        "environment": environment_section(recs),
        "records": {"source": recs.source, "sealed_stages": sorted(recs.seals),
                    "transcript": "transcript.jsonl" if recs.source == "transcript" else None,
                    "warnings": recs.warnings},
    }
