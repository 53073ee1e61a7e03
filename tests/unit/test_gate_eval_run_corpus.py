"""eval_run on scores that are corpus-level aggregates: the item checks, which aggregation lm-eval uses,
the re-derivation against lm-eval's own functions, and the decision's range / direction / stderr rules.
(The real lm-eval output of such tasks and its corruptions are in test_gate_eval_run.py.)"""

from __future__ import annotations

import contextlib
import io
import random
from typing import Any

import pytest

from gates.eval_run.corpus import aggregation_of, check_item, lmeval_replicates, rederive
from gates.eval_run.decide import decide
from gates.eval_run.models import EvalRunFacts
from gates.failure_classes import FailureClass as FC

lm_metrics = pytest.importorskip("lm_eval.api.metrics")


@pytest.mark.parametrize("agg,value,state", [
    ("perplexity", -1.5, "ok"), ("perplexity", 0.0, "ok"), ("perplexity", 0.3, "out_of_domain"),
    ("perplexity", "-1.5", "malformed"), ("perplexity", True, "malformed"), ("perplexity", None, "missing"),
    ("perplexity", float("-inf"), "malformed"),
    ("weighted_perplexity", [-3.0, 4], "ok"), ("weighted_perplexity", [-3.0, 0], "ok"),
    ("weighted_perplexity", [-3.0, -4], "out_of_domain"), ("weighted_perplexity", [3.0, 4], "out_of_domain"),
    ("weighted_perplexity", [-3.0, 4.0], "malformed"), ("weighted_perplexity", [-3.0], "malformed"),
    ("bits_per_byte", [-3.0, True], "malformed"),
    ("f1", [1, 0], "ok"), ("f1", [-100, 0], "out_of_domain"), ("f1", [1, "0"], "malformed"),
    ("f1", [True, 0], "malformed"), ("f1", [1, 0, 1], "malformed"), ("matthews_corrcoef", [[1], 0], "malformed"),
    ("bleu", ["ref", "pred"], "ok"), ("bleu", [["r1", "r2"], "pred"], "ok"), ("bleu", ["ref", ["pred"]], "ok"),
    ("bleu", ["ref", ["a", "b"]], "malformed"), ("bleu", [[], "pred"], "malformed"), ("ter", ["ref", 3], "malformed"),
    ("median", 0.5, "ok"), ("median", "x", "malformed"), ("nanmean", float("nan"), "ok"),
])
def test_items_are_checked_against_what_lm_eval_logs(agg, value, state):
    assert check_item(agg, value) == state


@pytest.mark.parametrize("metric,cfg,expected", [
    ("f1", {}, "f1"), ("mcc", {"metric_list": [{"metric": "mcc"}]}, "matthews_corrcoef"),
    ("word_perplexity", {}, "weighted_perplexity"), ("bits_per_byte", {}, "bits_per_byte"),
    ("perplexity", {}, "perplexity"), ("acc", {}, "mean"), ("exact_match", {}, "mean"),
    ("f1", {"metric_list": [{"metric": "f1", "aggregation": "mean"}]}, "mean"),  # the config's name wins
    ("my_score", {}, "mean"),  # returned by process_results beyond metric_list: lm-eval averages it
])
def test_the_aggregation_is_resolved_as_lm_eval_resolves_it(metric, cfg, expected):
    assert aggregation_of(metric, cfg) == (expected, None)


def test_an_unknown_aggregation_cannot_be_told():
    agg, why = aggregation_of("my_score", {"metric_list": [{"metric": "my_score"}]})
    assert agg is None and "registers no default" in why
    agg, why = aggregation_of("x", {"metric_list": [{"metric": "x", "aggregation": {"fn": 1}}]})
    assert agg is None and "not a name" in why


def _lm_eval_bootstrap(fn: Any, items: list[Any], iters: int) -> float:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return lm_metrics.bootstrap_stderr(fn, items, iters)


@pytest.mark.parametrize("metric,agg,make,iters", [
    ("perplexity", "perplexity", lambda r: -r.random() * 8, 1000),
    ("f1", "f1", lambda r: [r.randint(0, 1), r.randint(0, 1)], 200),
    ("bleu", "bleu", lambda r: [" ".join(r.choice("abcde") for _ in range(6)),
                                " ".join(r.choice("abcde") for _ in range(6))], 100),
])
def test_rederive_reproduces_lm_evals_score_and_bootstrap_exactly(metric, agg, make, iters, monkeypatch):
    monkeypatch.setenv("DISABLE_MULTIPROC", "1")
    r = random.Random(7)
    items = [make(r) for _ in range(25)]
    fn = lm_metrics.__dict__[{"perplexity": "perplexity", "f1": "f1_score", "bleu": "bleu"}[agg]]
    got = rederive(metric, agg, items, iters)
    assert got.note is None and got.score == float(fn(items))
    assert got.replicates == got.lmeval_replicates == iters
    assert got.stderr == _lm_eval_bootstrap(fn, items, iters)


def test_replicates_lm_eval_draws():
    assert lmeval_replicates("perplexity", "perplexity", 100000) == 100000
    assert lmeval_replicates("bleu", "bleu", 100000) == 100  # capped by metric name, as lm-eval does
    assert lmeval_replicates("word_perplexity", "weighted_perplexity", 100000) is None  # lm-eval: "N/A"
    assert lmeval_replicates("perplexity", "perplexity", 0) is None
    assert lmeval_replicates("perplexity", "perplexity", 1500) == 1000  # whole chunks only


def test_rederive_never_raises_on_items_lm_eval_cannot_aggregate():
    r = rederive("bits_per_byte", "bits_per_byte", [[-1.0, 0], [-2.0, 0]], None)
    assert r.score is None and "failed on the logged items" in r.note
    r = rederive("bleu", "bleu", [["a b", "a b"], [["a", "b"], "c"]], None)  # refs of different counts
    assert r.score is None and r.note
    assert rederive("x", "not_an_aggregation", [1.0, 2.0], None).note.startswith("'not_an_aggregation'")


# ---------------------------------------------------------------- the decision on hand-built facts

def corpus_task(**kw: Any) -> dict[str, Any]:
    base = {"output_type": "loglikelihood", "primary_metric": "perplexity", "aggregation": "perplexity",
            "higher_is_better": False, "expected_higher_is_better": False, "score_range": [1.0, None],
            "samples_expected": 100, "samples_scored": 100, "responses_total": 100, "reported_score": 20.0,
            "rederived_score": 20.0, "reported_stderr": 2.0, "rederived_stderr": 2.0, "stderr_method": "bootstrap",
            "bootstrap_replicates": 1000, "lmeval_bootstrap_replicates": 100000, "stderr_rel_se": 0.03}
    return {**base, **kw}


def fc(**kw: Any) -> str | None:
    v = decide(EvalRunFacts.model_validate({"run_status": "SUCCESS", "tasks": {"t": corpus_task(**kw)}}))
    return v.failure_class.value if v.failure_class else None


@pytest.mark.parametrize("kw,expected", [
    ({}, None),
    ({"higher_is_better": True}, "REPORTED_MISMATCH"),
    ({"reported_score": 0.5, "rederived_score": 0.5}, "REPORTED_MISMATCH"),  # a perplexity below 1
    ({"reported_score": 2e9, "rederived_score": 2e9 + 1e-4}, None),  # float rounding of a huge perplexity
    ({"reported_score": 2e9, "rederived_score": 2e9 * 1.001}, "REPORTED_MISMATCH"),
    ({"reported_stderr": 2.2}, None),  # within 5 relative standard errors of a 1000-replicate estimate
    ({"reported_stderr": 4.0}, "REPORTED_MISMATCH"),
    ({"reported_stderr": 0.02}, "REPORTED_MISMATCH"),  # a shrunk stderr, however wide the tolerance
    ({"reported_stderr": 0.0}, "REPORTED_MISMATCH"),
    ({"reported_stderr": 2.0001, "lmeval_bootstrap_replicates": 1000}, "REPORTED_MISMATCH"),  # exact redraw
    ({"reported_stderr": None, "reported_stderr_raw": "N/A"}, None),
    ({"primary_metric": "mcc", "aggregation": "matthews_corrcoef", "score_range": [-1.0, 1.0],
      "higher_is_better": True, "expected_higher_is_better": True, "reported_score": -0.4, "rederived_score": -0.4,
      "reported_stderr": 0.1, "rederived_stderr": 0.1}, None),  # a negative MCC is a score, not an error
    ({"primary_metric": "mcc", "aggregation": "matthews_corrcoef", "score_range": [-1.0, 1.0],
      "higher_is_better": True, "expected_higher_is_better": True, "reported_score": -1.2, "rederived_score": -1.2,
      "reported_stderr": 0.1, "rederived_stderr": 0.1}, "REPORTED_MISMATCH"),
    ({"rederived_score": None, "rederived_stderr": None, "rederive_note": "lm-eval is not importable"},
     "SAMPLE_ACCOUNTING_FAILED"),
    ({"rederived_stderr": None, "rederive_note": "the bootstrap of the stderr failed"}, "SAMPLE_ACCOUNTING_FAILED"),
])
def test_corpus_decisions(kw, expected):
    assert fc(**kw) == expected


def test_a_wrong_direction_says_why():
    v = decide(EvalRunFacts.model_validate({"run_status": "SUCCESS",
                                            "tasks": {"t": corpus_task(higher_is_better=True)}}))
    assert v.failure_class == FC.REPORTED_MISMATCH and "degradation as a gain" in v.detail
