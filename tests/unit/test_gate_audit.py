"""audit gate (caching detection): failure cases first (eval cache, same model, identical
log-likelihoods, identical generations, nothing to audit), then the per-sample reader on the
lm-eval layout, the CLI contract and property tests."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.audit import SPEC
from gates.audit.collect import compare_task, kind_of, read_run_samples, weights_fingerprint
from gates.audit.decide import decide
from gates.audit.models import AuditFacts
from gates.contract import InputError, Verdict, run_cli
from gates.eval_run.models import EvalRunFacts
from gates.failure_classes import FailureClass as FC
from gates.schemas import dumps, generated, load

REPO = Path(__file__).resolve().parents[2]
SHA_B, SHA_C = "a" * 64, "b" * 64


def side(evaluated: str | None, sha: str | None = None, used_cache: bool | None = False, size: int | None = None):
    return {"evaluated": evaluated, "used_cache": used_cache, "weights_sha256": sha, "weights_bytes": size}


def gen(n: int = 50, identical: int = 10, chars: float = 200.0) -> dict[str, Any]:
    return {"kind": "generative", "samples_baseline": n, "samples_candidate": n, "samples_compared": n,
            "identical_responses": identical, "mean_response_chars": chars}


def ll(n: int = 50, max_diff: float = 0.02, identical: int = 0) -> dict[str, Any]:
    return {"kind": "loglikelihood", "samples_baseline": n, "samples_candidate": n, "samples_compared": n,
            "identical_responses": identical, "loglik_docs_compared": n, "loglik_values_compared": 4 * n,
            "max_abs_loglik_diff": max_diff}


def facts(tasks: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    data = {"baseline": side("/ckpt/bf16", SHA_B, size=270_000_000),
            "candidate": side("/ckpt/fp8", SHA_C, size=140_000_000),
            "tasks": {"gsm8k": gen(), "arc": ll()} if tasks is None else tasks}
    data.update(kw)
    return data


def verdict(data: dict[str, Any]) -> Verdict:
    return decide(AuditFacts.model_validate(data))


def failed(v: Verdict) -> set[str]:
    return {c.name for c in v.checks if not c.passed}


def cli_facts(tmp_path: Path, data: Any) -> tuple[int, dict[str, Any]]:
    path = tmp_path / "facts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "gates.audit", "--input", str(path)], capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    return p.returncode, json.loads(p.stdout)


# ------------------------------------------------------------------ CACHING_DETECTED

@pytest.mark.parametrize("who", ["baseline", "candidate"])
def test_eval_cache_used_is_caching(who: str) -> None:
    data = facts()
    data[who]["used_cache"] = True
    v = verdict(data)
    assert v.failure_class == FC.CACHING_DETECTED and failed(v) == {"no_eval_cache"}


def test_eval_cache_not_recorded_is_caching() -> None:
    data = facts()
    data["candidate"]["used_cache"] = None
    v = verdict(data)
    assert v.failure_class == FC.CACHING_DETECTED and "not recorded" in v.detail


@pytest.mark.parametrize("cand", [side("/ckpt/bf16", SHA_C), side("/ckpt/bf16/", None), side("/ckpt/other", SHA_B)])
def test_candidate_that_is_the_baseline_is_caching(cand: dict[str, Any]) -> None:
    v = verdict(facts(candidate=cand))
    assert v.failure_class == FC.CACHING_DETECTED and failed(v) == {"distinct_models"}


@pytest.mark.parametrize("spelled", ["/ckpt/./bf16", "/ckpt//bf16", "/ckpt/x/../bf16", " /ckpt/bf16\n",
                                     "/ckpt/bf16\u200b", "\ufeff/ckpt/bf16", "/ckpt/b\u200df16//"])
def test_the_baseline_spelled_differently_is_still_the_baseline(spelled: str) -> None:
    """Issue 9, item 7: one identity rule (gates/identity.py): a path's redundant parts and characters
    that print nothing do not make another model."""
    v = verdict(facts(candidate=side(spelled, SHA_C)))
    assert v.failure_class == FC.CACHING_DETECTED and failed(v) == {"distinct_models"}, v.detail


def test_identity_that_cannot_be_established_is_caching() -> None:
    v = verdict(facts(baseline=side(None), candidate=side("/ckpt/fp8")))
    assert v.failure_class == FC.CACHING_DETECTED and "cannot establish" in v.detail


def test_identical_logliks_on_enough_documents_is_caching() -> None:
    v = verdict(facts({"arc": ll(n=20, max_diff=0.0, identical=20), "gsm8k": gen(identical=3)}))
    assert v.failure_class == FC.CACHING_DETECTED and failed(v) == {"logliks_differ"}


def test_logliks_within_1e_9_count_as_identical_and_above_do_not() -> None:
    assert verdict(facts({"arc": ll(max_diff=1e-9)})).failure_class == FC.CACHING_DETECTED
    assert verdict(facts({"arc": ll(max_diff=2e-9)})).passed


def test_identical_logliks_on_too_few_documents_are_not_evidence() -> None:
    v = verdict(facts({"arc": ll(n=19, max_diff=0.0, identical=19)}))
    assert v.passed and "not applicable" in next(c.detail for c in v.checks if c.name == "logliks_differ")


def test_fully_identical_generations_without_contrary_evidence_is_caching() -> None:
    v = verdict(facts({"gsm8k": gen(n=20, identical=20)}))
    assert v.failure_class == FC.CACHING_DETECTED and failed(v) == {"generations_differ"}
    row = v.evidence["tasks"][0]
    assert row["identical_fraction"] == 1.0 and row["samples_compared"] == 20


def test_identical_generations_with_differing_logliks_are_greedy_agreement() -> None:
    v = verdict(facts({"gsm8k": gen(n=50, identical=50), "arc": ll(max_diff=0.03)}))
    assert v.passed and "plausible greedy agreement" in next(c.detail for c in v.checks
                                                             if c.name == "generations_differ")


@pytest.mark.parametrize("task", [gen(n=19, identical=19), gen(n=50, identical=49), gen(n=50, identical=50, chars=5)])
def test_generation_identity_rule_needs_enough_long_fully_identical_samples(task: dict[str, Any]) -> None:
    assert verdict(facts({"g": task})).passed


def test_nothing_compared_is_sample_accounting_failure() -> None:
    v = verdict(facts({}))
    assert v.failure_class == FC.SAMPLE_ACCOUNTING_FAILED
    t = gen(n=0, identical=0)
    t["samples_baseline"] = 10  # no doc id in common
    assert verdict(facts({"g": t})).failure_class == FC.SAMPLE_ACCOUNTING_FAILED


def test_caching_outranks_sample_accounting() -> None:
    data = facts({})
    data["baseline"]["used_cache"] = True
    assert verdict(data).failure_class == FC.CACHING_DETECTED


def test_clean_audit_passes_and_records_the_numbers() -> None:
    v = verdict(facts())
    assert v.passed and v.failure_class is None
    assert v.evidence["weights_size_ratio"] == pytest.approx(140 / 270)
    assert {r["task"] for r in v.evidence["tasks"]} == {"gsm8k", "arc"}
    json.loads(v.to_json())


# ------------------------------------------------------------------ the per-sample reader (lm-eval layout)

def _line(doc: int, resps: Any, filt: str = "none", **metrics: Any) -> str:
    return json.dumps({"doc_id": doc, "doc": {"q": "?"}, "target": "x", "arguments": {}, "resps": resps,
                       "filtered_resps": resps[0] if resps else [], "filter": filt, "metrics": list(metrics),
                       "doc_hash": "h", "prompt_hash": "p", "target_hash": "t", **metrics})


def _gen_resps(text: str) -> list[list[str]]:
    return [[text]]


def _ll_resps(values: list[float]) -> list[list[list[str]]]:
    return [[[str(v), "False"]] for v in values]  # lm-eval writes every leaf as a string


def _write(root: Path, task: str, lines: list[str], ts: str = "2026-06-01T10-00-00.123456",
           model: str = "__ckpt__fp8") -> Path:
    d = root / model
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"samples_{task}_{ts}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reader_on_lm_eval_layout(tmp_path: Path) -> None:
    _write(tmp_path, "gsm8k", [_line(i, _gen_resps(f"answer {i}"), exact_match=1.0) for i in range(3)])
    _write(tmp_path, "arc_easy", [_line(i, _ll_resps([-1.5, -2.25]), acc=0.0) for i in range(2)])
    runs = read_run_samples(tmp_path)
    assert set(runs) == {"gsm8k", "arc_easy"}
    assert runs["gsm8k"].first("2").resps == [["answer 2"]]
    assert runs["arc_easy"].first("0").metrics == {"acc": 0.0}
    assert kind_of(runs["gsm8k"].first("0").resps) == "generative"
    assert kind_of(runs["arc_easy"].first("0").resps) == "loglikelihood"


def test_reader_tolerates_a_torn_last_line_and_counts_malformed_ones(tmp_path: Path) -> None:
    lines = [_line(0, _gen_resps("a")), "{not json", _line(1, _gen_resps("b")), '{"doc_id": 2, "resps": [["c"]']
    path = _write(tmp_path, "t", lines)
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline: the last line is torn
    t = read_run_samples(tmp_path)["t"]
    assert set(t.records) == {"0", "1"} and t.malformed_lines == 1


def test_reader_keeps_the_newest_file_per_task(tmp_path: Path) -> None:
    _write(tmp_path, "t", [_line(0, _gen_resps("old"))], ts="2026-01-01T00-00-00.000001")
    _write(tmp_path, "t", [_line(0, _gen_resps("new"))], ts="2026-02-01T00-00-00.000001")
    assert read_run_samples(tmp_path)["t"].first("0").resps == [["new"]]


def test_reader_refuses_several_runs_and_missing_dirs(tmp_path: Path) -> None:
    _write(tmp_path, "t", [_line(0, _gen_resps("a"))], model="m1")
    _write(tmp_path, "t", [_line(0, _gen_resps("a"))], model="m2")
    with pytest.raises(InputError):
        read_run_samples(tmp_path)
    with pytest.raises(InputError):
        read_run_samples(tmp_path / "absent")


def test_reader_keeps_one_record_per_filter(tmp_path: Path) -> None:
    _write(tmp_path, "t", [_line(0, _gen_resps("a"), filt="strict", exact_match=1.0),
                           _line(0, _gen_resps("a"), filt="flexible", exact_match=0.0)])
    t = read_run_samples(tmp_path)["t"]
    assert t.one("0", "flexible").metrics["exact_match"] == 0.0 and t.one("0", None) is None


def test_reader_reads_a_doc_id_in_any_json_spelling_as_one_document(tmp_path: Path) -> None:
    """5, "5" and 5.0 are one document (issue 9, item 1, for the readers compare and verbosity use)."""
    first = _line(5, _gen_resps("a"))
    lines = [first] + [first.replace('"doc_id": 5,', f'"doc_id": {sp},') for sp in ('"5"', "5.0")]
    _write(tmp_path, "t", lines + [_line(6, _gen_resps("b"))])
    t = read_run_samples(tmp_path)["t"]
    assert sorted(t.records) == ["5", "6"] and t.malformed_lines == 0


def test_compare_task_generative(tmp_path: Path) -> None:
    _write(tmp_path / "b", "g", [_line(i, _gen_resps(f"text {i}")) for i in range(4)])
    _write(tmp_path / "c", "g", [_line(i, _gen_resps(f"text {i}" if i < 3 else "other")) for i in range(5)])
    b, c = read_run_samples(tmp_path / "b")["g"], read_run_samples(tmp_path / "c")["g"]
    comp = compare_task(b, c)
    assert (comp.kind, comp.samples_compared, comp.identical_responses, comp.samples_candidate) == \
        ("generative", 4, 3, 5)
    assert comp.mean_response_chars == pytest.approx((6 * 3 + 5) / 4)


def test_compare_task_loglikelihood_from_string_leaves(tmp_path: Path) -> None:
    _write(tmp_path / "b", "mc", [_line(i, _ll_resps([-1.0, -2.0])) for i in range(3)])
    _write(tmp_path / "c", "mc", [_line(i, _ll_resps([-1.0, -2.0 - 0.01 * i])) for i in range(3)])
    b, c = read_run_samples(tmp_path / "b")["mc"], read_run_samples(tmp_path / "c")["mc"]
    comp = compare_task(b, c, "multiple_choice")
    assert comp.kind == "loglikelihood" and comp.identical_responses == 1
    assert comp.loglik_docs_compared == 3 and comp.loglik_values_compared == 6
    assert comp.max_abs_loglik_diff == pytest.approx(0.02)


REAL = REPO / "tests" / "fixtures" / "lmeval_real_output"


@pytest.mark.skipif(not REAL.is_dir(), reason="no committed real lm-eval output")
def test_reader_on_real_lm_eval_output() -> None:
    runs = read_run_samples(REAL)
    mc, gen_ = runs["conductor_tiny_mc"], runs["conductor_tiny_gen"]
    assert mc.malformed_lines == 0 and gen_.malformed_lines == 0
    assert kind_of(mc.first("0").resps) == "loglikelihood" and kind_of(gen_.first("0").resps) == "generative"
    same = compare_task(mc, mc)
    assert same.kind == "loglikelihood" and same.max_abs_loglik_diff == 0.0
    assert same.loglik_docs_compared == same.samples_compared == len(mc.records)


@pytest.mark.parametrize("where", ["append", "prepend"])
def test_a_relabelled_baseline_with_an_extra_loglik_per_document_is_not_a_pass(tmp_path: Path, where: str) -> None:
    """Hostile (found while hunting, issue 9): the baseline's own output relabelled as another model, with one
    more log-likelihood request per document, made every document incomparable, so the log-likelihood
    rule did not apply and the audit passed. Documents whose requests differ are not comparable."""
    from tests import eval_run_cases as E

    b, c = E.copy_run(E.REAL_OUTPUT, tmp_path / "b"), E.copy_run(E.REAL_OUTPUT, tmp_path / "c")
    E.set_record(c, model_identity="/m/candidate-fp8")
    extra = [[["-1.0", "False"]]]
    E.edit_samples(c, E.MC, lambda i, s: s.update(resps=s["resps"] + extra if where == "append"
                                                   else extra + s["resps"]))
    p = subprocess.run([sys.executable, "-m", "gates.audit", "--artifacts", str(b), str(c)], capture_output=True,
                       text=True, cwd=REPO, timeout=120)
    v = json.loads(p.stdout)
    assert p.returncode == 1 and v["failure_class"] in ("CACHING_DETECTED", "SAMPLE_ACCOUNTING_FAILED"), v["detail"]
    row = next(r for r in v["evidence"]["tasks"] if r["task"] == E.MC)
    assert row["loglik_shape_mismatch"] == 20


def test_weights_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "a" / "config.json").write_text("{}")
    sha, size = weights_fingerprint(str(tmp_path / "a"))
    assert len(sha) == 64 and size == 7
    assert weights_fingerprint(str(tmp_path / "absent")) == (None, None)
    assert weights_fingerprint("served-model-name") == (None, None)


def _run(identity: str, used_cache: bool | None = False) -> EvalRunFacts:
    return EvalRunFacts.model_validate({
        "run_status": "SUCCESS", "model_identity": identity, "used_cache": used_cache,
        "tasks": {"mc": {"output_type": "multiple_choice", "primary_metric": "acc"},
                  "g": {"output_type": "generate_until", "primary_metric": "exact_match"}}})


def _collect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: dict[str, EvalRunFacts]) -> tuple[int, dict]:
    fake = types.ModuleType("gates.eval_run.collect")
    fake.collect_run = lambda p: runs[Path(p).name]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gates.eval_run.collect", fake)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_cli(SPEC, ["--artifacts", str(tmp_path / "B"), str(tmp_path / "C")])
    return code, json.loads(out.getvalue())


def test_collect_detects_a_replayed_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for who in ("B", "C"):  # the candidate's logs are the baseline's, byte for byte
        _write(tmp_path / who, "mc", [_line(i, _ll_resps([-1.0 - i, -2.0])) for i in range(25)])
        _write(tmp_path / who, "g", [_line(i, _gen_resps("A long chain of reasoning ends in " + str(i)))
                                     for i in range(25)])
    code, out = _collect(tmp_path, monkeypatch, {"B": _run("/ckpt/bf16"), "C": _run("/ckpt/fp8")})
    assert code == 1 and out["failure_class"] == "CACHING_DETECTED"
    assert {c["name"] for c in out["checks"] if not c["pass"]} == {"logliks_differ", "generations_differ"}


def test_collect_passes_a_genuinely_different_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "B", "mc", [_line(i, _ll_resps([-1.0, -2.0])) for i in range(25)])
    _write(tmp_path / "C", "mc", [_line(i, _ll_resps([-1.003, -2.001])) for i in range(25)])
    _write(tmp_path / "B", "g", [_line(i, _gen_resps("The answer is " + "x" * 40)) for i in range(25)])
    _write(tmp_path / "C", "g", [_line(i, _gen_resps("The answer is " + "x" * 40)) for i in range(25)])
    code, out = _collect(tmp_path, monkeypatch, {"B": _run("/ckpt/bf16"), "C": _run("/ckpt/fp8")})
    assert code == 0, out["detail"]
    code, out = _collect(tmp_path, monkeypatch, {"B": _run("/ckpt/bf16"), "C": _run("/ckpt/fp8", used_cache=True)})
    assert code == 1 and out["failure_class"] == "CACHING_DETECTED"


# ------------------------------------------------------------------ CLI contract

def test_cli_exit_codes(tmp_path: Path) -> None:
    assert cli_facts(tmp_path, facts())[0] == 0
    code, out = cli_facts(tmp_path, facts({"arc": ll(max_diff=0.0)}))
    assert code == 1 and out["failure_class"] == "CACHING_DETECTED"


@pytest.mark.parametrize("mutate", [
    lambda d: d["tasks"]["gsm8k"].update(identical_responses=51),
    lambda d: d["tasks"]["gsm8k"].update(samples_compared=60),
    lambda d: d["tasks"]["arc"].update(max_abs_loglik_diff=None),
    lambda d: d["tasks"]["arc"].update(loglik_docs_compared=0),
    lambda d: d["tasks"]["gsm8k"].update(kind="chat"),
    lambda d: d["tasks"]["gsm8k"].update(identical_responses=1.0),
    lambda d: d["tasks"]["gsm8k"].update(identical_responses="1"),
    lambda d: d["baseline"].update(used_cache="no"),
    lambda d: d["baseline"].update(used_cache=0),
    lambda d: d["baseline"].update(weights_sha256="xyz"),
    lambda d: d["baseline"].pop("used_cache"),
    lambda d: d.update(tasks=[]),
    lambda d: d.update(min_samples=0),
    lambda d: d.update(extra=1),
])
def test_cli_invalid_facts_are_exit_2(tmp_path: Path, mutate: Any) -> None:
    data = facts()
    mutate(data)
    code, out = cli_facts(tmp_path, data)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e999"])
def test_cli_non_finite_is_exit_2(tmp_path: Path, token: str) -> None:
    text = json.dumps(facts()).replace('"max_abs_loglik_diff": 0.02', f'"max_abs_loglik_diff": {token}')
    assert cli_facts(tmp_path, text)[0] == 2


def test_cli_artifacts_usage_errors_are_exit_2(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "gates.audit", "--artifacts", "one"], capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    assert p.returncode == 2


def test_cli_help_explains_the_rules() -> None:
    p = subprocess.run([sys.executable, "-m", "gates.audit", "--help"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and "CACHING_DETECTED" in p.stdout and "1e-9" in p.stdout


def test_committed_schemas_match_the_models() -> None:
    for fname, schema in generated("audit").items():
        path = REPO / "gates" / "schemas" / fname
        assert path.exists() and path.read_text(encoding="utf-8") == dumps(schema), \
            f"{fname} drifted; regenerate with: python -m gates.schemas"


# ------------------------------------------------------------------ properties

OUTPUT_SCHEMA = load("audit", "output")


@st.composite
def task_st(draw: Any) -> dict[str, Any]:
    nb, nc = draw(st.integers(0, 60)), draw(st.integers(0, 60))
    n = draw(st.integers(0, min(nb, nc)))
    t: dict[str, Any] = {"kind": draw(st.sampled_from(["generative", "loglikelihood"])), "samples_baseline": nb,
                         "samples_candidate": nc, "samples_compared": n, "identical_responses": draw(st.integers(0, n))}
    if t["kind"] == "generative":
        t["mean_response_chars"] = draw(st.one_of(st.none(), st.floats(0, 500)))
    else:
        docs = draw(st.integers(0, n))
        if docs:
            t.update(loglik_docs_compared=docs, loglik_values_compared=docs * 2,
                     max_abs_loglik_diff=draw(st.sampled_from([0.0, 1e-12, 1e-9, 1e-3, 0.5])))
    return t


side_st = st.fixed_dictionaries({"evaluated": st.one_of(st.none(), st.sampled_from(["/a", "/b", "/a/"])),
                                 "used_cache": st.one_of(st.none(), st.booleans())},
                                optional={"weights_sha256": st.one_of(st.none(), st.sampled_from([SHA_B, SHA_C])),
                                          "weights_bytes": st.integers(0, 10**10)})
facts_st = st.fixed_dictionaries({"baseline": side_st, "candidate": side_st,
                                  "tasks": st.dictionaries(st.sampled_from(["g", "m", "x"]), task_st(), max_size=3)},
                                 optional={"min_samples": st.integers(1, 40)})


def _in_process(data: Any, tmp: Path) -> tuple[int, dict[str, Any]]:
    path = tmp / "f.json"
    path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
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
    if code == 0:  # a pass needs no cache and distinct models
        assert data["baseline"]["used_cache"] is False and data["candidate"]["used_cache"] is False
        assert out["failure_class"] is None


def _numeric_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _numeric_paths(v, path + (k,))]
    return [path] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=facts_st, pick=st.integers(min_value=0), bad=st.sampled_from([True, "1", "NaN", [], {}]),
       extra=st.booleans())
def test_property_malformed_input_is_exit_2_never_a_pass(data: dict[str, Any], pick: int, bad: Any, extra: bool,
                                                         tmp_path: Path) -> None:
    data = copy.deepcopy(data)
    paths = _numeric_paths(data)
    if extra or not paths:
        data["surprise"] = 1
    else:
        target = paths[pick % len(paths)]
        node = data
        for k in target[:-1]:
            node = node[k]
        node[target[-1]] = float("nan") if bad == "NaN" else bad
    code, out = _in_process(data, tmp_path)
    assert code == 2 and out["pass"] is False and out["failure_class"] == "USER_CONFIG_ERROR"
