"""eval_run gate: on the committed real lm-eval output (corrupted copies, each with its class), on
hand-built facts (every class it emits, the priority rule, the thresholds), then the CLI contract
(exit 0/1/2, strict input) and property tests."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.contract import InputError, Verdict, run_cli
from gates.eval_run import SPEC
from gates.eval_run.collect import collect_run
from gates.eval_run.decide import PRIORITY, classify_error, decide
from gates.eval_run.models import EvalRunFacts
from gates.eval_run.run_record import NULL_RESPONSE_MARKER, RunRecord
from gates.eval_run.samples import mean_and_stderr, tally_samples
from gates.eval_run.tokens import WHITESPACE
from gates.failure_classes import FailureClass as FC
from gates.schemas import dumps, generated, load
from tests.eval_run_cases import (BLEU, BPB, CASES, CLOZE, CORPUS_CASES, CORPUS_OUTPUT, CORPUS_TASKS, F1, GEN, MC, MCC,
                                  PPL, REAL_OUTPUT, copy_run, only_task, results_file, samples_file, set_record)

REPO = Path(__file__).resolve().parents[2]
OUTPUT_VALIDATOR = jsonschema.Draft202012Validator(load("eval_run", "output"))
INPUT_VALIDATOR = jsonschema.Draft202012Validator(load("eval_run", "input"))


def whitespace_only(*_: Any) -> Any:
    return WHITESPACE


def collect(run: Path) -> EvalRunFacts:
    return collect_run(run, token_counter_factory=whitespace_only)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return copy_run(REAL_OUTPUT, tmp_path / "run")


# ---------------------------------------------------------------- the committed real output

def test_the_committed_output_is_a_real_lm_eval_0_4_13_run():
    data = json.loads(results_file(REAL_OUTPUT).read_text(encoding="utf-8"))
    assert data["lm_eval_version"] == "0.4.13"
    assert set(data["configs"]) == {MC, GEN}
    assert (REAL_OUTPUT / "README.txt").is_file()


def test_collect_reads_the_real_output(run):
    f = collect(run)
    assert f.run_status == "SUCCESS" and f.status_source == "run_record" and f.exit_code == 0
    assert f.settings is not None and f.settings.backend == "hf" and f.settings.lm_eval_version == "0.4.13"
    assert f.settings.seed == [1234, 1234, 1234, 1234] and f.settings.limit is None
    assert f.used_cache is False and f.results_files_found == 1 and not f.task_errors
    mc, gen = f.tasks[MC], f.tasks[GEN]
    assert (mc.output_type, mc.primary_metric, mc.primary_filter) == ("multiple_choice", "acc", "none")
    assert mc.scale == gen.scale == "unit"
    assert (gen.output_type, gen.primary_metric, gen.primary_filter) == ("generate_until", "exact_match", "lenient")
    assert (mc.samples_expected, mc.samples_scored, gen.samples_expected, gen.samples_scored) == (20, 20, 10, 10)
    for t in (mc, gen):  # an honest report matches to the last bit
        assert t.reported_score == t.rederived_score and t.reported_stderr == t.rederived_stderr
        assert t.num_fewshot == 0 and t.samples_corrupt == 0 and t.responses_errored == 0
    assert 0 < mc.rederived_score < 1 and 0 < gen.rederived_score < 1
    assert gen.avg_completion_tokens is not None and gen.token_count_method == "whitespace"
    assert mc.avg_completion_tokens is None and gen.generation_kwargs["max_gen_toks"] == 8


def test_the_strict_filter_would_have_extraction_failures_the_primary_has_none(run):
    strict = tally_samples(samples_file(run, GEN), filter_name="strict-digits", metric="exact_match",
                           generative=True, fallbacks=frozenset({"[invalid]"}))
    lenient = tally_samples(samples_file(run, GEN), filter_name="lenient", metric="exact_match",
                            generative=True, fallbacks=frozenset({"[invalid]"}))
    assert strict.extraction_failed >= 1 and lenient.extraction_failed == 0
    assert strict.lines == lenient.lines == 10 and strict.other_filters == 10


@pytest.mark.parametrize("case", list(CASES))
def test_corrupted_real_output(case, run):
    corrupt, expected = CASES[case]
    corrupt(run)
    v = decide(collect(run))
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    assert v.passed is (expected is None), v.detail
    assert (v.failure_class.value if v.failure_class else None) == expected, v.detail


def test_dropped_lines_are_counted_not_crashed(run):
    CASES["dropped_sample_lines"][0](run)
    t = collect(run).tasks[MC]
    assert (t.samples_expected, t.samples_scored) == (20, 17)


@pytest.mark.parametrize("spellings,duplicated,bad", [
    ((5, 5), 1, 0), ((5, "5"), 1, 1), ((5, 5.0), 1, 1), ((5, " 5"), 1, 1), (("5", 5.0), 1, 2),
    ((1, True), 0, 1), ((None, None), 1, 2), ((-1, 1), 0, 1), ((5, 6), 0, 0), (([5], 5), 0, 1),
    ((5.5, 5), 0, 1), (("05", 5), 1, 1)])
def test_doc_ids_are_compared_canonically(tmp_path, spellings, duplicated, bad):
    p = tmp_path / "s.jsonl"
    p.write_text("".join(json.dumps({"doc_id": d, "acc": 1.0, "resps": [[["-1.0", "True"]]]}) + "\n"
                         for d in spellings), encoding="utf-8")
    t = tally_samples(p, filter_name="none", metric="acc", generative=False)
    assert (t.lines, t.duplicated, t.bad_doc_id) == (2, duplicated, bad)


def test_doc_identity_is_canonical():
    from gates.eval_run.samples import doc_identity

    assert {doc_identity(v)[0] for v in (5, "5", 5.0, " 5", "+5", "05")} == {5}
    assert doc_identity(5) == (5, True) and doc_identity(True)[0] != doc_identity(1)[0]
    assert doc_identity(None)[1] is False and doc_identity("x" * 100)[1] is False


def test_out_of_domain_values_are_counted(run):
    CASES["acc_2_and_minus_1"][0](run)
    t = collect(run).tasks[MC]
    assert t.samples_out_of_domain == 2 and t.metric_domain == "{0, 1}"
    assert t.reported_score == t.rederived_score  # the forgery is consistent: only the domain gives it away
    v = decide(collect(run))
    assert "outside its domain {0, 1}" in v.detail


def test_a_torn_line_is_counted_as_corrupt(run):
    CASES["torn_last_sample_line"][0](run)
    t = collect(run).tasks[MC]
    assert (t.samples_scored, t.samples_corrupt) == (19, 1)


def test_na_score_is_recorded_as_none_with_its_raw_text(run):
    CASES["reported_score_na_string"][0](run)
    t = collect(run).tasks[MC]
    assert t.reported_score is None and t.reported_score_raw == "N/A" and t.rederived_score is not None
    v = decide(collect(run))
    assert "N/A" in v.detail and not v.passed


def test_blank_responses_never_pass_even_if_the_results_say_zero(run):
    """The upstream bug (a fake pass@1 on a model that never generated): every response blank and the
    results rewritten to match the records still fail, as INFERENCE_FAILED."""
    CASES["blank_all_responses"][0](run)

    def zero(d: dict[str, Any]) -> None:
        d["results"][GEN].update({"exact_match,lenient": 0.0, "exact_match_stderr,lenient": 0.0})
    from tests.eval_run_cases import edit_results
    edit_results(run, zero)
    v = decide(collect(run))
    assert v.failure_class == FC.INFERENCE_FAILED and not v.passed
    assert [c.name for c in v.checks if not c.passed] == [f"{GEN}:inference"]


def test_a_minority_of_blank_responses_is_not_inference_failed(run):
    from tests.eval_run_cases import _blank, edit_samples
    edit_samples(run, GEN, lambda i, s: _blank(i, s) if i % 10 < 3 else None)
    f = collect(run)
    assert f.tasks[GEN].responses_empty == 3
    v = decide(f)
    assert next(c for c in v.checks if c.name == f"{GEN}:inference").passed


def test_null_response_marker_counts_as_errored(run):
    from tests.eval_run_cases import edit_samples
    edit_samples(run, GEN, lambda i, s: s.update(resps=[[NULL_RESPONSE_MARKER]]) if i % 10 == 0 else None)
    t = collect(run).tasks[GEN]
    assert t.responses_errored == 1 and t.responses_empty == 0


def test_the_newest_results_file_is_read(run):
    CASES["older_results_alongside"][0](run)
    f = collect(run)
    assert f.results_files_found == 2 and f.results_error is None and "2000-01-01" not in (f.results_file or "")


def test_results_of_two_models_are_refused(run):
    other = run / "another__model"
    other.mkdir()
    (other / results_file(run).name).write_text("{}", encoding="utf-8")
    with pytest.raises(InputError):
        collect(run)


def test_an_invalid_run_record_is_an_input_error(run):
    set_record(run, status="DONE")
    with pytest.raises(InputError):
        collect(run)
    set_record(run, status="SUCCESS", surprise=1)
    with pytest.raises(InputError):
        collect(run)


def test_not_a_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        collect(tmp_path / "missing")


def test_tokenizer_counting_when_a_tokenizer_is_on_disk(run, tmp_path):
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # one token per character
    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    tok.save(str(tok_dir / "tokenizer.json"))
    set_record(run, tokenizer=str(tok_dir))
    t = collect_run(run).tasks[GEN]
    assert t.token_count_method == "tokenizer"
    lines = [json.loads(x) for x in samples_file(run, GEN).read_text().splitlines()]
    texts = [r for x in lines if x["filter"] == "lenient" for req in x["resps"] for r in req]
    assert t.avg_completion_tokens == pytest.approx(sum(len(s) for s in texts) / len(texts))


# ---------------------------------------------------------------- hand-built facts

def task(**kw: Any) -> dict[str, Any]:
    base = {"output_type": "multiple_choice", "primary_metric": "acc", "scale": "unit", "samples_expected": 100,
            "samples_scored": 100, "reported_score": 0.5, "reported_stderr": 0.05, "rederived_score": 0.5,
            "rederived_stderr": 0.05, "responses_total": 100}
    return {**base, **kw}


def facts(tasks: dict[str, dict[str, Any]] | None = None, **kw: Any) -> EvalRunFacts:
    return EvalRunFacts.model_validate({"run_status": "SUCCESS", "exit_code": 0,
                                        "tasks": {"t": task()} if tasks is None else tasks, **kw})


def fc_of(f: EvalRunFacts) -> str | None:
    v = decide(f)
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    return v.failure_class.value if v.failure_class else None


def test_a_clean_run_passes():
    v = decide(facts())
    assert v.passed and v.failure_class is None and v.evidence["tasks"][0]["verdict"] == "pass"


@pytest.mark.parametrize("status,expected", [("RUNNING", "INFRA_TRANSIENT"), ("PENDING", "INFRA_TRANSIENT"),
                                             ("TIMEOUT", "INFRA_TRANSIENT"), ("FAILED", "UNKNOWN"),
                                             ("CANCELLED", "UNKNOWN"), ("UNKNOWN", "UNKNOWN"),
                                             ("KILLED", "INFRA_TRANSIENT"), ("ERROR", "UNKNOWN")])
def test_a_status_other_than_success_never_passes(status, expected):
    assert fc_of(facts(run_status=status, exit_code=None)) == expected
    assert fc_of(facts({}, run_status=status, exit_code=None)) == expected  # no tasks: the status says why


@pytest.mark.parametrize("error,expected", [
    ("requests.exceptions.ConnectionError: Connection refused", FC.INFRA_TRANSIENT),
    ("ReadTimeout: timed out after 600s", FC.INFRA_TRANSIENT),
    ("HTTP 503 Service Unavailable", FC.INFRA_TRANSIENT),
    ("RuntimeError: probability tensor contains either `inf`, `nan` or element < 0", FC.INFERENCE_FAILED),
    ("the judge model returned nothing parseable", FC.EVAL_JUDGE_FAILED),
    ("KeyError: 'foo'", FC.UNKNOWN),
    ("Traceback (most recent call last):\n  File \"x.py\", line 3, in post\n    r = requests.post(url, timeout=self.timeout)"
     "\nValueError: bad payload", FC.UNKNOWN),  # the quoted source line says timeout; the error does not
    ("Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    g()\n"
     "ConnectionRefusedError: [Errno 111] Connection refused", FC.INFRA_TRANSIENT),
    ("", FC.UNKNOWN),
    (None, FC.UNKNOWN),
])
def test_failed_runs_are_classified_by_their_error(error, expected):
    assert classify_error(error) == expected
    assert fc_of(facts(run_status="FAILED", exit_code=1, error=error)) == expected.value


@pytest.mark.parametrize("terminal,expected", [
    ({"samples_scored": 90}, "SAMPLE_ACCOUNTING_FAILED"),
    ({"reported_score": 0.7}, "REPORTED_MISMATCH"),
    ({"responses_empty": 100}, "INFERENCE_FAILED"),
    ({"output_type": "generate_until", "extraction_failed": 50}, "EVAL_JUDGE_FAILED"),
])
@pytest.mark.parametrize("status", ["RUNNING", "TIMEOUT", "PENDING"])
def test_a_terminal_task_failure_is_never_masked_by_a_non_terminal_status(terminal, expected, status):
    f = facts({"ok": task(), "bad": task(**terminal)}, run_status=status, exit_code=None)
    assert fc_of(f) == expected


@pytest.mark.parametrize("status", ["RUNNING", "PENDING", "TIMEOUT", "KILLED"])
@pytest.mark.parametrize("missing", [{"samples_expected": None}, {"samples_scored": None, "responses_total": 0},
                                     {"samples_expected": None, "samples_scored": None, "responses_total": 0,
                                      "rederived_score": None, "rederived_stderr": None}])
def test_an_unfinished_run_whose_counts_are_not_written_yet_is_transient(status, missing):
    assert fc_of(facts({"t": task(**missing)}, run_status=status, exit_code=None)) == "INFRA_TRANSIENT"
    # ... unless a terminal failure is also present
    f = facts({"t": task(**missing), "u": task(reported_score=0.7)}, run_status=status, exit_code=None)
    assert fc_of(f) == "REPORTED_MISMATCH"
    assert fc_of(facts({"t": task(**missing, samples_corrupt=1)}, run_status=status)) == "SAMPLE_ACCOUNTING_FAILED"


def test_a_finished_run_whose_counts_are_missing_is_an_accounting_failure():
    assert fc_of(facts({"t": task(samples_expected=None)})) == "SAMPLE_ACCOUNTING_FAILED"
    assert fc_of(facts({"t": task(samples_scored=None)}, run_status="FAILED", exit_code=1,
                       error="KeyError: 'x'")) == "SAMPLE_ACCOUNTING_FAILED"


@pytest.mark.parametrize("error,expected", [("RuntimeError: boom", "UNKNOWN"),
                                            ("requests.exceptions.ConnectionError: Connection refused",
                                             "INFRA_TRANSIENT"),
                                            ("\u200b", None), ("  \n", None), ("", None)])
def test_a_success_carrying_an_error_message_does_not_pass(error, expected):
    assert fc_of(facts(error=error)) == expected


@pytest.mark.parametrize("status", ["FAILED", "ERROR", "KILLED", "SUCCESS", "CANCELLED"])
@pytest.mark.parametrize("code,name", [(-9, "SIGKILL"), (-15, "SIGTERM"), (-11, "SIGSEGV"), (-6, "SIGABRT")])
def test_a_signal_death_is_transient_and_names_its_signal(status, code, name):
    v = decide(facts(run_status=status, exit_code=code, error="Traceback (most recent call last):\n  x"))
    assert not v.passed and name in v.detail
    assert v.failure_class == (FC.UNKNOWN if status == "CANCELLED" else FC.INFRA_TRANSIENT)


def test_the_conductor_retries_a_signal_death_once():
    from conductor.triage import triage

    fc = decide(facts(run_status="KILLED", exit_code=-9)).failure_class
    first, second = triage(fc, 1), triage(fc, 2)
    assert not first.final and first.retries_left == 1
    assert second.final and second.decision is not None and second.decision.value == "SYSTEMIC"


def test_a_terminal_task_failure_wins_over_a_transient_run_error():
    f = facts({"bad": task(samples_scored=10)}, run_status="FAILED", exit_code=1, error="Connection refused")
    assert fc_of(f) == "SAMPLE_ACCOUNTING_FAILED"


def test_priority_root_cause_first():
    # everything blank: the scores also disagree and nothing was extracted, but the model did not answer
    f = facts({"t": task(output_type="generate_until", responses_empty=100, rederived_score=0.0,
                         rederived_stderr=0.0, extraction_failed=0, samples_scored=99)})
    assert fc_of(f) == "INFERENCE_FAILED"
    assert PRIORITY[-1] == FC.INFRA_TRANSIENT


@pytest.mark.parametrize("kw", [{"samples_expected": None}, {"samples_scored": None},
                                {"samples_expected": None, "samples_scored": None},
                                {"samples_expected": 0, "samples_scored": 0, "responses_total": 0},
                                {"samples_corrupt": 1}, {"samples_duplicated": 1}, {"samples_without_metric": 2},
                                {"samples_bad_doc_id": 1}, {"samples_out_of_domain": 1},
                                {"reported_sample_len": 99}, {"samples_scored": 101}])
def test_sample_accounting(kw):
    assert fc_of(facts({"t": task(**kw)})) in ("SAMPLE_ACCOUNTING_FAILED", "INFERENCE_FAILED")
    if kw.get("responses_total") != 0:
        assert fc_of(facts({"t": task(**kw)})) == "SAMPLE_ACCOUNTING_FAILED"


def test_no_tasks_is_not_a_pass():
    assert fc_of(facts({})) == "SAMPLE_ACCOUNTING_FAILED"
    assert fc_of(facts({"t": task()}, task_errors={"u": "no known output_type"})) == "SAMPLE_ACCOUNTING_FAILED"
    assert fc_of(facts({"t": task()}, results_error="truncated")) == "SAMPLE_ACCOUNTING_FAILED"


@pytest.mark.parametrize("empty,errored,expected", [
    (100, 0, "INFERENCE_FAILED"), (0, 100, "INFERENCE_FAILED"), (60, 40, "INFERENCE_FAILED"),
    (51, 0, "INFERENCE_FAILED"), (50, 0, None), (0, 50, None), (20, 10, None)])
def test_inference_threshold(empty, errored, expected):
    assert fc_of(facts({"t": task(responses_empty=empty, responses_errored=errored)})) == expected


def test_inference_threshold_is_configurable_but_all_blank_always_fails():
    assert fc_of(facts({"t": task(responses_empty=20)}, max_failed_response_fraction=0.1)) == "INFERENCE_FAILED"
    assert fc_of(facts({"t": task(responses_empty=100)}, max_failed_response_fraction=1.0)) == "INFERENCE_FAILED"


@pytest.mark.parametrize("kw,expected", [
    ({"reported_score": 0.5 + 2e-6}, "REPORTED_MISMATCH"),
    ({"reported_score": 0.5 + 5e-7}, None),
    ({"reported_score": 50.0}, "REPORTED_MISMATCH"),  # 0-100 against 0-1 records
    ({"reported_score": None, "reported_score_raw": "N/A"}, "REPORTED_MISMATCH"),
    ({"reported_score": None}, "REPORTED_MISMATCH"),
    ({"reported_score": 1.5, "rederived_score": 1.5}, "REPORTED_MISMATCH"),  # off its unit scale
    ({"reported_score": -0.1, "rederived_score": -0.1}, "REPORTED_MISMATCH"),
    ({"reported_score": 50.0, "rederived_score": 50.0, "scale": "percent"}, None),
    ({"reported_score": 1.5, "rederived_score": 1.5, "scale": None, "primary_metric": "perplexity"}, None),
    ({"reported_stderr": 0.5}, "REPORTED_MISMATCH"),
    ({"reported_stderr": None, "reported_stderr_raw": "N/A"}, None),
    ({"reported_stderr": None, "reported_stderr_raw": "-0.05"}, "REPORTED_MISMATCH"),
    ({"reported_stderr": None, "reported_stderr_raw": "NaN"}, "REPORTED_MISMATCH"),
    ({"reported_stderr": None, "reported_stderr_raw": "Infinity"}, "REPORTED_MISMATCH"),
    ({"reported_stderr": None, "reported_stderr_raw": "n/a "}, "REPORTED_MISMATCH"),
    ({"rederived_stderr": None, "reported_stderr": None}, "SAMPLE_ACCOUNTING_FAILED"),
    ({"rederived_score": None, "rederive_note": "no per-sample value"}, "SAMPLE_ACCOUNTING_FAILED"),
])
def test_reported_versus_rederived(kw, expected):
    assert fc_of(facts({"t": task(**kw)})) == expected


def test_mismatch_tolerance_is_configurable():
    assert fc_of(facts({"t": task(reported_score=0.51)}, max_reported_mismatch=0.02)) is None


@pytest.mark.parametrize("failed,empty,expected", [(11, 0, "EVAL_JUDGE_FAILED"), (10, 0, None),
                                                   (10, 10, "EVAL_JUDGE_FAILED"), (9, 10, None), (0, 40, None)])
def test_extraction_failures_among_answered_samples(failed, empty, expected):
    t = task(output_type="generate_until", extraction_failed=failed, responses_empty=empty)
    assert fc_of(facts({"t": t})) == expected


def test_evidence_has_a_row_per_task():
    v = decide(facts({"a": task(), "b": task(samples_scored=3)}))
    rows = {r["task"]: r for r in v.evidence["tasks"]}
    assert rows["a"]["verdict"] == "pass" and rows["b"]["verdict"] == ["SAMPLE_ACCOUNTING_FAILED"]
    assert rows["b"]["scored"] == 3 and rows["b"]["expected"] == 100


@pytest.mark.parametrize("xs", [[1e308, 1e308], [1e308, -1e308], [1e308, 0.0, 1.0], [-1e308] * 3])
def test_mean_and_stderr_never_raise_on_huge_values(xs):
    mu, se = mean_and_stderr(xs)
    assert (mu is None or math.isfinite(mu)) and (se is None or math.isfinite(se))


def test_mean_and_stderr_match_lm_eval():
    from lm_eval.api.metrics import mean, mean_stderr

    xs = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert mean_and_stderr(xs) == (mean(xs), mean_stderr(xs))
    assert mean_and_stderr([1.0]) == (1.0, None) and mean_and_stderr([]) == (None, None)


# ---------------------------------------------------------------- CLI contract

def cli(args: list[str], stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    p = subprocess.run([sys.executable, "-m", "gates.eval_run", *args], input=stdin, capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    out = json.loads(p.stdout)
    OUTPUT_VALIDATOR.validate(out)
    return p.returncode, out


def good_facts() -> dict[str, Any]:
    return facts().model_dump(mode="json")


def test_cli_pass_and_fail_exit_codes():
    code, out = cli(["--input", "-"], json.dumps(good_facts()))
    assert code == 0 and out["pass"] is True and out["gate"] == "eval_run"
    bad = good_facts()
    bad["tasks"]["t"]["samples_scored"] = 3
    code, out = cli(["--input", "-"], json.dumps(bad))
    assert code == 1 and out["failure_class"] == "SAMPLE_ACCOUNTING_FAILED"


def test_cli_collects_the_real_output(tmp_path):
    code, out = cli(["--artifacts", str(REAL_OUTPUT), "--facts-out", str(tmp_path / "facts.json")])
    assert code == 0, out["detail"]
    facts_out = json.loads((tmp_path / "facts.json").read_text())
    INPUT_VALIDATOR.validate(facts_out)
    code2, out2 = cli(["--input", str(tmp_path / "facts.json")])  # replay re-decides on the recorded facts
    assert code2 == 0 and out2["checks"] == out["checks"]


def test_cli_collects_a_corrupted_output(run):
    CASES["edited_reported_score"][0](run)
    code, out = cli(["--artifacts", str(run)])
    assert code == 1 and out["failure_class"] == "REPORTED_MISMATCH"


def test_cli_overrides_re_gate():
    f = good_facts()
    f["tasks"]["t"]["reported_score"] = 0.51
    assert cli(["--input", "-"], json.dumps(f))[0] == 1
    assert cli(["--input", "-", "--max-reported-mismatch", "0.02"], json.dumps(f))[0] == 0


@pytest.mark.parametrize("mutate", [
    lambda f: f["tasks"]["t"].update(reported_score="N/A"),  # a string for a number
    lambda f: f["tasks"]["t"].update(reported_score="0.5"),
    lambda f: f["tasks"]["t"].update(samples_scored=True),  # a boolean for a number
    lambda f: f["tasks"]["t"].update(samples_scored=100.0),  # a float for an integer
    lambda f: f["tasks"]["t"].update(surprise=1),  # unknown field
    lambda f: f.update(surprise=1),
    lambda f: f.update(run_status="DONE"),
    lambda f: f.pop("run_status"),
    lambda f: f.update(max_extraction_failure_fraction=2),
], ids=["string-score", "numeric-string", "bool-count", "float-count", "unknown-task-field", "unknown-field",
        "bad-status", "missing-status", "out-of-range"])
def test_cli_invalid_input_exits_2(mutate):
    f = good_facts()
    mutate(f)
    code, out = cli(["--input", "-"], json.dumps(f))
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR" and not out["pass"]


@pytest.mark.parametrize("text", ['{"run_status": "SUCCESS", "tasks": {"t": ' + json.dumps(task())[:-1]
                                  + ', "reported_score": NaN}}',
                                  '{"run_status": "SUCCESS", "max_reported_mismatch": Infinity}',
                                  "not json", "[]", ""])
def test_cli_nan_and_garbage_exit_2(text):
    code, out = cli(["--input", "-"], text)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR"


@pytest.mark.parametrize("status,expected", [("KILLED", "INFRA_TRANSIENT"), ("ERROR", "UNKNOWN")])
def test_cli_killed_and_error_are_run_outcomes_not_invalid_input(run, status, expected):
    set_record(run, status=status, exit_code=-9 if status == "KILLED" else 1, error="KeyError: 'x'")
    code, out = cli(["--artifacts", str(run)])
    assert code == 1 and out["failure_class"] == expected
    f = good_facts()
    f["run_status"] = status
    code, out = cli(["--input", "-"], json.dumps(f))
    assert code == 1 and out["failure_class"] == expected


def test_cli_bad_artifacts_exit_2(tmp_path, run):
    assert cli(["--artifacts", str(tmp_path / "nope")])[0] == 2
    assert cli(["--artifacts", str(run), str(run)])[0] == 2
    set_record(run, status="DONE")
    assert cli(["--artifacts", str(run)])[0] == 2


def test_schemas_are_committed_and_current():
    for name, schema in generated("eval_run").items():
        assert (REPO / "gates" / "schemas" / name).read_text(encoding="utf-8") == dumps(schema), \
            "regenerate with: python -m gates.schemas"


def test_run_record_documents_its_fields():
    assert set(RunRecord.model_fields) >= {"status", "exit_code", "error", "model_identity", "tokenizer"}


# ---------------------------------------------------------------- properties

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
count = st.integers(min_value=0, max_value=10_000)
maybe = lambda s: st.none() | s  # noqa: E731

task_strategy = st.fixed_dictionaries({
    "output_type": st.sampled_from(["loglikelihood", "multiple_choice", "generate_until", "loglikelihood_rolling"]),
    "primary_metric": st.sampled_from(["acc", "exact_match", "perplexity"]),
    "scale": maybe(st.sampled_from(["unit", "percent"])),
    "samples_expected": maybe(count), "samples_scored": maybe(count),
    "samples_corrupt": count, "samples_duplicated": count, "samples_without_metric": count,
    "reported_sample_len": maybe(count),
    "reported_score": maybe(finite), "reported_score_raw": maybe(st.text(max_size=5)),
    "reported_stderr": maybe(st.floats(min_value=0, max_value=1e3)),
    "rederived_score": maybe(finite), "rederived_stderr": maybe(st.floats(min_value=0, max_value=1e3)),
    "responses_total": count, "responses_empty": count, "responses_errored": count, "extraction_failed": count,
})

facts_strategy = st.fixed_dictionaries({
    "run_status": st.sampled_from(["SUCCESS", "FAILED", "RUNNING", "PENDING", "TIMEOUT", "CANCELLED", "UNKNOWN"]),
    "exit_code": maybe(st.integers(-9, 255)),
    "error": maybe(st.text(max_size=40)),
    "tasks": st.dictionaries(st.text(min_size=1, max_size=6), task_strategy, max_size=4),
    "task_errors": st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=10), max_size=1),
    "max_extraction_failure_fraction": st.floats(0, 1), "max_failed_response_fraction": st.floats(0, 1),
    "max_reported_mismatch": st.floats(0, 10),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts_strategy)
def test_decide_never_raises_and_its_verdict_validates(data):
    f = EvalRunFacts.model_validate(data)
    v = decide(f)
    Verdict.model_validate(v.model_dump(by_alias=True))
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    assert v.passed == (v.failure_class is None)
    if f.run_status != "SUCCESS" or not f.tasks:
        assert not v.passed
    blank = [t for t in f.tasks.values() if t.responses_total and
             t.responses_empty + t.responses_errored >= t.responses_total]
    if blank:
        assert v.failure_class == FC.INFERENCE_FAILED
    if v.failure_class == FC.INFRA_TRANSIENT:  # transient only when nothing terminal failed
        assert all(c.failure_class in (None, FC.INFRA_TRANSIENT) for c in v.checks if not c.passed)


def _run_in_process(text: str) -> int:
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = run_cli(SPEC, ["--input", "-"])
    finally:
        sys.stdin = old
    OUTPUT_VALIDATOR.validate(json.loads(out.getvalue()))
    return code


_bad_values = st.sampled_from(["x", "N/A", True, False, [], {}, -1, 1.5, None, "NaN"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["run_status", "exit_code", "tasks", "max_reported_mismatch", "max_failed_response_fraction",
                        "t.samples_scored", "t.samples_expected", "t.reported_score", "t.responses_total",
                        "t.output_type", "t.scale", "t.responses_empty", "t.bogus", "bogus"]), _bad_values)
def test_malformed_input_exits_2(field, value):
    f = good_facts()
    target, key = (f["tasks"]["t"], field[2:]) if field.startswith("t.") else (f, field)
    target[key] = value
    try:
        EvalRunFacts.model_validate(f)
        valid = True
    except Exception:
        valid = False
    code = _run_in_process(json.dumps(f))
    assert code == 2 if not valid else code in (0, 1)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=50))
def test_arbitrary_text_never_crashes_the_cli(text):
    assert _run_in_process(text) in (0, 1, 2)


def test_math_is_not_fooled_by_negative_zero():
    assert fc_of(facts({"t": task(reported_score=-0.0, rederived_score=0.0, reported_stderr=0.0,
                                  rederived_stderr=0.0)})) is None and math.copysign(1, -0.0) < 0


def test_a_long_error_keeps_its_explanation_and_its_exception_in_the_detail():
    from gates.eval_run.decide import shorten_error

    note = "the vLLM server exited on its own (code -9) at 41.2s, during the evaluation: connection refused from then on"
    err = note + "\n" + "x" * 500 + "\nopenai.APIConnectionError: Connection error."
    short = shorten_error(err)
    assert len(short) <= 300
    assert short.startswith("the vLLM server exited on its own") and short.endswith("Connection error.")
    assert shorten_error("ValueError: bad") == "ValueError: bad"


@given(st.text(min_size=0, max_size=2000))
def test_shortened_errors_never_exceed_the_limit(text):
    from gates.eval_run.decide import shorten_error

    assert len(shorten_error(text)) <= 300


# ---------------------------------------------------------------- corpus-level aggregates (real lm-eval output)

@pytest.fixture
def corpus_run(tmp_path: Path) -> Path:
    return copy_run(CORPUS_OUTPUT, tmp_path / "corpus")


def test_corpus_level_scores_are_rederived_with_lm_evals_aggregations():
    f = collect(CORPUS_OUTPUT)
    assert set(f.tasks) == set(CORPUS_TASKS)
    aggs = {n: (t.primary_metric, t.aggregation) for n, t in f.tasks.items()}
    assert aggs == {F1: ("f1", "f1"), MCC: ("mcc", "matthews_corrcoef"), BLEU: ("bleu", "bleu"),
                    PPL: ("word_perplexity", "weighted_perplexity"), BPB: ("bits_per_byte", "bits_per_byte"),
                    CLOZE: ("perplexity", "perplexity")}
    for t in f.tasks.values():  # lm-eval's own functions on the logged items: the very same number
        assert t.reported_score == t.rederived_score and t.rederive_note is None and t.samples_out_of_domain == 0
        assert t.stderr_method == "bootstrap" and t.rederived_stderr is not None
    bleu = f.tasks[BLEU]  # lm-eval drew 100 replicates for BLEU: redrawn here, the stderr is reproduced exactly
    assert bleu.bootstrap_replicates == bleu.lmeval_bootstrap_replicates == 100
    assert bleu.reported_stderr == bleu.rederived_stderr
    assert f.tasks[PPL].reported_stderr_raw == "N/A" and f.tasks[PPL].lmeval_bootstrap_replicates is None
    assert not f.tasks[PPL].higher_is_better and f.tasks[PPL].score_range == [1.0, None]
    assert f.tasks[MCC].score_range == [-1.0, 1.0] and f.tasks[MCC].scale is None and f.tasks[BLEU].scale == "percent"
    v = decide(f)
    assert v.passed, v.detail


@pytest.mark.parametrize("case", list(CORPUS_CASES))
def test_corrupted_corpus_output(case, corpus_run):
    task, corrupt, expected = CORPUS_CASES[case]
    only_task(corpus_run, task)
    corrupt(corpus_run)
    v = decide(collect(corpus_run))
    OUTPUT_VALIDATOR.validate(json.loads(v.to_json()))
    assert v.passed is (expected is None), v.detail
    assert (v.failure_class.value if v.failure_class else None) == expected, v.detail


def test_without_lm_eval_a_corpus_level_score_cannot_pass(corpus_run, monkeypatch):
    for name in [m for m in sys.modules if m == "lm_eval" or m.startswith("lm_eval.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "lm_eval", None)
    f = collect(corpus_run)
    v = decide(f)
    assert not v.passed and v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED
    for name, t in f.tasks.items():
        assert t.rederived_score is None and "lm-eval is not importable" in (t.rederive_note or ""), name
    # a mean needs no lm-eval: the ordinary output still passes
    assert decide(collect(REAL_OUTPUT)).passed


def test_cli_without_lm_eval_fails_closed_in_one_sentence(corpus_run, tmp_path):
    shadow = tmp_path / "shadow" / "lm_eval"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('lm-eval is not installed here')\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(shadow.parent)}
    p = subprocess.run([sys.executable, "-m", "gates.eval_run", "--artifacts", str(corpus_run)], env=env,
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["failure_class"] == "SAMPLE_ACCOUNTING_FAILED"
    assert "not importable" in out["detail"] and "Traceback" not in p.stdout + p.stderr
