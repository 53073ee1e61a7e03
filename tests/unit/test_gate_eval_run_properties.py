"""eval_run property tests on the files themselves (collect + decide), built from the committed real lm-eval
output: type-variant doc ids, out-of-domain per-sample values, responses that print nothing, run statuses.
Each must give no crash, no traceback, and no pass on a broken input (the results are restated to match
the edited samples, so the defect under test is the only one)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.eval_run.collect import collect_run
from gates.eval_run.decide import decide
from gates.eval_run.samples import mean_and_stderr
from gates.eval_run.tokens import WHITESPACE
from gates.failure_classes import FailureClass as FC
from gates.schemas import load
from gates.text import is_blank
from tests.eval_run_cases import GEN, MC, REAL_OUTPUT, results_file, samples_file

OUTPUT_VALIDATOR = jsonschema.Draft202012Validator(load("eval_run", "output"))
MC_LINES = [json.loads(x) for x in samples_file(REAL_OUTPUT, MC).read_text(encoding="utf-8").splitlines()]
GEN_LINES = [json.loads(x) for x in samples_file(REAL_OUTPUT, GEN).read_text(encoding="utf-8").splitlines()]
RESULTS = json.loads(results_file(REAL_OUTPUT).read_text(encoding="utf-8"))
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


def build(tmp: Path, mc: list[dict[str, Any]], gen: list[dict[str, Any]] = GEN_LINES, **record: Any) -> Path:
    """A run directory holding these per-sample lines, its results restated to match them."""
    run = tmp / "run"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(REAL_OUTPUT, run)
    results = json.loads(json.dumps(RESULTS))
    for task, lines, metric, filt in ((MC, mc, "acc", "none"), (GEN, gen, "exact_match", "lenient")):
        samples_file(run, task).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                           encoding="utf-8")
        values = [x[metric] for x in lines if x.get("filter", "none") == filt]
        if values and all(isinstance(v, (int, float)) for v in values):  # booleans count as 0 / 1
            score, stderr = mean_and_stderr([float(v) for v in values])
            results["results"][task].update({f"{metric},{filt}": score, f"{metric}_stderr,{filt}": stderr})
    results_file(run).write_text(json.dumps(results), encoding="utf-8")
    if record:
        rec = json.loads((run / "run.json").read_text(encoding="utf-8"))
        (run / "run.json").write_text(json.dumps({**rec, **record}), encoding="utf-8")
    return run


def verdict(run: Path):
    v = decide(collect_run(run, token_counter_factory=lambda *_: WHITESPACE))
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    assert v.passed == (v.failure_class is None)
    return v


# ---------------------------------------------------------------- type-variant doc ids

spellings = st.sampled_from([lambda i: i, lambda i: str(i), lambda i: float(i), lambda i: f" {i}",
                             lambda i: f"{i} ", lambda i: f"0{i}", lambda i: True, lambda i: False,
                             lambda i: None, lambda i: [i], lambda i: {"id": i}, lambda i: -i - 1,
                             lambda i: i + 0.5, lambda i: "NaN"])


@EXAMPLES
@given(st.dictionaries(st.integers(0, 19), spellings, min_size=1, max_size=4), st.booleans())
def test_doc_ids_in_any_spelling_never_pass_a_padded_log(tmp_path, respelled, collide):
    """Lines whose doc_id is respelled (and, with `collide`, made a copy of another document with the same
    acc): the log keeps 20 lines and the same score, so only the documents' identities can fail it."""
    lines = [dict(x) for x in MC_LINES]
    for i, spell in respelled.items():
        j = next((j for j, x in enumerate(MC_LINES) if j != i and x["acc"] == MC_LINES[i]["acc"]), i) if collide else i
        lines[i] = {**MC_LINES[j], "doc_id": spell(j)}
    v = verdict(build(tmp_path, lines))
    ids = [x["doc_id"] for x in lines]
    honest = all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in ids) and len(set(ids)) == 20
    assert v.passed is honest, v.detail
    if not honest:
        assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED


# ---------------------------------------------------------------- out-of-domain values

values = st.one_of(st.sampled_from([0, 1, 0.0, 1.0, True, False]),
                   st.floats(min_value=-5, max_value=5, allow_nan=False, allow_infinity=False),
                   st.sampled_from([2.0, -1.0, 0.5, 1e-9, 1.0000001, -0.0]))


@EXAMPLES
@given(st.dictionaries(st.integers(0, 19), values, min_size=1, max_size=5))
def test_acc_values_outside_0_1_or_not_the_models_never_pass(tmp_path, edits):
    lines = [dict(x) for x in MC_LINES]
    for i, v in edits.items():
        lines[i]["acc"] = v
    v = verdict(build(tmp_path, lines))
    in_domain = all(x["acc"] in (0, 1) for x in lines)  # True / False are 1 / 0; -0.0 == 0
    unchanged = all(x["acc"] == y["acc"] for x, y in zip(lines, MC_LINES))
    assert v.passed is (in_domain and unchanged), v.detail
    if not in_domain:
        assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED
    elif not unchanged:  # a valid value, but not the one the model's own log-likelihoods give
        assert v.failure_class == FC.REPORTED_MISMATCH


# ---------------------------------------------------------------- responses that print nothing

invisible = st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Co")), max_size=6)
visible = st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=4)


@EXAMPLES
@given(st.lists(st.one_of(invisible, visible), min_size=10, max_size=10))
def test_responses_that_print_nothing_are_empty(tmp_path, answers):
    gen = []
    for x in GEN_LINES:
        i = x["doc_id"]
        gen.append({**x, "resps": [[answers[i]]], "filtered_resps": [answers[i]], "exact_match": 0.0})
    v = verdict(build(tmp_path, MC_LINES, gen))
    blank = sum(is_blank(a) for a in answers)
    if blank == 10:
        assert v.failure_class == FC.INFERENCE_FAILED
    elif blank > 5:  # more than half: the default max_failed_response_fraction
        assert not v.passed and v.failure_class == FC.INFERENCE_FAILED
    row = next(r for r in v.evidence["tasks"] if r["task"] == GEN)
    assert row["empty"] == blank


# ---------------------------------------------------------------- statuses

statuses = st.sampled_from(["SUCCESS", "FAILED", "ERROR", "KILLED", "RUNNING", "PENDING", "TIMEOUT", "CANCELLED",
                            "UNKNOWN"])


@EXAMPLES
@given(statuses, st.one_of(st.none(), st.integers(-64, 255)), st.one_of(st.none(), st.text(max_size=30)))
def test_only_a_clean_success_passes(tmp_path, status, code, error):
    v = verdict(build(tmp_path, MC_LINES, status=status, exit_code=code, error=error))
    clean = status == "SUCCESS" and code in (None, 0) and (error is None or is_blank(error))
    assert v.passed is clean, v.detail
    if code is not None and code < 0 and status in ("FAILED", "ERROR", "KILLED"):
        assert v.failure_class == FC.INFRA_TRANSIENT
