"""Recipe proposals (gates/recipes/proposal.py, skills/quantize/proposal.py): hostile cases first.

A proposal may change the format's exclusions and its calibration, and nothing else. It is checked
against the module names the checkpoint really has (its safetensors headers), turned into the quantize
call and the effective recipe the ptq gate judges, and the gate judges an export of it honestly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gates.ptq.collect import collect_dirs
from gates.ptq.decide import decide
from gates.ptq.modules import checkpoint_modules
from gates.recipes import load_recipe
from gates.recipes.proposal import LOOSENING, ProposalError, RecipeProposal, parse_proposal, resolve
from skills.quantize import plan
from skills.quantize.models import QuantizeInput
from skills.quantize.proposal import plan_proposal
from tests.fixtures import checkpoints as ck

LAYERS = 6


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A Llama-shaped checkpoint (headers and bytes, no torch): 6 layers, an untied lm_head."""
    cfg = ck.llama_config(layers=LAYERS)
    return ck.write_synthetic_checkpoint(tmp_path_factory.mktemp("src") / "source", cfg, ck.llama_tensors(cfg))


@pytest.fixture(scope="module")
def tied(tmp_path_factory) -> Path:
    """The same without lm_head.weight (tied to the embeddings, as SmolLM2 stores it)."""
    cfg = {**ck.llama_config(layers=LAYERS), "tie_word_embeddings": True}
    t = {k: v for k, v in ck.llama_tensors(cfg).items() if not k.startswith("lm_head")}
    return ck.write_synthetic_checkpoint(tmp_path_factory.mktemp("tied") / "source", cfg, t)


def refused(data: dict, ckpt: Path, base_dir: Path | None = None) -> str:
    with pytest.raises(ProposalError) as exc:
        plan_proposal(data, ckpt, base_dir)
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 600, msg  # one sentence for the agent
    return msg


def P(**kw) -> dict:
    return {"base": "int8_sq", "reason": "the compare gate measured a regression", **kw}


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("field", LOOSENING)
def test_a_field_that_would_loosen_the_release_is_refused_by_name(source, field):
    msg = refused(P(**{field: 0.5}), source)
    assert f"'{field}' is not a proposal field" in msg and "no proposal can change them" in msg


def test_any_unknown_field_is_refused(source):
    assert "'note' is not a proposal field" in refused(P(note="x"), source)


def test_nested_unknown_field_in_the_sensitive_exclusion_is_refused(source, tmp_path):
    msg = refused(P(exclude_sensitive={"ranking": "r.json", "top_k": 1, "min_effect": 0}), source)
    assert "'exclude_sensitive.min_effect' is not a proposal field" in msg


@pytest.mark.parametrize("base", ["int9", "fp8_custom", "../gates/recipes/fp8.yaml", "/tmp/my.yaml", ""])
def test_a_base_outside_the_catalogue_is_refused(source, base):
    msg = refused(P(base=base), source)
    assert "base" in msg


@pytest.mark.parametrize("bad", [
    {"calib_size": 0}, {"calib_size": "64"}, {"calib_size": 64.0}, {"calib_seq_len": 8},
    {"exclude_first_layers": -1}, {"exclude_attention": "yes"}, {"exclude": ["model layers"]},
    {"exclude": ["a", "a"]}, {"reason": ""}, {"exclude_sensitive": {"ranking": "r.json", "top_k": 0}},
])
def test_malformed_fields_are_refused(source, bad):
    refused(P(**bad), source)


def test_a_proposal_without_reason_is_refused(source):
    assert "reason" in refused({"base": "fp8"}, source)


def test_not_an_object_is_refused():
    with pytest.raises(ProposalError, match="an object"):
        parse_proposal(["int8_sq"])


@pytest.mark.parametrize("pattern", ["model.layers.99.*", "*q_proj_typo*", "transformer.h.*", "model.layers.6.*"])
def test_a_pattern_that_matches_no_module_is_refused(source, pattern):
    msg = refused(P(exclude=[pattern]), source)
    assert f"{pattern!r} matches no weight module of this checkpoint" in msg


def test_lm_head_of_a_tied_checkpoint_matches_nothing_and_is_refused(tied):
    assert "'lm_head' matches no weight module" in refused(P(exclude=["lm_head"]), tied)


@pytest.mark.parametrize("pattern", ["lm_head", "*embed*", "model.embed_tokens"])
def test_a_pattern_that_changes_nothing_is_refused(source, pattern):
    """The base recipe already keeps lm_head and the embeddings unquantized: the 'new' recipe would be the old."""
    msg = refused(P(exclude=[pattern]), source)
    assert "already leaves unquantized" in msg and "changes nothing" in msg


def test_excluding_everything_is_refused(source):
    assert "nothing would be quantized" in refused(P(exclude=["model.layers.*"]), source)
    assert "nothing would be quantized" in refused(P(exclude_first_layers=3, exclude_last_layers=3), source)
    assert "nothing would be quantized" in refused(P(exclude_first_layers=LAYERS), source)


def test_one_bad_pattern_among_good_ones_refuses_the_whole_proposal(source):
    msg = refused(P(exclude=["model.layers.0.*", "model.layers.7.*"]), source)
    assert "'model.layers.7.*'" in msg


def ranking(path: Path, recipe: str = "int8_sq", effects: tuple[float, ...] = (0.3, 0.1, -0.01)) -> Path:
    rows = [{"group": f"model.layers.{i}", "pattern": f"model.layers.{i}.*", "effect": e}
            for i, e in zip((4, 1, 2), effects, strict=False)]
    path.write_text(json.dumps({"recipe": recipe, "ranking": rows}))
    return path


def test_a_ranking_measured_for_another_recipe_is_refused(source, tmp_path):
    r = ranking(tmp_path / "r.json", recipe="fp8")
    msg = refused(P(exclude_sensitive={"ranking": str(r), "top_k": 1}), source)
    assert "measured for recipe 'fp8', not 'int8_sq'" in msg


def test_top_k_beyond_the_groups_that_measured_harmful_is_refused(source, tmp_path):
    r = ranking(tmp_path / "r.json")
    msg = refused(P(exclude_sensitive={"ranking": str(r), "top_k": 3}), source)
    assert "only 2 group(s) whose quantization hurt" in msg


@pytest.mark.parametrize("content", ["not json", "[]", '{"recipe": "int8_sq", "ranking": [{"effect": 1}]}'])
def test_an_unreadable_or_malformed_ranking_is_refused(source, tmp_path, content):
    (tmp_path / "r.json").write_text(content)
    refused(P(exclude_sensitive={"ranking": str(tmp_path / "r.json"), "top_k": 1}), source)


def test_a_ranking_naming_modules_this_checkpoint_lacks_is_refused(source, tmp_path):
    rows = [{"pattern": "transformer.h.3.*", "effect": 0.5}]
    (tmp_path / "r.json").write_text(json.dumps({"recipe": "int8_sq", "ranking": rows}))
    msg = refused(P(exclude_sensitive={"ranking": str(tmp_path / "r.json"), "top_k": 1}), source)
    assert "matches no weight module" in msg


def test_calibration_data_holding_an_evaluation_question_is_refused(source, tmp_path):
    q = json.loads((Path(__file__).resolve().parents[2] / "skills/evaluate/tasks/conductor_facts/"
                    "facts_gen_test.jsonl").read_text().splitlines()[7])["question"]
    (tmp_path / "calib.txt").write_text(f"Some prose about rivers.\n[chat] {q} ||| The answer.\n")
    msg = refused(P(calib_data="calib.txt"), source, base_dir=tmp_path)
    assert "tune the candidate to its own test" in msg and "facts_gen_test.jsonl:8" in msg


def test_calibration_data_holding_held_out_text_is_refused(source, tmp_path):
    held = (Path(__file__).resolve().parents[2] / "skills/data/heldout.txt").read_text().splitlines()
    doc = next(line for line in held if line and not line.startswith("#"))
    (tmp_path / "calib.txt").write_text(f"Some prose about rivers.\n{doc}\n")
    assert "heldout.txt document 1" in refused(P(calib_data=str(tmp_path / "calib.txt")), source)


@pytest.mark.parametrize("content", [None, "", "# only a comment\n\n"])
def test_missing_or_empty_calibration_data_is_refused(source, tmp_path, content):
    if content is not None:
        (tmp_path / "calib.txt").write_text(content)
    assert "calib_data" in refused(P(calib_data=str(tmp_path / "calib.txt")), source)


def test_a_checkpoint_without_readable_weights_is_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    assert "cannot read the weight names" in refused(P(), tmp_path)


# ------------------------------------------------------------------ accepted proposals


def test_a_valid_proposal_becomes_the_quantize_call_and_the_gate_recipe(source, tmp_path):
    r = ranking(tmp_path / "r.json")
    planned = plan_proposal(P(exclude=["model.layers.2.mlp.down_proj"], exclude_first_layers=1,
                              exclude_sensitive={"ranking": "r.json", "top_k": 2}, calib_size=128), source, tmp_path)
    res, qi = planned.resolved, planned.quantize_input
    assert res.exclude_patterns == ["model.layers.2.mlp.down_proj", "model.layers.0.*", "model.layers.4.*",
                                    "model.layers.1.*"]
    assert res.pattern_origin["model.layers.0.*"] == "exclude_first_layers"
    assert res.pattern_origin["model.layers.4.*"] == "exclude_sensitive"
    assert len(res.excluded_modules) == 1 + 3 * 7 and res.quantized_modules == LAYERS * 7 - 22
    assert isinstance(qi, QuantizeInput) and qi.recipe == "int8_sq" and qi.calib_size == 128
    assert qi.exclude == res.exclude_patterns and qi.source == str(source)
    # the recipe the quantize skill's gate call uses (plan.effective_recipe) is exactly the proposal's
    assert plan.effective_recipe(load_recipe("int8_sq"), qi.exclude) == res.recipe
    assert res.recipe.exclude[-4:] == res.exclude_patterns and res.recipe.covers == load_recipe("int8_sq").covers
    assert r.is_file()


def test_first_last_and_attention_options_resolve_to_real_module_names(source):
    res = resolve(parse_proposal(P(base="fp8", exclude_first_layers=2, exclude_last_layers=1,
                                   exclude_attention=True)), checkpoint_modules(source))
    assert res.exclude_patterns == ["model.layers.0.*", "model.layers.1.*", "model.layers.5.*",
                                    "model.layers.*.self_attn.*"]
    attn = {f"model.layers.{i}.self_attn.{p}" for i in range(LAYERS) for p in ("q_proj", "k_proj", "v_proj", "o_proj")}
    assert attn <= set(res.excluded_modules)
    assert len(res.excluded_modules) == 3 * 7 + 3 * 4


def test_the_identity_ignores_how_the_same_exclusion_was_spelled(source):
    mods = checkpoint_modules(source)
    a = resolve(parse_proposal(P(exclude_first_layers=1)), mods)
    b = resolve(parse_proposal(P(exclude=["model.layers.0.*"], reason="another reason")), mods)
    c = resolve(parse_proposal(P(exclude_first_layers=1, calib_size=65)), mods)
    assert a.identity == b.identity != c.identity


def test_the_estimates_follow_the_exclusions(source):
    mods = checkpoint_modules(source)
    one = resolve(parse_proposal(P(exclude_first_layers=1)), mods)
    most = resolve(parse_proposal(P(exclude_first_layers=LAYERS - 1)), mods)
    assert 0 < most.quantized_params_fraction < one.quantized_params_fraction < 1
    assert one.estimated_size_ratio < most.estimated_size_ratio < 1
    assert RecipeProposal.model_json_schema()["additionalProperties"] is False


# ------------------------------------------------------------------ the ptq gate judges a proposal's export


def export_for(source: Path, out: Path, recipe: str, unquantized: set[str]) -> Path:
    """What modelopt leaves for `recipe` with `unquantized` modules (beyond the defaults) kept in bf16."""
    cfg = ck.read_json(source / "config.json")
    src_t = ck.llama_tensors(cfg)
    exp_t, excluded = ck.quantized_tensors(src_t, recipe)
    for module in unquantized:
        for suffix in ("weight", "weight_scale", "input_scale", "pre_quant_scale"):
            exp_t.pop(f"{module}.{suffix}", None)
        exp_t[f"{module}.weight"] = src_t[f"{module}.weight"]
    quant = ck.hf_quant_config(ck.QUANT_ALGO[recipe], sorted(set(excluded) | unquantized))
    ck.write_synthetic_checkpoint(out, cfg, exp_t, quant=quant)
    return out


def verdict(source: Path, export: Path, recipe):
    return decide(collect_dirs(source, export, recipe))


def test_the_gate_passes_the_proposal_export_and_names_what_it_excluded(source, tmp_path):
    res = resolve(parse_proposal(P(exclude=["model.layers.3.*"])), checkpoint_modules(source))
    v = verdict(source, export_for(source, tmp_path / "exp", "int8_sq", set(res.excluded_modules)), res.recipe)
    assert v.passed, v.detail
    assert v.evidence["excluded_by_pattern"]["model.layers.3.*"] == 7
    assert set(res.excluded_modules) <= set(v.evidence["layers_excluded"]["layers"])


def test_the_same_export_against_the_base_recipe_is_a_coverage_failure(source, tmp_path):
    """The gate expects exactly the proposal: judged against the catalogue recipe, the kept layers are a hole."""
    res = resolve(parse_proposal(P(exclude=["model.layers.3.*"])), checkpoint_modules(source))
    export = export_for(source, tmp_path / "exp", "int8_sq", set(res.excluded_modules))
    v = verdict(source, export, load_recipe("int8_sq"))
    assert not v.passed and v.failure_class == "QUANT_COVERAGE_FAILURE"
    assert "model.layers.3." in v.detail


def test_an_export_that_excludes_more_than_the_proposal_is_a_coverage_failure(source, tmp_path):
    res = resolve(parse_proposal(P(exclude=["model.layers.3.*"])), checkpoint_modules(source))
    extra = set(res.excluded_modules) | {"model.layers.4.mlp.down_proj"}
    v = verdict(source, export_for(source, tmp_path / "exp", "int8_sq", extra), res.recipe)
    assert not v.passed and v.failure_class == "QUANT_COVERAGE_FAILURE"
    assert "model.layers.4.mlp.down_proj" in v.detail


def test_an_export_that_excludes_less_than_the_proposal_is_a_coverage_failure(source, tmp_path):
    res = resolve(parse_proposal(P(exclude=["model.layers.3.*"])), checkpoint_modules(source))
    v = verdict(source, export_for(source, tmp_path / "exp", "int8_sq", set()), res.recipe)
    assert not v.passed and v.failure_class == "QUANT_COVERAGE_FAILURE"


def test_a_proposal_that_excludes_most_layers_is_still_judged_on_size(source, tmp_path):
    """Excluding 5 of 6 layers passes coverage (the proposal said so) but every check still runs: the size
    check reports the real ratio, near the source's, and the proposal's estimate agrees with it."""
    res = resolve(parse_proposal(P(exclude_first_layers=LAYERS - 1)), checkpoint_modules(source))
    v = verdict(source, export_for(source, tmp_path / "exp", "int8_sq", set(res.excluded_modules)), res.recipe)
    size = next(c for c in v.checks if c.name == "size_reduced")
    assert v.passed and size.passed
    ratio = v.evidence["size_ratio"]
    full = verdict(source, export_for(source, tmp_path / "full", "int8_sq", set()), load_recipe("int8_sq"))
    assert full.evidence["size_ratio"] < ratio < 1
    assert abs(ratio - res.estimated_size_ratio) < 0.02, (ratio, res.estimated_size_ratio)
    assert v.evidence["layers_excluded"]["count"] == 5 * 7 + 2  # + embeddings and lm_head
