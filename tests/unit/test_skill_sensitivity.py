"""The sensitivity skill's parts: layer groups, the quantizer switch (on a tiny random Llama with real
modelopt), the ranking, the input model, and the held-out text it measures on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skills.quantize import calib
from skills.sensitivity import SKILL
from skills.sensitivity.groups import Group, group_modules, pattern_exact
from skills.sensitivity.models import SensitivityInput
from skills.sensitivity.run import HELDOUT_FILE, rank

REPO = Path(__file__).resolve().parents[2]
LLAMA = [f"model.layers.{i}.{m}" for i in range(12) for m in
         ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]


# ------------------------------------------------------------------ groups


@pytest.mark.parametrize("granularity, count, first", [
    ("layer", 12, ("model.layers.0", "model.layers.0.*")),
    ("block", 24, ("model.layers.0.mlp", "model.layers.0.mlp.*")),
    ("kind", 7, ("model.layers.*.mlp.down_proj", "model.layers.*.mlp.down_proj")),
])
def test_groups_partition_the_modules_and_each_pattern_matches_exactly_its_group(granularity, count, first):
    groups = group_modules(LLAMA, granularity)
    assert len(groups) == count and (groups[0].key, groups[0].pattern) == first
    assert sorted(m for g in groups for m in g.modules) == sorted(LLAMA)
    assert all(pattern_exact(g, LLAMA) for g in groups)


def test_layer_groups_are_in_numeric_order_and_layer_1_does_not_match_layer_10():
    groups = group_modules(LLAMA, "layer")
    assert [g.key for g in groups][:3] == ["model.layers.0", "model.layers.1", "model.layers.2"]
    one = next(g for g in groups if g.key == "model.layers.1")
    assert all(".layers.1." in m for m in one.modules) and len(one.modules) == 7
    assert pattern_exact(one, LLAMA)


def test_a_module_outside_numbered_blocks_is_its_own_group():
    groups = group_modules(["lm_head", "model.layers.0.mlp.up_proj"], "block")
    assert [g.pattern for g in groups] == ["lm_head", "model.layers.0.mlp.*"]


def test_pattern_exact_catches_a_pattern_that_reaches_beyond_its_group():
    loose = Group("model.layers.1", "model.layers.1*", ("model.layers.1.mlp.up_proj",))
    assert not pattern_exact(loose, ["model.layers.1.mlp.up_proj", "model.layers.10.mlp.up_proj"])


# ------------------------------------------------------------------ ranking


def sweep_of(per: dict[str, dict[str, float]], off: float = 2.0, full: float = 2.5) -> dict:
    return {"unquantized": off, "all_quantized": full, "per_group": per}


def test_rank_orders_by_the_loss_restored_and_keeps_the_alone_effect_as_evidence():
    groups = group_modules(LLAMA[:21], "layer")  # layers 0-2
    per = {"model.layers.0": {"alone": 2.3, "restore": 2.2}, "model.layers.1": {"alone": 2.01, "restore": 2.49},
           "model.layers.2": {"alone": 2.1, "restore": 2.45}}
    rows = rank(groups, sweep_of(per), {})
    assert [r["group"] for r in rows] == ["model.layers.0", "model.layers.2", "model.layers.1"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    top = rows[0]
    assert top["restore_gain"] == pytest.approx(0.3) and top["alone_delta"] == pytest.approx(0.3)
    assert top["effect"] == top["restore_gain"] and top["pattern"] == "model.layers.0.*" and len(top["modules"]) == 7


def test_rank_with_only_the_alone_measure_uses_it():
    groups = group_modules(LLAMA[:14], "layer")
    rows = rank(groups, sweep_of({"model.layers.0": {"alone": 2.05}, "model.layers.1": {"alone": 2.4}}), {})
    assert [r["group"] for r in rows] == ["model.layers.1", "model.layers.0"]
    assert "restore_gain" not in rows[0] and rows[0]["effect"] == pytest.approx(0.4)


# ------------------------------------------------------------------ input


@pytest.mark.parametrize("bad", [{"recipe": "int9"}, {"granularity": "row"}, {"measure": "all"},
                                 {"heldout_seqs": 0}, {"top_k": 0}, {"exclude": ["a b"]}, {"threshold": 0.1},
                                 {"calib_size": "8"}])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError):
        SensitivityInput.model_validate(bad)


def test_the_tool_schema_forbids_extra_fields_and_describes_every_field():
    from conductor.runtime.skill import tool_schema

    schema = tool_schema(SKILL)["input_schema"]
    assert schema["additionalProperties"] is False
    assert all(len(p.get("description", "")) > 20 for p in schema["properties"].values())


# ------------------------------------------------------------------ held-out text


def test_the_held_out_text_is_neither_calibration_nor_evaluation_text():
    held = calib.load_corpus(HELDOUT_FILE)
    assert len(held) >= 30 and any(d.is_chat for d in held) and any(not d.is_chat for d in held)
    assert calib.contamination(calib.load_corpus()) == []  # the shipped calibration holds neither
    cal = {calib._norm(d.text or " ".join(d.turns)) for d in calib.load_corpus()}
    assert not cal & {calib._norm(d.text or " ".join(d.turns)) for d in held}
    rows = [json.loads(line) for p in (REPO / "skills/evaluate/tasks").rglob("*.jsonl")
            for line in p.read_text().splitlines() if line.strip()]
    questions = [r.get("question") or r["prompt"] for r in rows]  # facts tasks: question; quality packs: prompt
    text = calib._norm(HELDOUT_FILE.read_text())
    assert len(questions) > 200 and not [q for q in questions if calib._norm(q) in text]


# ------------------------------------------------------------------ the switch, on real modelopt


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM

    from tests.fixtures.checkpoints import build_real_source

    src = build_real_source(tmp_path_factory.mktemp("tiny") / "src", layers=3)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
    ids = torch.randint(3, 256, (2, 24), generator=torch.Generator().manual_seed(0))
    return model, ids


def test_switch_off_is_the_unquantized_model_and_each_group_changes_only_its_own_share(tiny):
    """SmoothQuant folds scales into the weights; a switched-off group must compute the source function."""
    import modelopt.torch.quantization as mtq
    import torch

    from skills.sensitivity.measure import QuantizerSwitch, heldout_nll, sweep

    model, ids = tiny
    with torch.no_grad():
        source = model(ids).logits.clone()
    mtq.quantize(model, mtq.INT8_SMOOTHQUANT_CFG, lambda m: m(ids))
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith("model.layers")]
    groups = group_modules(names, "layer")
    switch = QuantizerSwitch(model, groups)
    assert not switch.empty and len(groups) == 3
    switch.all_off()
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, source, atol=1e-4)
    switch.all_on()
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits, source, atol=1e-4)
    seen: list[tuple[int, int, str]] = []
    out = sweep(switch, lambda: heldout_nll(model, ids, "cpu", {}), ["alone", "restore"],
                lambda i, n, what: seen.append((i, n, what)))
    assert len(seen) == 6 and seen[-1][:2] == (6, 6)
    assert all(set(v) == {"alone", "restore"} for v in out["per_group"].values())
    assert out["unquantized"] != out["all_quantized"]
    # after the sweep every quantizer is back on
    assert heldout_nll(model, ids, "cpu", {}) == pytest.approx(out["all_quantized"])
    # one group alone on: between nothing and everything; excluding it: the rest still quantized
    g = groups[1]
    switch.only(g)
    assert [q.is_enabled for q in switch.by_group[g.key]] == [True] * len(switch.by_group[g.key])
    assert not any(q.is_enabled for k, qs in switch.by_group.items() if k != g.key for q in qs)
    switch.all_but(g)
    assert not any(q.is_enabled for q in switch.by_group[g.key])
    assert all(q.is_enabled for k, qs in switch.by_group.items() if k != g.key for q in qs)


def test_a_non_finite_loss_is_refused_naming_where_it_appeared():
    from skills.common.runner import SkillFailure
    from skills.sensitivity.run import check_finite

    check_finite(sweep_of({"model.layers.0": {"alone": 2.3}}))
    with pytest.raises(SkillFailure, match=r"model.layers.1 \(restore\)") as exc:
        check_finite(sweep_of({"model.layers.0": {"alone": 2.3}, "model.layers.1": {"restore": float("nan")}}))
    assert exc.value.failure_class == "SKILL_FAILED"
    with pytest.raises(SkillFailure, match="all_quantized"):
        check_finite(sweep_of({}, full=float("inf")))
