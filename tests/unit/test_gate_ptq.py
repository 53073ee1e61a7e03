"""ptq gate: recipes, header-only collector, decision, CLI contract; failure cases first.

Two kinds of checkpoints:
- real: a random tiny Llama (hidden 64) in bf16, quantized and exported by modelopt on the CPU,
  built lazily once per session (tests that need them are marked `integration`: importing
  torch + modelopt and calibrating AWQ takes ~20 s on this machine);
- synthetic: headers written by hand in modelopt's exact layout (milliseconds, no torch).
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gates.contract import InputError, run_cli
from gates.failure_classes import FailureClass as FC
from gates.ptq import SPEC
from gates.ptq.collect import collect_dirs
from gates.ptq.decide import decide
from gates.ptq.headers import HeaderError, read_header
from gates.ptq.models import PtqFacts
from gates.recipes import DEFAULT_EXCLUDE, Recipe, known_recipes, load_recipe, matches, recipe_status
from tests.fixtures import checkpoints as ck

REPO = Path(__file__).resolve().parents[2]
integration = pytest.mark.integration


def gate(src: Path, exp: Path, recipe: str = "fp8"):
    return decide(collect_dirs(src, exp, load_recipe(recipe)))


def failed(v) -> dict[str, object]:
    return {c.name: c for c in v.checks if not c.passed}


def cli(*args: str, stdin: str | None = None) -> tuple[int, dict]:
    p = subprocess.run([sys.executable, "-m", "gates.ptq", *args], cwd=REPO, input=stdin,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, json.loads(p.stdout)


def in_process(capsys, argv: list[str]) -> tuple[int, dict]:
    code = run_cli(SPEC, argv)
    return code, json.loads(capsys.readouterr().out)


# ============================================================================ real checkpoints


class RealCheckpoints:
    """Builds each real checkpoint on first use, once per session."""

    def __init__(self, root: Path):
        self.root = root
        self._built: dict[str, object] = {}

    def _once(self, key: str, build):
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    @property
    def src(self) -> Path:
        return self._once("src", lambda: ck.build_real_source(self.root / "src"))

    @property
    def src128(self) -> Path:
        return self._once("src128", lambda: ck.build_real_source(self.root / "src128", hidden=128, inter=256))

    def export(self, cfg: str, *, source: str = "src") -> tuple[Path, BaseException | None]:
        def build():
            out = self.root / f"{source}_{cfg}"
            quant_cfg = cheap_awq(cfg) if "AWQ" in cfg else cfg
            if cfg == "NOTHING":
                quant_cfg = ck.nothing_matches_cfg()
                os.environ["MODELOPT_SKIP_WEIGHT_QUANT_CHECK"] = "1"  # modelopt would refuse to export it
            try:
                return out, ck.export_real(getattr(self, source), out, quant_cfg)
            finally:
                os.environ.pop("MODELOPT_SKIP_WEIGHT_QUANT_CHECK", None)
        return self._once(f"{source}:{cfg}", build)

    def damaged(self, name: str, cfg: str = "FP8_DEFAULT_CFG") -> Path:
        """A fresh copy of an export, for one test to break."""
        exp, _ = self.export(cfg)
        return ck.copy_checkpoint(exp, self.root / "damaged" / name)


def cheap_awq(name: str) -> dict:
    """modelopt's AWQ config with a coarser alpha search (same export format, a third of the time)."""
    import modelopt.torch.quantization as mtq

    cfg = copy.deepcopy(getattr(mtq, name))
    cfg["algorithm"] = {"method": "awq_lite", "alpha_step": 0.5}
    return cfg


@pytest.fixture(scope="session")
def real(tmp_path_factory) -> RealCheckpoints:
    pytest.importorskip("modelopt.torch.quantization")
    return RealCheckpoints(tmp_path_factory.mktemp("ptq_real"))


# ---------------------------------------------------------------- FAIL: model unsupported


@integration
def test_recipe_matching_no_module_exports_bf16_and_is_model_unsupported(real, tmp_path):
    # the upstream failure fixture: an experts-only recipe on a dense model "succeeds" in seconds
    exp, err = real.export("NOTHING")
    assert err is None
    assert not (exp / "hf_quant_config.json").exists()  # modelopt 0.47 writes no declaration at all
    v = gate(real.src, exp, "fp8")
    assert v.failure_class == FC.MODEL_UNSUPPORTED
    assert {"something_quantized", "quantization_declared"} <= set(failed(v))
    assert v.evidence["quantized_matrices"] == 0 and v.evidence["precision_counts"]["export"] == {"BF16": 16}

    recipe = tmp_path / "experts_only.yaml"
    recipe.write_text("name: fp8_experts\nquant_algo: FP8\nweight_dtype: F8_E4M3\n"
                      "required_scales: [weight_scale, input_scale]\ncovers: ['*experts*']\n"
                      "bits_per_weight: 8\nneeds_cuda: false\n")
    v = gate(real.src, exp, str(recipe))
    assert v.failure_class == FC.MODEL_UNSUPPORTED
    assert "matches none of the 16 weight matrices" in failed(v)["recipe_matches_model"].detail


@integration
def test_quant_algo_null_over_fp8_tensors_is_coverage_failure(real):
    # the declaration lies about the tensors: QUANT_COVERAGE_FAILURE, not MODEL_UNSUPPORTED (the model is fine)
    exp = real.damaged("algo_null")
    ck.edit_json(exp / "hf_quant_config.json", lambda d: d["quantization"].update(quant_algo=None))
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"].update(quant_algo=None))
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["quantization_declared"].failure_class == FC.QUANT_COVERAGE_FAILURE


@integration
def test_mixed_precision_with_no_quantized_layers_over_fp8_tensors_is_coverage_failure(real):
    exp = real.damaged("mixed_empty")
    for f, key in (("hf_quant_config.json", "quantization"), ("config.json", "quantization_config")):
        ck.edit_json(exp / f, lambda d, k=key: d[k].update(quant_algo="MIXED_PRECISION", quantized_layers={}))
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert "no quantized_layers" in failed(v)["quantization_declared"].detail


# ---------------------------------------------------------------- FAIL: coverage


@integration
def test_one_layer_bf16_while_declared_fp8_is_coverage_failure(real):
    exp = real.damaged("one_bf16")
    ck.splice_source_layer(exp, real.src, "model.layers.1.self_attn.o_proj")
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    bad = failed(v)
    assert set(bad) >= {"coverage", "declaration_matches_tensors"}
    assert bad["coverage"].observed["unquantized"] == {
        "count": 1, "patterns": ["model.layers.*.self_attn.o_proj"], "layers": ["model.layers.1.self_attn.o_proj"]}
    assert "a server would load them as quantized" in bad["declaration_matches_tensors"].detail
    assert v.evidence["precision_counts"]["export"] == {"BF16": 3, "F8_E4M3": 13}


@integration
def test_fp8_export_judged_against_int8_recipe_is_coverage_failure(real):
    exp, _ = real.export("FP8_DEFAULT_CFG")
    v = gate(real.src, exp, "int8_sq")
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert {"coverage", "quant_algo_matches_recipe"} <= set(failed(v))
    assert "recipe int8_sq expects W8A8_SQ_PER_CHANNEL" in v.detail


@integration
def test_declared_exclusion_of_a_quantized_layer_is_coverage_failure(real):
    exp = real.damaged("excl_quantized")
    extra = "model.layers.0.mlp.down_proj"
    ck.edit_json(exp / "hf_quant_config.json", lambda d: d["quantization"]["exclude_modules"].append(extra))
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"]["ignore"].append(extra))
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["declaration_matches_tensors"].observed["quantized_but_excluded"]["layers"] == [extra]


@integration
def test_bf16_lm_head_missing_from_exclusions_is_coverage_failure(real):
    # modelopt's own MoE-router bug class: a bf16 weight not in exclude_modules is loaded as FP8 by vLLM
    exp = real.damaged("lm_head_undeclared")
    only_embed = ["model.embed_tokens"]
    ck.edit_json(exp / "hf_quant_config.json", lambda d: d["quantization"].update(exclude_modules=only_embed))
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"].update(ignore=only_embed))
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["declaration_matches_tensors"].observed["unquantized_not_excluded"]["layers"] == ["lm_head"]


@integration
def test_declarations_that_disagree_are_coverage_failure(real):
    exp = real.damaged("disagree")
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"].update(ignore=["lm_head"]))
    v = gate(real.src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert "disagree on exclude_modules" in failed(v)["declarations_agree"].detail


# ---------------------------------------------------------------- FAIL: not servable


@integration
def test_missing_config_json_is_not_servable(real):
    exp = real.damaged("no_config")
    (exp / "config.json").unlink()
    v = gate(real.src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "config.json" in failed(v)["serving_files"].detail


@integration
def test_truncated_safetensors_is_not_servable(real):
    exp = real.damaged("truncated")
    ck.truncate(exp / "model.safetensors", 1000)
    v = gate(real.src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "truncated" in failed(v)["files_readable"].detail


@integration
def test_missing_tokenizer_is_not_servable_and_outranks_model_unsupported(real):
    exp = ck.copy_checkpoint(real.export("NOTHING")[0], real.root / "damaged" / "nothing_no_tok")
    (exp / "tokenizer.json").unlink()
    v = gate(real.src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE  # priority: unservable > unsupported
    assert "tokenizer.json or tokenizer.model" in failed(v)["serving_files"].detail
    assert "something_quantized" in failed(v)


@integration
def test_int4_awq_export_fails_at_hidden_64_and_leaves_an_unservable_dir(real):
    exp, err = real.export("INT4_AWQ_CFG")
    assert isinstance(err, NotImplementedError) and "block size 128" in str(err)
    v = gate(real.src, exp, "int4_awq")
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert {"serving_files", "weights_present"} <= set(failed(v))


@integration
@pytest.mark.parametrize("key,value,kind", [("vocab_size", 512, "shape"), ("num_hidden_layers", 3, "shape"),
                                            ("rms_norm_eps", 1e-5, "behaviour"), ("dtype", "float16", "behaviour")])
def test_config_drift_beyond_quantization_is_not_servable(real, key, value, kind):
    exp = real.damaged(f"drift_{key}")
    ck.edit_json(exp / "config.json", lambda d: d.update({key: value}))
    v = gate(real.src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    drift = failed(v)["config_consistent"].observed
    assert drift[0]["key"] == key and drift[0]["kind"] == kind


@integration
def test_rope_change_is_drift_but_transformers_version_is_not(real):
    exp = real.damaged("rope")
    ck.edit_json(exp / "config.json", lambda d: d.update(transformers_version="9.9.9", _name_or_path="/elsewhere"))
    assert gate(real.src, exp).passed
    ck.edit_json(exp / "config.json", lambda d: d["rope_parameters"].update(rope_theta=500000.0))
    v = gate(real.src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert failed(v)["config_consistent"].observed[0]["key"] == "rope_parameters"


# ---------------------------------------------------------------- FAIL / allowance: size


@integration
def test_export_bigger_than_source_is_size_not_reduced(real):
    exp = real.damaged("bigger")
    ck.add_tensor(exp / "model.safetensors", "model.extra_buffer", "F32", [60000])
    v = gate(real.src, exp)
    assert v.failure_class == FC.SIZE_NOT_REDUCED
    assert list(failed(v)) == ["size_reduced"]
    assert v.evidence["size_ratio"] > 1 and v.evidence["allowance"] is False


@integration
def test_source_already_fp8_gets_the_documented_allowance(real):
    fp8, _ = real.export("FP8_DEFAULT_CFG")
    again = ck.copy_checkpoint(fp8, real.root / "damaged" / "fp8_again")
    v = gate(fp8, again, "fp8")
    assert v.passed, v.detail
    size = next(c for c in v.checks if c.name == "size_reduced")
    assert "allowance applied" in size.detail and size.observed == pytest.approx(1.0)
    ck.add_tensor(again / "model.safetensors", "model.extra_buffer", "F32", [10000])  # +~27%: beyond 2%
    v = gate(fp8, again, "fp8")
    assert v.failure_class == FC.SIZE_NOT_REDUCED and "allowance applied" in v.detail


# ---------------------------------------------------------------- PASS: real exports


@integration
@pytest.mark.parametrize("cfg,recipe,source,dtype,scales", [
    ("FP8_DEFAULT_CFG", "fp8", "src", "F8_E4M3", ["weight_scale", "input_scale"]),
    ("INT8_SMOOTHQUANT_CFG", "int8_sq", "src", "I8", ["weight_scale", "input_scale", "pre_quant_scale"]),
    ("NVFP4_DEFAULT_CFG", "nvfp4", "src", "U8", ["weight_scale", "weight_scale_2", "input_scale"]),
    ("INT4_AWQ_CFG", "int4_awq", "src128", "U8", ["weight_scale"]),
    ("W4A8_AWQ_BETA_CFG", "w4a8_awq", "src128", "U8", ["weight_scale", "weight_scale_2", "input_scale"]),
])
def test_real_modelopt_exports_pass(real, cfg, recipe, source, dtype, scales):
    exp, err = real.export(cfg, source=source)
    assert err is None
    facts = collect_dirs(getattr(real, source), exp, load_recipe(recipe))
    v = decide(facts)
    assert v.passed, v.detail
    assert v.evidence["precision_counts"]["export"] == {"BF16": 2, dtype: 14}
    assert v.evidence["layers_excluded"]["layers"] == ["lm_head", "model.embed_tokens"]
    assert v.evidence["size_ratio"] < 1
    covered = [g for g in facts.layers if g.recipe == "covered"]
    assert all(set(scales) - {"pre_quant_scale"} <= set(g.scales) for g in covered)
    assert {g.shape for g in covered} == {"packed" if recipe in ("nvfp4", "int4_awq", "w4a8_awq") else "same"}


# ============================================================================ synthetic checkpoints


@pytest.fixture()
def pair(tmp_path):
    return ck.synthetic_pair(tmp_path, "fp8")


def test_synthetic_layout_passes_for_every_shipped_weight_format(tmp_path):
    cfg = ck.llama_config(hidden=128, inter=256)
    for recipe in ("fp8", "int8_sq", "int4_awq", "nvfp4"):
        v = gate(*ck.synthetic_pair(tmp_path / recipe, recipe, cfg=cfg), recipe)
        assert v.passed, (recipe, v.detail)


def test_missing_export_dir_is_not_servable(pair, tmp_path):
    src, _ = pair
    v = gate(src, tmp_path / "nope")
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert set(failed(v)) == {"export_present", "serving_files", "weights_present"}


@pytest.mark.parametrize("damage,needle", [
    (lambda p: p.write_bytes(b"\x05\x00"), "too short"),
    (lambda p: p.write_bytes((10**9).to_bytes(8, "little") + b"{}"), "exceeds the file"),
    (lambda p: p.write_bytes((4).to_bytes(8, "little") + b"{no}"), "not valid JSON"),
    (lambda p: p.write_bytes((2).to_bytes(8, "little") + b"[]"), "not a JSON object"),
    (lambda p: ck.truncate(p, 1), "truncated"),
    (lambda p: p.open("ab").write(b"\0" * 8), "trailing bytes"),
])
def test_corrupt_export_weights_are_findings_not_crashes(pair, damage, needle):
    src, exp = pair
    damage(exp / "model.safetensors")
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert needle in failed(v)["files_readable"].detail


@pytest.mark.parametrize("entry,needle", [
    ({"dtype": "Q7", "shape": [2], "data_offsets": [0, 2]}, "unknown dtype"),
    ({"dtype": "BF16", "shape": [2], "data_offsets": [0, 2]}, "expected 4"),
    ({"dtype": "BF16", "shape": [-1], "data_offsets": [0, 2]}, "not a list of non-negative"),
    ({"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]}, "gap or overlap"),
    ({"dtype": "BF16", "shape": [1]}, "exactly dtype, shape, data_offsets"),
])
def test_header_validation(tmp_path, entry, needle):
    raw = json.dumps({"t": entry}).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * 4)
    with pytest.raises(HeaderError, match=needle):
        read_header(path)


def test_sharded_checkpoints_are_read_through_the_index(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8", shards=3)
    facts = collect_dirs(src, exp, load_recipe("fp8"))
    assert len(facts.export.weight_files) == 3 and decide(facts).passed
    assert facts.export.tensor_bytes == sum(f.tensor_bytes for f in facts.export.weight_files)


def test_missing_shard_and_wrong_index_are_not_servable(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8", shards=3)
    (exp / "model-00002-of-00003.safetensors").unlink()
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "weight file is missing" in failed(v)["files_readable"].detail
    assert failed(v)["tensors_complete"].observed["missing"] > 0

    src, exp = ck.synthetic_pair(tmp_path / "b", "fp8", shards=2)
    ck.edit_json(exp / "model.safetensors.index.json",
                 lambda d: d["weight_map"].update({"lm_head.weight": "model-00002-of-00002.safetensors"}))
    assert "not mapped to it by the index" in failed(gate(src, exp))["files_readable"].detail


def test_several_weight_files_without_index_are_not_servable(pair):
    src, exp = pair
    (exp / "model.safetensors").rename(exp / "model-a.safetensors")
    ck.write_safetensors(exp / "model-b.safetensors", {"extra.bias": ("F32", [4])})
    assert "no model.safetensors.index.json" in failed(gate(src, exp))["files_readable"].detail


def test_unreadable_json_files_are_not_servable(pair):
    src, exp = pair
    (exp / "tokenizer_config.json").write_text("{oops")
    (exp / "hf_quant_config.json").write_text('{"quantization": {"quant_algo": "FP8", "exclude_modules": 3}}')
    bad = failed(gate(src, exp))["files_readable"].detail
    assert "tokenizer_config.json: unreadable" in bad and "malformed quantization declaration" in bad


def test_files_the_source_ships_must_reach_the_export(pair):
    src, exp = pair
    (src / "chat_template.jinja").write_text("{{ messages }}")
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "chat_template.jinja (shipped by the source)" in v.detail


def test_lost_and_reshaped_tensors_are_not_servable(tmp_path):
    cfg = ck.llama_config()
    src_t = ck.llama_tensors(cfg)
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    del exp_t["model.norm.weight"]
    exp_t["lm_head.weight"] = ("BF16", [128, 64])
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=ck.hf_quant_config("FP8", excl))
    check = failed(gate(src, exp))["tensors_complete"]
    assert check.observed["missing"] == 1 and check.observed["reshaped"]["layers"] == ["lm_head"]


def test_weight_matrices_the_source_does_not_have_are_not_servable(tmp_path):
    # an extra (quantized) layer: a server would refuse the unexpected weight, or build another model
    cfg = ck.llama_config()
    src_t = ck.llama_tensors(cfg)
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    ck._quantize_one(exp_t, "model.layers.2.mlp.up_proj", [128, 64], "fp8")
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=ck.hf_quant_config("FP8", excl))
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "1 weight matrices the source does not have, e.g. ['model.layers.2.mlp.up_proj.weight']" in \
        failed(v)["tensors_complete"].detail


def test_an_lm_head_untied_from_tied_embeddings_is_not_an_addition(tmp_path):
    cfg = ck.llama_config() | {"tie_word_embeddings": True}
    src_t = ck.llama_tensors(cfg)
    del src_t["lm_head.weight"]
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    exp_t["lm_head.weight"] = ("BF16", [256, 64])
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=ck.hf_quant_config("FP8", excl + ["lm_head"]))
    assert gate(src, exp).passed


def _variant(tmp_path, edit, recipe="fp8", kv=None):
    cfg = ck.llama_config()
    src_t = ck.llama_tensors(cfg)
    exp_t, excl = ck.quantized_tensors(src_t, recipe)
    result = edit(exp_t, excl)
    excl = result if isinstance(result, list) else excl
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t,
                                        quant=ck.hf_quant_config(ck.QUANT_ALGO[recipe], excl, kv))
    return gate(src, exp, recipe)


def test_quantized_lm_head_against_the_recipe_is_coverage_failure(tmp_path):
    def edit(t, excl):
        ck._quantize_one(t, "lm_head", [256, 64], "fp8")
        return ["model.embed_tokens"]
    v = _variant(tmp_path, edit)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["exclusions_respected"].observed["layers"] == ["lm_head"]


def test_missing_input_scale_is_wrong_format(tmp_path):
    v = _variant(tmp_path, lambda t, e: t.pop("model.layers.0.self_attn.q_proj.input_scale"))
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["coverage"].observed["wrong_format"]["layers"] == ["model.layers.0.self_attn.q_proj"]


def test_kv_cache_declared_but_not_in_recipe_is_coverage_failure(tmp_path):
    v = _variant(tmp_path, lambda t, e: t.update({"model.layers.0.self_attn.k_proj.k_scale": ("F32", [])}), kv="FP8")
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert "expects no KV-cache quantization" in failed(v)["kv_cache"].detail


# ---------------------------------------------------------------- the declaration lies: coverage before unsupported


def _declared(tmp_path, quant, *, quantize=True, drop_config_section=False):
    """An fp8 pair whose export declares `quant` (None: no hf_quant_config.json) over fp8 or bf16 tensors."""
    cfg = ck.llama_config()
    src_t = ck.llama_tensors(cfg)
    exp_t = ck.quantized_tensors(src_t, "fp8")[0] if quantize else dict(src_t)
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=quant)
    if drop_config_section:
        ck.edit_json(exp / "config.json", lambda d: d.pop("quantization_config", None))
    return gate(src, exp)


EXCL = ["lm_head", "model.embed_tokens"]


@pytest.mark.parametrize("quant,drop,check_name", [
    (ck.hf_quant_config(None, EXCL), False, "quantization_declared"),
    (None, True, "quantization_declared"),
    ({**ck.hf_quant_config("MIXED_PRECISION", EXCL),
      "quantization": {"quant_algo": "MIXED_PRECISION", "quantized_layers": {}, "exclude_modules": EXCL}},
     False, "quantization_declared"),
], ids=["quant_algo_null", "no_declaration_at_all", "mixed_precision_without_layers"])
def test_quantized_tensors_declared_unquantized_is_coverage_failure(tmp_path, quant, drop, check_name):
    v = _declared(tmp_path, quant, drop_config_section=drop)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE, v.detail
    c = failed(v)[check_name]
    assert c.failure_class == FC.QUANT_COVERAGE_FAILURE and "stores 14 weight matrices quantized" in c.detail


def test_fp8_declared_over_bf16_tensors_is_coverage_failure(tmp_path):
    v = _declared(tmp_path, ck.hf_quant_config("FP8", EXCL), quantize=False)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE, v.detail
    assert "declares quant_algo FP8 but nothing is stored quantized" in failed(v)["something_quantized"].detail


def test_nothing_declared_and_nothing_quantized_stays_model_unsupported(tmp_path):
    v = _declared(tmp_path, None, quantize=False, drop_config_section=True)
    assert v.failure_class == FC.MODEL_UNSUPPORTED, v.detail
    assert {"something_quantized", "quantization_declared"} <= set(failed(v))


@pytest.mark.parametrize("method", ["compressed-tensors", "fp8", None])
def test_config_json_naming_another_loader_is_coverage_failure(pair, method):
    # a server picks its loader by config.json's quant_method: modelopt tensors read by another loader
    src, exp = pair
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"].update(quant_method=method)
                 if method else d["quantization_config"].pop("quant_method") and None)
    v = gate(src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE, v.detail
    assert "quant_method" in failed(v)["declared_loader"].detail


def test_a_tensor_stored_in_two_shards_is_not_servable(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8", shards=2)
    from gates.ptq.headers import read_header

    shard = exp / "model-00002-of-00002.safetensors"
    entries, _ = read_header(shard)
    tensors = {n: (d, list(s)) for n, (d, s, _) in entries.items()} | {"lm_head.weight": ("BF16", [256, 64])}
    ck.write_safetensors(shard, tensors)
    v = gate(src, exp)
    assert v.failure_class == FC.CHECKPOINT_NOT_SERVABLE
    assert "'lm_head.weight' also stored in model-00001-of-00002.safetensors" in failed(v)["files_readable"].detail


def test_large_moe_facts_stay_compact_and_offenders_are_capped(tmp_path):
    cfg = ck.llama_config(layers=8, experts=32)
    src_t = ck.llama_tensors(cfg)
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    for name in [n for n in exp_t if ".experts.3." in n and n.endswith(".weight")]:
        exp_t[name] = src_t[name]  # expert 3 of every layer left bf16 ...
        for s in ("weight_scale", "input_scale"):
            exp_t.pop(name.replace(".weight", f".{s}"))
        excl.append(name[: -len(".weight")])  # ... and declared excluded, so only coverage fails
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=ck.hf_quant_config("FP8", excl))
    facts = collect_dirs(src, exp, load_recipe("fp8"))
    assert sum(g.count for g in facts.layers) == 8 * (4 + 1 + 32 * 3) + 2
    assert len(facts.layers) <= 20
    v = decide(facts)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE and list(failed(v)) == ["coverage"]
    left = failed(v)["coverage"].observed["unquantized"]
    assert left["count"] == 24 and len(left["layers"]) == 20
    assert left["patterns"] == [f"model.layers.*.block_sparse_moe.experts.*.{w}" for w in ("w1", "w2", "w3")]


def test_collector_reads_headers_only(tmp_path):
    cfg = ck.llama_config(hidden=4096, inter=14336, layers=16, heads=32, kv_heads=8, vocab=128256)
    src, exp = ck.synthetic_pair(tmp_path, "fp8", cfg=cfg, sparse=True, shards=4)
    start = time.perf_counter()
    facts = collect_dirs(src, exp, load_recipe("fp8"))
    assert time.perf_counter() - start < 2.0  # reading ~14 GB of (sparse) data could not be this fast
    assert facts.source.tensor_bytes > 8 * 2**30 and decide(facts).passed


def test_source_config_in_transformers_4_layout_is_not_drift(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")

    def old_style(d):
        d.pop("rope_parameters"), d.pop("head_dim")
        d.update(rope_theta=10000.0, rope_scaling=None, torch_dtype=d.pop("dtype"))
    ck.edit_json(src / "config.json", old_style)
    assert gate(src, exp).passed
    ck.edit_json(src / "config.json", lambda d: d.update(torch_dtype="float32"))
    v = gate(src, exp)
    assert v.passed
    assert v.evidence["config_allowed"] == ["dtype: float32 -> bfloat16 (unquantized tensors narrowed on export)"]


# ---------------------------------------------------------------- source problems are input errors


@pytest.mark.parametrize("damage,needle", [
    (lambda s: (s / "model.safetensors").write_bytes(b"\0\0"), "too short"),
    (lambda s: (s / "config.json").unlink(), "config.json missing"),
    (lambda s: (s / "model.safetensors").unlink(), "no safetensors weight matrices"),
])
def test_broken_source_is_input_error(pair, damage, needle):
    src, exp = pair
    damage(src)
    with pytest.raises(InputError, match=needle):
        collect_dirs(src, exp, load_recipe("fp8"))


# ============================================================================ recipes


def test_shipped_recipes_load_and_mirror_modelopt():
    assert set(known_recipes()) >= {"fp8", "int8_sq", "int4_awq", "nvfp4", "w4a8_awq"}
    r = {n: load_recipe(n) for n in known_recipes()}
    fp8 = r["fp8"]
    assert (fp8.weight_dtype, fp8.quant_algo, fp8.modelopt_config) == ("F8_E4M3", "FP8", "FP8_DEFAULT_CFG")
    assert r["int8_sq"].quant_algo == "W8A8_SQ_PER_CHANNEL" and r["int4_awq"].block_size == 128
    assert r["nvfp4"].needs_cuda and not r["fp8"].needs_cuda
    assert all(x.exclude == list(DEFAULT_EXCLUDE) for x in r.values())


@pytest.mark.parametrize("module,status", [
    ("model.layers.0.mlp.gate_proj", "covered"), ("model.layers.0.mlp.gate", "excluded"),
    ("lm_head", "excluded"), ("model.embed_tokens", "excluded"), ("transformer.wte", "excluded"),
    ("model.layers.3.block_sparse_moe.gate", "excluded"), ("mtp.layers.0.proj", "excluded"),
    ("model.layers.0.mlp.experts.1.down_proj", "covered"),
])
def test_recipe_patterns_follow_modelopt_semantics(module, status):
    assert recipe_status(load_recipe("fp8"), module)[0] == status


def test_modelopt_dot_star_pattern_does_not_swallow_siblings():
    assert matches("model.layers.0.mlp.gate", "*mlp.gate.*")
    assert not matches("model.layers.0.mlp.gate_proj", "*mlp.gate.*")


def test_unknown_recipe_name_lists_known_ones(tmp_path):
    with pytest.raises(InputError) as e:
        load_recipe("fp9")
    assert "unknown recipe 'fp9'; known recipes are fp8, int4_awq, int8_sq, nvfp4, w4a8_awq" in str(e.value)


@pytest.mark.parametrize("text,field", [
    ("name: x\nquant_algo: FP8\nweight_dtype: FP8\nrequired_scales: []\nbits_per_weight: 8\nneeds_cuda: false\n",
     "weight_dtype"),
    ("name: x\nquant_algo: FP8\nweight_dtype: F8_E4M3\nrequired_scales: []\nbits_per_weight: 0\nneeds_cuda: false\n",
     "bits_per_weight"),
    ("name: x\nquant_algo: FP8\nweight_dtype: F8_E4M3\nrequired_scales: []\nbits_per_weight: 8\n", "needs_cuda"),
    ("name: x\nquant_algo: FP8\nweight_dtype: F8_E4M3\nrequired_scales: []\nbits_per_weight: 8\nneeds_cuda: false\n"
     "colour: red\n", "colour"),
    ("name: x\nquant_algo: FP8\nweight_dtype: F8_E4M3\nrequired_scales: [zero_point]\nbits_per_weight: 8\n"
     "needs_cuda: false\n", "required_scales.0"),
])
def test_invalid_recipe_file_names_the_field(tmp_path, text, field):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        load_recipe(str(path))
    assert e.value.field == f"recipe field '{field}'"


def test_recipe_file_in_json_and_broken_files(tmp_path):
    data = load_recipe("fp8").model_dump() | {"name": "my_fp8"}
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert load_recipe(str(tmp_path / "r.json")) == Recipe.model_validate(data)
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(InputError, match="not valid YAML/JSON"):
        load_recipe(str(tmp_path / "bad.yaml"))
    with pytest.raises(InputError, match="does not exist"):
        load_recipe(str(tmp_path / "missing.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(InputError, match="must hold a mapping"):
        load_recipe(str(tmp_path / "list.yaml"))


# ============================================================================ CLI contract


def test_cli_exit_codes_recipe_by_name_and_path_and_round_trip(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    code, out = cli("--artifacts", str(src), str(exp), "--recipe", "fp8", "--facts-out", str(tmp_path / "f.json"))
    assert code == 0 and out["pass"] and out["gate"] == "ptq"
    code2, out2 = cli("--input", str(tmp_path / "f.json"))
    assert (code2, out2) == (code, out)

    code, out = cli("--artifacts", str(src), str(exp), "--recipe", str(REPO / "gates/recipes/int8_sq.yaml"))
    assert code == 1 and out["failure_class"] == "QUANT_COVERAGE_FAILURE"

    code, out = cli("--artifacts", str(src), str(exp), "--recipe", "fp9")
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR" and "known recipes are" in out["detail"]
    code, out = cli("--artifacts", str(src), str(exp))
    assert code == 2 and "--recipe" in out["detail"]
    code, out = cli("--artifacts", str(tmp_path / "nope"), str(exp), "--recipe", "fp8")
    assert code == 2 and "source checkpoint directory" in out["detail"]
    code, out = cli("--input", str(tmp_path / "f.json"), "--recipe", "fp8")
    assert code == 2


def test_cli_output_validates_against_committed_schemas(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    from gates.schemas import generated, load

    assert load("ptq", "input") == generated("ptq")["ptq.input.schema.json"], "regenerate: python -m gates.schemas"
    assert load("ptq", "output") == generated("ptq")["ptq.output.schema.json"], "regenerate: python -m gates.schemas"
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    code, out = in_process(capsys, ["--artifacts", str(src), str(exp), "--recipe", "fp8",
                                    "--facts-out", str(tmp_path / "f.json")])
    jsonschema.validate(out, load("ptq", "output"))
    jsonschema.validate(json.loads((tmp_path / "f.json").read_text()), load("ptq", "input"))


def test_size_tolerance_override(tmp_path, capsys):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    in_process(capsys, ["--artifacts", str(src), str(exp), "--recipe", "fp8", "--facts-out", str(tmp_path / "f.json")])
    code, out = in_process(capsys, ["--input", str(tmp_path / "f.json"), "--size-tolerance", "0.9"])
    assert code == 2 and "size_tolerance" in out["detail"]


# ============================================================================ property: decide and the CLI


DTYPES = st.sampled_from(["BF16", "F16", "F32", "F8_E4M3", "I8", "U8", "F4"])
SCALE_NAMES = ["weight_scale", "weight_scale_2", "input_scale", "pre_quant_scale"]
ALGOS = st.sampled_from(["FP8", "NVFP4", "W8A8_SQ_PER_CHANNEL", "W4A16_AWQ", "MIXED_PRECISION"])
TEXT = st.text(min_size=1, max_size=12)
COUNT = st.integers(0, 10**12)


def side():
    return st.fixed_dictionaries({
        "path": TEXT, "tensor_bytes": COUNT, "file_bytes": COUNT, "tensors": COUNT,
        "weight_files": st.lists(st.fixed_dictionaries({"name": TEXT, "file_bytes": COUNT, "tensor_bytes": COUNT,
                                                        "tensors": COUNT, "error": st.none() | TEXT}), max_size=2),
        "matrix_dtypes": st.dictionaries(DTYPES, st.integers(0, 1000), max_size=3),
        "dominant_matrix_dtype": st.none() | DTYPES})


GROUP = st.fixed_dictionaries({
    "pattern": TEXT, "count": st.integers(1, 10**6), "names": st.lists(TEXT, min_size=1, max_size=3),
    "params": COUNT, "source_dtype": st.none() | DTYPES, "stored_dtype": DTYPES,
    "shape": st.sampled_from(["same", "packed", "changed", "new"]),
    "scales": st.lists(st.sampled_from(SCALE_NAMES), unique=True),
    "recipe": st.sampled_from(["covered", "excluded", "not_covered"]), "recipe_pattern": st.none() | TEXT,
    "declared_algo": st.none() | ALGOS})
DECL = st.fixed_dictionaries({
    "file": st.sampled_from(["hf_quant_config.json", "config.json"]), "quant_method": st.none() | TEXT,
    "quant_algo": st.none() | ALGOS, "kv_cache_quant_algo": st.none() | st.just("FP8"),
    "exclude_modules": st.lists(TEXT, max_size=3), "quantized_layers": st.none() | st.integers(0, 5),
    "quantized_layer_algos": st.lists(ALGOS, max_size=2)})
SMALL = st.integers(0, 10**6)
TOKSIDE = st.fixed_dictionaries({
    "files": st.lists(TEXT, max_size=3),
    "vocab_files": st.lists(st.fixed_dictionaries({
        "file": st.sampled_from(["tokenizer.json", "tokenizer.model", "vocab.json"]),
        "kind": st.sampled_from(["tokenizers", "sentencepiece", "vocab.json", "merges.txt", "vocab.txt", "tiktoken"]),
        "model_type": st.none() | TEXT, "entries": SMALL,
        "parts": st.dictionaries(st.sampled_from(["vocab", "merges"]), st.sampled_from(["a", "b"]), max_size=2)}),
        max_size=2),
    "vocab_size": st.none() | SMALL, "special_tokens": st.dictionaries(TEXT, TEXT, max_size=2),
    "special_token_ids": st.dictionaries(TEXT, st.none() | SMALL, max_size=2),
    "settings": st.dictionaries(TEXT, TEXT, max_size=2), "chat_templates": st.dictionaries(TEXT, TEXT, max_size=2),
    "chat_template_file": st.none() | TEXT, "generation": st.dictionaries(TEXT, TEXT, max_size=2)})
SCALE = st.fixed_dictionaries({"name": TEXT, "dtype": st.sampled_from(["F32", "BF16", "F8_E4M3"]), "numel": SMALL,
                               "values_read": SMALL, "complete": st.booleans(), "nonfinite": SMALL, "zero": SMALL,
                               "negative": SMALL})
TENSOR_DATA = st.fixed_dictionaries({
    "scales_read": SMALL, "scales_nonfinite": SMALL, "scales_negative": SMALL, "scales_all_zero": SMALL,
    "scales_flagged": st.lists(SCALE, max_size=2), "weights_sampled": SMALL, "zero_weights_count": SMALL,
    "zero_weights": st.lists(TEXT, max_size=2), "unread": SMALL, "budget_bytes": SMALL})
FACTS = st.fixed_dictionaries({
    "recipe": st.sampled_from(["fp8", "int8_sq", "int4_awq", "nvfp4", "w4a8_awq"]).map(
        lambda n: load_recipe(n).model_dump()),
    "source": side(), "export": st.none() | side(),
    "serving": st.fixed_dictionaries({
        "export_exists": st.booleans(), "present": st.lists(TEXT, max_size=2), "missing": st.lists(TEXT, max_size=2),
        "missing_from_source": st.lists(TEXT, max_size=2),
        "unreadable": st.lists(st.fixed_dictionaries({"file": TEXT, "problem": TEXT}), max_size=2),
        "tensors_missing": st.integers(0, 10), "tensors_missing_names": st.lists(TEXT, max_size=2)}),
    "declarations": st.lists(DECL, max_size=2), "kv_scale_tensors": st.integers(0, 10),
    "layers": st.lists(GROUP, max_size=6),
    "config_drift": st.lists(st.fixed_dictionaries({"key": TEXT, "source": TEXT, "export": TEXT,
                                                    "kind": st.sampled_from(["shape", "behaviour"])}), max_size=2),
    "config_allowed": st.lists(TEXT, max_size=2), "size_tolerance": st.floats(0, 0.5)},
    optional={"tokenizers": st.fixed_dictionaries({"source": TOKSIDE, "export": st.none() | TOKSIDE}),
              "tensor_data": TENSOR_DATA})


def _feed(capsys, monkeypatch, text: str) -> tuple[int, dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return in_process(capsys, ["--input", "-"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=FACTS)
def test_decide_never_raises_and_verdict_is_consistent(facts, capsys, monkeypatch):
    v = decide(PtqFacts.model_validate(facts))
    assert v.passed == (v.failure_class is None)
    tok, data = facts.get("tokenizers"), facts.get("tensor_data")
    if v.passed and tok and tok["export"] is not None:  # a pass never hides a tokenizer difference ...
        assert tok["export"]["vocab_size"] == tok["source"]["vocab_size"]
        assert tok["export"]["chat_templates"] == tok["source"]["chat_templates"]
    if v.passed and data and facts["layers"]:  # ... nor a bad scale or an all-zero quantized weight
        assert data["scales_nonfinite"] + data["scales_negative"] + data["scales_all_zero"] == 0
        assert data["zero_weights_count"] == 0
    code, out = _feed(capsys, monkeypatch, json.dumps(facts))
    assert code == (0 if v.passed else 1) and out["failure_class"] == (v.failure_class and v.failure_class.value)


MUTATIONS = {
    "extra_key": lambda d: d.update(unexpected=1),
    "nested_extra": lambda d: d["serving"].update(surprise=True),
    "drop_layers": lambda d: d.pop("layers"),
    "drop_export": lambda d: d.pop("export"),
    "kv_as_string": lambda d: d.update(kv_scale_tensors="3"),
    "kv_as_bool": lambda d: d.update(kv_scale_tensors=True),
    "kv_as_float": lambda d: d.update(kv_scale_tensors=3.0),
    "negative_bytes": lambda d: d["source"].update(tensor_bytes=-1),
    "bad_recipe_dtype": lambda d: d["recipe"].update(weight_dtype="FP8"),
    "layer_count_zero": lambda d: d.update(layers=[{**d["layers"][0], "count": 0}] if d["layers"] else 5),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=FACTS, mutation=st.sampled_from(sorted(MUTATIONS) + ["nan", "not_json", "not_object"]))
def test_malformed_facts_always_exit_2(facts, mutation, capsys, monkeypatch):
    if mutation == "nan":
        text = json.dumps(facts).replace('"size_tolerance": ', '"size_tolerance": NaN, "x": ', 1)
    elif mutation == "not_json":
        text = json.dumps(facts)[:-1]
    elif mutation == "not_object":
        text = json.dumps([facts])
    else:
        MUTATIONS[mutation](facts)
        text = json.dumps(facts)
    code, out = _feed(capsys, monkeypatch, text)
    assert code == 2 and out["failure_class"] == "USER_CONFIG_ERROR" and not out["pass"]


def test_priority_order_is_unservable_unsupported_coverage_size(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    base = collect_dirs(src, exp, load_recipe("fp8")).model_dump()
    nothing = copy.deepcopy(base)
    nothing["layers"] = [{**g, "stored_dtype": "BF16", "scales": [], "declared_algo": None} for g in base["layers"]]
    nothing["declarations"] = []  # nothing stored quantized and nothing declared: unsupported, not a lie
    nothing["export"]["tensor_bytes"] = base["source"]["tensor_bytes"] * 2
    assert decide(PtqFacts.model_validate(nothing)).failure_class == FC.MODEL_UNSUPPORTED
    nothing["serving"]["missing"] = ["tokenizer_config.json"]
    assert decide(PtqFacts.model_validate(nothing)).failure_class == FC.CHECKPOINT_NOT_SERVABLE
    partial = copy.deepcopy(base)
    next(g for g in partial["layers"] if g["recipe"] == "covered").update(stored_dtype="BF16", scales=[])
    partial["export"]["tensor_bytes"] = base["source"]["tensor_bytes"] * 2
    assert decide(PtqFacts.model_validate(partial)).failure_class == FC.QUANT_COVERAGE_FAILURE


# ---------------------------------------------------------------- more declaration shapes


def _mixed(tmp_path, drop: str | None):
    cfg = ck.llama_config()
    src_t = ck.llama_tensors(cfg)
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    layers = {n[: -len(".weight")]: {"quant_algo": "FP8"} for n, (dt, _) in exp_t.items() if dt == "F8_E4M3"}
    layers.pop(drop, None)
    quant = ck.hf_quant_config("MIXED_PRECISION", excl)
    quant["quantization"]["quantized_layers"] = layers
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=quant)
    ck.edit_json(exp / "config.json", lambda d: d["quantization_config"].update(quantized_layers=layers))
    return gate(src, exp)


def test_mixed_precision_declaration_is_read_per_layer(tmp_path):
    assert _mixed(tmp_path / "a", None).passed
    v = _mixed(tmp_path / "b", "model.layers.1.mlp.up_proj")
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    assert failed(v)["declaration_matches_tensors"].observed["quantized_but_excluded"]["layers"] == [
        "model.layers.1.mlp.up_proj"]


def test_tied_embeddings_without_lm_head_pass(tmp_path):
    cfg = ck.llama_config() | {"tie_word_embeddings": True}
    src_t = ck.llama_tensors(cfg)
    del src_t["lm_head.weight"]
    exp_t, excl = ck.quantized_tensors(src_t, "fp8")
    src = ck.write_synthetic_checkpoint(tmp_path / "s", cfg, src_t)
    exp = ck.write_synthetic_checkpoint(tmp_path / "e", cfg, exp_t, quant=ck.hf_quant_config("FP8", excl))
    assert gate(src, exp).passed


@settings(max_examples=400, deadline=None)
@given(module=st.text("ab.1_", max_size=8), patterns=st.lists(st.text("ab.1_*?", max_size=6), min_size=1, max_size=4))
def test_fast_matcher_agrees_with_fnmatch(module, patterns):
    import fnmatch

    from gates.recipes import matches_any

    expected = any(fnmatch.fnmatchcase(module, p) or fnmatch.fnmatchcase(module + ".", p) for p in patterns)
    assert matches_any(module, patterns) == expected


def test_shipped_recipe_name_wins_over_a_same_named_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fp8").write_text("not a recipe")
    assert load_recipe("fp8").name == "fp8"
