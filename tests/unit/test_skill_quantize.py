"""quantize skill, fast parts: input validation, recipe -> modelopt config, block pre-check, error
classification, command/gates building, the operator's repair. No torch, no modelopt (the runner on
real models is tests/integration/test_skill_quantize_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from conductor.runtime.skill import GateCall, Skill, SkillContext, SkillResult, tool_schema
from gates.failure_classes import FailureClass
from gates.recipes import RECIPE_DIR, known_recipes, load_recipe
from skills.quantize import SKILL, QuantizeInput, calib, default_source, export_dir, plan
from skills.quantize.plan import ModuleInfo

# ---------------------------------------------------------------------------- helpers


def smollm_modules(layers: int = 2, hidden: int = 576, inter: int = 1536, kv: int = 192) -> list[ModuleInfo]:
    """The weight modules of a SmolLM2-shaped Llama (tied lm_head included, as named_modules lists it)."""
    mods = [ModuleInfo("model.embed_tokens", "Embedding")]
    for i in range(layers):
        p = f"model.layers.{i}"
        for n, (o, k) in {"self_attn.q_proj": (hidden, hidden), "self_attn.k_proj": (kv, hidden),
                          "self_attn.v_proj": (kv, hidden), "self_attn.o_proj": (hidden, hidden),
                          "mlp.gate_proj": (inter, hidden), "mlp.up_proj": (inter, hidden),
                          "mlp.down_proj": (hidden, inter)}.items():
            mods.append(ModuleInfo(f"{p}.{n}", "Linear", k, o))
    mods.append(ModuleInfo("lm_head", "Linear", hidden, 49152))
    return mods


def fake_base_cfg(block: bool = False) -> dict:
    """The shape of a modelopt 0.47 *_CFG dict (the real ones are checked in the integration tests)."""
    wcfg = {"num_bits": 4, "block_sizes": {-1: 128, "type": "static"}} if block else {"num_bits": (4, 3), "axis": None}
    return {"algorithm": "max", "quant_cfg": [
        {"quantizer_name": "*", "enable": False},
        {"quantizer_name": "*weight_quantizer", "cfg": wcfg},
        {"quantizer_name": "*input_quantizer", "cfg": {"num_bits": (4, 3), "axis": None}},
        {"quantizer_name": "*lm_head*", "enable": False},
        {"quantizer_name": "*router*", "enable": False},
        {"quantizer_name": "*", "parent_class": "nn.Embedding", "enable": False},
    ]}


def ctx_for(tmp_path: Path, config: dict | None = None, sealed: dict | None = None) -> SkillContext:
    ws = tmp_path / "ws"
    return SkillContext(workspace=ws, out_dir=ws / "stages" / "quantize" / "attempt-1",
                        config=config or {"model": "/models/src", "recipe": "fp8", "calib_size": 32},
                        sealed=sealed or {}, python="/usr/bin/python3")


def recipe_file(tmp_path: Path, base: str = "int4_awq", **changes) -> Path:
    data = yaml.safe_load((RECIPE_DIR / f"{base}.yaml").read_text())
    data.update(changes)
    p = tmp_path / f"{data['name']}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


# ---------------------------------------------------------------------------- input model


def test_input_defaults_and_schema_describe_every_field():
    inp = QuantizeInput()
    assert (inp.recipe, inp.calib_size, inp.calib_seq_len, inp.exclude, inp.kv_cache, inp.seed) == \
        ("fp8", 64, 256, [], None, 0)
    schema = tool_schema(SKILL)["input_schema"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"source", "recipe", "calib_size", "calib_seq_len", "calib_data", "exclude",
                                         "kv_cache", "out_name", "seed"}
    for name, prop in schema["properties"].items():
        assert len(prop.get("description", "")) > 30, name


@pytest.mark.parametrize("bad, field", [
    ({"recipe": "fp7"}, "recipe"),
    ({"recipe": "missing/recipe.yaml"}, "recipe"),
    ({"calib_size": "64"}, "calib_size"),  # strict: no string coercion
    ({"calib_size": 0}, "calib_size"),
    ({"calib_seq_len": 8}, "calib_seq_len"),
    ({"kv_cache": "int8"}, "kv_cache"),
    ({"exclude": ["model layers"]}, "exclude"),
    ({"exclude": ["*a*", "*a*"]}, "exclude"),
    ({"out_name": "../escape"}, "out_name"),
    ({"bogus": 1}, "bogus"),
])
def test_input_rejects(bad, field):
    with pytest.raises(ValidationError) as e:
        QuantizeInput.model_validate(bad)
    assert e.value.errors()[0]["loc"][0] == field


def test_unknown_recipe_message_lists_the_catalogue():
    with pytest.raises(ValidationError) as e:
        QuantizeInput(recipe="fp7")
    msg = str(e.value)
    assert all(r in msg for r in known_recipes())


def test_every_catalogue_recipe_has_a_backend():
    for name in known_recipes():
        QuantizeInput(recipe=name)
        assert plan.backend_for(load_recipe(name)).cfg_name == load_recipe(name).modelopt_config


def test_recipe_file_accepted_and_its_block_size_used(tmp_path):
    p = recipe_file(tmp_path, name="int4_awq_b64", block_size=64)
    inp = QuantizeInput(recipe=str(p))
    r = load_recipe(inp.recipe)
    cfg = plan.build_quant_cfg(r, fake_base_cfg(block=True), plan.coverage(r, smollm_modules()))
    w = next(e for e in cfg["quant_cfg"] if e.get("quantizer_name") == "*weight_quantizer")
    assert w["cfg"]["block_sizes"][-1] == 64
    assert plan.unpackable_layers(r, plan.coverage(r, smollm_modules())) == []


@pytest.mark.parametrize("changes, words", [
    ({"name": "x1", "modelopt_config": "MXFP8_DEFAULT_CFG"}, "produces"),
    ({"name": "x2", "modelopt_config": None}, "modelopt_config"),
    ({"name": "x3", "kv_cache_quant_algo": "NVFP4"}, "kv_cache_quant_algo"),
])
def test_recipe_files_this_skill_cannot_produce(tmp_path, changes, words):
    with pytest.raises(ValidationError, match=words):
        QuantizeInput(recipe=str(recipe_file(tmp_path, **changes)))


def test_nvfp4_block_is_fixed(tmp_path):
    with pytest.raises(ValidationError, match="16 elements"):
        QuantizeInput(recipe=str(recipe_file(tmp_path, "nvfp4", name="nvfp4_b32", block_size=32)))


# ---------------------------------------------------------------------------- recipe -> modelopt


def test_recipe_to_modelopt_mapping():
    want = {"fp8": "FP8_DEFAULT_CFG", "int8_sq": "INT8_SMOOTHQUANT_CFG", "int4_awq": "INT4_AWQ_CFG",
            "nvfp4": "NVFP4_DEFAULT_CFG", "w4a8_awq": "W4A8_AWQ_BETA_CFG"}
    assert {r: plan.backend_for(load_recipe(r)).cfg_name for r in want} == want
    assert {r for r in want if load_recipe(r).needs_cuda} == {"nvfp4", "w4a8_awq"}


def test_effective_recipe_unchanged_is_the_same_object():
    base = load_recipe("fp8")
    assert plan.effective_recipe(base) is base
    assert plan.effective_recipe(base, exclude=["*lm_head*"]) is base  # already excluded
    assert not plan.is_modified(base, plan.effective_recipe(base))


def test_effective_recipe_adds_exclusions_and_kv():
    base = load_recipe("fp8")
    eff = plan.effective_recipe(base, exclude=["*down_proj*"], kv_cache="fp8")
    assert eff.exclude == list(base.exclude) + ["*down_proj*"]
    assert eff.kv_cache_quant_algo == "FP8" and eff.name == "fp8"
    assert "*down_proj*" in eff.description and "KV cache FP8" in eff.description
    assert plan.is_modified(base, eff)


def test_quant_cfg_disables_exactly_what_the_gate_leaves_alone():
    r = plan.effective_recipe(load_recipe("fp8"), exclude=["model.layers.1.*"])
    base = fake_base_cfg()
    cfg = plan.build_quant_cfg(r, base, plan.coverage(r, smollm_modules()))
    names = [e["quantizer_name"] for e in cfg["quant_cfg"]]
    assert names[:3] == ["*", "*weight_quantizer", "*input_quantizer"]
    assert "*lm_head*" not in names and "*router*" not in names  # modelopt's name rules: restated by the recipe
    assert any(e.get("parent_class") == "nn.Embedding" for e in cfg["quant_cfg"])  # class rules kept
    pairs = zip(names, cfg["quant_cfg"], strict=False)
    disabled = {n[:-2] for n, e in pairs if e.get("enable") is False and n.endswith(".*")}
    assert disabled == {"model.embed_tokens", "lm_head"} | {
        m.name for m in smollm_modules() if m.name.startswith("model.layers.1.")
    }
    assert base == fake_base_cfg()  # not mutated


def test_quant_cfg_kv_entries_only_when_asked():
    kv = [{"quantizer_name": "*[kv]_bmm_quantizer", "cfg": {"num_bits": (4, 3), "axis": None}}]
    r = load_recipe("fp8")
    assert kv[0] not in plan.build_quant_cfg(r, fake_base_cfg(), plan.coverage(r, []), kv)["quant_cfg"]
    r = plan.effective_recipe(r, kv_cache="fp8")
    assert kv[0] in plan.build_quant_cfg(r, fake_base_cfg(), plan.coverage(r, []), kv)["quant_cfg"]


def test_module_names_are_glob_escaped():
    r = plan.effective_recipe(load_recipe("fp8"), exclude=["odd*"])
    cfg = plan.build_quant_cfg(r, fake_base_cfg(), plan.coverage(r, [ModuleInfo("odd[0]", "Linear", 8, 8)]))
    assert cfg["quant_cfg"][-1]["quantizer_name"] == "odd[[]0].*"


# ---------------------------------------------------------------------------- block-size pre-check


def test_int4_on_smollm2_names_every_unpackable_layer():
    r = load_recipe("int4_awq")
    mods = smollm_modules()
    cov = plan.coverage(r, mods)
    bad = plan.unpackable_layers(r, cov)
    assert len(cov.covered_linear) == 14 and len(bad) == 12
    assert all("down_proj" not in u.layer for u in bad)
    assert "in_features 576 is not a multiple of the block size 128" in bad[0].reason
    f = plan.unpackable_failure(r, cov, bad, [m.name for m in mods])
    assert f.failure_class == "QUANT_COVERAGE_FAILURE"
    assert "model.layers.0.self_attn.q_proj" in f.error and "12 of 14" in f.error
    assert "block_size: 64" in f.error  # 576 = 9 x 64: a real alternative
    assert f.data["suggested_exclude"] == sorted(
        f"model.layers.*.{n}"
        for n in (
            "self_attn.q_proj",
            "self_attn.k_proj",
            "self_attn.v_proj",
            "self_attn.o_proj",
            "mlp.gate_proj",
            "mlp.up_proj",
        )
    )
    assert f.data["unpackable"]["count"] == 12 and len(f.data["unpackable"]["examples"]) == 8


def test_suggested_exclusions_make_the_recipe_packable():
    r = load_recipe("int4_awq")
    mods = smollm_modules()
    f = plan.unpackable_failure(
        r, plan.coverage(r, mods), plan.unpackable_layers(r, plan.coverage(r, mods)), [m.name for m in mods]
    )
    eff = plan.effective_recipe(r, exclude=f.data["suggested_exclude"])
    cov = plan.coverage(eff, mods)
    assert plan.unpackable_layers(eff, cov) == [] and {m.name.rsplit(".", 1)[1] for m in cov.covered} == {"down_proj"}


def test_no_packable_layer_is_model_unsupported():
    r = load_recipe("int4_awq")
    mods = [m for m in smollm_modules() if "down_proj" not in m.name]
    cov = plan.coverage(r, mods)
    f = plan.unpackable_failure(r, cov, plan.unpackable_layers(r, cov), [m.name for m in mods])
    assert f.failure_class == "MODEL_UNSUPPORTED" and "cannot pack any layer" in f.error


def test_fp8_has_no_block_constraint_and_odd_rows_fail_int4():
    mods = smollm_modules()
    assert plan.unpackable_layers(load_recipe("fp8"), plan.coverage(load_recipe("fp8"), mods)) == []
    odd = [ModuleInfo("m.proj", "Linear", 256, 7)]
    bad = plan.unpackable_layers(load_recipe("int4_awq"), plan.coverage(load_recipe("int4_awq"), odd))
    assert len(bad) == 1 and "out_features 7 is odd" in bad[0].reason


def test_compact_patterns_fall_back_to_names():
    universe = ["model.layers.0.a", "model.layers.1.a", "model.layers.2.a"]
    assert plan.compact_patterns(universe, universe) == ["model.layers.*.a"]
    assert plan.compact_patterns(universe[:2], universe) == universe[:2]  # layer 2 is fine: no wildcard
    assert plan.compact_patterns(["lm_head"], universe + ["lm_head"]) == ["lm_head"]


# ---------------------------------------------------------------------------- error classification


def _cov():
    r = load_recipe("int4_awq")
    mods = smollm_modules()
    return r, plan.coverage(r, mods), [m.name for m in mods]


def test_export_pack_error_names_the_layers():
    r, cov, uni = _cov()
    exc = NotImplementedError(
        "Cannot pack weight with input dimension 576 and block size 128: partial blocks are not supported."
    )
    f = plan.classify_error(exc, r, cov, uni, "exporting")
    assert f.failure_class == "QUANT_COVERAGE_FAILURE"
    assert "model.layers.0.self_attn.q_proj" in f.error and f.data["unpackable"]["found_by"] == "export error"
    assert "modelopt: Cannot pack weight with input dimension 576" in f.data["unpackable"]["examples"][0]["reason"]


def test_export_odd_rows_error_names_the_layers():
    r = load_recipe("int4_awq")
    mods = [ModuleInfo("a.x", "Linear", 128, 7), ModuleInfo("a.y", "Linear", 128, 8)]
    cov = plan.coverage(r, mods)
    f = plan.classify_error(
        AssertionError("Cannot pack weight. Out dimension 7 is not an even number."),
        r,
        cov,
        ["a.x", "a.y"],
        "exporting",
    )
    assert f.failure_class == "QUANT_COVERAGE_FAILURE" and "a.x" in f.error and "a.y" not in f.error


def test_pack_error_for_an_unknown_shape_still_coverage():
    r, cov, uni = _cov()
    f = plan.classify_error(
        NotImplementedError("Cannot pack weight with input dimension 999 and block size 128"), r, cov, uni, "exporting"
    )
    assert f.failure_class == "QUANT_COVERAGE_FAILURE" and "could not be named" in f.error


def test_recipe_matching_nothing_is_model_unsupported():
    r, cov, uni = _cov()
    exc = RuntimeError(
        "The quantization config asks for weight quantization but no weight quantizer is enabled, "
        "so nothing would be quantized."
    )
    f = plan.classify_error(exc, r, cov, uni, "calibrating")
    assert f.failure_class == "MODEL_UNSUPPORTED" and "matches no weight module" in f.error


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 123 bytes"
        ),
        type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory. Tried 2 GiB"),
    ],
)
def test_out_of_memory_is_skill_failed_with_the_reason(exc):
    f = plan.classify_error(exc, load_recipe("fp8"), None, [], "calibrating")
    assert f.failure_class == "SKILL_FAILED" and f.error.startswith("out of memory while calibrating")
    assert "calib_seq_len" in f.error and f.data["oom"] is True


def test_unloadable_architecture_is_model_unsupported():
    exc = ValueError(
        "The checkpoint you are trying to load has model type `mamba9` but Transformers does not "
        "recognize this architecture."
    )
    f = plan.classify_error(exc, load_recipe("fp8"), None, [], "loading the model")
    assert f.failure_class == "MODEL_UNSUPPORTED" and "mamba9" in f.error
    assert plan.classify_error(OSError("disk"), None, None, [], "loading the model").failure_class == "SKILL_FAILED"


def test_anything_else_is_skill_failed_with_its_message():
    f = plan.classify_error(KeyError("rotary"), None, None, [], "quantizing")
    assert f.failure_class == "SKILL_FAILED" and "KeyError" in f.error


def test_cuda_reason_is_a_sentence_with_the_why():
    msg = plan.cuda_reason(load_recipe("nvfp4"))
    assert msg.startswith("nvfp4 needs a CUDA GPU (") and "this machine has none" in msg and "Blackwell" in msg
    assert "TensorRT-LLM" in plan.cuda_reason(load_recipe("w4a8_awq"))


def test_every_failure_class_used_is_in_the_vocabulary():
    src = Path(plan.__file__).read_text() + Path(plan.__file__).with_name("run.py").read_text()
    import re

    used = set(re.findall(r'"([A-Z][A-Z_]+[A-Z])"', src)) & set(FailureClass.__members__) | {
        m for m in re.findall(r'Failure\("([A-Z_]+)"', src)
    }
    assert used and used <= set(FailureClass.__members__)


# ---------------------------------------------------------------------------- the Skill object


def test_is_a_skill():
    assert isinstance(SKILL, Skill)
    assert SKILL.name == SKILL.stage == "quantize" and SKILL.doc_path.is_file() and SKILL.timeout_s >= 3600


def test_command_writes_resolved_input_and_runs_the_module(tmp_path):
    ctx = ctx_for(tmp_path)
    argv = SKILL.command(QuantizeInput(recipe="fp8", calib_size=8), ctx)
    assert argv[:3] == [ctx.python, "-m", "skills.quantize.run"]
    assert argv[argv.index("--out-dir") + 1] == str(ctx.out_dir)
    written = json.loads((ctx.out_dir / "input.json").read_text())
    assert written["source"] == str(Path("/models/src").absolute()) and written["calib_size"] == 8
    assert not (ctx.out_dir / "recipe.json").exists()  # nothing added: the gate uses the name


def test_gates_plain_recipe_uses_the_name(tmp_path):
    ctx = ctx_for(tmp_path)
    inp = QuantizeInput(recipe="fp8")
    calls = SKILL.gates(inp, ctx, SkillResult(ok=True))
    assert calls == [
        GateCall(
            gate="ptq",
            args=["--artifacts", str(Path("/models/src").absolute()), str(ctx.out_dir / "src-fp8"), "--recipe", "fp8"],
        )
    ]


def test_gates_use_the_effective_recipe_when_the_call_adds_exclusions(tmp_path):
    ctx = ctx_for(tmp_path)
    inp = QuantizeInput(recipe="int4_awq", exclude=["model.layers.*.mlp.up_proj"], kv_cache="fp8", out_name="out")
    SKILL.command(inp, ctx)
    args = SKILL.gates(inp, ctx, SkillResult(ok=True))[0].args
    assert args[2] == str(ctx.out_dir / "out")
    eff = load_recipe(args[-1])
    assert args[-1] == str(ctx.out_dir / "recipe.json")
    assert eff.exclude[-1] == "model.layers.*.mlp.up_proj" and eff.kv_cache_quant_algo == "FP8"
    assert eff.name == "int4_awq" and eff.block_size == 128


def test_recipe_file_path_made_absolute(tmp_path, monkeypatch):
    p = recipe_file(tmp_path, name="int4_awq_b64", block_size=64)
    monkeypatch.chdir(tmp_path)
    ctx = ctx_for(tmp_path)
    inp = QuantizeInput(recipe=p.name)
    SKILL.command(inp, ctx)
    assert json.loads((ctx.out_dir / "input.json").read_text())["recipe"] == str(p)
    assert SKILL.gates(inp, ctx, SkillResult(ok=True))[0].args[-1] == str(p)
    assert export_dir(inp, ctx).name == "src-int4_awq_b64"


def test_source_defaults(tmp_path):
    assert default_source(ctx_for(tmp_path)) == "/models/src"
    assert default_source(ctx_for(tmp_path, config={"recipe": "fp8"})) == "embedded:smollm2-135m-instruct"
    sealed = {"preflight": SkillResult(ok=True, artifacts={"checkpoint": "stages/preflight/baseline"})}
    ctx = ctx_for(tmp_path, sealed=sealed)
    assert default_source(ctx) == str(ctx.workspace / "stages/preflight/baseline")


def test_embedded_source_resolves_to_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDUCTOR_CACHE", str(tmp_path / "cache"))
    ctx = ctx_for(tmp_path, config={"model": "embedded:smollm2-135m-instruct"})
    inp = QuantizeInput()
    args = SKILL.gates(inp, ctx, SkillResult(ok=True))[0].args
    assert args[1] == str(tmp_path / "cache" / "models" / "smollm2-135m-instruct")
    assert Path(args[2]).name == "smollm2-135m-instruct-fp8"
    SKILL.command(inp, ctx)  # the runner resolves (and builds) the embedded model itself
    assert json.loads((ctx.out_dir / "input.json").read_text())["source"] == "embedded:smollm2-135m-instruct"


# ---------------------------------------------------------------------------- the operator


def _failure(fc: str, inp: dict, result=None, **extra) -> dict:
    return {
        "stage": "quantize",
        "status": "failed",
        "failure_class": fc,
        "detail": "...",
        "input": inp,
        "result": result,
        **extra,
    }


def test_operator_first_call_from_config_and_preflight(tmp_path):
    sealed = {"preflight": SkillResult(ok=True, artifacts={"checkpoint": "/abs/baseline"})}
    call = SKILL.operator_call(ctx_for(tmp_path, config={"recipe": "int8_sq", "calib_size": 128}, sealed=sealed), None)
    assert call == {"recipe": "int8_sq", "calib_size": 128, "source": "/abs/baseline"}
    QuantizeInput.model_validate(call)


def test_operator_repairs_unpackable_layers_once(tmp_path):
    ctx = ctx_for(tmp_path)
    first = {"recipe": "int4_awq", "calib_size": 32, "source": "/models/src"}
    result = {
        "ok": False,
        "failure_class": "QUANT_COVERAGE_FAILURE",
        "data": {"suggested_exclude": ["model.layers.*.self_attn.q_proj", "model.layers.*.mlp.up_proj"]},
    }
    repair = SKILL.operator_call(ctx, _failure("QUANT_COVERAGE_FAILURE", first, result))
    assert repair == {**first, "exclude": ["model.layers.*.self_attn.q_proj", "model.layers.*.mlp.up_proj"]}
    QuantizeInput.model_validate(repair)
    assert SKILL.operator_call(ctx, _failure("QUANT_COVERAGE_FAILURE", repair, result)) is None  # no second repair


def test_operator_keeps_user_exclusions_when_repairing(tmp_path):
    first = {"recipe": "int4_awq", "exclude": ["*gate_proj*"]}
    result = {"data": {"suggested_exclude": ["model.layers.*.mlp.up_proj"]}}
    repair = SKILL.operator_call(ctx_for(tmp_path), _failure("QUANT_COVERAGE_FAILURE", first, result))
    assert repair["exclude"] == ["*gate_proj*", "model.layers.*.mlp.up_proj"]


def test_operator_reads_a_capped_result(tmp_path):
    result = json.dumps({"ok": False, "data": {"suggested_exclude": ["lm_x"]}})
    repair = SKILL.operator_call(ctx_for(tmp_path), _failure("QUANT_COVERAGE_FAILURE", {"recipe": "int4_awq"}, result))
    assert repair["exclude"] == ["lm_x"]
    truncated = result[:20] + "… (truncated; read the verdict file for all of it)"
    assert SKILL.operator_call(ctx_for(tmp_path), _failure("QUANT_COVERAGE_FAILURE", {}, truncated)) is None


@pytest.mark.parametrize(
    "fc", ["HARDWARE_UNAVAILABLE", "MODEL_UNSUPPORTED", "SIZE_NOT_REDUCED", "SKILL_FAILED", "CHECKPOINT_NOT_SERVABLE"]
)
def test_operator_has_no_repair_for(tmp_path, fc):
    assert SKILL.operator_call(ctx_for(tmp_path), _failure(fc, {"recipe": "nvfp4"})) is None


def test_operator_no_repair_for_a_gate_coverage_failure(tmp_path):
    gate_fail = _failure("QUANT_COVERAGE_FAILURE", {"recipe": "fp8"}, gate="ptq", evidence={"layers": ["x"]})
    del gate_fail["result"]
    assert SKILL.operator_call(ctx_for(tmp_path), gate_fail) is None


# ---------------------------------------------------------------------------- calibration text


def test_shipped_corpus_parses_and_is_varied():
    docs = calib.load_corpus()
    assert 180 <= len(docs) <= 260
    chats = [d for d in docs if d.is_chat]
    assert len(chats) >= 30 and all(len(d.turns) >= 2 for d in chats)
    assert any("\n" in d.text for d in docs)  # code keeps its line breaks
    texts = [d.text or "|".join(d.turns) for d in docs]
    assert len(set(texts)) == len(texts)
    cal, held = calib.split(docs)
    assert len(held) == len(docs) // 10 and not set(map(id, held)) & set(map(id, cal))


def test_corpus_format_errors_are_caught():
    with pytest.raises(ValueError, match="chat line"):
        calib.parse_corpus("[chat] only a question")
    assert calib.parse_corpus("# c\n\nplain\n") == [calib.Doc(text="plain")]


class _Tok:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, msgs, tokenize=False):
        return "<T>" + "|".join(f"{m['role']}:{m['content']}" for m in msgs)


def test_chat_rendering_uses_the_template_when_there_is_one():
    doc = calib.Doc(turns=("hi", "hello", "bye"))
    assert calib.render(doc, _Tok()) == "<T>user:hi|assistant:hello|user:bye"
    plain = type("P", (), {"chat_template": None})()
    assert calib.render(doc, plain) == "User: hi\nAssistant: hello\nUser: bye"
    assert calib.render(calib.Doc(text="x"), _Tok()) == "x"


# ---------------------------------------------------------------------------- runner, no model


def test_runner_reports_invalid_input_as_config_error(tmp_path):
    from skills.quantize import run

    (tmp_path / "in.json").write_text(json.dumps({"recipe": "fp7"}))
    assert run.main(["--input", str(tmp_path / "in.json"), "--out-dir", str(tmp_path / "out")]) == 1
    res = SkillResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert not res.ok and res.failure_class == "USER_CONFIG_ERROR" and "recipe" in res.error


def test_runner_classified_failure_goes_through_the_common_runner(tmp_path, capsys):
    from skills.quantize import run

    (tmp_path / "in.json").write_text(json.dumps({"recipe": "fp8", "source": "embedded:no-such-model"}))
    assert run.main(["--input", str(tmp_path / "in.json"), "--out-dir", str(tmp_path / "out")]) == 1
    res = SkillResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert not res.ok and res.failure_class == "USER_CONFIG_ERROR" and "no-such-model" in res.error
    assert isinstance(res.data["seconds"], float) and res.summary.startswith("USER_CONFIG_ERROR: ")
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("failed (USER_CONFIG_ERROR): ")  # the common runner's last line
    assert "skill failure (USER_CONFIG_ERROR)" in err


@pytest.mark.parametrize("text, words", [
    ("Prose about ships.\n[chat] What is the capital of Japan? ||| Tokyo.\n", "facts_gen_test.jsonl"),
    ("# nothing but a comment\n", "holds no document"),
    (None, "cannot read calib_data"),
])
def test_runner_refuses_calibration_text_it_must_not_use_before_loading_a_model(tmp_path, monkeypatch, text, words):
    """Calibrating on the evaluation's own questions would tune the candidate to its test: refused, as
    input, before anything is loaded (a source that does not exist shows nothing was resolved yet)."""
    from skills.quantize import run

    if text is not None:
        (tmp_path / "calib.txt").write_text(text)
    (tmp_path / "in.json").write_text(json.dumps({"recipe": "fp8", "calib_data": "calib.txt",
                                                  "source": str(tmp_path / "no-such-checkpoint")}))
    monkeypatch.setattr(run, "load_model", lambda *a: pytest.fail("the model was loaded"))
    assert run.main(["--input", str(tmp_path / "in.json"), "--out-dir", str(tmp_path / "out"),
                     "--workspace", str(tmp_path)]) == 1
    res = SkillResult.model_validate_json((tmp_path / "out" / "result.json").read_text())
    assert not res.ok and res.failure_class == "USER_CONFIG_ERROR" and words in res.error, res.error


def test_calibration_set_of_a_user_file_keeps_the_shipped_held_out_documents(tmp_path):
    (tmp_path / "c.txt").write_text("One document about knitting.\nAnother about bridges.\n")
    docs, held = calib.calibration_set(tmp_path / "c.txt")
    assert [d.text for d in docs] == ["One document about knitting.", "Another about bridges."]
    assert held == calib.split(calib.load_corpus())[1] and held
    assert calib.calibration_set() == calib.split(calib.load_corpus())


def test_progress_line_format(capsys):
    from skills.quantize import run

    run.progress(1.7, "calibrating 3/4")
    run.progress(0.25, "calibrating 1/4")
    assert capsys.readouterr().out.splitlines() == ["PROGRESS 1.000 calibrating 3/4", "PROGRESS 0.250 calibrating 1/4"]


def test_default_out_name():
    from skills.quantize.run import default_out_name

    assert default_out_name("embedded:smollm2-135m-instruct", "fp8") == "smollm2-135m-instruct-fp8"
    assert default_out_name("/m/Llama 3 (8B)", "int8_sq") == "Llama-3--8B-int8_sq"
