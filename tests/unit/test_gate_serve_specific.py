"""serve gate: each canary's answer must be specific to its prompt.

A server that answers every prompt with one text holding every expected answer passed the canary (each
completion "contains" its answer). Now a completion that is correct for its own prompt but also answers
other canaries, or that is the same text (or names the same answers) as the completion of another prompt,
is `not_specific`: it does not count as correct, and the `specific` check fails (INFERENCE_FAILED).

Facts-level cases first (hostile, then the edge cases a healthy model must still pass), then property
tests (answer permutations, subsets, invisible text, per-request suffixes). The same fixed-text server is
driven over real HTTP through the serve skill in tests/unit/test_skill_serve.py.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gates.failure_classes import FailureClass as FC
from gates.serve.canaries import DEFAULT_CANARIES
from gates.serve.decide import answer_found, decide
from gates.serve.models import ServeFacts

GOOD = ["The capital of France is Paris.", "2 + 2 = 4.", "The sky is blue on a clear day.",
        "There are seven days in a week.", "The opposite of hot is cold.", "Bees make honey."]
EVERY_ANSWER = "Paris. 4. Blue. Seven. Cold. Honey."
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def canary(prompt: str, completion: str, must: list[str] | None = None) -> dict[str, Any]:
    if must is None:
        must = next(list(c.must_contain) for c in DEFAULT_CANARIES if c.prompt == prompt)
    return {"prompt": prompt, "must_contain": must, "completion": completion, "finish_reason": "stop",
            "http_status": 200}


def verdict(completions: list[str], canaries: list[dict[str, Any]] | None = None):
    cs = canaries or [canary(c.prompt, t) for c, t in zip(DEFAULT_CANARIES, completions)]
    return decide(ServeFacts.model_validate({
        "server_kind": "vllm", "model_requested": "m", "base_url": "http://127.0.0.1:1", "load_ceiling_s": 60.0,
        "health_probes": [{"t_s": 1.0, "http_status": 200}], "models_listed": ["m"], "canaries": cs}))


def failed(v) -> set[str]:
    return {c.name for c in v.checks if not c.passed}


# ---------------------------------------------------------------- hostile


def test_one_fixed_text_with_every_answer_is_incoherent():
    v = verdict([EVERY_ANSWER] * 6)
    assert v.failure_class == FC.INFERENCE_FAILED and "specific" in failed(v), v.detail
    assert {r["status"] for r in v.evidence["canaries"]} == {"not_specific"}
    assert "also answers 5 other canaries" in v.detail


def test_every_answer_with_a_different_suffix_per_request_is_incoherent():
    v = verdict([f"{EVERY_ANSWER} (request {i})" for i in range(6)])
    assert v.failure_class == FC.INFERENCE_FAILED and "specific" in failed(v)


def test_every_answer_disguised_by_case_punctuation_and_invisible_characters_is_incoherent():
    texts = [EVERY_ANSWER.upper(), EVERY_ANSWER.replace(".", "!"), EVERY_ANSWER.replace(" ", "\u200b "),
             "paris 4 blue seven cold honey", EVERY_ANSWER + "\u2060", EVERY_ANSWER.replace("Paris", "PARIS")]
    v = verdict(texts)
    assert v.failure_class == FC.INFERENCE_FAILED and "specific" in failed(v)


def test_the_same_short_answer_to_two_questions_is_not_specific():
    texts = list(GOOD)
    texts[2] = "Paris."  # the sky question answered with the France answer, word for word
    texts[0] = "Paris."
    v = verdict(texts)
    assert v.failure_class == FC.INFERENCE_FAILED and "specific" in failed(v)
    row = v.evidence["canaries"][0]
    assert row["status"] == "not_specific" and "the same text" in row["reason"]


def test_two_answers_named_together_for_two_questions_are_not_specific():
    texts = list(GOOD)
    texts[0], texts[2] = "Paris, and blue.", "Blue; Paris."  # no text is identical, the answers named are
    v = verdict(texts)
    assert "specific" in failed(v) and v.evidence["canaries"][0]["status"] == "not_specific"


def test_a_server_that_echoes_the_prompt_does_not_pass_on_answers_inside_the_prompt():
    prompts = ["Say the word apple.", "Repeat: banana.", "Type cherry please.", "Write the word plum."]
    answers = [["apple"], ["banana"], ["cherry"], ["plum"]]
    v = verdict([], [canary(p, p, a) for p, a in zip(prompts, answers)])
    assert v.failure_class == FC.INFERENCE_FAILED and "coherent" in failed(v)
    assert all("appear in the prompt" in r["reason"] for r in v.evidence["canaries"])


# ---------------------------------------------------------------- what a healthy model does, and must pass


def test_good_answers_pass():
    v = verdict(GOOD)
    assert v.passed, v.detail
    assert next(c for c in v.checks if c.name == "specific").detail == "every correct answer is specific to its prompt"


def test_a_verbose_answer_that_mentions_one_other_answer_passes():
    texts = list(GOOD)
    texts[2] = "The sky is blue on a clear day, which makes people feel less cold and more cheerful."
    texts[5] = "Bees make honey, a golden food; a hive can hold seven frames or more."
    assert verdict(texts).passed


def test_the_same_refusal_to_two_questions_is_a_wrong_answer_not_a_lie():
    texts = list(GOOD)
    texts[1] = texts[3] = "I'm sorry, I cannot answer that."
    v = verdict(texts)
    assert v.passed, v.detail  # 4 of 6 correct; the refusals count as wrong, nothing is not_specific


def test_overlapping_answer_keys_and_numbers_inside_numbers():
    cs = [canary("How many legs does a cat have?", "4", ["4", "four"]),
          canary("What is 2 + 2?", "4"),
          canary("What is 7 + 7?", "14", ["14", "fourteen"]),
          canary("How many sides does a square have?", "Four.", ["4", "four"])]
    v = verdict([], cs)  # "4" twice is legitimate: those prompts share an answer; "14" does not contain "4"
    assert v.passed, v.detail


def test_a_sub_phrase_of_the_own_answer_is_not_a_foreign_answer():
    cs = [canary("Which city is called the Big Apple?", "New York City.", ["New York"]),
          canary("Which English city gave New York its name?", "York.", ["York"]),
          canary("What is the capital of France?", "Paris.")]
    assert verdict([], cs).passed


def test_answer_matching_ignores_invisible_characters():
    assert answer_found("Pa\u200bris", ["Paris"]) == "Paris"
    assert answer_found("The answer is \u20604\u2060.", ["4"]) == "4"
    assert answer_found("It is 2\u200b024.", ["4"]) is None


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(order=st.permutations(range(6)), keep=st.integers(2, 6), case=st.sampled_from([str.lower, str.upper, str]),
       sep=st.sampled_from([", ", " ", "; ", "\n", " and "]),
       invisible=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(INVISIBLE)), max_size=4),
       suffix=st.booleans())
def test_property_a_text_holding_several_canaries_answers_never_passes(order, keep, case, sep, invisible, suffix):
    answers = ["Paris", "4", "blue", "seven", "cold", "honey"]
    text = case(sep.join(answers[i] for i in order[:keep]))
    for pos, ch in invisible:
        pos %= len(text) + 1
        text = text[:pos] + ch + text[pos:]
    v = verdict([text + (f" #{i}" if suffix else "") for i in range(6)])
    assert not v.passed and v.failure_class == FC.INFERENCE_FAILED


@settings(max_examples=200, deadline=None)
@given(perm=st.permutations(range(6)))
def test_property_answers_given_to_the_wrong_questions_never_pass(perm):
    texts = [GOOD[i] for i in perm]
    v = verdict(texts)
    right = sum(1 for k, i in enumerate(perm) if k == i)
    assert v.passed == (right >= math.ceil(2 * 6 / 3)), (perm, v.detail)


@settings(max_examples=200, deadline=None)
@given(inserts=st.lists(st.lists(st.tuples(st.integers(0, 100), st.sampled_from(INVISIBLE)), max_size=2),
                        min_size=6, max_size=6))
def test_property_invisible_characters_inside_good_answers_change_nothing(inserts):
    texts = []
    for text, ins in zip(GOOD, inserts):
        for pos, ch in ins:
            pos %= len(text) + 1
            text = text[:pos] + ch + text[pos:]
        texts.append(text)
    v = verdict(texts)
    assert v.passed, v.detail


# ---------------------------------------------------------------- the model listed is the checkpoint started


def _served(**kw: Any):
    return decide(ServeFacts.model_validate({
        "server_kind": "vllm", "model_requested": "baseline", "base_url": "http://127.0.0.1:1", "load_ceiling_s": 60.0,
        "health_probes": [{"t_s": 1.0, "http_status": 200}], "models_listed": ["baseline"],
        "canaries": [canary(c.prompt, t) for c, t in zip(DEFAULT_CANARIES, GOOD)], **kw}))


def test_a_listed_name_serving_another_checkpoint_is_a_health_failure():
    v = _served(checkpoint="/ckpt/smollm2", model_roots={"baseline": "/ckpt/other-model"})
    assert v.failure_class == FC.DEPLOYMENT_HEALTH_FAILED and failed(v) == {"model_listed"}
    assert "another server answers on this port" in v.detail


def test_the_root_of_the_started_checkpoint_passes_and_an_unreported_root_is_not_a_finding():
    assert _served(checkpoint="/ckpt/smollm2", model_roots={"baseline": "/ckpt/smollm2/"}).passed
    assert _served(checkpoint="/ckpt/smollm2", model_roots={"baseline": None}).passed
    assert _served(checkpoint=None, model_roots={"baseline": "/ckpt/x"}).passed
