"""compare gate: failure cases first (every class it emits, the upstream scale and non-numeric bugs,
the inclusive boundary, INDETERMINATE with its samples figure), then the CLI contract and
property tests."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gates.compare import SPEC
from gates.compare.collect import paired_of, scores_of
from gates.compare.decide import decide
from gates.compare.models import CompareFacts
from gates.contract import Verdict, run_cli
from gates.eval_run.models import EvalRunFacts
from gates.failure_classes import FailureClass as FC
from gates.schemas import dumps, generated, load
from tests.compare_facts import carry, facts

REPO = Path(__file__).resolve().parents[2]


def task(score: float, **kw: Any) -> dict[str, Any]:
    return {"score": score, "samples": 1000, "stderr": 0.001, **kw}


def verdict(data: dict[str, Any]) -> Verdict:
    return decide(CompareFacts.model_validate(data))


def rules(base: dict[str, Any], cand: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Facts that test the comparison rules on the scores alone: no run facts carried (so a task without a
    stderr or a sample count can be written). Such facts never pass: their accounting is unknown, which
    is reported after every finding of the comparison itself."""
    return facts(base, cand, runs=False, **kw)


def comparison_passed(v: Verdict) -> bool:
    """Every check passed but the (deliberately absent) run facts."""
    return {c.name for c in v.checks if not c.passed} == {"baseline_run_valid", "candidate_run_valid"}


def row(v: Verdict, name: str) -> dict[str, Any]:
    return next(r for r in v.evidence["tasks"] if r["task"] == name)


def cli(args: list[str], stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    p = subprocess.run([sys.executable, "-m", "gates.compare", *args], input=stdin, capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    return p.returncode, json.loads(p.stdout)


def cli_facts(tmp_path: Path, data: Any, *extra: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "facts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return cli(["--input", str(path), *extra])


# ------------------------------------------------------------------ upstream bug: 0-1 vs 0-100

@pytest.mark.parametrize("scale", [None, "unit"])
def test_unit_scale_collapse_1_to_0_is_regression_never_accept(scale: str | None) -> None:
    kw = {"scale": scale} if scale else {}
    v = verdict(facts({"tau2_bench_telecom": task(1.0, **kw)}, {"tau2_bench_telecom": task(0.0, **kw)}))
    assert not v.passed
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert v.evidence["decision"] == "REGRESSION"
    r = row(v, "tau2_bench_telecom")
    assert r["scale"] == "unit" and r["drop"] == 1.0 and r["threshold"] == 0.01 and r["within"] is False


def test_unit_collapse_in_a_suite_with_percent_tasks_is_regression() -> None:
    base = {"tau2": task(1.0, scale="unit"), "mmlu": task(57.0, stderr=0.1, scale="percent")}
    cand = {"tau2": task(0.0, scale="unit"), "mmlu": task(57.0, stderr=0.1, scale="percent")}
    v = verdict(facts(base, cand))
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert row(v, "tau2")["verdict"] == "REGRESSION" and row(v, "mmlu")["verdict"] == "OK"


def test_percent_drop_of_3_points_is_regression_at_1_percent() -> None:
    v = verdict(facts({"arc_easy": task(57.0, stderr=0.2)}, {"arc_easy": task(54.0, stderr=0.2)}))
    r = row(v, "arc_easy")
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert r["scale"] == "percent" and "percent" in r["scale_rule"]
    assert math.isclose(r["drop"], 0.03) and r["threshold"] == 0.01


def test_a_0_1_score_against_a_0_100_score_is_anomalous_never_rescaled() -> None:
    v = verdict(facts({"arc": task(57.0, stderr=0.2)}, {"arc": task(0.56)}))
    assert v.failure_class == FC.ANOMALOUS_GAIN and v.evidence["decision"] == "ANOMALOUS"
    r = row(v, "arc")
    assert r["verdict"] == "SCALE_MISMATCH" and "mixed" in r["scale_rule"]
    assert "baseline_unit" not in r  # no arithmetic on a pair that cannot be put on one scale


def test_percent_score_of_exactly_1_against_57_is_a_mismatch() -> None:
    v = verdict(facts({"arc": task(57.0, stderr=0.2)}, {"arc": task(1.0, stderr=0.2)}))
    assert row(v, "arc")["verdict"] == "SCALE_MISMATCH"


def test_collapse_to_zero_on_percent_scale_is_regression_not_mismatch() -> None:
    v = verdict(facts({"arc": task(57.0, stderr=0.2)}, {"arc": task(0.0, stderr=0.2)}))
    assert v.failure_class == FC.ACCURACY_REGRESSION and row(v, "arc")["scale"] == "percent"


def test_declared_scales_win_over_inference() -> None:
    v = verdict(facts({"arc": task(57.0, scale="percent", stderr=0.1)}, {"arc": task(0.57, scale="unit")}))
    assert v.passed, v.detail
    r = row(v, "arc")
    assert r["scale_rule"].startswith("declared") and r["baseline_unit"] == pytest.approx(0.57)


def test_one_declared_scale_applies_to_the_undeclared_side() -> None:
    # the candidate's 0.57 is read on the baseline's declared percent scale: a collapse, not a match
    v = verdict(facts({"arc": task(57.0, scale="percent", stderr=0.1)}, {"arc": task(0.57)}))
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert "declared by the baseline" in row(v, "arc")["scale_rule"]


@pytest.mark.parametrize("base,cand,scale", [(0.5, 1.2, "unit"), (50.0, 101.0, "percent"), (0.5, -0.1, None),
                                            (150.0, 150.0, None), (0.5, 0.5, None)])
def test_score_outside_its_scale_is_anomalous(base: float, cand: float, scale: str | None) -> None:
    kw = {"scale": scale} if scale else {}
    b, c = task(base, **kw), task(cand, **kw)
    if base == cand == 0.5:
        c["stderr"] = 2.0  # a stderr larger than the whole unit scale is impossible
    v = verdict(rules({"t": b}, {"t": c}))  # with the runs carried, eval_run's in_scale check fails first
    assert v.failure_class == FC.ANOMALOUS_GAIN
    assert row(v, "t")["verdict"] == "OUT_OF_RANGE"


# ------------------------------------------------------------------ anomalous gain

def test_implausible_gain_is_anomalous() -> None:
    v = verdict(facts({"t": task(0.50)}, {"t": task(0.56)}))
    assert v.failure_class == FC.ANOMALOUS_GAIN and v.evidence["decision"] == "ANOMALOUS"
    assert row(v, "t")["verdict"] == "ANOMALOUS_GAIN"


def test_gain_exactly_at_the_limit_is_not_anomalous() -> None:
    assert verdict(facts({"t": task(0.50)}, {"t": task(0.55)})).passed  # 0.55 - 0.50 = 0.05000000000000004


def test_anomalous_gain_on_percent_scale_uses_unit_fraction() -> None:
    v = verdict(facts({"t": task(50.0, stderr=0.1)}, {"t": task(56.0, stderr=0.1)}))
    assert v.failure_class == FC.ANOMALOUS_GAIN


# ------------------------------------------------------------------ inclusive boundary

@pytest.mark.parametrize("base,cand", [(0.50, 0.49), (50.0, 49.0), (0.3, 0.29), (0.7, 0.69), (0.11, 0.10)])
def test_drop_exactly_at_threshold_is_within(base: float, cand: float) -> None:
    se = 0.001 if base < 1 else 0.1
    v = verdict(facts({"t": task(base, stderr=se)}, {"t": task(cand, stderr=se)}))
    assert v.passed, v.detail
    assert row(v, "t")["within"] is True


@pytest.mark.parametrize("base,cand", [(0.50, 0.4899), (50.0, 48.99)])
def test_drop_just_beyond_threshold_is_regression(base: float, cand: float) -> None:
    se = 0.001 if base < 1 else 0.1
    v = verdict(facts({"t": task(base, stderr=se)}, {"t": task(cand, stderr=se)}))
    assert v.failure_class == FC.ACCURACY_REGRESSION


def test_relative_threshold_boundary() -> None:
    ok = verdict(facts({"t": task(0.5)}, {"t": task(0.495)}, threshold={"kind": "relative", "value": 0.01}))
    assert ok.passed, ok.detail
    bad = verdict(facts({"t": task(0.5)}, {"t": task(0.4949)}, threshold={"kind": "relative", "value": 0.01}))
    assert bad.failure_class == FC.ACCURACY_REGRESSION


def test_lower_is_better_metric_direction() -> None:
    lib = {"higher_is_better": False}
    assert verdict(facts({"t": task(0.20, **lib)}, {"t": task(0.21, **lib)})).passed
    v = verdict(facts({"t": task(0.20, **lib)}, {"t": task(0.22, **lib)}))
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert verdict(facts({"t": task(0.20, **lib)}, {"t": task(0.10, **lib)})).failure_class == FC.ANOMALOUS_GAIN


# ------------------------------------------------------------------ INDETERMINATE

def test_small_eval_without_power_is_indeterminate_with_samples_needed() -> None:
    v = verdict(rules({"t": {"score": 0.5, "samples": 100}}, {"t": {"score": 0.5, "samples": 100}}))
    assert v.failure_class == FC.INDETERMINATE and v.evidence["decision"] == "ANOMALOUS"
    r = row(v, "t")
    assert r["verdict"] == "INDETERMINATE" and r["within"] is True
    assert r["mde"] > r["threshold"]
    # z^2 * 2 p (1 - p) / threshold^2 at p = 0.5, z = 1.645, threshold 0.01
    assert r["samples_needed_per_side"] == math.ceil(1.6448536269514715 ** 2 * 0.5 / 0.01 ** 2)
    assert "13528 samples per side" in v.detail


def test_indeterminate_from_reported_stderr_scales_the_sample_count() -> None:
    v = verdict(facts({"t": task(0.5, stderr=0.01, samples=400)}, {"t": task(0.5, stderr=0.01, samples=400)}))
    r = row(v, "t")
    assert v.failure_class == FC.INDETERMINATE
    expected = 400 * (1.6448536269514715 * math.sqrt(2) * 0.01 / 0.01) ** 2
    assert r["samples_needed_per_side"] == math.ceil(expected - 1e-9)


def test_enough_samples_resolve_the_threshold() -> None:
    assert comparison_passed(verdict(rules({"t": {"score": 0.5, "samples": 14000}},
                                           {"t": {"score": 0.5, "samples": 14000}})))


def test_binomial_fallback_never_claims_zero_noise_at_the_edges() -> None:
    v = verdict(rules({"t": {"score": 1.0, "samples": 10}}, {"t": {"score": 1.0, "samples": 10}}))
    assert v.failure_class == FC.INDETERMINATE
    assert row(v, "t")["stderr_diff"] > 0


def test_noisy_but_clearly_better_candidate_establishes_non_inferiority() -> None:
    # mde > threshold, but even the upper bound of the drop (-0.04 + mde) lies within it
    v = verdict(facts({"t": task(0.50, stderr=0.008)}, {"t": task(0.54, stderr=0.008)}))
    r = row(v, "t")
    assert r["mde"] > r["threshold"] and r["drop_upper_bound"] <= r["threshold"]
    assert v.passed, v.detail


def test_indeterminate_says_when_the_full_dataset_cannot_resolve_it() -> None:
    v = verdict(rules({"t": {"score": 0.5, "samples": 300}}, {"t": {"score": 0.5, "samples": 300}}))
    assert v.failure_class == FC.INDETERMINATE
    assert "full dataset" in row(v, "t")["samples_note"] and "full dataset" in v.detail
    limited = rules({"t": {"score": 0.5, "samples": 300}}, {"t": {"score": 0.5, "samples": 300}})
    for s in ("baseline", "candidate"):
        limited[s]["settings"]["limit"] = 300.0
    assert "samples_note" not in row(verdict(limited), "t")  # with a --limit, more samples may exist


def test_regression_beyond_threshold_is_regression_even_when_noisy() -> None:
    v = verdict(rules({"t": {"score": 0.6, "samples": 50}}, {"t": {"score": 0.55, "samples": 50}}))
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert row(v, "t")["significant_drop"] is False  # recorded, not used to excuse the drop


def test_regression_on_one_task_is_not_hidden_by_indeterminate_on_another() -> None:
    base = {"a": task(0.60), "b": task(0.5, samples=100, stderr=0.05)}
    cand = {"a": task(0.50), "b": task(0.5, samples=100, stderr=0.05)}
    v = verdict(facts(base, cand))
    assert v.failure_class == FC.ACCURACY_REGRESSION
    assert {c.name for c in v.checks if not c.passed} == {"within_threshold", "resolvable"}


def test_unknown_stderr_is_indeterminate_as_well_as_not_like_for_like() -> None:
    v = verdict(rules({"t": {"score": 0.5}}, {"t": {"score": 0.5}}))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE  # unknown sample counts come first
    assert {c.name for c in v.checks if not c.passed} == {"sample_counts_match", "resolvable", "baseline_run_valid",
                                                          "candidate_run_valid"}
    assert row(v, "t")["stderr_diff"] is None and "stderr of the difference unknown" in v.detail


def test_paired_statistics_shrink_the_noise() -> None:
    base, cand = task(0.5, stderr=0.0158), task(0.5, stderr=0.0158)  # the binary noise at p = 0.5, n = 1000
    assert verdict(facts({"t": base}, {"t": cand})).failure_class == FC.INDETERMINATE
    paired = {"t": {"n_pairs": 1000, "mean_diff": 0.0, "sd_diff": 0.1}}
    v = verdict(facts({"t": base}, {"t": cand}, paired=paired))
    assert v.passed, v.detail
    assert row(v, "t")["stderr_source"].startswith("paired")


def test_identical_answers_on_a_few_documents_do_not_claim_zero_noise() -> None:
    base, cand = {"t": task(0.7, samples=10, stderr=0.15)}, {"t": task(0.7, samples=10, stderr=0.15)}
    v = verdict(facts(base, cand, paired={"t": {"n_pairs": 10, "mean_diff": 0.0, "sd_diff": 0.0}}))
    assert v.failure_class == FC.INDETERMINATE and row(v, "t")["stderr_diff"] > 0.05


def test_a_reported_stderr_of_zero_is_replaced_by_the_binomial() -> None:
    v = verdict(facts({"t": task(1.0, stderr=0.0, samples=10)}, {"t": task(1.0, stderr=0.0, samples=10)}))
    assert v.failure_class == FC.INDETERMINATE and "binomial" in row(v, "t")["stderr_source"]


def test_paired_statistics_that_disagree_with_the_scores_are_ignored() -> None:
    base, cand = {"t": task(0.5, stderr=0.0158)}, {"t": task(0.5, stderr=0.0158)}
    v = verdict(facts(base, cand, paired={"t": {"n_pairs": 1000, "mean_diff": 0.2, "sd_diff": 0.1}}))
    assert v.failure_class == FC.INDETERMINATE
    assert "ignored" in row(v, "t")["paired_note"]


def test_paired_statistics_for_an_unknown_task_are_invalid() -> None:
    with pytest.raises(ValidationError):
        CompareFacts.model_validate(facts({"t": task(0.5)}, {"t": task(0.5)},
                                          paired={"x": {"n_pairs": 10, "mean_diff": 0.0, "sd_diff": 0.1}}))


# ------------------------------------------------------------------ not like for like

def test_differing_task_sets_are_not_like_for_like() -> None:
    v = verdict(facts({"a": task(0.5), "b": task(0.5)}, {"a": task(0.5)}))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE
    assert row(v, "b")["verdict"] == "MISSING_ON_CANDIDATE"


@pytest.mark.parametrize("field,b,c", [
    ("backend", "hf", "local-completions"), ("lm_eval_version", "0.4.13", "0.4.12"), ("limit", None, 100.0),
    ("apply_chat_template", False, True), ("gen_kwargs", {"temperature": 0}, {"temperature": 0.7}),
    ("gen_kwargs", {"do_sample": False}, {"do_sample": 0}), ("fewshot_as_multiturn", False, True)])
def test_differing_run_settings_are_not_like_for_like(field: str, b: Any, c: Any) -> None:
    data = facts({"t": task(0.5)}, {"t": task(0.5)})
    data["baseline"]["settings"][field] = b
    data["candidate"]["settings"][field] = c
    v = verdict(data)
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE
    assert v.evidence["settings_diff"][0]["field"] == field


def test_numerically_equal_settings_are_the_same() -> None:
    data = facts({"t": task(0.5)}, {"t": task(0.5)})
    data["baseline"]["settings"]["gen_kwargs"] = {"temperature": 0, "max_gen_toks": 256}
    data["candidate"]["settings"]["gen_kwargs"] = {"max_gen_toks": 256, "temperature": 0.0}
    assert verdict(data).passed


def test_unknown_settings_are_not_like_for_like() -> None:
    data = facts({"t": task(0.5)}, {"t": task(0.5)})
    del data["candidate"]["settings"]
    del data["candidate"]["run"]["settings"]
    assert verdict(data).failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE


@pytest.mark.parametrize("field,b,c", [("num_fewshot", 0, 5), ("output_type", "generate_until", "multiple_choice"),
                                       ("generation_kwargs", {"until": ["\n"]}, {"until": ["."]}),
                                       ("metric", "acc", "acc_norm"), ("higher_is_better", True, False)])
def test_differing_task_settings_are_not_like_for_like(field: str, b: Any, c: Any) -> None:
    v = verdict(facts({"t": task(0.5, **{field: b})}, {"t": task(0.5, **{field: c})}))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE
    assert row(v, "t")["verdict"] == "NOT_LIKE_FOR_LIKE"


@pytest.mark.parametrize("b,c", [(1000, 900), (None, 1000), (0, 0)])
def test_sample_counts_must_match_and_be_known(b: int | None, c: int | None) -> None:
    v = verdict(rules({"t": task(0.5, samples=b)}, {"t": task(0.5, samples=c)}))
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE
    assert not next(ch for ch in v.checks if ch.name == "sample_counts_match").passed
    if b != c:  # carried, unequal complete runs: each passes eval_run, and compare still refuses them
        v = verdict(facts({"t": task(0.5, samples=b)}, {"t": task(0.5, samples=c)}))
        if b and c:
            assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE
        else:  # an unknown count on a side fails that side's eval_run first
            assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED


# ------------------------------------------------------------------ external baseline

def test_baseline_that_does_not_reproduce_the_reference_is_a_mismatch() -> None:
    ref = {"source": "model card", "tolerance": 0.02, "scores": {"t": {"score": 0.60}}}
    v = verdict(facts({"t": task(0.50)}, {"t": task(0.50)}, reference=ref))
    assert v.failure_class == FC.EXTERNAL_BASELINE_MISMATCH and v.evidence["decision"] == "ANOMALOUS"


def test_reference_within_tolerance_passes_across_scales() -> None:
    ref = {"tolerance": 0.02, "scores": {"t": {"score": 51.5, "scale": "percent"}}}
    assert verdict(facts({"t": task(0.50)}, {"t": task(0.50)}, reference=ref)).passed
    edge = {"tolerance": 0.02, "scores": {"t": {"score": 0.52}}}
    assert verdict(facts({"t": task(0.50)}, {"t": task(0.50)}, reference=edge)).passed  # inclusive


def test_undeclared_reference_off_the_task_scale_is_a_mismatch() -> None:
    ref = {"scores": {"t": {"score": 50.0}}}
    v = verdict(facts({"t": task(0.50)}, {"t": task(0.50)}, reference=ref))
    assert v.failure_class == FC.EXTERNAL_BASELINE_MISMATCH and "declare its scale" in v.detail


def test_reference_for_a_task_the_baseline_did_not_run_is_a_mismatch() -> None:
    ref = {"scores": {"other": {"score": 0.5}}}
    assert verdict(facts({"t": task(0.5)}, {"t": task(0.5)}, reference=ref)).failure_class == \
        FC.EXTERNAL_BASELINE_MISMATCH


# ------------------------------------------------------------------ priority

def test_priority_order() -> None:
    ref = {"scores": {"r": {"score": 0.9}}}
    base = {"r": task(0.5), "g": task(0.2), "x": task(0.5), "i": {"score": 0.5, "samples": 100}}
    cand = {"r": task(0.3), "g": task(0.4), "x": task(0.5), "i": {"score": 0.5, "samples": 100}}
    data = rules(base, cand, reference=ref)
    data["candidate"]["tasks"]["x"]["num_fewshot"] = 5
    expected = [FC.COMPARISON_NOT_LIKE_FOR_LIKE, FC.ANOMALOUS_GAIN, FC.EXTERNAL_BASELINE_MISMATCH,
                FC.ACCURACY_REGRESSION, FC.INDETERMINATE, FC.SAMPLE_ACCOUNTING_FAILED]
    for fc in expected:
        v = verdict(data)
        assert v.failure_class == fc, (fc, v.detail)
        if fc == FC.COMPARISON_NOT_LIKE_FOR_LIKE:
            del data["candidate"]["tasks"]["x"]["num_fewshot"]
        elif fc == FC.ANOMALOUS_GAIN:
            data["candidate"]["tasks"]["g"]["score"] = 0.2
        elif fc == FC.EXTERNAL_BASELINE_MISMATCH:
            data.pop("reference")
        elif fc == FC.ACCURACY_REGRESSION:
            data["candidate"]["tasks"]["r"]["score"] = 0.5
        elif fc == FC.INDETERMINATE:
            data["baseline"]["tasks"]["i"] = task(0.5)
            data["candidate"]["tasks"]["i"] = task(0.5)
    for side in ("baseline", "candidate"):
        del data[side]["model_identity"]
    assert verdict(carry(data)).passed
    data = carry(data)  # a carried run that eval_run rejects comes before everything
    data["candidate"]["run"]["tasks"]["x"]["samples_expected"] = 2000
    data["candidate"]["tasks"]["x"]["num_fewshot"] = data["candidate"]["run"]["tasks"]["x"]["num_fewshot"] = 5
    v = verdict(data)
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED
    assert {c.name for c in v.checks if not c.passed} == {"candidate_run_valid", "task_settings_match"}


# ------------------------------------------------------------------ pass and evidence

def test_accept_with_per_task_table() -> None:
    v = verdict(facts({"a": task(0.50), "b": task(60.0, stderr=0.1)}, {"a": task(0.495), "b": task(60.2, stderr=0.1)}))
    assert v.passed and v.failure_class is None and v.evidence["decision"] == "ACCEPT"
    for r in v.evidence["tasks"]:
        for key in ("baseline", "candidate", "delta", "stderr_diff", "threshold", "within", "verdict", "scale",
                    "scale_rule"):
            assert key in r
    json.loads(v.to_json())


# ------------------------------------------------------------------ collector pieces (no collect_run needed)

def _run(score: float | None, reported: float | None = None, identity: str = "m", **kw: Any) -> EvalRunFacts:
    t = {"output_type": "multiple_choice", "primary_metric": "acc", "samples_expected": 100, "samples_scored": 100,
         "responses_total": 100, "reported_score": score if reported is None else reported, "rederived_score": score,
         "rederived_stderr": 0.01, **kw}
    return EvalRunFacts.model_validate({"run_status": "SUCCESS", "settings": {"backend": "hf"},
                                        "model_identity": identity, "tasks": {"t": t}})


def test_collector_uses_rederived_scores_never_reported() -> None:
    rs = scores_of(_run(0.40, reported=0.99), "baseline")
    assert rs.tasks["t"].score == 0.40 and rs.tasks["t"].samples == 100
    assert rs.run is not None and rs.run.tasks["t"].reported_score == 0.99  # carried: eval_run judges it


def test_collector_leaves_out_a_task_without_rederived_score_and_eval_run_says_why() -> None:
    rs = scores_of(_run(None), "candidate")
    assert rs.tasks == {} and rs.run is not None
    data = {"baseline": scores_of(_run(0.5, identity="b"), "baseline").model_dump(),
            "candidate": rs.model_dump()}
    v = verdict(data)
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED and "re-derived" in v.detail


def _write_samples(root: Path, values: list[float]) -> None:
    d = root / "model__x"
    d.mkdir(parents=True)
    lines = [json.dumps({"doc_id": i, "resps": [[["-1.0", "False"]]], "filtered_resps": [["-1.0", "False"]],
                         "filter": "none", "metrics": ["acc"], "acc": v}) for i, v in enumerate(values)]
    (d / "samples_t_2026-01-01T00-00-00.000001.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_paired_statistics_from_per_sample_logs(tmp_path: Path) -> None:
    b, c = [1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 1.0]
    _write_samples(tmp_path / "b", b)
    _write_samples(tmp_path / "c", c)
    paired = paired_of(str(tmp_path / "b"), str(tmp_path / "c"), _run(0.75), _run(0.5))
    assert paired["t"].n_pairs == 4 and paired["t"].mean_diff == pytest.approx(-0.25)


def test_collect_with_a_stand_in_collect_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = {"B": _run(0.60, identity="/m/base"), "C": _run(0.50, identity="/m/cand")}
    fake = types.ModuleType("gates.eval_run.collect")
    fake.collect_run = lambda p: runs[Path(p).name]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gates.eval_run.collect", fake)
    (tmp_path / "B").mkdir()
    (tmp_path / "C").mkdir()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(SPEC, ["--artifacts", str(tmp_path / "B"), str(tmp_path / "C")])
    v = json.loads(out.getvalue())
    assert code == 1 and v["failure_class"] == "ACCURACY_REGRESSION"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(SPEC, ["--artifacts", str(tmp_path / "B"), str(tmp_path / "C"), "--threshold", "0.2"])
    assert code == 0, out.getvalue()


# ------------------------------------------------------------------ CLI contract

def test_cli_exit_codes(tmp_path: Path) -> None:
    assert cli_facts(tmp_path, facts({"t": task(0.5)}, {"t": task(0.5)}))[0] == 0
    code, out = cli_facts(tmp_path, facts({"t": task(1.0)}, {"t": task(0.0)}))
    assert code == 1 and out["failure_class"] == "ACCURACY_REGRESSION" and out["evidence"]["decision"] == "REGRESSION"


def test_cli_reads_stdin() -> None:
    code, out = cli(["--input", "-"], stdin=json.dumps(facts({"t": task(0.5)}, {"t": task(0.5)})))
    assert code == 0 and out["pass"] is True


@pytest.mark.parametrize("bad", ['"42"', "true", "null", '[0.5]', '{"v": 0.5}'])
def test_cli_non_numeric_score_is_exit_2_never_a_crash(tmp_path: Path, bad: str) -> None:
    text = json.dumps(facts({"gpqa": task(0.5)}, {"gpqa": task(0.5)})).replace('"score": 0.5', f'"score": {bad}', 1)
    code, out = cli_facts(tmp_path, text)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR" and out["pass"] is False


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_cli_non_finite_numbers_are_exit_2(tmp_path: Path, token: str) -> None:
    text = json.dumps(facts({"t": task(0.5)}, {"t": task(0.5)})).replace('"score": 0.5', f'"score": {token}', 1)
    assert cli_facts(tmp_path, text)[0] == 2


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(unknown_field=1),
    lambda d: d["baseline"]["tasks"]["t"].update(extra=1),
    lambda d: d["baseline"].update(tasks=[{"score": 0.5}]),
    lambda d: d["baseline"].update(tasks={}),
    lambda d: d["baseline"]["tasks"]["t"].update(samples=10.0),
    lambda d: d["baseline"]["tasks"]["t"].update(samples=True),
    lambda d: d["baseline"]["tasks"]["t"].update(stderr=-0.1),
    lambda d: d["baseline"]["tasks"]["t"].update(scale="fraction"),
    lambda d: d.update(threshold={"kind": "absolute", "value": 0}),
    lambda d: d.update(threshold={"kind": "absolute", "value": "0.01"}),
    lambda d: d.update(anomalous_gain=False),
    lambda d: d.pop("candidate"),
])
def test_cli_invalid_shapes_are_exit_2(tmp_path: Path, mutate: Any) -> None:
    data = facts({"t": task(0.5)}, {"t": task(0.5)})
    mutate(data)
    code, out = cli_facts(tmp_path, data)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR"


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"a": 1, "a": 2}'])
def test_cli_unreadable_input_is_exit_2(tmp_path: Path, text: str) -> None:
    assert cli_facts(tmp_path, text)[0] == 2


def test_cli_missing_file_and_usage_errors_are_exit_2(tmp_path: Path) -> None:
    assert cli(["--input", str(tmp_path / "absent.json")])[0] == 2
    assert cli([])[0] == 2
    assert cli(["--artifacts", "only-one-dir"])[0] == 2


def test_cli_overrides_regate(tmp_path: Path) -> None:
    data = facts({"t": task(0.50)}, {"t": task(0.47)})
    assert cli_facts(tmp_path, data)[0] == 1
    code, out = cli_facts(tmp_path, data, "--threshold", "0.03")
    assert code == 0 and out["evidence"]["threshold"]["value"] == 0.03
    code, out = cli_facts(tmp_path, data, "--threshold", "0.05", "--relative")
    assert code == 1 and out["evidence"]["threshold"]["kind"] == "relative"  # 0.05 * 0.5 = 0.025 < 0.03
    gain = facts({"t": task(0.50)}, {"t": task(0.58)})
    assert cli_facts(tmp_path, gain)[1]["failure_class"] == "ANOMALOUS_GAIN"
    assert cli_facts(tmp_path, gain, "--anomalous-gain", "0.1")[0] == 0
    for bad in ("nan", "0", "-0.01", "2"):
        assert cli_facts(tmp_path, data, "--threshold", bad)[0] == 2


def test_cli_reference_flag(tmp_path: Path) -> None:
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"scores": {"t": {"score": 60.0, "scale": "percent"}}}), encoding="utf-8")
    code, out = cli_facts(tmp_path, facts({"t": task(0.5)}, {"t": task(0.5)}), "--reference", str(ref))
    assert code == 1 and out["failure_class"] == "EXTERNAL_BASELINE_MISMATCH"
    ref.write_text("{broken", encoding="utf-8")
    assert cli_facts(tmp_path, facts({"t": task(0.5)}, {"t": task(0.5)}), "--reference", str(ref))[0] == 2


def test_cli_help_explains_the_rules() -> None:
    p = subprocess.run([sys.executable, "-m", "gates.compare", "--help"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0
    for word in ("INDETERMINATE", "unit", "percent", "--threshold", "--relative", "--anomalous-gain", "Priority"):
        assert word in p.stdout


def test_committed_schemas_match_the_models() -> None:
    for fname, schema in generated("compare").items():
        path = REPO / "gates" / "schemas" / fname
        assert path.exists() and path.read_text(encoding="utf-8") == dumps(schema), \
            f"{fname} drifted; regenerate with: python -m gates.schemas"


# ------------------------------------------------------------------ properties

OUTPUT_SCHEMA = load("compare", "output")
scores = st.one_of(st.floats(min_value=-10, max_value=200, allow_nan=False),
                   st.sampled_from([0.0, 0.01, 0.49, 0.5, 1.0, 1.5, 49.0, 50.0, 100.0, 100.5]))
task_st = st.fixed_dictionaries(
    {"score": scores},
    optional={"stderr": st.floats(min_value=0, max_value=150, allow_nan=False),
              "samples": st.integers(min_value=0, max_value=20000),
              "scale": st.sampled_from(["unit", "percent"]), "higher_is_better": st.booleans(),
              "num_fewshot": st.integers(0, 5), "metric": st.sampled_from(["acc", "acc_norm"])})
names = st.sampled_from(["a", "b", "c"])
run_st = st.fixed_dictionaries({"tasks": st.dictionaries(names, task_st, min_size=1, max_size=3)},
                               optional={"settings": st.fixed_dictionaries(
                                   {"backend": st.sampled_from(["hf", "vllm"])},
                                   optional={"limit": st.one_of(st.none(), st.floats(0, 100)),
                                             "gen_kwargs": st.dictionaries(st.sampled_from(["temperature"]),
                                                                           st.sampled_from([0, 0.0, 1, False]))})})
facts_st = st.fixed_dictionaries(
    {"baseline": run_st, "candidate": run_st},
    optional={"threshold": st.fixed_dictionaries({"kind": st.sampled_from(["absolute", "relative"]),
                                                  "value": st.floats(min_value=1e-6, max_value=1)}),
              "anomalous_gain": st.floats(min_value=1e-6, max_value=1),
              "confidence": st.floats(min_value=0.95, max_value=0.999),
              "reference": st.fixed_dictionaries({"scores": st.dictionaries(names, st.fixed_dictionaries(
                  {"score": scores}, optional={"scale": st.sampled_from(["unit", "percent"])}), min_size=1)},
                  optional={"tolerance": st.floats(min_value=1e-6, max_value=1)})})


def _in_process(data: Any, tmp: Path) -> tuple[int, dict[str, Any]]:
    path = tmp / "f.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, allow_nan=True), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(SPEC, ["--input", str(path)])
    return code, json.loads(out.getvalue())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=facts_st)
def test_property_decide_never_raises_and_output_validates(data: dict[str, Any], tmp_path: Path) -> None:
    code, out = _in_process(data, tmp_path)
    assert code in (0, 1), out
    jsonschema.validate(out, OUTPUT_SCHEMA)
    assert out["failure_class"] != "GATE_ERROR"
    assert out["evidence"]["decision"] in ("ACCEPT", "REGRESSION", "ANOMALOUS")
    assert (code == 0) == out["pass"] == (out["evidence"]["decision"] == "ACCEPT")


def _numeric_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() if k != "gen_kwargs" for p in _numeric_paths(v, path + (k,))]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _numeric_paths(v, path + (i,))]
    return [path] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=facts_st, pick=st.integers(min_value=0), bad=st.sampled_from([True, "0.5", "NaN", [], {}]),
       extra=st.booleans())
def test_property_malformed_input_is_exit_2_never_a_pass(data: dict[str, Any], pick: int, bad: Any, extra: bool,
                                                         tmp_path: Path) -> None:
    data = copy.deepcopy(data)
    if extra:
        data["surprise"] = 1
    else:
        paths = _numeric_paths(data)
        target = paths[pick % len(paths)]
        node = data
        for k in target[:-1]:
            node = node[k]
        node[target[-1]] = float("nan") if bad == "NaN" else bad
    code, out = _in_process(data, tmp_path)
    assert code == 2 and out["pass"] is False and out["failure_class"] == "USER_CONFIG_ERROR"
    jsonschema.validate(out, OUTPUT_SCHEMA)


@settings(max_examples=200, deadline=None)
@given(b=st.floats(0, 1), c=st.floats(0, 1), n=st.integers(1, 100000))
def test_property_a_unit_drop_beyond_threshold_never_accepts(b: float, c: float, n: int) -> None:
    v = verdict(facts({"t": {"score": b, "samples": n}}, {"t": {"score": c, "samples": n}}))
    if b - c > 0.01 + 1e-9:
        assert not v.passed and v.evidence["decision"] != "ACCEPT"
