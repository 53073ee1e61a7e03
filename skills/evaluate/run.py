"""The evaluate runner: one lm-eval run of one side, recorded so the eval_run gate can judge it.

    python skills/common/launch.py skills.evaluate.run --input args.json --out-dir DIR --workspace W --context ctx.json

Writes DIR/lmeval/ (lm-eval's --output_path: <model>/results_<ts>.json + samples_<task>_<ts>.jsonl, and
run.json: RUNNING before lm-eval starts, the terminal status after), DIR/lmeval.log (lm-eval's
output), DIR/server.log (endpoint backend), DIR/result.json. lm-eval's progress bars become
`PROGRESS` lines. A run that lm-eval itself failed is still ok=true here: run.json says FAILED with
the error, and the eval_run gate classifies it; ok=false is for what stops the run before lm-eval
(invalid or non-parity settings, a checkpoint the endpoint cannot serve, a server that never came up).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from conductor.executor import LocalExecutor, ProcessSpec, exit_cleanly_on_signals
from gates.eval_run.decide import signal_of
from gates.eval_run.run_record import NULL_RESPONSE_MARKER, RunRecord, write_run_record
from skills.common.runner import USER_CONFIG_ERROR, RunContext, SkillFailure, main, progress
from skills.evaluate import LMEVAL_DIR, EvaluateInput
from skills.evaluate import plan as P
from skills.serve import roles

LMEVAL_LOG = "lmeval.log"
SERVER_LOG = "server.log"
_BAR = re.compile(r"^(?P<desc>[^|]*?):?\s+(?P<pct>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)"
                  r"(?:\s*\[(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+)<)?")
_NOISE = re.compile(r"^\s*$|%\|")
_PHASE = re.compile(r"Running (\w+) requests")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Target:
    """What this side evaluates, and how."""

    mode: str  # hf | hf-simulated | hf-export | endpoint
    checkpoint: Path
    identity: str
    tokenizer: Path
    simulated_state: Optional[Path] = None
    notes: list[str] = field(default_factory=list)
    export: Optional[Path] = None  # hf-simulated: the export that must hold the simulated weights


def hf_target(side: str, inp: EvaluateInput, rc: RunContext, base: Path) -> Target:
    if side == "baseline":
        return Target("hf", base, str(base), base)
    export = roles.candidate_checkpoint(rc)
    state = roles.simulated_state(rc)
    qd = roles.quantize_data(rc)
    want = inp.candidate_model
    if want == "simulated" and state is None:
        raise SkillFailure(USER_CONFIG_ERROR, "candidate_model='simulated' but the quantize stage saved no "
                                              "simulated_state artifact")
    if want in ("auto", "simulated") and state is not None:
        algo = qd.get("quant_algo") or qd.get("recipe") or "quantization"
        ident = f"{export} (in-process: modelopt simulated {algo} of {base}, state {state.name})"
        return Target("hf-simulated", base, ident, base, state,
                      [f"the candidate is evaluated in-process: {base} rebuilt under modelopt's simulated {algo} "
                       f"from {state} (the calibrated quantizers the export was made from); the export's tensors "
                       "are checked to hold these weights before any score"], export=export)
    return Target("hf-export", export, str(export), export,
                  notes=[f"the candidate export {export} is loaded with plain transformers"])


def progress_sink(state: dict[str, Any]):
    """on_line for the lm-eval child: request progress bars -> PROGRESS lines; other lines -> the skill
    log. The hf model's bars are "Running <type> requests"; the API models' are "Requesting API", whose
    phase is the evaluator's preceding "Running <type> requests" log line."""
    def on_line(line: str) -> None:
        m = _BAR.match(line.strip())
        if m is None:
            ph = _PHASE.search(line)
            if ph:
                state["phase"] = ph.group(1)
            if not _NOISE.search(line):
                print(f"[lm-eval] {line}", flush=True)
            return
        desc, n, total = m.group("desc").strip(), int(m.group("n")), int(m.group("total"))
        if desc.startswith("Running"):
            ph = _PHASE.search(desc)
            phase = ph.group(1) if ph else desc
        elif desc.startswith("Requesting API"):
            phase = state.get("phase", "api")
        else:
            return  # dataset building, etc.: not the requests
        phases = state.setdefault("phases", [])
        if phase not in phases:
            phases.append(phase)
        if m.group("s") is not None:  # tqdm's own elapsed time of the phase
            secs = int(m.group("h") or 0) * 3600 + int(m.group("m")) * 60 + int(m.group("s"))
            state.setdefault("phase_s", {})[phase] = secs
        frac = n / total if total else 0.0
        state["requests"] = {**state.get("requests", {}), phase: (n, total)}
        key = (phase, n * 20 // max(total, 1))
        if key != state.get("last"):
            state["last"] = key
            done = (phases.index(phase) + frac) / max(len(phases), state.get("expected_phases", 1))
            state["frac"] = max(state.get("frac", 0.0), 0.15 + 0.8 * min(done, 1.0))
            progress(state["frac"], f"lm-eval {phase} requests {n}/{total}")
    return on_line


def count_samples(out: Path) -> dict[str, int]:
    counts = {}
    for f in sorted(out.rglob("samples_*.jsonl")):
        task = re.sub(r"^samples_(.+)_\d{4}-\d{2}-\d{2}T.*$", r"\1", f.stem)
        with open(f, encoding="utf-8", errors="replace") as fh:
            counts[task] = counts.get(task, 0) + sum(1 for ln in fh if ln.strip())
    return counts


def read_fidelity(out_dir: Path) -> Optional[dict[str, Any]]:
    """What lmeval_main's export check found (hf-simulated runs only), without the long lists."""
    try:
        rep = json.loads((out_dir / "fidelity.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {"ok": rep.get("ok"), "checked": rep.get("checked"), "worst_relative_error": rep.get("worst"),
            "unchecked": len(rep.get("unchecked") or []), "mismatched": (rep.get("mismatched") or [])[:10],
            "summary": rep.get("summary")}


def error_text(tail: list[str], extra: Optional[str] = None, limit: int = 4000) -> str:
    """The log tail (last 30 meaningful lines, cut from the front to fit `limit`) after `extra`, which is
    kept whole: it is the explanation (e.g. the server died), and a front-cut would lose it."""
    lines = "\n".join(ln for ln in tail if not _NOISE.search(ln))
    lines = "\n".join(lines.splitlines()[-30:])
    if not extra:
        return lines[-limit:]
    extra = extra[:limit // 2]
    return extra + "\n" + lines[-(limit - len(extra) - 1):] if lines else extra


class Endpoint:
    """The endpoint backend's server for this side (started here, stopped here)."""

    def __init__(self, executor: LocalExecutor, rc: RunContext, ckpt: Path, served_name: str):
        from skills.common.vllm_env import locate_vllm
        from skills.serve.server import ManagedServer, plan_server, vllm_build

        serve_cfg = rc.config.get("serve") or {}
        self.skip = bool(serve_cfg.get("skip"))
        self.ceiling = float(serve_cfg.get("load_ceiling_s") or 900.0)
        self.max_len = int(serve_cfg.get("max_model_len") or 2048)
        build = vllm_build(locate_vllm().python)
        self.plan = plan_server(ckpt, build, cuda_available=roles.cuda_available(rc), max_model_len=self.max_len,
                                served_name=served_name)
        self.server = ManagedServer(executor, self.plan, rc.out_dir / SERVER_LOG,
                                    on_line=lambda ln: print(f"[vllm] {ln}", flush=True))

    def start(self) -> float:
        if self.skip:
            raise SkillFailure("CHECKPOINT_NOT_SERVABLE", "the endpoint backend needs a server and serve.skip is set "
                                                          "in the release config: none is started; use backend hf")
        if self.plan.refusal:
            raise SkillFailure("CHECKPOINT_NOT_SERVABLE", f"{self.plan.checkpoint} cannot be served here for the "
                                                          f"endpoint backend: {self.plan.refusal}")
        print("$ " + " ".join(self.plan.argv), flush=True)
        if not self.server.start():
            raise SkillFailure("CHECKPOINT_NOT_SERVABLE", self.server.life.spawn_error or "vLLM could not start")
        progress(0.03, f"vLLM starting on {self.plan.base_url} (pid {self.server.pid})")
        if not self.server.wait_healthy(self.ceiling):
            exit_ = self.server.life.exit
            self.server.stop()
            why = (f"the server exited (code {exit_.get('exit_code')}) before /health answered 200" if exit_ else
                   f"/health did not answer 200 within {self.ceiling:g}s")
            raise SkillFailure("DEPLOYMENT_HEALTH_FAILED", f"{why}; see {SERVER_LOG}",
                               data={"health_probes": self.server.life.probes[-5:],
                                     "log_tail": self.server.log_tail(20)})
        progress(0.12, f"vLLM healthy after {self.server.life.healthy_at_s:.1f}s")
        return float(self.server.life.healthy_at_s or 0.0)


def run(inp: EvaluateInput, rc: RunContext) -> dict[str, Any]:
    side = inp.side or "baseline"
    base = roles.baseline_checkpoint(rc)
    roles.check_checkpoint_dir(base, "baseline")
    cuda = roles.cuda_available(rc)
    try:
        s = P.resolve_settings(inp, side=side, config=rc.config, sealed=rc.sealed,
                               chat_template=roles.has_chat_template(base), cuda=cuda)
    except P.ParityError as exc:
        raise SkillFailure(USER_CONFIG_ERROR, str(exc)) from None
    out = rc.out_dir / LMEVAL_DIR
    out.mkdir(parents=True, exist_ok=True)
    executor = LocalExecutor()
    exit_cleanly_on_signals(executor)
    data: dict[str, Any] = {"side": side, "backend": s.backend, "backend_reason": s.backend_reason,
                            "settings": s.model_dump(mode="json")}
    arts = {"lmeval_dir": rc.rel(out), "lmeval_log": rc.rel(rc.out_dir / LMEVAL_LOG)}
    server: Optional[Endpoint] = None
    try:
        if s.backend == "hf":
            target = hf_target(side, inp, rc, base)
            model, margs = "hf", P.hf_model_args(target.checkpoint, s, simulated_state=target.simulated_state,
                                                 simulated_export=target.export)
            device = "cuda" if cuda else "cpu"
        else:
            ckpt = base if side == "baseline" else roles.candidate_checkpoint(rc)
            roles.check_checkpoint_dir(ckpt, side)
            server = Endpoint(executor, rc, ckpt, side)
            try:
                data["startup_s"] = server.start()
            except SkillFailure as exc:
                write_run_record(out, RunRecord(status="FAILED", error=f"{exc.failure_class}: {exc.message}",
                                                model_identity=str(ckpt), started_at=now(), finished_at=now()))
                raise
            arts["server_log"] = rc.rel(rc.out_dir / SERVER_LOG)
            p = server.plan
            target = Target("endpoint", ckpt, f"{ckpt} (served by {p.build.server_kind} {p.build.version} as "
                                              f"{side!r})", ckpt)
            model = P.endpoint_model(s)
            margs = P.endpoint_model_args(p.base_url, side, ckpt, s, server.max_len)
            device = None
        lm_args = P.lmeval_argv(s, model=model, model_args=margs, output=out, device=device)
        data.update(mode=target.mode, model_identity=target.identity, notes=target.notes)
        return evaluate(s, lm_args, target, rc, executor, server, data, arts)
    finally:
        if server is not None:
            server.server.stop()
            data["server_exit"] = server.server.life.exit


def evaluate(s: P.EvalSettings, lm_args: list[str], target: Target, rc: RunContext, executor: LocalExecutor,
             server: Optional[Endpoint], data: dict[str, Any], arts: dict[str, str]) -> dict[str, Any]:
    out = rc.out_dir / LMEVAL_DIR
    argv = P.child_argv(sys.executable, s, lm_args)
    rec = RunRecord(status="RUNNING", model_identity=target.identity, tokenizer=str(target.tokenizer),
                    command=argv, started_at=now())
    write_run_record(out, rec)
    print("$ " + " ".join(argv), flush=True)
    progress(0.15, f"lm-eval {s.backend} ({target.mode}) on {', '.join(s.tasks)}"
                   + (f", limit {s.limit}" if s.limit else ""))
    env = {"LMEVAL_MODEL_NONE_ANSWER_PLACEHOLDER": NULL_RESPONSE_MARKER, "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "TQDM_MININTERVAL": "5", "HF_HUB_DISABLE_TELEMETRY": "1"}
    state: dict[str, Any] = {"expected_phases": 1}
    spec = ProcessSpec(argv=argv, cwd=str(rc.out_dir), env_extra=env, log_path=str(rc.out_dir / LMEVAL_LOG),
                       timeout_s=s.timeout_s, name=f"lm-eval:{data['side']}", grace_s=10.0)
    t0 = time.monotonic()
    try:
        res = executor.run(spec, on_line=progress_sink(state))
    except SystemExit:  # SIGTERM/SIGINT: the executor stopped lm-eval (and the server); say so, then leave
        write_run_record(out, rec.model_copy(update={"status": "CANCELLED", "finished_at": now(),
                                                     "error": "the evaluate skill was interrupted (SIGTERM/SIGINT)"}))
        raise
    wall = time.monotonic() - t0
    server_note = None
    if server is not None and not server.server.alive():
        e = server.server.life.exit or {}
        server_note = (f"the vLLM server exited on its own (code {e.get('exit_code')}) at {e.get('t_s')}s, "
                       "during the evaluation: connection refused from then on")
    results = sorted(out.rglob("results_*.json"))
    if res.timed_out:
        status, err = "TIMEOUT", f"lm-eval timed out after {s.timeout_s:g}s\n" + error_text(res.log_tail)
    elif res.cancelled:
        status, err = "CANCELLED", "lm-eval was cancelled\n" + error_text(res.log_tail)
    elif res.exit_code is None:
        status, err = "FAILED", res.error or "lm-eval could not start"
    elif res.exit_code < 0:  # a signal the conductor did not send: its own stops are TIMEOUT / CANCELLED above
        status, err = "KILLED", error_text(res.log_tail, f"lm-eval was killed by {signal_of(res.exit_code)}, a signal "
                                                         f"the conductor did not send (the OOM killer, a scheduler, "
                                                         f"a crash)" + (f"; {server_note}" if server_note else ""))
    elif res.exit_code != 0:
        status, err = "FAILED", error_text(res.log_tail, server_note)
    elif not results:
        status, err = "FAILED", "lm-eval exited 0 but wrote no results file\n" + error_text(res.log_tail, server_note)
    else:
        status, err = "SUCCESS", None
    write_run_record(out, rec.model_copy(update={"status": status, "exit_code": res.exit_code, "error": err,
                                                 "finished_at": now()}))
    samples = count_samples(out)
    n = sum(samples.values())
    fidelity = read_fidelity(rc.out_dir)
    if fidelity is not None:
        data["export_fidelity"] = fidelity
    phase_s = dict(state.get("phase_s", {}))
    infer_s = sum(phase_s.values())
    data.update(status=status, exit_code=res.exit_code, error=err, lmeval_wall_s=round(wall, 2), samples=samples,
                samples_total=n, samples_per_s=round(n / wall, 3) if wall > 0 and n else None,
                requests=state.get("requests"), request_phase_s=phase_s,
                inference_samples_per_s=round(n / infer_s, 3) if infer_s > 0 and n else None,
                server_note=server_note)
    progress(1.0, f"lm-eval {status.lower()}")
    what = f"{data['side']} ({target.mode})"
    if status == "SUCCESS":
        summary = (f"lm-eval {s.backend} evaluated the {what} on {len(samples)} task(s), {n} samples in "
                   f"{wall:.0f}s ({data['samples_per_s']} samples/s); the eval_run gate re-derives the scores")
    else:
        first = (err or "").strip().splitlines()[-1:] or [""]
        code = f"exit {res.exit_code}" + (f", {signal_of(res.exit_code)}" if status == "KILLED" else "")
        summary = f"lm-eval {status} on the {what} ({code}): {first[0][:300]}; the eval_run gate judges it"
    return {"summary": summary, "artifacts": arts, "data": data}


if __name__ == "__main__":
    sys.exit(main(EvaluateInput, run))
