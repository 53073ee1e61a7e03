"""ptq gate, the export's tokenizer against the source's: hostile tokenizers first, then the re-saves that
must still pass, sentencepiece models, the collector's input errors, and property tests.

Tokenizers here are real: a byte-level BPE trained by the `tokenizers` library and a unigram model trained by
`sentencepiece` (tests/fixtures/checkpoints.py), put into a synthetic (source, modelopt-layout export) pair the
way the quantize skill leaves it (files copied byte for byte). The same hostile cases on a real modelopt export
carrying SmolLM2's own tokenizer are at the end (integration).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.contract import InputError
from gates.failure_classes import FailureClass as FC
from gates.ptq.collect import collect_dirs
from gates.ptq.decide import decide, tokenizer_differences
from gates.ptq.models import PtqFacts
from gates.ptq.tokenizer import Malformed, fingerprint, proto_fields
from gates.recipes import load_recipe
from tests.fixtures import checkpoints as ck

integration = pytest.mark.integration
TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
             "tokenizer.model")


def gate(src: Path, exp: Path):
    return decide(collect_dirs(src, exp, load_recipe("fp8")))


def failed(v) -> dict[str, Any]:
    return {c.name: c for c in v.checks if not c.passed}


def with_tokenizer(tmp: Path, writer: Callable[[Path], Path]) -> tuple[Path, Path]:
    """A synthetic fp8 pair whose source carries a real tokenizer, copied into the export as the skill does."""
    src, exp = ck.synthetic_pair(tmp, "fp8")
    for d in (src, exp):
        for f in TOKENIZER:
            (d / f).unlink(missing_ok=True)
    writer(src)
    for f in TOKENIZER:
        if (src / f).is_file():
            shutil.copy2(src / f, exp / f)
    return src, exp


@pytest.fixture()
def bpe(tmp_path) -> tuple[Path, Path]:
    return with_tokenizer(tmp_path, ck.write_bpe_tokenizer)


@pytest.fixture()
def spm(tmp_path) -> tuple[Path, Path]:
    pytest.importorskip("sentencepiece")
    return with_tokenizer(tmp_path, ck.write_sentencepiece_tokenizer)


def edit_tokenizer(exp: Path, fn: Callable[[dict], Any]) -> None:
    ck.edit_json(exp / "tokenizer.json", fn)


def cut_vocab(d: dict) -> None:
    keep = sorted(d["model"]["vocab"].items(), key=lambda kv: kv[1])[:5]
    d["model"]["vocab"] = dict(keep)
    d["model"]["merges"] = []


def swap_two_ids(d: dict) -> None:
    v = d["model"]["vocab"]
    a, b = sorted(v, key=v.get)[100:102]
    v[a], v[b] = v[b], v[a]


def duplicate_key(exp: Path) -> None:
    """The same token twice in the vocab (json.loads would silently keep the last)."""
    text = (exp / "tokenizer.json").read_text()
    new, n = re.subn(r'"vocab":\s*\{', '"vocab": {"Paris": 7, ', text, count=1)
    assert n == 1
    (exp / "tokenizer.json").write_text(new.replace('"vocab": {"Paris": 7, ', '"vocab": {"Paris": 7, "Paris": 8, ', 1))


# ---------------------------------------------------------------- hostile: every one is CHECKPOINT_NOT_SERVABLE

HOSTILE: dict[str, tuple[Callable[[Path], Any], str, str]] = {
    "tokenizer.json without a model": (
        lambda e: edit_tokenizer(e, lambda d: d.pop("model")), "files_readable", "no model section"),
    "vocabulary cut to five entries": (
        lambda e: edit_tokenizer(e, cut_vocab), "tokenizer_matches_source", "vocabulary size 300 -> 5"),
    "two token ids swapped": (
        lambda e: edit_tokenizer(e, swap_two_ids), "tokenizer_matches_source", "differs in vocab"),
    "merges reordered": (
        lambda e: edit_tokenizer(e, lambda d: d["model"]["merges"].reverse()), "tokenizer_matches_source",
        "differs in merges"),
    "a lowercasing normalizer added": (
        lambda e: edit_tokenizer(e, lambda d: d.update(normalizer={"type": "Lowercase"})),
        "tokenizer_matches_source", "differs in normalizer"),
    "an added token renamed": (
        lambda e: edit_tokenizer(e, lambda d: d["added_tokens"][2].update(content="<|end|>")),
        "tokenizer_matches_source", "differs in added_tokens"),
    "eos swapped in tokenizer_config.json": (
        lambda e: ck.edit_json(e / "tokenizer_config.json", lambda d: d.update(eos_token="<|endoftext|>")),
        "tokenizer_matches_source", 'tokenizer_config.json:eos_token: "<|im_end|>" -> "<|endoftext|>"'),
    "pad swapped in special_tokens_map.json": (
        lambda e: ck.edit_json(e / "special_tokens_map.json", lambda d: d.update(pad_token="<|im_start|>")),
        "tokenizer_matches_source", "special_tokens_map.json:pad_token"),
    "eos not in the vocabulary": (
        lambda e: ck.edit_json(e / "tokenizer_config.json", lambda d: d.update(eos_token="</s>")),
        "tokenizer_matches_source", "special token id of tokenizer_config.json:eos_token: 2 -> None"),
    "add_bos_token flipped": (
        lambda e: ck.edit_json(e / "tokenizer_config.json", lambda d: d.update(add_bos_token=True)),
        "tokenizer_matches_source", "tokenizer setting add_bos_token: false -> true"),
    "a different chat template": (
        lambda e: (e / "chat_template.jinja").write_text(ck.CHAT_TEMPLATE.replace("assistant", "bot")),
        "tokenizer_matches_source", "chat template 'default': sha256"),
    "chat template removed": (
        lambda e: (e / "chat_template.jinja").unlink(), "serving_files", "chat_template.jinja (shipped by the source)"),
    "tokenizer.json that is not JSON": (
        lambda e: (e / "tokenizer.json").write_text('{"version": "1.0", "model": {'), "files_readable",
        "tokenizer.json: unreadable"),
    "tokenizer.json that is a list": (
        lambda e: (e / "tokenizer.json").write_text("[]"), "files_readable", "tokenizer.json: unreadable"),
    "tokenizer.json with a duplicate vocab key": (duplicate_key, "files_readable", "duplicate key"),
    "tokenizer.json of an unknown model type": (
        lambda e: edit_tokenizer(e, lambda d: d["model"].update(type="Mystery")), "files_readable",
        "unknown tokenizer model type 'Mystery'"),
    "vocab ids that are not integers": (
        lambda e: edit_tokenizer(e, lambda d: d["model"]["vocab"].update({"Paris": "7"})), "files_readable",
        "must map tokens to non-negative integer ids"),
    "another model's tokenizer (a word-level stub)": (
        lambda e: ck.write_stub_tokenizer(e), "tokenizer_matches_source",
        "tokenizer.json: BPE with 300 entries -> WordLevel with 1"),
    "tokenizer deleted": (
        lambda e: (e / "tokenizer.json").unlink(), "serving_files", "a tokenizer (tokenizer.json or tokenizer.model"),
    "a vocab.json added beside tokenizer.json": (
        lambda e: ck.write_json(e / "vocab.json", {"a": 0, "b": 1}), "tokenizer_matches_source",
        "the export adds vocab.json"),
    "generation eos changed": (
        lambda e: ck.edit_json(e / "generation_config.json", lambda d: d.update(eos_token_id=0)),
        "tokenizer_matches_source", "generation default eos_token_id: 2 -> 0"),
    "sampling defaults added": (
        lambda e: ck.edit_json(e / "generation_config.json", lambda d: d.update(temperature=2.0, do_sample=True)),
        "tokenizer_matches_source", "generation default temperature: (absent) -> 2.0"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_tokenizer_is_not_servable(bpe, name):
    src, exp = bpe
    damage, check_name, needle = HOSTILE[name]
    damage(exp)
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE, (name, v.detail)
    assert check_name in failed(v), (name, list(failed(v)))
    assert needle in failed(v)[check_name].detail, (name, failed(v)[check_name].detail)


# ---------------------------------------------------------------- what a re-save changes, and must still pass


def resave_moves_template(src: Path, exp: Path) -> None:
    """transformers 4 layout in the source (template inside tokenizer_config.json), 5 in the export."""
    template = (src / "chat_template.jinja").read_text()
    (src / "chat_template.jinja").unlink()
    ck.edit_json(src / "tokenizer_config.json", lambda d: d.update(chat_template=template))


def merges_as_strings(src: Path, exp: Path) -> None:
    ck.edit_json(src / "tokenizer.json", lambda d: d["model"].update(
        merges=[" ".join(m) for m in d["model"]["merges"]]))


def reformatted(src: Path, exp: Path) -> None:
    data = json.loads((exp / "tokenizer.json").read_text())
    (exp / "tokenizer.json").write_text(json.dumps(dict(reversed(list(data.items()))), indent=4))
    ck.edit_json(exp / "tokenizer_config.json", lambda d: d.update(
        tokenizer_class="PreTrainedTokenizerFast", name_or_path="/somewhere/else", backend="tokenizers"))


def generation_config_derived_from_config(src: Path, exp: Path) -> None:
    (src / "generation_config.json").unlink()
    ck.write_json(exp / "generation_config.json", {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                                                   "transformers_version": "5.19.0"})


@pytest.mark.parametrize("resave", [resave_moves_template, merges_as_strings, reformatted,
                                    generation_config_derived_from_config], ids=lambda f: f.__name__)
def test_what_a_resave_changes_still_passes(bpe, resave):
    src, exp = bpe
    resave(src, exp)
    v = gate(src, exp)
    assert v.passed, v.detail


def test_an_identical_copy_passes_and_the_facts_carry_both_fingerprints(bpe):
    facts = collect_dirs(*bpe, load_recipe("fp8"))
    v = decide(facts)
    assert v.passed, v.detail
    t = facts.tokenizers
    assert t.source == t.export and t.source.vocab_size == 300 and t.source.chat_template_file == "chat_template.jinja"
    assert t.source.special_token_ids["tokenizer_config.json:eos_token"] == 2
    assert "tokenizer_matches_source" not in failed(v)


def test_generation_config_added_by_the_export_may_only_restate_config_json(bpe):
    src, exp = bpe
    (src / "generation_config.json").unlink()
    ck.write_json(exp / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 0})
    v = gate(src, exp)
    assert "generation default eos_token_id: 2 -> 0" in failed(v)["tokenizer_matches_source"].detail


def test_legacy_facts_without_tokenizers_say_the_comparison_was_not_done(bpe):
    data = collect_dirs(*bpe, load_recipe("fp8")).model_dump()
    data.pop("tokenizers")
    v = decide(PtqFacts.model_validate(data))
    c = next(c for c in v.checks if c.name == "tokenizer_matches_source")
    assert v.passed and "not compared" in c.detail


# ---------------------------------------------------------------- sentencepiece


def retrained(exp: Path) -> None:
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(ck.CORPUS[::-1] + ["zebra quartz"] * 3), model_writer=buf,
                                   vocab_size=40, model_type="unigram", bos_id=1, eos_id=2, unk_id=0, pad_id=-1,
                                   minloglevel=2)
    (exp / "tokenizer.model").write_bytes(buf.getvalue())


@pytest.mark.parametrize("damage,check_name,needle", [
    (lambda e: ck.truncate(e / "tokenizer.model", 100), "files_readable", "runs past the end"),
    (lambda e: (e / "tokenizer.model").write_bytes(b"{\"not\": \"protobuf\"}"), "files_readable",
     "not a sentencepiece model"),
    (lambda e: (e / "tokenizer.model").write_bytes(b""), "files_readable", "empty file"),
    (retrained, "tokenizer_matches_source",
     "tokenizer.model: sentencepiece with 40 entries -> sentencepiece with 40; differs in pieces"),
    (lambda e: ck.edit_json(e / "tokenizer_config.json", lambda d: d.update(eos_token="<unk>")),
     "tokenizer_matches_source", "special token id of tokenizer_config.json:eos_token: 2 -> 0"),
    (lambda e: ck.write_stub_tokenizer(e), "tokenizer_matches_source", "the export adds tokenizer.json"),
], ids=["truncated", "json_not_protobuf", "empty", "retrained", "eos_is_unk", "tokenizer_json_added"])
def test_sentencepiece_tokenizer_damage(spm, damage, check_name, needle):
    src, exp = spm
    damage(exp)
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE, v.detail
    assert needle in failed(v)[check_name].detail, failed(v)[check_name].detail


def test_sentencepiece_model_is_read_as_protobuf(spm):
    src, _ = spm
    side, problems = fingerprint(src)
    assert problems == [] and side.vocab_size == 40
    assert {"tokenizer_config.json:bos_token": 1, "tokenizer_config.json:eos_token": 2,
            "tokenizer_config.json:unk_token": 0} == side.special_token_ids
    assert decide(collect_dirs(*spm, load_recipe("fp8"))).passed
    with pytest.raises(Malformed, match="wire type"):
        proto_fields(b"\x0f")


# -------------------------------------------------- the source is the reference: its faults are input errors


@pytest.mark.parametrize("damage,needle", [
    (lambda s: [(s / f).unlink() for f in ("tokenizer.json",)], "has no tokenizer"),
    (lambda s: edit_tokenizer(s, lambda d: d.pop("model")), "tokenizer.json: no model section"),
    (lambda s: (s / "tokenizer_config.json").write_text("{"), "tokenizer_config.json: not valid JSON"),
])
def test_source_without_a_readable_tokenizer_is_an_input_error(bpe, damage, needle):
    src, exp = bpe
    damage(src)
    with pytest.raises(InputError, match=needle):
        collect_dirs(src, exp, load_recipe("fp8"))


# ---------------------------------------------------------------- properties


@contextlib.contextmanager
def fresh(exp: Path):
    """A throwaway copy of the export for one hypothesis example (the fixture's is shared by all of them)."""
    tmp = Path(tempfile.mkdtemp(prefix="ptq_tok_"))
    try:
        yield ck.copy_checkpoint(exp, tmp / "export")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _vocab_mutation(d: dict, kind: str, i: int, text: str) -> None:
    v = d["model"]["vocab"]
    tokens = sorted(v, key=v.get)
    tok = tokens[i % len(tokens)]
    if kind == "drop":
        del v[tok]
    elif kind == "rename":
        v[tok + text] = v.pop(tok)
    elif kind == "add":
        v[text + "\u2581new"] = len(tokens) + i
    else:  # move an id
        other = tokens[(i + 1) % len(tokens)]
        v[tok], v[other] = v[other], v[tok]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["drop", "rename", "add", "swap"]), i=st.integers(0, 10**6),
       text=st.text(min_size=1, max_size=4))
def test_property_any_vocabulary_change_is_found(bpe, kind, i, text):
    src, pristine = bpe
    ok = json.loads((src / "tokenizer.json").read_text())
    _vocab_mutation(ok, kind, i, text)
    with fresh(pristine) as exp:
        ck.write_json(exp / "tokenizer.json", ok)
        v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "tokenizer_matches_source" in failed(v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(role=st.sampled_from(["bos_token", "eos_token", "pad_token", "unk_token"]),
       file=st.sampled_from(["tokenizer_config.json", "special_tokens_map.json"]),
       token=st.sampled_from(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "Paris", "</s>", ""]),
       as_object=st.booleans())
def test_property_special_tokens_are_compared_per_file_and_role(bpe, role, file, token, as_object):
    src, pristine = bpe
    before = json.loads((pristine / file).read_text())[role]
    value = {"content": token, "special": True} if as_object else token
    with fresh(pristine) as exp:
        ck.edit_json(exp / file, lambda d: d.update({role: value}))
        v = gate(src, exp)
    assert v.passed == (token == before), v.detail  # the {"content": ...} spelling of the same token is the same


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(indent=st.sampled_from([None, 1, 2, 4]), reverse=st.booleans(), strings=st.booleans(),
       cosmetic=st.dictionaries(st.sampled_from(["tokenizer_class", "name_or_path", "backend", "is_local"]),
                                st.text(max_size=8), max_size=3))
def test_property_resaves_that_keep_the_tokenizer_pass(bpe, indent, reverse, strings, cosmetic):
    src, pristine = bpe
    data = json.loads((src / "tokenizer.json").read_text())
    if strings:
        data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
    items = list(data.items())
    with fresh(pristine) as exp:
        (exp / "tokenizer.json").write_text(json.dumps(dict(reversed(items) if reverse else items), indent=indent))
        ck.edit_json(exp / "tokenizer_config.json", lambda d: d.update(cosmetic))
        v = gate(src, exp)
    assert v.passed, v.detail


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=64))
def test_property_any_bytes_as_a_sentencepiece_model_never_crash(data):
    from gates.ptq.tokenizer import sentencepiece

    try:
        vf, vocab = sentencepiece("tokenizer.model", data)
    except Malformed:
        return
    assert vf.entries >= 1 and len(vocab) <= vf.entries


def test_differences_are_listed_for_each_part(bpe):
    src, exp = bpe
    edit_tokenizer(exp, cut_vocab)
    (exp / "chat_template.jinja").write_text("{{ messages }}")
    s, _ = fingerprint(src)
    e, _ = fingerprint(exp)
    diff = tokenizer_differences(s, e)
    assert any(d.startswith("tokenizer.json: BPE with 300 entries -> BPE with 5") for d in diff)
    assert "vocabulary size 300 -> 5" in diff and any(d.startswith("chat template 'default'") for d in diff)


# ---------------------------------------------------------------- a real modelopt export with SmolLM2's tokenizer


@pytest.fixture(scope="module")
def real_pair(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("modelopt.torch.quantization")
    from skills._embedded import smollm2

    root = tmp_path_factory.mktemp("ptq_tok_real")
    src = ck.build_real_source(root / "src")
    cached = smollm2.default_checkpoint_dir()
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (src / f).unlink(missing_ok=True)
    if smollm2.is_complete(cached):  # SmolLM2's own tokenizer (49152 BPE, ChatML template)
        for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            shutil.copy2(cached / f, src / f)
    else:
        ck.write_bpe_tokenizer(src)
    exp = root / "fp8"
    assert ck.export_real(src, exp, "FP8_DEFAULT_CFG") is None
    return src, exp


REAL_HOSTILE = {
    "no_model": (lambda e: edit_tokenizer(e, lambda d: d.pop("model")), "files_readable"),
    "cut_vocab": (lambda e: edit_tokenizer(e, cut_vocab), "tokenizer_matches_source"),
    "eos_swapped": (lambda e: ck.edit_json(e / "tokenizer_config.json", lambda d: d.update(eos_token="<|endoftext|>")),
                    "tokenizer_matches_source"),
    "chat_template": (lambda e: (e / "chat_template.jinja").write_text(ck.CHAT_TEMPLATE + " "),
                      "tokenizer_matches_source"),
    "not_json": (lambda e: (e / "tokenizer.json").write_text("tokenizer"), "files_readable"),
    "missing": (lambda e: (e / "tokenizer.json").unlink(), "serving_files"),
}


@integration
def test_real_export_with_its_sources_tokenizer_passes(real_pair):
    v = gate(*real_pair)
    assert v.passed, v.detail


@integration
@pytest.mark.parametrize("name", sorted(REAL_HOSTILE))
def test_real_export_with_a_broken_tokenizer_is_not_servable(real_pair, tmp_path, name):
    src, exp = real_pair
    broken = ck.copy_checkpoint(exp, tmp_path / name)
    damage, check_name = REAL_HOSTILE[name]
    damage(broken)
    v = gate(src, broken)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE and check_name in failed(v), v.detail
