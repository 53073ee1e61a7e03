"""compare on corpus-level scores (perplexity, bits per byte, BLEU, MCC, F1): unbounded and lower-is-better
metrics, relative thresholds, paired bootstrap noise; on hand-built facts, then on real lm-eval outputs
(tests/fixtures/lmeval_corpus_output vs the same tasks on a 4-bit fake-quantized model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gates.compare.decide import decide
from gates.compare.models import CompareFacts
from gates.schemas import load
from tests.eval_run_cases import BLEU, BPB, CLOZE, CORPUS_OUTPUT, F1, MCC, PPL, copy_run, only_task

REPO = Path(__file__).resolve().parents[2]
CANDIDATE_OUTPUT = REPO / "tests" / "fixtures" / "lmeval_corpus_candidate"
OUTPUT_VALIDATOR = jsonschema.Draft202012Validator(load("compare", "output"))
SETTINGS = {"backend": "hf", "lm_eval_version": "0.4.13"}
KINDS = {  # aggregation -> (metric, higher is better)
    "perplexity": ("perplexity", False), "weighted_perplexity": ("word_perplexity", False),
    "bits_per_byte": ("bits_per_byte", False), "bleu": ("bleu", True), "matthews_corrcoef": ("mcc", True),
    "f1": ("f1", True), "ter": ("ter", False)}


def side(agg: str, score: float, stderr: float | None, n: int = 5000, **kw: Any) -> dict[str, Any]:
    metric, hib = KINDS[agg]
    return {"settings": SETTINGS, "tasks": {"t": {"score": score, "stderr": stderr, "samples": n, "metric": metric,
                                                  "higher_is_better": hib, "aggregation": agg,
                                                  "output_type": "loglikelihood", **kw}}}


def verdict(agg: str, b: float, c: float, se: float | None = 0.01, *, bkw: dict | None = None,
            ckw: dict | None = None, **facts: Any):
    f = CompareFacts.model_validate({"baseline": side(agg, b, se, **(bkw or {})),
                                     "candidate": side(agg, c, se, **(ckw or {})), **facts})
    v = decide(f)
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    return v


def fc(*args: Any, **kw: Any) -> str | None:
    v = verdict(*args, **kw)
    return v.failure_class.value if v.failure_class else None


@pytest.mark.parametrize("agg,b,c,se,expected", [
    # perplexity: lower is better, unbounded, a relative threshold (0.01 = 1% worse allowed)
    ("perplexity", 20.0, 20.5, 0.01, "ACCURACY_REGRESSION"),  # 2.5% worse: the old scale inference said 0.005
    ("perplexity", 20.0, 20.15, 0.01, None),
    ("perplexity", 20.0, 19.0, 0.01, None),  # 5% better: not beyond the 5% anomalous limit
    ("perplexity", 20.0, 15.0, 0.01, "ANOMALOUS_GAIN"),
    ("perplexity", 20.0, 15.0, 5.0, "INDETERMINATE"),  # a large gain, but within the noise
    ("perplexity", 20.0, 20.1, 1.0, "INDETERMINATE"),
    ("perplexity", 150.0, 151.0, 0.1, None),  # above 100: a perplexity, not an out-of-range percentage
    ("perplexity", 0.5, 0.5, 0.01, "ANOMALOUS_GAIN"),  # a perplexity below 1 is broken
    ("perplexity", 20.0, 21.0, None, "ACCURACY_REGRESSION"),  # a drop beyond the threshold, whatever the noise
    ("perplexity", 20.0, 20.0, None, "INDETERMINATE"),  # no stderr and no paired statistics: no binomial here
    ("weighted_perplexity", 2.3e6, 2.3e6 * 1.02, 10.0, "ACCURACY_REGRESSION"),
    ("bits_per_byte", 4.0, 4.02, 0.001, None), ("bits_per_byte", 4.0, 4.1, 0.001, "ACCURACY_REGRESSION"),
    ("bits_per_byte", 0.0, 0.0, 0.001, "INDETERMINATE"),  # a relative threshold of a zero baseline certifies nothing
    ("ter", 31.4, 32.0, 0.05, "ACCURACY_REGRESSION"),
    # bounded corpus scores: the absolute threshold on the unit scale
    ("bleu", 67.0, 66.0, 0.01, None), ("bleu", 67.0, 65.0, 0.01, "ACCURACY_REGRESSION"),
    ("bleu", 67.0, 101.0, 0.01, "ANOMALOUS_GAIN"),
    ("matthews_corrcoef", -0.20, -0.25, 0.001, "ACCURACY_REGRESSION"),  # a negative MCC is a score
    ("matthews_corrcoef", -0.20, -0.205, 0.001, None), ("matthews_corrcoef", 0.8, 1.2, 0.001, "ANOMALOUS_GAIN"),
    ("f1", 0.9, 0.85, 0.001, "ACCURACY_REGRESSION"), ("f1", 0.9, 0.895, 0.001, None),
])
def test_corpus_level_comparisons(agg, b, c, se, expected):
    assert fc(agg, b, c, se) == expected


@pytest.mark.parametrize("metric,b,c,expected", [("perplexity", 20.0, 20.5, "ACCURACY_REGRESSION"),
                                                 ("bits_per_byte", 4.0, 4.1, "ACCURACY_REGRESSION"),
                                                 ("word_perplexity", 150.0, 151.0, None),
                                                 ("mcc", -0.2, -0.25, "ACCURACY_REGRESSION")])
def test_facts_without_an_aggregation_still_compare_a_perplexity_as_one(metric, b, c, expected):
    """Hand-written facts (no aggregation): before, 20 -> 20.5 was read as 0.200 -> 0.205 and accepted."""
    def plain(score: float) -> dict[str, Any]:
        return {"settings": SETTINGS, "tasks": {"t": {"score": score, "stderr": 0.001, "samples": 5000,
                                                      "metric": metric, "higher_is_better": metric == "mcc"}}}
    v = decide(CompareFacts.model_validate({"baseline": plain(b), "candidate": plain(c)}))
    assert (v.failure_class.value if v.failure_class else None) == expected, v.detail


def test_a_perplexity_declared_higher_is_better_is_never_compared():
    v = verdict("perplexity", 20.0, 25.0, 0.01, bkw={"higher_is_better": True}, ckw={"higher_is_better": True})
    assert v.failure_class.value == "ANOMALOUS_GAIN" and "lower-is-better by definition" in v.detail


def test_different_aggregations_are_not_like_for_like():
    f = CompareFacts.model_validate({"baseline": side("f1", 0.9, 0.01),
                                     "candidate": {**side("f1", 0.9, 0.01), "tasks": {"t": {
                                         **side("f1", 0.9, 0.01)["tasks"]["t"], "aggregation": "mean"}}}})
    assert decide(f).failure_class.value == "COMPARISON_NOT_LIKE_FOR_LIKE"


def test_the_paired_bootstrap_is_the_noise_when_it_covers_both_sides():
    paired = {"t": {"n_docs": 5000, "replicates": 1000, "delta": 0.1, "se_diff": 0.01}}
    assert fc("perplexity", 20.0, 20.1, None, corpus_paired=paired) is None
    v = verdict("perplexity", 20.0, 20.1, None, corpus_paired=paired)
    row = v.evidence["tasks"][0]
    assert row["stderr_source"].startswith("paired bootstrap") and row["threshold_rule"].startswith("relative")
    # a paired statistic that disagrees with the two scores is ignored (and the noise is then unknown)
    wrong = {"t": {**paired["t"], "delta": 0.5}}
    assert fc("perplexity", 20.0, 20.1, None, corpus_paired=wrong) == "INDETERMINATE"


def test_identical_runs_on_few_documents_do_not_claim_zero_noise():
    paired = {"t": {"n_docs": 20, "replicates": 1000, "delta": 0.0, "se_diff": 0.0}}
    assert fc("f1", 0.9, 0.9, 0.07, bkw={"samples": 20}, ckw={"samples": 20}, corpus_paired=paired) == "INDETERMINATE"


def test_paired_statistics_for_a_task_not_run_on_both_sides_are_invalid_input():
    with pytest.raises(Exception):
        CompareFacts.model_validate({"baseline": side("f1", 0.9, 0.01), "candidate": side("f1", 0.9, 0.01),
                                     "corpus_paired": {"u": {"n_docs": 2, "replicates": 2, "delta": 0, "se_diff": 0}}})


# ---------------------------------------------------------------- real lm-eval outputs

def compare_cli(base: Path, cand: Path) -> tuple[int, dict[str, Any]]:
    p = subprocess.run([sys.executable, "-m", "gates.compare", "--artifacts", str(base), str(cand)],
                       capture_output=True, text=True, cwd=REPO, timeout=600)
    out = json.loads(p.stdout)
    OUTPUT_VALIDATOR.validate(out)
    assert "Traceback" not in p.stdout + p.stderr
    return p.returncode, out


def test_real_corpus_tasks_are_compared_not_refused():
    """Before: compare refused every one of these tasks (no re-derived score). Now each is compared, with
    its own direction and threshold and paired-bootstrap noise: the 4-bit candidate's BLEU (67.2 -> 53.0)
    and cloze perplexity (805 -> 864, +7.3% against 1% allowed) are regressions; 20 documents cannot
    resolve a 1-point F1 / MCC or a 1% perplexity change, so those are INDETERMINATE, never ACCEPT."""
    code, out = compare_cli(CORPUS_OUTPUT, CANDIDATE_OUTPUT)
    rows = {r["task"]: r for r in out["evidence"]["tasks"]}
    assert code == 1 and out["failure_class"] == "ACCURACY_REGRESSION", out["detail"]
    assert {t: r["verdict"] for t, r in rows.items()} == {
        BLEU: "REGRESSION", CLOZE: "REGRESSION", F1: "INDETERMINATE", MCC: "INDETERMINATE", PPL: "INDETERMINATE",
        BPB: "INDETERMINATE"}
    for t, r in rows.items():
        assert r["stderr_source"].startswith("paired bootstrap"), r
        assert r["higher_is_better"] is (t in (BLEU, F1, MCC))
        assert r["threshold_rule"].startswith("relative" if t in (PPL, BPB, CLOZE) else "absolute")
    assert rows[CLOZE]["drop"] == pytest.approx(863.7718390860791 - 804.9963311190047)


def test_a_real_corpus_run_against_itself_is_not_accepted_on_20_documents(tmp_path):
    base = copy_run(CORPUS_OUTPUT, tmp_path / "b")
    only_task(base, CLOZE)
    code, out = compare_cli(base, base)
    assert code == 1 and out["failure_class"] in ("INDETERMINATE", "COMPARISON_NOT_LIKE_FOR_LIKE"), out["detail"]
