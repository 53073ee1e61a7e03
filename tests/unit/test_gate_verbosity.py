"""verbosity gate: failing cases first, then the pass, the CLI contract and properties."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.contract import run_cli
from gates.schemas import load
from gates.verbosity import SPEC
from gates.verbosity.decide import decide
from gates.verbosity.models import VerbosityFacts

ROOT = Path(__file__).resolve().parents[2]
OUT_SCHEMA = load("verbosity", "output")


def run_(avg_b=20.0, avg_c=20.0, n=50, complete=True, method="tokenizer", tol=None, tasks_c=None):
    def t(avg):
        return {"avg_completion_tokens": avg, "samples": n, "complete": complete, "token_count_method": method,
                "doc_tokens": {str(i): avg for i in range(n)} if isinstance(avg, float) else {}}

    facts = {"baseline": {"tasks": {"gen": t(avg_b)}},
             "candidate": {"tasks": {name: t(avg_c) for name in (tasks_c or ["gen"])}}}
    if tol is not None:
        facts["tolerance"] = tol
    return facts


def verdict(facts):
    return decide(VerbosityFacts.model_validate(facts))


def test_longer_candidate_fails_verbosity_exceeded():
    v = verdict(run_(avg_c=21.2))  # +6%
    assert not v.passed and v.failure_class.value == "VERBOSITY_EXCEEDED"


def test_shorter_candidate_fails_too_two_sided():
    v = verdict(run_(avg_c=18.8))  # -6%
    assert not v.passed and v.failure_class.value == "VERBOSITY_EXCEEDED"


def test_boundary_is_inclusive():
    assert verdict(run_(avg_b=100.0, avg_c=105.0)).passed
    assert not verdict(run_(avg_b=100.0, avg_c=105.1)).passed


def test_mismatched_tasks_fail_not_like_for_like():
    v = verdict(run_(tasks_c=["other"]))
    assert v.failure_class.value == "COMPARISON_NOT_LIKE_FOR_LIKE"


def test_incomplete_runs_are_not_compared():
    v = verdict(run_(complete=False))
    assert v.failure_class.value == "SAMPLE_ACCOUNTING_FAILED"


def test_different_counting_methods_fail():
    f = run_()
    f["candidate"]["tasks"]["gen"]["token_count_method"] = "whitespace"
    assert verdict(f).failure_class.value == "COMPARISON_NOT_LIKE_FOR_LIKE"


def test_silent_baseline_is_inference_failed():
    v = verdict(run_(avg_b=0.0, avg_c=3.0))
    assert v.failure_class.value == "INFERENCE_FAILED"


def test_within_tolerance_passes_and_custom_tolerance_applies():
    assert verdict(run_(avg_c=20.5)).passed
    assert not verdict(run_(avg_c=20.5, tol=0.01)).passed


def test_no_generative_task_is_a_stated_not_applicable_pass():
    v = verdict({"baseline": {"tasks": {}, "run_tasks": ["mc"]}, "candidate": {"tasks": {}, "run_tasks": ["mc"]}})
    assert v.passed and "not applicable" in v.detail


def _cli(args, stdin=None):
    p = subprocess.run([sys.executable, "-m", "gates.verbosity", *args], input=stdin, text=True,
                       capture_output=True, cwd=ROOT)
    out = json.loads(p.stdout)
    jsonschema.validate(out, OUT_SCHEMA)
    return p.returncode, out


def test_cli_exit_codes():
    assert _cli(["--input", "-"], json.dumps(run_()))[0] == 0
    assert _cli(["--input", "-"], json.dumps(run_(avg_c=30.0)))[0] == 1
    assert _cli(["--input", "-", "--tolerance", "0.6"], json.dumps(run_(avg_c=30.0)))[0] == 0
    for bad in [
        '{"baseline": {"tasks": {"g": {"avg_completion_tokens": NaN, "samples": 1, "complete": true}}}, '
        '"candidate": {"tasks": {}}}',
        json.dumps(run_(avg_b=True)),
        json.dumps(run_(avg_b="20")),
        json.dumps({**run_(), "extra": 1}),
        "[]",
        "not json",
    ]:
        code, out = _cli(["--input", "-"], bad)
        assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR", bad


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)
task = st.fixed_dictionaries(
    {"avg_completion_tokens": finite, "samples": st.integers(0, 10_000), "complete": st.booleans()}
)
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.floats(), st.integers(-5, 5))
facts_st = st.fixed_dictionaries(
    {
        "baseline": st.fixed_dictionaries(
            {"tasks": st.dictionaries(st.sampled_from("abc"), st.one_of(task, junk), max_size=3)}
        ),
        "candidate": st.fixed_dictionaries(
            {"tasks": st.dictionaries(st.sampled_from("abc"), st.one_of(task, junk), max_size=3)}
        ),
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=facts_st)
def test_property_never_crashes_and_malformed_never_passes(data, tmp_path, capsys):
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    code = run_cli(SPEC, ["--input", str(path)])
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, OUT_SCHEMA)
    assert out["failure_class"] != "GATE_ERROR"
    try:
        VerbosityFacts.model_validate(data)
        valid = True
    except Exception:
        valid = False
    assert (code == 2) == (not valid)
