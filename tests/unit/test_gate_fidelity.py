"""The fidelity gate: hostile cases first (a candidate that drifts, a baseline measured against itself,
calibration text passed off as held-out, NaN logits, too little text), then the statistics against
hand-computed values, the collector on a written record, and the CLI contract."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gates.failure_classes import FailureClass as FC
from gates.fidelity import SPEC
from gates.fidelity.collect import mean_se, overlap, percentile, ratio_mean_se, token_facts
from gates.fidelity.decide import decide
from gates.fidelity.models import FidelityFacts

ROOT = Path(__file__).resolve().parents[2]


def facts(**over) -> FidelityFacts:
    """An FP8-like candidate that passes (figures of the size measured on the embedded model)."""
    base = {
        "heldout": {"path": "heldout.txt", "sha256": "a" * 64, "documents": 50, "calibration_overlap": 0},
        "tokenizer_match": True,
        "tokens": {"documents": 50, "tokens": 5000, "nonfinite_tokens": 0, "kl_mean": 0.01, "kl_mean_se": 0.001,
                   "kl_p99": 0.1, "kl_max": 0.8, "top1_agreement": 0.97, "top1_agreement_se": 0.003,
                   "ll_diff_per_token": -0.005, "ll_diff_per_token_se": 0.002, "ll_diff_per_doc": -0.5,
                   "ll_diff_per_doc_se": 0.2},
        "flips": {"conductor_mc_large": {"n": 1000, "changed": 20, "right_to_wrong": 8, "wrong_to_right": 7}},
    }
    for key, value in over.items():
        section, _, field = key.partition("__")
        if field:
            base[section][field] = value
        else:
            base[section] = value
    return FidelityFacts.model_validate(base)


def failed(v) -> dict[str, str]:
    return {c.name: c.failure_class.value for c in v.checks if not c.passed}


# ------------------------------------------------------------------ hostile cases

def test_a_drifting_candidate_fails_distribution_drift():
    v = decide(facts(tokens__kl_mean=0.4, tokens__kl_p99=3.0, tokens__top1_agreement=0.7,
                     tokens__ll_diff_per_token=-0.4))
    assert not v.passed and v.failure_class == FC.DISTRIBUTION_DRIFT
    assert set(failed(v)) == {"kl_mean", "kl_p99", "top1_agreement", "ll_drop"}


@pytest.mark.parametrize("field,value,check", [
    ("tokens__kl_mean", 0.11, "kl_mean"), ("tokens__kl_p99", 0.6, "kl_p99"),
    ("tokens__top1_agreement", 0.79, "top1_agreement"), ("tokens__ll_diff_per_token", -0.06, "ll_drop"),
])
def test_each_measure_alone_can_fail(field, value, check):
    v = decide(facts(**{field: value}))
    assert failed(v) == {check: "DISTRIBUTION_DRIFT"}


def test_accuracy_neutral_flips_fail_even_when_the_distributions_look_close():
    """Answers that change in both directions cancel in accuracy; the flip count does not."""
    v = decide(facts(flips={"mc": {"n": 1000, "changed": 90, "right_to_wrong": 45, "wrong_to_right": 45}}))
    assert failed(v) == {"flips:mc": "DISTRIBUTION_DRIFT"}
    assert v.evidence["flips"]["mc"]["net"] == 0


def test_the_baseline_measured_against_itself_is_not_a_pass():
    v = decide(facts(tokens__kl_mean=0.0, tokens__kl_mean_se=0.0, tokens__kl_p99=0.0, tokens__kl_max=0.0,
                     tokens__top1_agreement=1.0, tokens__top1_agreement_se=0.0, tokens__ll_diff_per_token=0.0,
                     tokens__ll_diff_per_token_se=0.0,
                     flips={"mc": {"n": 1000, "changed": 0, "right_to_wrong": 0, "wrong_to_right": 0}}))
    assert not v.passed and v.failure_class == FC.CACHING_DETECTED


def test_calibration_text_as_held_out_text_is_refused():
    v = decide(facts(heldout__calibration_overlap=3))
    assert v.failure_class == FC.USER_CONFIG_ERROR and "calibration" in v.detail


def test_nonfinite_logits_are_inference_failed():
    v = decide(facts(tokens__nonfinite_tokens=12))
    assert v.failure_class == FC.INFERENCE_FAILED


def test_different_token_ids_are_not_like_for_like():
    assert decide(facts(tokenizer_match=False)).failure_class == FC.COMPARISON_NOT_LIKE_FOR_LIKE


def test_too_little_text_is_indeterminate():
    v = decide(facts(tokens__documents=5, tokens__tokens=400))
    assert v.failure_class == FC.INDETERMINATE and failed(v) == {"enough_text": "INDETERMINATE"}


def test_within_but_noisy_is_indeterminate_and_beyond_wins():
    v = decide(facts(tokens__kl_mean=0.09, tokens__kl_mean_se=0.01))
    assert failed(v) == {"kl_mean": "INDETERMINATE"} and v.failure_class == FC.INDETERMINATE
    v = decide(facts(tokens__kl_mean=0.09, tokens__kl_mean_se=0.01, tokens__kl_p99=0.9))
    assert v.failure_class == FC.DISTRIBUTION_DRIFT  # a measured drift outranks "not sure"
    v = decide(facts(flips={"mc": {"n": 40, "changed": 2, "right_to_wrong": 1, "wrong_to_right": 1}}))
    assert failed(v) == {"flips:mc": "INDETERMINATE"}  # 5% of 40 answers: within 8%, bound ~11%


def test_unmeasured_figures_never_pass():
    v = decide(facts(tokens__kl_mean=None, tokens__top1_agreement=None, tokens__kl_p99=None))
    assert set(failed(v)) == {"kl_mean", "top1_agreement", "kl_p99"}
    assert v.failure_class == FC.INDETERMINATE


def test_a_candidate_that_gains_likelihood_is_not_penalised():
    assert decide(facts(tokens__ll_diff_per_token=0.3)).passed


def test_priority_config_error_first():
    v = decide(facts(heldout__calibration_overlap=1, tokens__kl_mean=1.0, tokenizer_match=False))
    assert v.failure_class == FC.USER_CONFIG_ERROR
    assert set(failed(v)) >= {"heldout_independent", "same_tokens", "kl_mean"}


@pytest.mark.parametrize("bad", [
    {"tokens__kl_mean": -0.1}, {"tokens__top1_agreement": 1.2}, {"tokens__tokens": -1},
    {"flips": {"mc": {"n": 10, "changed": 11, "right_to_wrong": 0, "wrong_to_right": 0}}},
    {"flips": {"mc": {"n": 10, "changed": 2, "right_to_wrong": 2, "wrong_to_right": 1}}},
    {"heldout__sha256": "short"},
])
def test_impossible_facts_are_invalid_input(bad):
    with pytest.raises(ValidationError):
        facts(**bad)


def test_the_fp8_like_candidate_passes_and_says_so():
    v = decide(facts())
    assert v.passed, v.detail
    assert "mean KL" in v.detail and "MC answer" in v.detail


# ------------------------------------------------------------------ statistics, by hand

def test_ratio_mean_and_its_standard_error_by_hand():
    # documents: (sum y, tokens) = (1, 2), (3, 2), (2, 4): R = 6 / 8 = 0.75
    # residuals y - R n: 1 - 1.5 = -0.5, 3 - 1.5 = 1.5, 2 - 3 = -1; s2 = (0.25 + 2.25 + 1) / 2 = 1.75
    # se = sqrt(1.75 / 3) / (8 / 3) = 0.763763... / 2.6666... = 0.286411...
    r, se = ratio_mean_se([1.0, 3.0, 2.0], [2, 2, 4])
    assert r == pytest.approx(0.75)
    assert se == pytest.approx(math.sqrt(1.75 / 3) / (8 / 3))
    assert ratio_mean_se([1.0], [3]) == (pytest.approx(1 / 3), None)
    assert ratio_mean_se([], []) == (None, None)
    assert ratio_mean_se([5.0, 1.0], [0, 2]) == (0.5, None)  # a document with no token does not count


def test_mean_se_and_percentile_by_hand():
    m, se = mean_se([1.0, 2.0, 3.0, 6.0])  # mean 3, sd^2 = (4 + 1 + 0 + 9) / 3
    assert m == 3.0 and se == pytest.approx(math.sqrt(14 / 3 / 4))
    vals = list(range(1, 101))  # 1..100: the 99th percentile by nearest rank is 99
    assert percentile(vals, 0.99) == 99 and percentile(vals, 1.0) == 100 and percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_token_facts_pool_tokens_and_keep_documents_apart():
    docs = [{"tokens": 2, "kl": [0.0, 1.0], "top1_agree": 2, "ll_base": -4.0, "ll_cand": -5.0, "nonfinite": 0},
            {"tokens": 2, "kl": [2.0, 1.0], "top1_agree": 1, "ll_base": -2.0, "ll_cand": -2.0, "nonfinite": 1},
            {"tokens": 4, "kl": [0.5, 0.5, 0.5, 0.5], "top1_agree": 4, "ll_base": -8.0, "ll_cand": -7.0,
             "nonfinite": 0},
            {"tokens": 0, "kl": [], "top1_agree": 0, "ll_base": 0.0, "ll_cand": 0.0, "nonfinite": 0}]
    t = token_facts(docs)
    assert (t.documents, t.tokens, t.nonfinite_tokens) == (3, 8, 1)
    assert t.kl_mean == pytest.approx(6 / 8) and t.kl_mean_se == pytest.approx(math.sqrt(1.75 / 3) / (8 / 3))
    assert t.kl_max == 2.0 and t.kl_p99 == 2.0
    assert t.top1_agreement == pytest.approx(7 / 8)
    assert t.ll_diff_per_token == pytest.approx(0.0)  # -1 + 0 + 1
    assert t.ll_diff_per_doc == pytest.approx(0.0) and t.ll_diff_per_doc_se == pytest.approx(math.sqrt(2 / 2 / 3))


def test_overlap_finds_equal_and_contained_documents():
    cal = ["the old lighthouse on the northern cape was switched off in the spring", "short one"]
    held = ["the old lighthouse on the northern cape was switched off in the spring",  # equal
            "it said: the old lighthouse on the northern cape was switched off in the spring, then",  # contains
            "short one",  # equal, though short
            "short", "a new document about owls and how they hunt at night in the woods"]
    assert overlap(held, cal) == 3


# ------------------------------------------------------------------ collector and CLI

def write_record(tmp: Path, docs: list[dict], heldout_text: str, cal_text: str, **extra) -> Path:
    h, c = tmp / "heldout.txt", tmp / "calibration.txt"
    h.write_text(heldout_text)
    c.write_text(cal_text)
    rec = {"format": "conductor-fidelity/1", "baseline": "base", "candidate": "cand", "tokenizer_match": True,
           "heldout": {"path": str(h), "sha256": hashlib.sha256(h.read_bytes()).hexdigest(), "documents": len(docs)},
           "calibration": {"path": str(c), "sha256": hashlib.sha256(c.read_bytes()).hexdigest()},
           "docs": docs, **extra}
    path = tmp / "fidelity_measure.json"
    path.write_text(json.dumps(rec))
    return path


def doc(kl: float, agree: bool = True) -> dict:
    kls = [kl] * 100
    return {"id": "d", "kind": "prose", "tokens": 100, "kl": kls, "top1_agree": 100 if agree else 50,
            "ll_base": -300.0, "ll_cand": -300.0 - 100 * kl, "nonfinite": 0}


def gate(*args: str) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "gates.fidelity", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, json.loads(proc.stdout)


HELD = "\n".join(f"held-out document number {i} about owls, rivers and trains, long enough to count."
                 for i in range(30))
CAL = "# calibration\nThe old lighthouse on the northern cape was switched off in the spring.\n"


def test_collect_and_decide_a_good_and_a_broken_record(tmp_path):
    good = write_record(tmp_path, [doc(0.01 + 0.001 * (i % 3)) for i in range(30)], HELD, CAL)
    code, v = gate("--artifacts", str(good))
    assert code == 0 and v["pass"], v["detail"]
    assert v["evidence"]["tokens"]["tokens"] == 3000
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = write_record(bad_dir, [doc(0.5 + 0.01 * (i % 3), agree=False) for i in range(30)], HELD, CAL)
    code, v = gate("--artifacts", str(bad))
    assert code == 1 and v["failure_class"] == "DISTRIBUTION_DRIFT"


def test_collector_refuses_calibration_text_and_changed_files(tmp_path):
    leaky = HELD + "\nThe old lighthouse on the northern cape was switched off in the spring.\n"
    rec = write_record(tmp_path, [doc(0.01)] * 31, leaky, CAL)
    code, v = gate("--artifacts", str(rec))
    assert code == 1 and v["failure_class"] == "USER_CONFIG_ERROR"
    (tmp_path / "heldout.txt").write_text(HELD + "\nedited after the measurement\n")
    code, v = gate("--artifacts", str(rec))
    assert code == 2 and "changed since it was measured" in v["detail"]


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r.update(format="other/1"), "not a conductor-fidelity/1 record"),
    (lambda r: r.update(docs=[]), "no documents"),
    (lambda r: r["docs"][0].update(kl=[0.1] * 99), "malformed"),
    (lambda r: r["docs"][0].update(kl=[-0.1] * 100), "malformed"),
    (lambda r: r["docs"][0].update(top1_agree=101), "malformed"),
])
def test_collector_refuses_a_malformed_record(tmp_path, mutate, message):
    path = write_record(tmp_path, [doc(0.01)] * 30, HELD, CAL)
    rec = json.loads(path.read_text())
    mutate(rec)
    path.write_text(json.dumps(rec))
    code, v = gate("--artifacts", str(path))
    assert code == 2 and message in v["detail"], v["detail"]


def test_cli_threshold_overrides_and_bad_input(tmp_path):
    good = write_record(tmp_path, [doc(0.02)] * 30, HELD, CAL)
    code, v = gate("--artifacts", str(good), "--max-kl-mean", "0.015")
    assert code == 1 and v["failure_class"] == "DISTRIBUTION_DRIFT"
    assert gate("--artifacts", str(good), str(tmp_path))[0] == 2  # two artifacts: neither 1 nor 3
    nan = tmp_path / "nan.json"
    nan.write_text('{"tokens": NaN}')
    assert gate("--input", str(nan))[0] == 2
    assert SPEC.name == "fidelity"


def test_flips_from_lmeval_sample_logs(tmp_path):
    from gates.fidelity.collect import flips_of

    def write(side: str, choices: list[int], golds: list[int]) -> Path:
        d = tmp_path / side / "model"
        d.mkdir(parents=True)
        lines = []
        for i, (ch, gold) in enumerate(zip(choices, golds, strict=True)):
            resps = [[[str(-1.0 if k == ch else -3.0 - k), "False"]] for k in range(4)]
            lines.append(json.dumps({"doc_id": i, "resps": resps, "filter": "none", "metrics": ["acc"],
                                     "acc": float(ch == gold)}))
        (d / "samples_mc_2026-01-01T00-00-00.jsonl").write_text("\n".join(lines) + "\n")
        return tmp_path / side

    golds = [0, 1, 2, 3, 0, 1]
    base = write("base", [0, 1, 2, 0, 1, 1], golds)  # right, right, right, wrong, wrong, right
    cand = write("cand", [0, 2, 2, 3, 2, 1], golds)  # same, r->w, same, w->r, w->w (changed), same
    fl = flips_of(str(base), str(cand))["mc"]
    assert (fl.n, fl.changed, fl.right_to_wrong, fl.wrong_to_right) == (6, 3, 1, 1)
