"""Quality packs: every verifier says yes to a right answer and no to junk, and the self-test refuses a
pack whose verifier cannot tell them apart (skills/evaluate/packs.py, the packs' utils.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skills.evaluate import packs

ROOT = Path(__file__).resolve().parents[2]
U = packs.load_utils()


def score(doc: dict, answer: str) -> dict[str, float]:
    return U.verify(doc, answer)


def passes(doc: dict, answer: str) -> bool:
    return all(v == 1.0 for v in score(doc, answer).values())


def fails(doc: dict, answer: str) -> bool:
    return all(v == 0.0 for v in score(doc, answer).values())


# ------------------------------------------------------------------ the shipped packs

def test_every_shipped_pack_passes_its_self_test():
    checks = packs.self_test()
    assert [c.pack for c in checks] == list(U.PACKS)
    for c in checks:
        assert c.ok, c.summary()
        assert c.items >= 100
    assert packs.refusal(checks) is None


def test_pack_data_is_what_the_seeded_generator_writes():
    proc = subprocess.run([sys.executable, "scripts/make_packs.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_yaml_names_the_right_process_results_and_a_pass_metric_first():
    for pack in U.PACKS:
        text = (packs.PACK_DIR / f"conductor_pack_{pack}.yaml").read_text()
        assert f"task: conductor_pack_{pack}\n" in text
        assert f"process_results: !function utils.process_results_{pack}\n" in text
        first = text.split("metric_list:\n", 1)[1].split("\n", 1)[0]
        assert first.strip() == ("- metric: field_acc" if pack == "extract" else "- metric: pass")
        assert f"{pack}.jsonl" in text


@pytest.mark.parametrize("pack", U.PACKS)
def test_process_results_scores_the_first_result_and_tolerates_none(pack):
    doc = U.load_items(pack)[0]
    fn = getattr(U, f"process_results_{pack}")
    assert all(v == 1.0 for v in fn(doc, [doc["reference"]]).values())
    assert all(v == 0.0 for v in fn(doc, [None]).values())
    assert all(v == 0.0 for v in fn(doc, []).values())


# ------------------------------------------------------------------ tool_call

CALL = {"pack": "tool_call", "prompt": "p",
        "expected": {"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": 4}}}


@pytest.mark.parametrize("answer", [
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": 4}}',
    '```json\n{"name": "book_table", "arguments": {"people": 4, "restaurant": "luna bistro "}}\n```',
    'Sure: {"name": "book_table", "arguments": {"restaurant": "Luna  Bistro", "people": 4.0}} done',
])
def test_tool_call_right_answers(answer):
    assert passes(CALL, answer)


@pytest.mark.parametrize("answer", [
    "", "lol", "{}", "book_table(restaurant='Luna Bistro', people=4)",
    '{"name": "get_time", "arguments": {"restaurant": "Luna Bistro", "people": 4}}',  # wrong tool
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro"}}',  # missing argument
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": 4, "time": "7pm"}}',  # extra
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": 5}}',  # wrong value
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": "4"}}',  # number as string
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": true}}',  # bool is not 4
    '{"name": "book_table", "arguments": {"restaurant": "Luna Bistro", "people": 4},}',  # not strict JSON
    '{"name": "book_table", "parameters": {"restaurant": "Luna Bistro", "people": 4}}',  # wrong key
    '{"name": "get_time", "arguments": {}} {"name": "book_table", "arguments": '
    '{"restaurant": "Luna Bistro", "people": 4}}',  # the first object is the call
])
def test_tool_call_wrong_answers(answer):
    assert fails(CALL, answer)


# ------------------------------------------------------------------ instruct

def doc_instruct(*constraints: dict) -> dict:
    return {"pack": "instruct", "prompt": "p", "constraints": list(constraints)}


@pytest.mark.parametrize("constraint,good,bad", [
    ({"type": "include_words", "words": ["waves"]}, "The sea has Waves.", "The sea has wavesss."),
    ({"type": "exclude_words", "words": ["very"]}, "It is everyday calm.", "It is Very calm."),
    ({"type": "max_words", "n": 3}, "one two three", "one two three four"),
    ({"type": "min_words", "n": 3}, "one two three", "one two"),
    ({"type": "lowercase"}, "all lower case here.", "Not lower."),
    ({"type": "uppercase"}, "ALL CAPS HERE!", "ALL CAPS hERE"),
    ({"type": "bullets", "n": 2}, "- a\n- b", "- a\n- b\n- c"),
    ({"type": "bullets", "n": 2}, "* a\n  - b", "1. a\n2. b"),
    ({"type": "end_with", "phrase": "see you soon"}, "Bye and See you soon!", "See you soon, bye."),
    ({"type": "start_with", "phrase": "In short"}, '"In short, yes."', "Yes. In short"),
    ({"type": "no_commas"}, "No commas here.", "One, two."),
])
def test_each_instruct_constraint(constraint, good, bad):
    doc = doc_instruct(constraint)
    assert passes(doc, good)
    assert fails(doc, bad)


@pytest.mark.parametrize("constraint", [{"type": "max_words", "n": 5}, {"type": "lowercase"}, {"type": "uppercase"},
                                        {"type": "exclude_words", "words": ["x"]}, {"type": "no_commas"},
                                        {"type": "end_with", "phrase": ""}])
def test_an_empty_answer_satisfies_no_constraint(constraint):
    """'at most 5 words' and 'no commas' must not be met by saying nothing."""
    assert fails(doc_instruct(constraint), "")
    assert fails(doc_instruct(constraint), "   \n")


def test_instruct_needs_every_constraint():
    doc = doc_instruct({"type": "include_words", "words": ["moon"]}, {"type": "lowercase"})
    assert passes(doc, "the moon is bright.")
    assert fails(doc, "The moon is bright.")
    assert fails(doc, "the sun is bright.")


# ------------------------------------------------------------------ struct_output

PERSON = {"pack": "struct_output", "prompt": "p", "format": "json",
          "fields": {"name": {"type": "string", "value": "Greta"}, "age": {"type": "integer", "value": 41}}}
PRODUCT_YAML = {"pack": "struct_output", "prompt": "p", "format": "yaml",
                "fields": {"product": {"type": "string", "value": "desk lamp"},
                           "price": {"type": "number", "value": 9.99},
                           "in_stock": {"type": "boolean", "value": True}}}
FLAG = {"pack": "struct_output", "prompt": "p", "format": "json",
        "fields": {"colors": {"type": "array", "value": ["red", "blue", "green"]}}}


@pytest.mark.parametrize("doc,answer", [
    (PERSON, '{"name": "Greta", "age": 41}'),
    (PERSON, '```json\n{\n  "age": 41,\n  "name": "greta"\n}\n```'),
    (PRODUCT_YAML, "product: desk lamp\nprice: 9.99\nin_stock: true"),
    (PRODUCT_YAML, "Here it is:\n```yaml\nproduct: Desk Lamp\nprice: 9.99\nin_stock: yes\n```"),
    (FLAG, '{"colors": ["Red", "blue", "green"]}'),
])
def test_struct_output_right_answers(doc, answer):
    assert passes(doc, answer)


@pytest.mark.parametrize("doc,answer", [
    (PERSON, '{"name": "Greta", "age": 41,}'),  # trailing comma: not JSON
    (PERSON, "{'name': 'Greta', 'age': 41}"),  # single quotes: not JSON
    (PERSON, '{"name": "Greta", "age": "41"}'),  # wrong type
    (PERSON, '{"name": "Greta", "age": 41.5}'),  # not an integer
    (PERSON, '{"name": "Greta"}'),  # missing key
    (PERSON, '{"name": "Greta", "age": 41, "city": "Oslo"}'),  # extra key
    (PERSON, '{"name": "Alice", "age": 41}'),  # wrong value
    (PERSON, '{"name": "", "age": 0}'),  # the template echoed
    (PERSON, "name: Greta\nage: 41"),  # YAML where JSON was asked
    (PRODUCT_YAML, "product: desk lamp\nprice: 9.99\nin_stock: false"),
    (PRODUCT_YAML, "product: desk lamp\nprice: 9.99"),
    (PRODUCT_YAML, "product: [unclosed\nprice: 9.99\nin_stock: true"),  # not YAML
    (PRODUCT_YAML, "- product\n- price"),  # a list, not a mapping
    (FLAG, '{"colors": ["blue", "red", "green"]}'),  # order matters: first, then, then
    (FLAG, '{"colors": "red, blue, green"}'),
])
def test_struct_output_wrong_answers(doc, answer):
    assert fails(doc, answer)


# ------------------------------------------------------------------ extract

BOOKING = {"pack": "extract", "prompt": "p",
           "fields": {"guest": "Marco Fischer", "hotel": "Seaview Rooms", "nights": 6, "total": 570}}


def test_extract_atomic_field_scores():
    assert score(BOOKING, '{"guest": "Marco Fischer", "hotel": "Seaview Rooms", "nights": 6, "total": 570}') == {
        "field_acc": 1.0, "pass": 1.0}
    half = score(BOOKING, '{"guest": "marco fischer", "hotel": "Harbor Hotel", "nights": "6 nights", "total": 570}')
    assert half == {"field_acc": 0.5, "pass": 0.0}
    assert score(BOOKING, '{"guest": "Marco Fischer", "hotel": "Seaview Rooms", "nights": "6", "total": "$570"}') == {
        "field_acc": 1.0, "pass": 1.0}  # a number read off a document may come back as a numeric string


@pytest.mark.parametrize("answer", [
    "", "lol", '{"guest": "", "hotel": "", "nights": 0, "total": 0}',
    "guest: Marco Fischer\nhotel: Seaview Rooms\nnights: 6\ntotal: 570",  # not JSON
    '{"guest": "Nadia Berg", "hotel": "Harbor Hotel", "nights": 60, "total": "570 dollars"}',
    '{"name": "Marco Fischer", "place": "Seaview Rooms"}',
    '{"guest": ["Marco Fischer"], "hotel": true, "nights": true, "total": 570.5}',
])
def test_extract_wrong_answers_score_zero(answer):
    assert fails(BOOKING, answer)


# ------------------------------------------------------------------ math

SUM = {"pack": "math", "prompt": "What is 17 + 25?", "answer": 42}
BIG = {"pack": "math", "prompt": "p", "answer": 1250}


@pytest.mark.parametrize("doc,answer", [
    (SUM, "42"), (SUM, "17 + 25 = 42."), (SUM, "The answer is 42"), (SUM, "**42**"), (SUM, "42.0"),
    (BIG, "It costs 1,250 dollars."), (BIG, "1250"),
])
def test_math_right_answers(doc, answer):
    assert passes(doc, answer)


@pytest.mark.parametrize("doc,answer", [
    (SUM, ""), (SUM, "lol"), (SUM, "0"), (SUM, "What is 17 + 25?"), (SUM, "17 + 25 = 32."),
    (SUM, "42 is the sum of 17 and 25"),  # the last number is the answer: documented, deterministic
    (SUM, "forty-two"), (SUM, "420"), (SUM, "4.2"), (SUM, "-42"), (BIG, "1,2,5,0"),
])
def test_math_wrong_answers(doc, answer):
    assert fails(doc, answer)


def test_numbers_parser():
    assert U.numbers("1,234 and 12, 13; 3.5 or -2, v2 x") == [1234.0, 12.0, 13.0, 3.5, -2.0]
    assert U.numbers("10 - 3 = 7") == [10.0, 3.0, 7.0]


# ------------------------------------------------------------------ the self-test catches broken verifiers

def _items(pack: str) -> list[dict]:
    return U.load_items(pack)


def test_self_test_refuses_a_verifier_that_passes_everything():
    res = packs.check_items("math", _items("math"), lambda doc, ans: {"pass": 1.0})
    assert not res.ok and res.control_passes
    assert "negative control" in packs.refusal([res])


def test_self_test_refuses_a_verifier_that_checks_only_the_format():
    """A struct_output verifier that ignores the values passes the template echo and other items' answers."""
    def format_only(doc, ans):
        obj = U.first_json_object(ans) if doc["format"] == "json" else U.parse_yaml_mapping(ans)
        return {"pass": float(obj is not None and set(obj) == set(doc["fields"]))}

    res = packs.check_items("struct_output", _items("struct_output"), format_only)
    assert not res.ok
    assert {c["control"] for c in res.control_passes} >= {"echo"}


def test_self_test_refuses_a_verifier_that_ignores_which_item_it_is():
    """A math verifier that accepts any number from any item's answer key: the next item's reference passes."""
    answers = {float(d["answer"]) for d in _items("math")}

    def any_key(doc, ans):
        found = U.numbers(ans)
        return {"pass": float(bool(found) and found[-1] in answers)}

    res = packs.check_items("math", _items("math"), any_key)
    assert not res.ok
    assert sum(c["control"] == "other_reference" for c in res.control_passes) == 120


def test_self_test_refuses_a_verifier_that_fails_everything():
    res = packs.check_items("math", _items("math"), lambda doc, ans: {"pass": 0.0})
    assert not res.ok and len(res.reference_failures) == 120 and not res.control_passes


def test_self_test_refuses_partial_credit_for_junk():
    """extract's field score: an echoed template with one real value would be partial credit for junk."""
    items = [dict(d) for d in _items("extract")]
    items[0]["prompt"] = items[0]["prompt"].replace('"guest": ""', f'"guest": "{items[0]["fields"]["guest"]}"')
    res = packs.check_items("extract", items, U.VERIFIERS["extract"])
    assert [(c["id"], c["control"]) for c in res.control_passes] == [("extract-000", "echo")]


def test_self_test_data_problems():
    items = _items("math")
    assert "fewer than 100" in packs.check_items("math", items[:50], U.VERIFIERS["math"]).summary()
    dup = items[:119] + [dict(items[0])]
    assert "repeated" in packs.check_items("math", dup, U.VERIFIERS["math"]).summary()
    wrong = [dict(items[0], pack="tool_call")] + items[1:]
    assert "names pack" in packs.check_items("math", wrong, U.VERIFIERS["math"]).summary()


def test_self_test_of_a_missing_or_unknown_pack(tmp_path):
    assert not packs.self_test(["nonexistent"])[0].ok
    (tmp_path / "utils.py").write_text((packs.PACK_DIR / "utils.py").read_text())
    res = packs.self_test(["math"], pack_dir=tmp_path)
    assert not res[0].ok and "unreadable" in res[0].summary()


def test_packs_of_task_names():
    assert packs.packs_of(["conductor_facts_mc", "conductor_pack_math", "conductor_pack_tool_call"]) == [
        "math", "tool_call"]


def test_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "skills.evaluate.packs", "--json"], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)
    assert ok.returncode == 0 and all(c["ok"] for c in json.loads(ok.stdout))
    broken = tmp_path / "packs"
    broken.mkdir()
    src = (packs.PACK_DIR / "utils.py").read_text()
    lenient = src.replace('return {"pass": float(bool(found) and found[-1] == float(doc["answer"]))}',
                          'return {"pass": float(bool(found))}')
    assert lenient != src
    (broken / "utils.py").write_text(lenient)
    (broken / "math.jsonl").write_text((packs.PACK_DIR / "math.jsonl").read_text())
    bad = subprocess.run([sys.executable, "-m", "skills.evaluate.packs", "--dir", str(broken), "--pack", "math"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stdout.startswith("BROKEN math:"), bad.stdout
    (broken / "utils.py").write_text("def broken(:\n")
    unreadable = subprocess.run([sys.executable, "-m", "skills.evaluate.packs", "--dir", str(broken)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
    assert unreadable.returncode == 2 and "cannot load" in unreadable.stderr
