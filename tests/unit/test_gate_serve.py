"""serve gate (the canary): failure cases first (health, model listing, a dead server, errors, empty
and degenerate completions, a gibberish server that answers /health), then the collector, the CLI
contract and property tests."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.contract import Verdict, run_cli
from gates.failure_classes import FailureClass as FC
from gates.schemas import dumps, generated, load
from gates.serve import SPEC
from gates.serve.canaries import DEFAULT_CANARIES, as_records
from gates.serve.collect import facts_from_record
from gates.serve.decide import answer_found, decide, degeneracy
from gates.serve.models import ServeFacts

REPO = Path(__file__).resolve().parents[2]
GOOD_ANSWERS = {
    "What is the capital of France?": "The capital of France is Paris.",
    "What is 2 + 2?": "2 + 2 = 4.",
    "What color is the sky on a clear day?": "The sky is blue on a clear day.",
    "How many days are there in a week?": "There are seven days in a week.",
    "What is the opposite of hot?": "The opposite of hot is cold.",
    "What do bees make?": "Bees make honey.",
}


def canary(prompt: str, completion: str | None, **kw: Any) -> dict[str, Any]:
    must = next(list(c.must_contain) for c in DEFAULT_CANARIES if c.prompt == prompt)
    return {"prompt": prompt, "must_contain": must, "completion": completion, "finish_reason": "stop",
            "http_status": 200, "error": None, "latency_s": 0.2, "completion_tokens": 8, **kw}


def good_canaries() -> list[dict[str, Any]]:
    return [canary(p, a) for p, a in GOOD_ANSWERS.items()]


def record(**kw: Any) -> dict[str, Any]:
    base = {"server_kind": "vllm", "server_version": "0.11.0", "model_requested": "smollm2-135m-fp8",
            "base_url": "http://127.0.0.1:8000", "load_ceiling_s": 300.0,
            "health_probes": [{"t_s": 5.0, "http_status": None, "error": "connection refused"},
                              {"t_s": 40.0, "http_status": 503, "error": None},
                              {"t_s": 60.0, "http_status": 200, "error": None}],
            "models_listed": ["smollm2-135m-fp8"], "canaries": good_canaries(),
            "log_tail": ["INFO: Application startup complete."]}
    base.update(kw)
    return base


def verdict(data: dict[str, Any]) -> Verdict:
    return decide(ServeFacts.model_validate(data))


def failed(v: Verdict) -> set[str]:
    return {c.name for c in v.checks if not c.passed}


def cli(args: list[str]) -> tuple[int, dict[str, Any]]:
    p = subprocess.run([sys.executable, "-m", "gates.serve", *args], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    return p.returncode, json.loads(p.stdout)


def cli_facts(tmp_path: Path, data: Any, flag: str = "--input") -> tuple[int, dict[str, Any]]:
    path = tmp_path / "facts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return cli([flag, str(path)])


# ------------------------------------------------------------------ DEPLOYMENT_HEALTH_FAILED

def test_health_never_200_fails() -> None:
    probes = [{"t_s": float(t), "http_status": 503, "error": None} for t in range(0, 300, 30)]
    v = verdict(record(health_probes=probes, canaries=[]))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and "healthy_within_ceiling" in failed(v)


def test_no_probes_fails() -> None:
    assert verdict(record(health_probes=[])).failure_class == FC.DEPLOYMENT_HEALTH_FAILED


def test_healthy_only_after_the_ceiling_fails() -> None:
    v = verdict(record(health_probes=[{"t_s": 301.0, "http_status": 200}]))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and "after the 300s ceiling" in v.detail


def test_healthy_exactly_at_the_ceiling_passes() -> None:
    assert verdict(record(health_probes=[{"t_s": 300.0, "http_status": 200}])).passed


def test_health_lost_after_it_was_reached_fails() -> None:
    probes = [{"t_s": 10.0, "http_status": 200}, {"t_s": 20.0, "http_status": None, "error": "connection reset"}]
    v = verdict(record(health_probes=probes))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and failed(v) == {"stayed_healthy"}


def test_reported_time_to_healthy_is_not_trusted() -> None:
    v = verdict(record(health_probes=[{"t_s": 5.0, "http_status": 503}], reported_time_to_healthy_s=3.0))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED
    assert v.evidence["health"]["reported_time_to_healthy_s"] == 3.0


@pytest.mark.parametrize("listed", [["some-other-model"], [], None])
def test_requested_model_not_listed_fails(listed: list[str] | None) -> None:
    v = verdict(record(models_listed=listed))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and failed(v) == {"model_listed"}


def test_server_that_died_fails_with_its_log_tail() -> None:
    v = verdict(record(server_exit={"exit_code": 1, "t_s": 70.0},
                       log_tail=["RuntimeError: CUDA error: no kernel image is available"]))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and "no kernel image" in v.detail


def test_death_outranks_inference_failures() -> None:
    v = verdict(record(server_exit={"signal": 9}, canaries=[canary("What is 2 + 2?", None, http_status=None,
                                                                  error="connection refused")]))
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED
    assert "generation_ok" in failed(v)  # the lower-priority finding is still listed


def test_deliberate_stop_is_not_a_death() -> None:
    assert verdict(record(server_exit={"exit_code": 0, "stopped_by_us": True})).passed


# ------------------------------------------------------------------ INFERENCE_FAILED

@pytest.mark.parametrize("change", [{"http_status": 500}, {"http_status": None}, {"error": "timeout"},
                                    {"completion": ""}, {"completion": "   \n"}, {"completion": None}])
def test_generation_errors_and_empty_completions_fail(change: dict[str, Any]) -> None:
    cs = good_canaries()
    cs[0].update(change)
    v = verdict(record(canaries=cs))
    assert v.failure_class == FC.INFERENCE_FAILED and "generation_ok" in failed(v)


def test_gibberish_server_that_answers_health_never_passes() -> None:
    gibberish = ["ásdk qwo zmxn vbrt ploq", "xkcd lorem 8t7 qq zzv", "fjdk ruei woqp alsk", "mnbv cxzl kjhg fdsa",
                 "poiu ytre wqas dfgh", "zxcv bnma sdfg hjkl"]
    cs = [canary(c.prompt, g) for c, g in zip(DEFAULT_CANARIES, gibberish, strict=False)]
    v = verdict(record(canaries=cs))
    assert not v.passed and v.failure_class == FC.INFERENCE_FAILED and "coherent" in failed(v)


@pytest.mark.parametrize("text", ["Paris Paris Paris Paris Paris Paris Paris Paris",
                                  "the the the the the the the the the the",
                                  "\x00\x01\x02\x03 Paris \ufffd\ufffd\ufffd\ufffd\ufffd",
                                  "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "????....????....",
                                  "ParisParisParisParisParisParis" + "s" * 40])
def test_degenerate_completions_fail_even_if_they_contain_the_answer(text: str) -> None:
    cs = good_canaries()
    cs[0]["completion"] = text
    v = verdict(record(canaries=cs))
    assert v.failure_class == FC.INFERENCE_FAILED and "not_degenerate" in failed(v)


def test_too_few_canaries_fail() -> None:
    v = verdict(record(canaries=good_canaries()[:2]))
    assert v.failure_class == FC.INFERENCE_FAILED and failed(v) == {"canaries_asked"}


def test_repeating_one_prompt_does_not_count_as_several() -> None:
    one = good_canaries()[0]
    v = verdict(record(canaries=[one, dict(one), dict(one)]))
    assert v.failure_class == FC.INFERENCE_FAILED and "canaries_asked" in failed(v)


def test_no_canaries_fail() -> None:
    assert verdict(record(canaries=[])).failure_class == FC.INFERENCE_FAILED


def test_two_thirds_rule() -> None:
    cs = good_canaries()
    for c in cs[:2]:
        c["completion"] = "I am not sure about that question."
    assert verdict(record(canaries=cs)).passed  # 4 of 6
    cs[2]["completion"] = "I am not sure about that question."
    v = verdict(record(canaries=cs))  # 3 of 6
    assert v.failure_class == FC.INFERENCE_FAILED and failed(v) == {"coherent"}
    three = good_canaries()[:3]
    three[0]["completion"] = "I do not know."
    assert verdict(record(canaries=three)).passed  # 2 of 3
    three[1]["completion"] = "I do not know."
    assert verdict(record(canaries=three)).failure_class == FC.INFERENCE_FAILED


def test_a_prompt_asked_twice_counts_only_if_every_attempt_is_right() -> None:
    cs = good_canaries()[:3]
    cs.append(dict(cs[0], completion="London."))
    cs[1]["completion"] = "I do not know."
    v = verdict(record(canaries=cs))  # France: one right, one wrong -> not correct; 1 of 3 distinct
    assert v.failure_class == FC.INFERENCE_FAILED


def test_answers_match_case_insensitively_as_whole_words() -> None:
    assert answer_found("PARIS!", ["Paris"]) == "Paris"
    assert answer_found("It is 2024.", ["4", "four"]) is None
    assert answer_found("It has fourteen legs", ["four"]) is None
    assert answer_found("The answer: 4", ["4"]) == "4"
    assert answer_found("ｐａｒｉｓ", ["Paris"]) == "Paris"  # NFKC folds full-width letters


def test_ordinary_answers_are_not_degenerate() -> None:
    for text in GOOD_ANSWERS.values():
        assert degeneracy(text) is None
    assert degeneracy("4") is None
    assert degeneracy("Paris is the capital and largest city of France, on the Seine.") is None


def test_default_canaries_are_short_fact_questions_answered_by_good_answers() -> None:
    assert 5 <= len(DEFAULT_CANARIES) <= 6
    assert len({c.prompt for c in DEFAULT_CANARIES}) == len(DEFAULT_CANARIES)
    for c in DEFAULT_CANARIES:
        assert answer_found(GOOD_ANSWERS[c.prompt], list(c.must_contain))
    assert as_records()[0] == {"prompt": "What is the capital of France?", "must_contain": ["Paris"]}


def test_healthy_server_passes() -> None:
    v = verdict(record())
    assert v.passed and v.failure_class is None
    assert all(r["status"] == "ok" for r in v.evidence["canaries"])
    assert v.evidence["health"]["time_to_healthy_s"] == 60.0
    json.loads(v.to_json())


# ------------------------------------------------------------------ collector

def test_collector_ignores_a_passed_flag_in_the_record(tmp_path: Path) -> None:
    rec = record(canaries=[canary(c.prompt, "zzzz qqqq", passed=True) for c in DEFAULT_CANARIES])
    rec.update(passed=True, ok=True, summary="all canaries passed")
    code, out = cli_facts(tmp_path, rec, "--artifacts")
    assert code == 1 and out["failure_class"] == "INFERENCE_FAILED"


def test_collector_uses_the_gates_answer_key_for_default_prompts() -> None:
    cs = [canary(c.prompt, "the answer is the one you expect") for c in DEFAULT_CANARIES]
    for c in cs:
        c["must_contain"] = ["the"]  # a weakened answer key in the record
    v = decide(facts_from_record(record(canaries=cs)))
    assert v.failure_class == FC.INFERENCE_FAILED


def test_collector_keeps_the_record_answer_key_for_other_prompts() -> None:
    extra = [{"prompt": f"Custom question {i}?", "must_contain": ["yes"], "completion": "yes indeed",
              "http_status": 200} for i in range(3)]
    assert decide(facts_from_record(record(canaries=extra))).passed


def test_collector_does_not_let_the_record_lower_the_bar() -> None:
    cs = good_canaries()[:1]
    assert verdict(record(canaries=cs, min_canaries=1)).passed  # explicit facts may set policy
    f = facts_from_record(record(canaries=cs, min_canaries=1, min_correct_fraction=0.01))
    assert f.min_canaries == 3 and decide(f).failure_class == FC.INFERENCE_FAILED


def test_collector_splits_a_string_log_tail() -> None:
    f = facts_from_record(record(log_tail="line one\nline two"))
    assert f.log_tail == ["line one", "line two"]


@pytest.mark.parametrize("text", ["{not json", "[1]", json.dumps({"server_kind": "vllm"}),
                                  json.dumps(record(load_ceiling_s="300")),
                                  json.dumps(record(canaries=[{"prompt": "x", "must_contain": [],
                                                               "http_status": 200}])),
                                  json.dumps(record(health_probes=[{"t_s": True, "http_status": 200}]))])
def test_collector_bad_record_is_exit_2(tmp_path: Path, text: str) -> None:
    assert cli_facts(tmp_path, text, "--artifacts")[0] == 2


def test_collector_missing_record_is_exit_2(tmp_path: Path) -> None:
    assert cli(["--artifacts", str(tmp_path / "absent.json")])[0] == 2
    assert cli(["--artifacts", "a.json", "b.json"])[0] == 2


# ------------------------------------------------------------------ CLI contract

def test_cli_exit_codes(tmp_path: Path) -> None:
    assert cli_facts(tmp_path, record())[0] == 0
    code, out = cli_facts(tmp_path, record(models_listed=[]))
    assert code == 1 and out["failure_class"] == "DEPLOYMENT_HEALTH_FAILED"


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(passed=True),  # the facts are strict: a producer verdict is an unknown field
    lambda d: d.update(load_ceiling_s=True),
    lambda d: d.update(load_ceiling_s="300"),
    lambda d: d.update(load_ceiling_s=0),
    lambda d: d.update(health_probes={"t_s": 1}),
    lambda d: d["health_probes"][0].update(http_status=200.0),
    lambda d: d["health_probes"][0].update(http_status=42),
    lambda d: d["canaries"][0].update(must_contain="Paris"),
    lambda d: d["canaries"][0].update(must_contain=[]),
    lambda d: d["canaries"][0].update(latency_s=-1),
    lambda d: d.update(models_listed="smollm2"),
    lambda d: d.pop("model_requested"),
    lambda d: d.update(min_correct_fraction=0),
])
def test_cli_invalid_facts_are_exit_2(tmp_path: Path, mutate: Any) -> None:
    data = record()
    mutate(data)
    code, out = cli_facts(tmp_path, data)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e999"])
def test_cli_non_finite_is_exit_2(tmp_path: Path, token: str) -> None:
    text = json.dumps(record()).replace('"load_ceiling_s": 300.0', f'"load_ceiling_s": {token}')
    assert cli_facts(tmp_path, text)[0] == 2


def test_cli_help_explains_the_rules() -> None:
    p = subprocess.run([sys.executable, "-m", "gates.serve", "--help"], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and "gibberish" in p.stdout and "DEPLOYMENT_HEALTH_FAILED" in p.stdout


def test_committed_schemas_match_the_models() -> None:
    for fname, schema in generated("serve").items():
        path = REPO / "gates" / "schemas" / fname
        assert path.exists() and path.read_text(encoding="utf-8") == dumps(schema), \
            f"{fname} drifted; regenerate with: python -m gates.schemas"


# ------------------------------------------------------------------ properties

OUTPUT_SCHEMA = load("serve", "output")
text_st = st.one_of(st.none(), st.text(max_size=60), st.sampled_from(list(GOOD_ANSWERS.values())))
canary_st = st.fixed_dictionaries(
    {"prompt": st.sampled_from([c.prompt for c in DEFAULT_CANARIES] + ["Other?"]),
     "must_contain": st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3)},
    optional={"completion": text_st, "http_status": st.sampled_from([200, 200, 500, 429]),
              "error": st.one_of(st.none(), st.text(max_size=10)), "latency_s": st.floats(0, 100),
              "completion_tokens": st.integers(0, 100), "finish_reason": st.sampled_from(["stop", "length"])})
facts_st = st.fixed_dictionaries(
    {"server_kind": st.sampled_from(["vllm", "vllm-cpu"]), "model_requested": st.sampled_from(["m", "n"]),
     "base_url": st.just("http://127.0.0.1:8000"), "load_ceiling_s": st.floats(0.1, 1000)},
    optional={"health_probes": st.lists(st.fixed_dictionaries(
        {"t_s": st.floats(0, 2000)}, optional={"http_status": st.sampled_from([200, 503, None]),
                                                "error": st.one_of(st.none(), st.text(max_size=10))}), max_size=5),
              "models_listed": st.one_of(st.none(), st.lists(st.sampled_from(["m", "n", "x"]), max_size=3)),
              "canaries": st.lists(canary_st, max_size=7),
              "server_exit": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
                  "exit_code": st.integers(-5, 255), "stopped_by_us": st.booleans()})),
              "log_tail": st.lists(st.text(max_size=30), max_size=3),
              "min_canaries": st.integers(1, 6), "min_correct_fraction": st.floats(0.01, 1)})


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
    assert out["failure_class"] in (None, "DEPLOYMENT_HEALTH_FAILED", "INFERENCE_FAILED")
    if code == 0:  # a pass needs a healthy, listed server and correct, clean canaries
        assert any(p.get("http_status") == 200 for p in data.get("health_probes", []))
        assert data["model_requested"] in (data.get("models_listed") or [])
        assert all(r["status"] in ("ok", "wrong_answer") for r in out["evidence"]["canaries"])


def _numeric_paths(obj: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _numeric_paths(v, path + (k,))]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _numeric_paths(v, path + (i,))]
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


@settings(max_examples=200, deadline=None)
@given(junk=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=6,
                     max_size=6))
def test_property_pass_iff_two_thirds_correct_and_no_bad_completion(junk: list[str]) -> None:
    cs = [canary(c.prompt, j) for c, j in zip(DEFAULT_CANARIES, junk, strict=False)]
    v = verdict(record(canaries=cs))
    correct = sum(1 for r in v.evidence["canaries"] if r["status"] == "ok")
    assert v.passed == (correct >= 4 and all(r["status"] in ("ok", "wrong_answer") for r in v.evidence["canaries"]))
