"""skills/evaluate: input validation, the backend decision, settings parity between the sides, argv
for each backend, the operator, and the runner's run record (with a stand-in for the lm-eval child).
Real lm-eval runs are in tests/integration/test_skill_evaluate_real.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from conductor.skill import SkillContext, SkillResult
from gates.eval_run.collect import collect_run
from gates.eval_run.decide import decide
from gates.eval_run.run_record import read_run_record
from skills.common.runner import RunContext, SkillFailure
from skills.evaluate import SKILLS, EvaluateInput, skill_for_stage
from skills.evaluate import plan as P
from skills.evaluate import run as ev_run

CFG = {"tasks": ["conductor_facts_mc", "conductor_facts_gen"], "eval": {"backend": "auto", "limit": 20, "batch_size": 4}}


def sealed(**stages) -> dict:
    return {k: SkillResult(ok=True, **v) for k, v in stages.items()}


def resolve(inp: dict, side: str, sealed_: dict | None = None, config: dict | None = None, chat: bool = True,
            cuda: bool = False) -> P.EvalSettings:
    return P.resolve_settings(EvaluateInput.model_validate(inp), side=side, config=config or CFG,
                              sealed=sealed_ or {}, chat_template=chat, cuda=cuda)


# ------------------------------------------------------------------ input and skills


def test_two_skills_with_distinct_names_and_valid_schemas():
    assert skill_for_stage("eval_baseline").name == "evaluate_baseline"
    assert skill_for_stage("eval_candidate").name == "evaluate_candidate"
    assert skill_for_stage("compare") is None
    for s in SKILLS.values():
        assert s.input_model.model_validate({}) is not None and Path(s.doc_path).is_file()


def test_input_validation():
    with pytest.raises(ValidationError):
        EvaluateInput(tasks=["a", "a"])
    with pytest.raises(ValidationError):
        EvaluateInput(tasks=["a,b"])
    with pytest.raises(ValidationError):
        EvaluateInput(limit=1)  # no stderr from one sample
    with pytest.raises(ValidationError):
        EvaluateInput(seed="x")
    with pytest.raises(ValidationError):
        EvaluateInput(backend="vllm")
    assert EvaluateInput(seed="0,1234,1234,1234").seed == "0,1234,1234,1234"


def test_command_injects_the_stage_side_and_refuses_the_other(tmp_path):
    ctx = SkillContext(workspace=tmp_path, out_dir=tmp_path / "a", config=CFG, python=sys.executable)
    argv = SKILLS["eval_candidate"].command(EvaluateInput(), ctx)
    assert json.loads((tmp_path / "a" / "args.json").read_text())["side"] == "candidate"
    assert "skills.evaluate.run" in argv
    with pytest.raises(ValueError, match="belongs to the other stage"):
        SKILLS["eval_candidate"].command(EvaluateInput(side="baseline"), ctx)


def test_gates_and_operator(tmp_path):
    ctx = SkillContext(workspace=tmp_path, out_dir=tmp_path / "o", config=CFG, python=sys.executable)
    s = SKILLS["eval_baseline"]
    calls = s.gates(EvaluateInput(), ctx, SkillResult(ok=True, artifacts={"lmeval_dir": "o/lmeval"}))
    assert calls[0].gate == "eval_run" and calls[0].args == ["--artifacts", str(tmp_path / "o" / "lmeval")]
    assert s.operator_call(ctx, None) == {}
    assert s.operator_call(ctx, {"failure_class": "INFRA_TRANSIENT", "input": {"limit": 5}}) == {"limit": 5}
    for fc in ("INFERENCE_FAILED", "SAMPLE_ACCOUNTING_FAILED", "REPORTED_MISMATCH", "UNKNOWN"):
        assert s.operator_call(ctx, {"failure_class": fc, "input": {}}) is None


# ------------------------------------------------------------------ backend decision


def test_backend_auto_follows_the_serve_stage():
    not_served = sealed(serve={"data": {"served": "baseline", "candidate_servable": False,
                                        "not_servable_reason": "FP8 needs CUDA"}})
    b, why = P.decide_backend(None, CFG, not_served)
    assert b == "hf" and "FP8 needs CUDA" in why and "both sides" in why
    assert P.decide_backend(None, CFG, {})[0] == "hf"
    served = sealed(serve={"data": {"served": "candidate", "candidate_servable": True}})
    assert P.decide_backend(None, CFG, served)[0] == "endpoint"
    assert P.decide_backend(None, {"eval": {"backend": "hf"}}, served)[0] == "hf"
    assert P.decide_backend("endpoint", CFG, not_served) == ("endpoint", "endpoint requested by the call")


# ------------------------------------------------------------------ settings and parity


def test_baseline_settings_from_config_and_defaults():
    s = resolve({}, "baseline", sealed(quantize={"data": {"calib_dtype": "float32"}}))
    assert s.backend == "hf" and s.tasks == CFG["tasks"] and s.limit == 20 and s.batch_size == 4
    assert s.apply_chat_template is True and s.seed == P.DEFAULT_SEED and s.dtype == "float32"
    assert s.include_paths == [str(P.TASKS_DIR)]
    assert resolve({}, "baseline", chat=False).apply_chat_template is False
    assert resolve({}, "baseline", cuda=True).dtype == "bfloat16"
    assert resolve({"include_path": "/x"}, "baseline").include_paths == [str(P.TASKS_DIR), "/x"]


def test_candidate_takes_the_baselines_settings():
    base = resolve({"limit": 7, "gen_kwargs": {"max_gen_toks": 16}}, "baseline")
    sd = sealed(eval_baseline={"data": {"settings": base.model_dump(mode="json")}},
                serve={"data": {"served": "candidate", "candidate_servable": True}})  # would say endpoint now
    cand = resolve({}, "candidate", sd, config={"tasks": ["other"], "eval": {"limit": 99, "backend": "endpoint"}})
    assert cand.parity() == base.parity()
    assert cand.backend == "hf" and cand.limit == 7 and cand.tasks == CFG["tasks"]
    assert resolve({"limit": 7, "timeout_s": 60}, "candidate", sd).timeout_s == 60  # not a parity field


@pytest.mark.parametrize("override", [{"limit": 8}, {"backend": "endpoint"}, {"tasks": ["conductor_facts_mc"]},
                                      {"apply_chat_template": False}, {"seed": "1"}, {"dtype": "bfloat16"},
                                      {"num_fewshot": 2}, {"batch_size": 1}, {"gen_kwargs": {"max_gen_toks": 3}}])
def test_a_candidate_setting_that_differs_is_refused(override):
    base = resolve({}, "baseline")
    sd = sealed(eval_baseline={"data": {"settings": base.model_dump(mode="json")}})
    with pytest.raises(P.ParityError, match="baseline's settings"):
        resolve(override, "candidate", sd)


# ------------------------------------------------------------------ argv


def test_hf_argv():
    s = resolve({"num_fewshot": 0, "gen_kwargs": {"max_gen_toks": 16, "until": ["\n"]}}, "baseline")
    margs = P.hf_model_args("/ck", s)
    a = P.lmeval_argv(s, model="hf", model_args=margs, output="/out", device="cpu")
    assert a[:5] == ["run", "--model", "hf", "--model_args", "pretrained=/ck,dtype=float32"]
    for flag, val in (("--tasks", "conductor_facts_mc,conductor_facts_gen"), ("--include_path", str(P.TASKS_DIR)),
                      ("--output_path", "/out"), ("--seed", P.DEFAULT_SEED), ("--batch_size", "4"),
                      ("--limit", "20"), ("--num_fewshot", "0"), ("--device", "cpu")):
        assert a[a.index(flag) + 1] == val
    assert "--log_samples" in a and "--apply_chat_template" in a and "--use_cache" not in a
    g = a[a.index("--gen_kwargs") + 1:]
    assert g == ["max_gen_toks=16", "until=['\\n']"]


def test_simulated_candidate_model_args():
    s = resolve({}, "baseline")
    m = P.hf_model_args("/src", s, simulated_state="/q/simulated_state.pt")
    assert P.kv(m) == "pretrained=/src,dtype=float32,simulated_state=/q/simulated_state.pt"
    with pytest.raises(ValueError, match="comma"):
        P.kv({"pretrained": "/a,b"})


def test_endpoint_argv():
    s = resolve({"backend": "endpoint"}, "baseline")
    m = P.endpoint_model_args("http://127.0.0.1:9", "baseline", "/ck", s, 2048)
    assert P.endpoint_model(s) == "local-completions"
    assert m["base_url"] == "http://127.0.0.1:9/v1/completions" and m["model"] == "baseline"
    assert m["tokenizer"] == "/ck" and m["tokenized_requests"] is True and m["num_concurrent"] == 1
    a = P.lmeval_argv(s, model=P.endpoint_model(s), model_args=m, output="/o")
    assert "--device" not in a and a[a.index("--model") + 1] == "local-completions"
    c = resolve({"backend": "endpoint", "endpoint_api": "chat"}, "baseline")
    assert P.endpoint_model(c) == "local-chat-completions"
    assert P.endpoint_model_args("http://h:1", "x", "/ck", c, 512)["base_url"].endswith("/v1/chat/completions")


def test_child_argv_runs_lmeval_main_through_the_launcher():
    s = resolve({"include_path": "/extra"}, "baseline")
    a = P.child_argv("/py", s, ["run", "--model", "hf"])
    assert a[0] == "/py" and a[1].endswith("skills/common/launch.py") and a[2] == "skills.evaluate.lmeval_main"
    assert a[3:6] == ["--also-include", "/extra", "--"] and a[6:] == ["run", "--model", "hf"]


def test_lmeval_main_ends_redrawn_bars_at_once():
    import io

    from skills.evaluate import lmeval_main as M

    buf = io.StringIO()
    w = M._LineBreaks(buf)
    w.write("\rbar:  10%|#| 1/10")
    assert buf.getvalue() == "\nbar:  10%|#| 1/10\n"
    w.write("\rbar: 100%|#| 10/10\n")
    assert buf.getvalue().endswith("\nbar: 100%|#| 10/10\n") and w.write("plain") == 5


def test_lmeval_main_splits_its_options():
    from skills.evaluate import lmeval_main as M

    assert M._split(["--also-include", "/x", "--", "run", "--model", "hf"]) == (["--also-include", "/x"],
                                                                              ["run", "--model", "hf"])
    assert M._ours(["--also-include", "/x", "--also-include", "/y"]) == ["/x", "/y"]
    with pytest.raises(SystemExit):
        M._ours(["--bogus"])


def test_progress_lines_from_tqdm(capsys):
    state = {"expected_phases": 1}
    sink = ev_run.progress_sink(state)
    sink("Running loglikelihood requests:  50%|█████     | 20/40 [00:10<00:10,  2.00it/s]")
    sink("Running loglikelihood requests: 100%|██████████| 40/40 [00:20<00:00,  2.00it/s]")
    sink("2026-01-01 INFO some log line")
    sink("  0%|          | 0/10 [00:00<?, ?it/s]")  # dataset building: no progress, no log
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("PROGRESS 0.550 lm-eval loglikelihood requests 20/40")
    assert out[1].startswith("PROGRESS 0.950") and out[2] == "[lm-eval] 2026-01-01 INFO some log line"
    assert len(out) == 3 and state["requests"] == {"loglikelihood": (40, 40)}
    assert state["phase_s"] == {"loglikelihood": 20}


def test_progress_lines_from_the_api_models(capsys):
    state = {"expected_phases": 1}
    sink = ev_run.progress_sink(state)
    sink("2026-11-23:01:15:26 INFO     [evaluator:589] Running generate_until requests")
    sink("Requesting API:  10%|█         | 1/10 [00:14<02:13, 14.84s/it]")
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("PROGRESS") and "lm-eval generate_until requests 1/10" in out[-1]
    assert state["requests"] == {"generate_until": (1, 10)}


# ------------------------------------------------------------------ the runner, with a stand-in lm-eval child

FAKE_CHILD = r'''
import json, os, sys, pathlib
mode = os.environ["FAKE_LMEVAL"]
out = pathlib.Path(sys.argv[sys.argv.index("--output_path") + 1])
assert os.environ["LMEVAL_MODEL_NONE_ANSWER_PLACEHOLDER"] == "[conductor:null-response]"
print("Running loglikelihood requests:  50%|#####     | 2/4 [00:01<00:01,  2.00it/s]", file=sys.stderr, flush=True)
if mode == "fail":
    print("Traceback (most recent call last):", file=sys.stderr)
    print("requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
          "(Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))",
          file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    import time; time.sleep(60)
if mode.startswith("signal-"):  # killed by a signal the conductor did not send (the OOM killer, a scheduler)
    import signal
    os.kill(os.getpid(), getattr(signal, mode[len("signal-"):]))
d = out / "m"; d.mkdir(parents=True)
if mode == "ok":
    (d / "results_2026-01-01T00-00-00.000000.json").write_text("{}")
    (d / "samples_t_2026-01-01T00-00-00.000000.jsonl").write_text('{"doc_id": 0}\n{"doc_id": 1}\n')
'''


def _runner_rc(tmp: Path, base: Path, settings_extra: dict | None = None) -> RunContext:
    out = tmp / "ws" / "stages" / "eval_baseline" / "attempt-1"
    out.mkdir(parents=True)
    return RunContext(out_dir=out, workspace=tmp / "ws", config={**CFG, "eval": {**CFG["eval"], **(settings_extra or {})}},
                      sealed=sealed(preflight={"artifacts": {"checkpoint": str(base)},
                                               "data": {"hardware": {"cuda_available": False}}}))


@pytest.fixture
def fake_child(tmp_path, monkeypatch):
    script = tmp_path / "fake_lmeval.py"
    script.write_text(FAKE_CHILD)
    monkeypatch.setattr(ev_run.P, "child_argv", lambda python, s, lm_args: [sys.executable, str(script), *lm_args])
    monkeypatch.setattr(ev_run, "exit_cleanly_on_signals", lambda executor: None)
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    (base / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{x}}"}))
    return base


@pytest.mark.parametrize("mode,status", [("ok", "SUCCESS"), ("fail", "FAILED"), ("empty", "FAILED")])
def test_runner_records_the_run(tmp_path, fake_child, monkeypatch, mode, status):
    monkeypatch.setenv("FAKE_LMEVAL", mode)
    rc = _runner_rc(tmp_path, fake_child)
    res = ev_run.run(EvaluateInput(side="baseline"), rc)
    out = rc.resolve(res["artifacts"]["lmeval_dir"])
    rec = read_run_record(out)
    assert rec.status == status and rec.model_identity == str(fake_child) and rec.tokenizer == str(fake_child)
    assert rec.command[2:4] == ["run", "--model"] and rec.started_at and rec.finished_at
    d = res["data"]
    assert d["status"] == status and d["settings"]["backend"] == "hf" and d["mode"] == "hf"
    if mode == "ok":
        assert rec.exit_code == 0 and rec.error is None and d["samples"] == {"t": 2} and d["samples_total"] == 2
    elif mode == "fail":
        assert rec.exit_code == 1 and "Connection refused" in rec.error
        v = decide(collect_run(out))  # a lost server is transient, never a score
        assert not v.passed and v.failure_class.value == "INFRA_TRANSIENT"
    else:
        assert "wrote no results file" in rec.error


@pytest.mark.parametrize("sig,code", [("SIGKILL", -9), ("SIGTERM", -15), ("SIGSEGV", -11)])
def test_runner_records_a_signal_death_honestly(tmp_path, fake_child, monkeypatch, sig, code):
    monkeypatch.setenv("FAKE_LMEVAL", f"signal-{sig}")
    rc = _runner_rc(tmp_path, fake_child)
    res = ev_run.run(EvaluateInput(side="baseline"), rc)
    out = rc.resolve(res["artifacts"]["lmeval_dir"])
    rec = read_run_record(out)
    assert rec.status == "KILLED" and rec.exit_code == code and f"signal {-code} ({sig})" in rec.error
    assert res["data"]["status"] == "KILLED" and sig in res["summary"]
    v = decide(collect_run(out))  # a death by a signal nobody here sent: transient, retried once
    assert not v.passed and v.failure_class.value == "INFRA_TRANSIENT" and sig in v.detail


def test_runner_timeout_is_recorded(tmp_path, fake_child, monkeypatch):
    monkeypatch.setenv("FAKE_LMEVAL", "hang")
    rc = _runner_rc(tmp_path, fake_child)
    res = ev_run.run(EvaluateInput(side="baseline", timeout_s=2), rc)
    rec = read_run_record(rc.resolve(res["artifacts"]["lmeval_dir"]))
    assert rec.status == "TIMEOUT" and "timed out" in rec.error
    v = decide(collect_run(rc.resolve(res["artifacts"]["lmeval_dir"])))
    assert v.failure_class.value == "INFRA_TRANSIENT"


def test_runner_refuses_a_non_parity_candidate(tmp_path, fake_child):
    rc = _runner_rc(tmp_path, fake_child)
    base = resolve({}, "baseline")
    rc.sealed["eval_baseline"] = SkillResult(ok=True, data={"settings": base.model_dump(mode="json")})
    with pytest.raises(SkillFailure) as e:
        ev_run.run(EvaluateInput(side="candidate", limit=3), rc)
    assert e.value.failure_class == "USER_CONFIG_ERROR" and "limit" in e.value.message


def test_candidate_without_a_quantize_stage_is_a_config_error(tmp_path, fake_child):
    rc = _runner_rc(tmp_path, fake_child)
    with pytest.raises(SkillFailure, match="no sealed export"):
        ev_run.run(EvaluateInput(side="candidate"), rc)


def test_simulated_candidate_target(tmp_path, fake_child):
    rc = _runner_rc(tmp_path, fake_child)
    export = tmp_path / "export"
    export.mkdir()
    state = tmp_path / "simulated_state.pt"
    state.write_bytes(b"x")
    rc.sealed["quantize"] = SkillResult(ok=True, artifacts={"export": str(export), "simulated_state": str(state)},
                                        data={"quant_algo": "FP8"})
    t = ev_run.hf_target("candidate", EvaluateInput(), rc, fake_child)
    assert t.mode == "hf-simulated" and t.checkpoint == fake_child and t.simulated_state == state
    assert str(export) in t.identity and "simulated FP8" in t.identity and t.identity != str(fake_child)
    e = ev_run.hf_target("candidate", EvaluateInput(candidate_model="export"), rc, fake_child)
    assert e.mode == "hf-export" and e.checkpoint == export
    state.unlink()
    with pytest.raises(SkillFailure, match="simulated_state"):
        ev_run.hf_target("candidate", EvaluateInput(candidate_model="simulated"), rc, fake_child)


def test_sigterm_to_the_skill_stops_lmeval_and_records_cancelled(tmp_path):
    """The conductor SIGTERMs a skill it cancels: lm-eval must not outlive it, and run.json says CANCELLED."""
    import os
    import signal
    import subprocess
    import time

    from tests.proctools import alive, wait_dead

    root = Path(__file__).resolve().parents[2]
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    out = tmp_path / "ws" / "stages" / "eval_baseline" / "attempt-1"
    out.mkdir(parents=True)
    (tmp_path / "args.json").write_text(json.dumps({"side": "baseline"}))
    (tmp_path / "ctx.json").write_text(json.dumps({"config": CFG, "cwd": str(tmp_path), "sealed": {
        "preflight": {"ok": True, "artifacts": {"checkpoint": str(base)}, "data": {"hardware": {"cuda_available": False}}}}}))
    pidfile = tmp_path / "lmeval.pid"
    env = {**os.environ, "PYTHONPATH": str(root / "tests" / "fakes" / "lmeval_stub"), "FAKE_LMEVAL_PIDFILE": str(pidfile)}
    proc = subprocess.Popen([sys.executable, str(root / "skills/common/launch.py"), "skills.evaluate.run", "--input",
                             str(tmp_path / "args.json"), "--out-dir", str(out), "--workspace", str(tmp_path / "ws"),
                             "--context", str(tmp_path / "ctx.json")], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pidfile.read_text())
        assert alive(child) and read_run_record(out / "lmeval").status == "RUNNING"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert wait_dead([child], timeout=10) == []
        rec = read_run_record(out / "lmeval")
        assert rec.status == "CANCELLED" and "interrupted" in rec.error
        assert decide(collect_run(out / "lmeval")).passed is False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_error_text_keeps_the_server_note_whole_before_a_long_log_tail():
    """The note says why (the server died mid-run); a front-cut of note + tail used to drop its head."""
    note = "the vLLM server exited on its own (code -9) at 80.2s, during the evaluation: connection refused from then on"
    text = ev_run.error_text([f"line {i} " + "x" * 300 for i in range(100)], note)
    assert text.startswith(note + "\n") and len(text) <= 4000 and text.endswith("x" * 300)
    assert "line 99 " in text and "line 60 " not in text  # the last 30 lines at most
    assert ev_run.error_text(["a", "", "b"]) == "a\nb" and ev_run.error_text([], note) == note


def test_endpoint_backend_is_refused_when_serve_skip_is_set(tmp_path):
    rc = RunContext(out_dir=tmp_path, workspace=tmp_path, sealed={}, config={"serve": {"skip": True}})
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    from conductor.executor import LocalExecutor

    srv = ev_run.Endpoint(LocalExecutor(), rc, tmp_path / "ckpt", "baseline")
    with pytest.raises(SkillFailure) as e:
        srv.start()
    assert e.value.failure_class == "CHECKPOINT_NOT_SERVABLE" and "serve.skip" in e.value.message
    assert srv.server.handle is None  # nothing was started


def _tiny_export(tmp: Path, fmt: str):
    """A two-layer model whose weights are already on the format's grid (as after mtq.fold_weight), and its
    export: quantized weights + weight_scale, the norm as it is."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("proj", torch.nn.Linear(16, 8, bias=False))
    model.add_module("norm", torch.nn.LayerNorm(8, bias=False))
    w = model.proj.weight.detach()
    if fmt == "int8":
        scale = w.abs().amax(dim=1) / 127  # per output channel
        q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        deq = q.float() * scale[:, None]
    else:
        scale = w.abs().amax() / 448  # per tensor
        q = (w / scale).to(torch.float8_e4m3fn)
        deq = q.float() * scale
    with torch.no_grad():
        model.proj.weight.copy_(deq)
    export = tmp / f"export-{fmt}"
    export.mkdir()
    tensors = {"proj.weight": q, "proj.weight_scale": scale.float(), "proj.input_scale": torch.tensor(1.0),
               "norm.weight": model.norm.weight.detach().to(torch.bfloat16)}
    return model, export, tensors, save_file


@pytest.mark.parametrize("fmt", ["int8", "fp8"])
def test_export_fidelity_passes_the_evaluated_weights_and_catches_scrambled_rows(tmp_path, fmt):
    import torch

    from skills.evaluate.fidelity import compare_export

    model, export, tensors, save = _tiny_export(tmp_path, fmt)
    save(tensors, str(export / "model.safetensors"))
    good = compare_export(model, export)
    assert good.ok and good.checked == 2 and good.worst < 1e-3 and not good.unchecked, good.summary()
    q = tensors["proj.weight"]
    tensors["proj.weight"] = q[torch.tensor([1, 0, 2, 3, 4, 5, 7, 6])]  # same shape, dtype and bytes
    save(tensors, str(export / "model.safetensors"))
    bad = compare_export(model, export)
    assert not bad.ok and [k for k, _ in bad.mismatched] == ["proj.weight"], bad.summary()
    assert "DIFFER" in bad.summary() and "proj.weight" in bad.summary()
    tensors["proj.weight"] = q
    tensors["norm.weight"] = torch.flip(tensors["norm.weight"], [0]) * 3  # an unquantized tensor that changed
    save(tensors, str(export / "model.safetensors"))
    assert [k for k, _ in compare_export(model, export).mismatched] == ["norm.weight"]


def test_export_fidelity_counts_what_it_cannot_compare(tmp_path):
    import torch

    from skills.evaluate.fidelity import compare_export

    model, export, tensors, save = _tiny_export(tmp_path, "int8")
    tensors["proj.weight"] = torch.zeros(8, 8, dtype=torch.uint8)  # packed int4: two values per byte
    save(tensors, str(export / "model.safetensors"))
    r = compare_export(model, export)
    assert r.ok and r.checked == 1 and r.unchecked == ["proj.weight"] and "not comparable" in r.summary()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not compare_export(model, empty).ok


def test_the_simulated_candidate_names_its_export_for_the_fidelity_check(tmp_path):
    s = P.EvalSettings(backend="hf", tasks=["t"])
    args = P.hf_model_args("/base", s, simulated_state="/q/simulated_state.pt", simulated_export="/q/export")
    assert args["simulated_export"] == "/q/export" and args["simulated_state"] == "/q/simulated_state.pt"
    assert "simulated_export" not in P.hf_model_args("/base", s, simulated_export="/q/export")
    assert ev_run.read_fidelity(tmp_path) is None
    (tmp_path / "fidelity.json").write_text(json.dumps({"ok": False, "checked": 3, "worst": 1.4, "unchecked": ["a"],
                                                        "mismatched": [["w", 1.4]], "summary": "DIFFER"}))
    assert ev_run.read_fidelity(tmp_path) == {"ok": False, "checked": 3, "worst_relative_error": 1.4, "unchecked": 1,
                                              "mismatched": [["w", 1.4]], "summary": "DIFFER"}
