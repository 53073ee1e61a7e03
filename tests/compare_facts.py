"""Compare-gate facts for tests: scores per side, and the eval_run facts they were collected from.

Since issue 9 (item 6) each side carries the eval_run facts of its run (`run`), and the compare gate
judges them with eval_run's own decision. `carry(data)` attaches to each side the run facts that the
collector would have produced for those scores (a complete, clean run), so that a test of the
comparison rules starts from sides that eval_run accepts.
"""

from __future__ import annotations

import copy
from typing import Any

SETTINGS = {"backend": "hf", "lm_eval_version": "0.4.13", "limit": None, "apply_chat_template": False}
IDENTITIES = {"baseline": "/ckpt/base-bf16", "candidate": "/ckpt/cand-fp8"}


def run_task(t: dict[str, Any]) -> dict[str, Any]:
    """The eval_run TaskRun whose collection gives the compare TaskScore `t` (gates.compare.models)."""
    n, score, stderr = t.get("samples"), t["score"], t.get("stderr")
    return {"output_type": t.get("output_type") or "multiple_choice", "primary_metric": t.get("metric") or "acc",
            "higher_is_better": t.get("higher_is_better", True), "scale": t.get("scale"),
            "num_fewshot": t.get("num_fewshot"), "samples_expected": n, "samples_scored": n,
            "responses_total": n or 0, "reported_score": score, "rederived_score": score,
            "reported_stderr": stderr, "rederived_stderr": stderr, "generation_kwargs": t.get("generation_kwargs"),
            "aggregation": t.get("aggregation")}


def run_of(side: dict[str, Any]) -> dict[str, Any]:
    return {"run_status": "SUCCESS", "status_source": "run_record", "exit_code": 0,
            "model_identity": side.get("model_identity"), "used_cache": False, "settings": side.get("settings"),
            "tasks": {name: run_task(t) for name, t in side["tasks"].items()}}


def identify(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of compare facts with each side named (two different models), without run facts."""
    data = copy.deepcopy(data)
    for side in ("baseline", "candidate"):
        data[side].setdefault("model_identity", IDENTITIES[side])
    return data


def carry(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of compare facts with each side's run facts attached (the metric defaults to acc)."""
    data = identify(data)
    for side in ("baseline", "candidate"):
        s = data[side]
        for t in s["tasks"].values():
            t.setdefault("metric", "acc")
            t.setdefault("output_type", "multiple_choice")
        s["run"] = run_of(s)
    return data


def facts(base: dict[str, Any], cand: dict[str, Any], *, runs: bool = True, **kw: Any) -> dict[str, Any]:
    """Compare facts; with runs=True each side carries clean run facts matching its scores."""
    data = {"baseline": {"model_identity": IDENTITIES["baseline"], "settings": dict(SETTINGS), "tasks": base},
            "candidate": {"model_identity": IDENTITIES["candidate"], "settings": dict(SETTINGS), "tasks": cand},
            **kw}
    return carry(data) if runs else data
