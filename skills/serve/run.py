"""The serve runner: start vLLM on one checkpoint, record health / models / canaries, stop it.

    python skills/common/launch.py skills.serve.run --input args.json --out-dir DIR --workspace W --context ctx.json

Writes DIR/server.log (the server's own output, also streamed here as `[vllm] ...`), DIR/serve_record.json
(the serve gate's raw material: gates/serve/models.py field names, plus context fields the collector
ignores) and DIR/result.json. The server is this process's child in its own process group; it is
stopped by group when the canary is done, on any error, and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

from conductor.executor import LocalExecutor, exit_cleanly_on_signals, group_alive
from conductor.fsutil import atomic_write_json
from gates.serve.canaries import as_records
from skills.common.endpoint import Endpoint
from skills.common.runner import RunContext, SkillFailure, main, progress
from skills.common.vllm_env import locate_vllm
from skills.serve import NO_VLLM, RECORD_FILE, SERVER_LOG, SKIPPED, ServeInput
from skills.serve import roles
from skills.serve.server import ManagedServer, ServerPlan, error_lines, not_servable_evidence, plan_server, vllm_build

NOT_SERVABLE = "CHECKPOINT_NOT_SERVABLE"
LOG_TAIL = 40


def settings(inp: ServeInput, rc: RunContext) -> tuple[float, int]:
    serve_cfg = rc.config.get("serve") or {}
    ceiling = float(inp.load_ceiling_s or serve_cfg.get("load_ceiling_s") or 900.0)
    max_len = int(inp.max_model_len or serve_cfg.get("max_model_len") or 2048)
    return ceiling, max_len


def skip_requested(rc: RunContext) -> bool:
    """The release config's serve.skip: start no server at all."""
    return bool((rc.config.get("serve") or {}).get("skip"))


def candidate_servability(rc: RunContext, build: Any, cuda: bool) -> tuple[Optional[bool], Optional[str]]:
    """Whether the candidate can be served here, re-derived up front (None: no candidate yet)."""
    try:
        cand = roles.candidate_checkpoint(rc)
    except SkillFailure:
        return None, None
    plan = plan_server(cand, build, cuda_available=cuda, max_model_len=128, served_name="candidate", port=1)
    return plan.refusal is None, plan.refusal


def record(plan: ServerPlan, srv: Optional[ManagedServer], *, role: str, ceiling: float,
           models: Optional[list[str]], canaries: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    life = srv.life if srv is not None else None
    return {
        # the gate's fields (gates/serve/models.py ServeFacts)
        "server_kind": plan.build.server_kind, "server_version": plan.build.version,
        "model_requested": plan.served_name, "base_url": plan.base_url, "load_ceiling_s": ceiling,
        "health_probes": list(life.probes) if life else [],
        "reported_time_to_healthy_s": life.healthy_at_s if life else None,
        "models_listed": models, "model_roots": extra.get("model_roots"), "checkpoint": plan.checkpoint,
        "canaries": canaries,
        "server_exit": life.exit if life else None,
        "log_tail": srv.log_tail(LOG_TAIL) if srv is not None else [],
        # context (the collector drops these)
        "checkpoint_role": role, "argv": plan.argv,
        "env": plan.env, "quantization": plan.quant, "quantization_flag": plan.quantization_flag,
        "up_front_refusal": plan.refusal, "server_pid": srv.pid if srv is not None else None,
        "spawn_error": life.spawn_error if life else None, **extra,
    }


def ask_canaries(srv: ManagedServer, canaries: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    return ask(srv.endpoint, srv.plan.served_name, canaries, max_tokens)


def ask(endpoint: Endpoint, model: str, canaries: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """Each canary through the chat template, greedy; the records the serve gate reads."""
    out = []
    for i, c in enumerate(canaries):
        progress(0.75 + 0.15 * i / max(1, len(canaries)), f"canary {i + 1}/{len(canaries)}: {c['prompt']}")
        r = endpoint.chat(model, c["prompt"], max_tokens=max_tokens)
        print(f"canary {c['prompt']!r} -> {r.status} {r.text!r} ({r.finish_reason}, {r.latency_s:.2f}s)"
              + (f" error: {r.error}" if r.error else ""), flush=True)
        out.append({"prompt": c["prompt"], "must_contain": list(c["must_contain"]), "completion": r.text,
                    "finish_reason": r.finish_reason, "http_status": r.status, "error": r.error,
                    "latency_s": round(r.latency_s, 4), "completion_tokens": r.completion_tokens})
    return out


def _on_probe(ceiling: float):
    last = [-1e9]

    def cb(p: dict[str, Any]) -> None:
        if p["t_s"] - last[0] >= 15 or p["http_status"] == 200:
            last[0] = p["t_s"]
            progress(0.1 + 0.6 * min(1.0, p["t_s"] / ceiling),
                     f"waiting for /health: {p['t_s']:.0f}s, status {p['http_status']}")
    return cb


def base_data(role: str, ckpt: Path, plan: ServerPlan, python: Optional[str]) -> dict[str, Any]:
    b = plan.build
    return {"requested": role, "served": None, "checkpoint": str(ckpt), "server_kind": b.server_kind,
            "server_version": b.version, "vllm_python": python, "quantization_flag": plan.quantization_flag,
            "quant_algo": (plan.quant or {}).get("quant_algo"), "base_url": plan.base_url,
            "enforce_eager": "--enforce-eager" in plan.argv}


def refuse_before_start(inp: ServeInput, rc: RunContext, plan: ServerPlan, role: str, ckpt: Path, ceiling: float,
                        data: dict[str, Any], no_vllm_detail: str) -> None:
    """Raise CHECKPOINT_NOT_SERVABLE when nothing should be started (serve.skip; no vLLM; refused up front,
    no probe)."""
    record_path = rc.out_dir / RECORD_FILE
    arts = {"serve_record": rc.rel(record_path)}
    if skip_requested(rc):
        why = (f"serve.skip is set in the release config: no server was started for the {role} ({ckpt.name}), so "
               "nothing was served or asked a canary on this machine; the serve gate cannot pass and the endpoint "
               "evaluation path is unavailable. No repair: the run ends INFEASIBLE at the serve stage (unset "
               "serve.skip to serve)")
        atomic_write_json(record_path, record(plan, None, role=role, ceiling=ceiling, models=None, canaries=[],
                                              extra={"not_started": why, "skipped": True}))
        raise SkillFailure(NOT_SERVABLE, why, data={**data, "reason": SKIPPED, "skipped": True}, artifacts=arts)
    if plan.build.python is None:
        atomic_write_json(record_path, record(plan, None, role=role, ceiling=ceiling, models=None, canaries=[],
                                              extra={"not_started": no_vllm_detail}))
        raise SkillFailure(NOT_SERVABLE, f"{plan.refusal}: {no_vllm_detail}", data={**data, "reason": NO_VLLM},
                           artifacts=arts)
    if plan.refusal and not inp.probe:
        atomic_write_json(record_path, record(plan, None, role=role, ceiling=ceiling, models=None, canaries=[],
                                              extra={"not_started": "refused up front"}))
        if role == "candidate":
            data = {**data, "candidate_servable": False}
        raise SkillFailure(NOT_SERVABLE, f"{role} {ckpt.name} is not servable here: {plan.refusal} (refused up "
                                         "front; pass probe=true to capture the server's own error)",
                           data={**data, "reason": "up_front", "refusal": plan.refusal}, artifacts=arts)


def serve_and_ask(inp: ServeInput, rc: RunContext, plan: ServerPlan, role: str, ceiling: float
                  ) -> tuple[ManagedServer, Optional[list[str]], list[dict[str, Any]], dict[str, Any]]:
    """Start, wait for health, list models, ask the canaries; always stop and write the record."""
    executor = LocalExecutor()
    exit_cleanly_on_signals(executor)
    srv = ManagedServer(executor, plan, rc.out_dir / SERVER_LOG, on_line=lambda ln: print(f"[vllm] {ln}", flush=True))
    models: Optional[list[str]] = None
    canaries: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    t0 = time.monotonic()
    try:
        print("$ " + " ".join(plan.argv), flush=True)
        if not srv.start():
            raise SkillFailure(NOT_SERVABLE, srv.life.spawn_error or "the server could not start")
        progress(0.1, f"vLLM starting on {plan.base_url} (pid {srv.pid}); ceiling {ceiling:g}s")
        if srv.wait_healthy(ceiling, on_probe=_on_probe(ceiling)):
            progress(0.72, f"healthy after {srv.life.healthy_at_s:.1f}s; listing models")
            listing = srv.endpoint.models()
            models = listing.ids
            extra.update(models_error=listing.error, max_model_len_listed=listing.max_model_len,
                         model_roots=listing.roots)
            records = [c.model_dump() for c in inp.canaries] if inp.canaries else as_records()
            canaries = ask_canaries(srv, records, inp.max_tokens)
            if srv.alive():
                srv.probe()  # health after the canaries: the gate checks the server stayed healthy
    finally:
        progress(0.92, "stopping the server (process group)")
        t_stop = time.monotonic()
        srv.stop()
        extra.update(startup_s=srv.life.healthy_at_s, stop_s=round(time.monotonic() - t_stop, 3),
                     group_alive_after_stop=bool(srv.handle is not None and group_alive(srv.handle.pgid)),
                     wall_s=round(time.monotonic() - t0, 3))
        atomic_write_json(rc.out_dir / RECORD_FILE, record(plan, srv, role=role, ceiling=ceiling, models=models,
                                                          canaries=canaries, extra=extra))
    return srv, models, canaries, extra


def run(inp: ServeInput, rc: RunContext) -> dict[str, Any]:
    role, ckpt = roles.resolve(rc, inp.checkpoint)
    roles.check_checkpoint_dir(ckpt, role)
    ceiling, max_len = settings(inp, rc)
    loc = locate_vllm()
    build = vllm_build(loc.python)
    cuda = roles.cuda_available(rc)
    plan = plan_server(ckpt, build, cuda_available=cuda, max_model_len=max_len,
                       served_name=role if role in ("candidate", "baseline") else ckpt.name,
                       extra_args=inp.extra_args, enforce_eager=inp.enforce_eager)
    data = base_data(role, ckpt, plan, loc.python)
    if role == "baseline":
        cand_ok, cand_why = candidate_servability(rc, build, cuda)
        if inp.candidate_not_servable:
            cand_ok, cand_why = False, inp.candidate_not_servable
        data.update(candidate_servable=cand_ok, not_servable_reason=cand_why)
    else:
        data.update(candidate_servable=None)
    progress(0.02, f"{role} {ckpt}: {build.server_kind} {build.version or ''}".strip())
    refuse_before_start(inp, rc, plan, role, ckpt, ceiling, data, loc.detail)

    srv, models, canaries, extra = serve_and_ask(inp, rc, plan, role, ceiling)
    data.update(startup_s=srv.life.healthy_at_s, stop_s=extra["stop_s"], wall_s=extra["wall_s"],
                server_pid=srv.pid, orphans=extra["group_alive_after_stop"])
    arts = {"serve_record": rc.rel(rc.out_dir / RECORD_FILE), "server_log": rc.rel(rc.out_dir / SERVER_LOG)}
    healthy = srv.life.healthy_at_s is not None
    crashed = srv.life.exit is not None and not srv.life.exit.get("stopped_by_us")
    if crashed:
        evidence = not_servable_evidence(srv.all_lines())
        if evidence and (plan.quant is not None or plan.refusal):
            if role == "candidate":
                data["candidate_servable"] = False
            raise SkillFailure(NOT_SERVABLE, f"{role} {ckpt.name} is not servable here: the server exited "
                                             f"(code {srv.life.exit.get('exit_code')}) with: {evidence}",
                               data={**data, "reason": "server_refused", "refusal": plan.refusal,
                                     "server_error": evidence}, artifacts=arts)
        data["server_error"] = " | ".join(error_lines(srv.all_lines())) or None
    if healthy:
        data["served"] = role
        if role == "candidate":
            data["candidate_servable"] = True
        if plan.refusal:
            data["up_front_refusal_contradicted"] = plan.refusal  # the real attempt wins; said so
    return {"summary": summary(role, ckpt, plan, srv, models, canaries, extra, ceiling, data), "artifacts": arts,
            "data": data}


def summary(role: str, ckpt: Path, plan: ServerPlan, srv: ManagedServer, models: Optional[list[str]],
            canaries: list[dict[str, Any]], extra: dict[str, Any], ceiling: float, data: dict[str, Any]) -> str:
    kind, life = plan.build.server_kind, srv.life
    if life.healthy_at_s is not None:
        answered = sum(1 for c in canaries if c.get("http_status") == 200)
        text = (f"{kind} served the {role} ({ckpt.name}): healthy after {life.healthy_at_s:.1f}s, models {models}, "
                f"{answered}/{len(canaries)} canaries answered, stopped in {extra['stop_s']:.1f}s")
    else:
        crashed = life.exit is not None and not life.exit.get("stopped_by_us")
        text = (f"{kind} did not become healthy serving the {role} ({ckpt.name})"
                + (f": it exited with code {life.exit.get('exit_code')}" if crashed else f" within {ceiling:g}s")
                + "; the serve gate judges the record")
    if role == "baseline" and data.get("candidate_servable") is False:
        text += "; the CANDIDATE WAS NOT SERVED (not servable here): evaluate both sides in-process"
    return text


if __name__ == "__main__":
    sys.exit(main(ServeInput, run))
