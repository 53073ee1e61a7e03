"""ptq gate, the tensor bytes it reads: scales that are NaN, infinite, negative or zero, and quantized weights
that are all zero, written into modelopt-layout exports (synthetic ones in milliseconds; a real modelopt FP8
export at the end, integration). Each is QUANT_COVERAGE_FAILURE: the layer is not quantized as the recipe says.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import pytest

from gates.failure_classes import FailureClass as FC
from gates.ptq.collect import collect_dirs
from gates.ptq.decide import decide
from gates.ptq.tensordata import value_stats, windows
from gates.recipes import load_recipe
from tests.fixtures import checkpoints as ck

NAN32, INF32, ZERO32, NEG32 = (struct.pack("<f", x) for x in (float("nan"), float("inf"), 0.0, -0.5))
Q = "model.layers.1.self_attn.o_proj"


def gate(src: Path, exp: Path, recipe: str = "fp8"):
    return decide(collect_dirs(src, exp, load_recipe(recipe)))


def failed(v) -> dict[str, object]:
    return {c.name: c for c in v.checks if not c.passed}


def put(value: bytes) -> Callable[[int], bytes]:
    return lambda n: (value * (n // len(value) + 1))[:n]


def poke(offset_fraction: float, value: bytes, fill: bytes) -> Callable[[int], bytes]:
    """The healthy fill with one value replaced, somewhere inside the tensor."""
    def make(n: int) -> bytes:
        data = bytearray(put(fill)(n))
        at = int(n * offset_fraction) // len(value) * len(value)
        data[at:at + len(value)] = value
        return bytes(data)
    return make


@pytest.mark.parametrize("tensor,data,check_name,needle", [
    (f"{Q}.weight_scale", put(NAN32), "scales_valid", "1 scale tensor(s) with NaN/inf"),
    (f"{Q}.input_scale", put(INF32), "scales_valid", "1 scale tensor(s) with NaN/inf"),
    (f"{Q}.input_scale", put(ZERO32), "scales_valid", "1 all zero"),
    (f"{Q}.weight_scale", put(NEG32), "scales_valid", "1 with a negative value"),
    (f"{Q}.weight", put(b"\0"), "weights_nonzero", f"1 quantized weight matrices are all zero where sampled: {Q}"),
], ids=["nan_weight_scale", "inf_input_scale", "zero_input_scale", "negative_weight_scale", "zero_weight"])
def test_fp8_export_with_broken_tensor_data_is_coverage_failure(tmp_path, tensor, data, check_name, needle):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    ck.overwrite_tensor(exp / "model.safetensors", tensor, data)
    v = gate(src, exp)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE, v.detail
    assert list(failed(v)) == [check_name] and needle in failed(v)[check_name].detail, failed(v)[check_name].detail


def test_every_scale_zero_is_counted_per_tensor(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "fp8")
    for layer in range(2):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            ck.overwrite_tensor(exp / "model.safetensors", f"model.layers.{layer}.self_attn.{proj}.weight_scale",
                                put(ZERO32))
    v = gate(src, exp)
    assert failed(v)["scales_valid"].observed == {"nonfinite": 0, "negative": 0, "all_zero": 8, "read": 28}


@pytest.fixture()
def nvfp4(tmp_path):
    return ck.synthetic_pair(tmp_path, "nvfp4", cfg=ck.llama_config(hidden=128, inter=256))


def test_nvfp4_block_scale_with_one_nan_among_thousands_is_found(nvfp4):
    src, exp = nvfp4
    name = "model.layers.0.mlp.down_proj.weight_scale"  # F8_E4M3 [128, 16]: read whole
    ck.overwrite_tensor(exp / "model.safetensors", name, poke(0.61, b"\x7f", b"\x38"))
    v = gate(src, exp, "nvfp4")
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE
    flagged = failed(v)["scales_valid"].detail
    assert name in flagged and "1 non-finite" in flagged


def test_nvfp4_block_scales_with_some_zero_blocks_pass(nvfp4):
    # a block of 16 zero weights has a zero scale: legitimate as long as the tensor is not all zero
    src, exp = nvfp4
    ck.overwrite_tensor(exp / "model.safetensors", "model.layers.0.mlp.down_proj.weight_scale",
                        poke(0.5, b"\x00" * 64, b"\x38"))
    v = gate(src, exp, "nvfp4")
    assert v.passed, v.detail


def test_int8_sq_pre_quant_scale_nan_in_bf16_is_found(tmp_path):
    src, exp = ck.synthetic_pair(tmp_path, "int8_sq")
    ck.overwrite_tensor(exp / "model.safetensors", f"{Q}.pre_quant_scale", poke(0.3, b"\xc0\x7f", b"\x80\x3f"))
    v = gate(src, exp, "int8_sq")
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE and "scales_valid" in failed(v)


def test_large_scales_are_read_in_windows_and_a_nan_in_a_window_is_found(tmp_path):
    cfg = ck.llama_config(hidden=4096, inter=8192, layers=1, heads=32, kv_heads=8, vocab=512)
    src, exp = ck.synthetic_pair(tmp_path, "nvfp4", cfg=cfg, sparse=True)
    name = "model.layers.0.mlp.down_proj.weight_scale"  # F8_E4M3 [4096, 512] = 2 MiB: three 16 KiB windows
    facts = collect_dirs(src, exp, load_recipe("nvfp4"))
    assert decide(facts).passed and facts.tensor_data.unread == 0
    ck.overwrite_tensor(exp / "model.safetensors", name, poke(0.0, b"\x7f", b"\x38"))
    v = gate(src, exp, "nvfp4")
    assert "scales_valid" in failed(v)
    row = failed(v)["scales_valid"].detail
    assert f"{name} (F8_E4M3, 49152 of 2097152 values read" in row


def test_value_stats_decode_every_float_dtype():
    assert value_stats("F32", NAN32 + ZERO32 + NEG32 + struct.pack("<f", 2.0)) == (4, 1, 1, 1)
    assert value_stats("F16", struct.pack("<3e", float("inf"), 0.0, -1.0)) == (3, 1, 1, 1)
    assert value_stats("BF16", b"\xc0\x7f" + b"\x00\x00" + b"\x80\xbf" + b"\x80\x3f") == (4, 1, 1, 1)
    assert value_stats("F8_E4M3", bytes([0x7F, 0xFF, 0x00, 0x80, 0xB8, 0x38])) == (6, 2, 2, 1)
    assert value_stats("F8_E5M2", bytes([0x7C, 0x7F, 0x00, 0xBC])) == (4, 2, 1, 1)
    assert value_stats("I8", b"\x01") is None
    assert windows(10, 4) == [(0, 10)] and windows(100, 4, 4) == [(0, 4), (48, 4), (96, 4)]


def test_the_read_budget_is_reported_not_silently_passed(tmp_path):
    from gates.ptq.headers import scan_checkpoint
    from gates.ptq.tensordata import read_tensor_data

    _, exp = ck.synthetic_pair(tmp_path, "fp8")
    d = read_tensor_data(exp, scan_checkpoint(exp), budget=100)
    assert d.unread > 0 and d.scales_read + d.weights_sampled < 28 + 14


# ---------------------------------------------------------------- a real modelopt FP8 export


@pytest.fixture(scope="module")
def real_fp8(tmp_path_factory):
    pytest.importorskip("modelopt.torch.quantization")
    root = tmp_path_factory.mktemp("ptq_data_real")
    src = ck.build_real_source(root / "src")
    assert ck.export_real(src, root / "fp8", "FP8_DEFAULT_CFG") is None
    return src, root / "fp8"


@pytest.mark.integration
@pytest.mark.parametrize("tensor,data,check_name", [
    (f"{Q}.weight_scale", put(NAN32), "scales_valid"),
    ("model.layers.0.mlp.up_proj.input_scale", put(ZERO32), "scales_valid"),
    ("model.layers.0.mlp.gate_proj.weight", put(b"\0"), "weights_nonzero"),
], ids=["nan_weight_scale", "zero_input_scale", "zero_weight"])
def test_real_fp8_export_with_broken_tensor_data_is_coverage_failure(real_fp8, tmp_path, tensor, data, check_name):
    src, exp = real_fp8
    assert gate(src, exp).passed
    broken = ck.copy_checkpoint(exp, tmp_path / "broken")
    ck.overwrite_tensor(broken / "model.safetensors", tensor, data)
    v = gate(src, broken)
    assert v.failure_class == FC.QUANT_COVERAGE_FAILURE and list(failed(v)) == [check_name], v.detail
