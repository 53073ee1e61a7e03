"""Recipe search on the embedded model, with the real libraries (tiny sizes: a CPU shared by many).

1. The sensitivity skill, run as the conductor runs skills (launch.py, a workspace, a context), ranks
   real module names of SmolLM2 with finite effects, and a recipe proposal can cite its ranking.
2. A proposal that keeps modules unquantized, quantized by the quantize runner with real modelopt:
   the ptq gate passes the export against the proposal's recipe and its verdict names the excluded
   modules; against the catalogue recipe the same export is a coverage failure (the gate holds the
   export to exactly what was proposed).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conductor.runtime.skill import SkillResult
from gates.ptq.modules import checkpoint_modules
from skills.quantize.proposal import plan_proposal
from tests.embedded_release import (
    OFFLINE,
    context,
    embedded_checkpoint,
    gate,
    run_skill,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
pytest.importorskip("modelopt")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base() -> Path:
    return embedded_checkpoint()


@pytest.fixture(scope="module")
def sensitivity(tmp_path_factory, base):
    ws = tmp_path_factory.mktemp("ws-sensitivity")
    ctx = context(ws, base, None, {"model": str(base), "recipe": "int8_sq"})
    inp = {"calib_size": 2, "calib_seq_len": 32, "heldout_seqs": 1, "heldout_seq_len": 32, "measure": "alone",
           "top_k": 2}
    res, log, secs = run_skill("skills.sensitivity.run", inp, ws, "sensitivity", ctx, timeout=1800)
    assert res.ok, log[-3000:]
    print(f"\n[timing] sensitivity, 30 layer groups, alone, 1x32 held-out tokens: {secs:.0f}s wall")
    return ws, res


def test_sensitivity_ranks_real_module_names_with_finite_effects(base, sensitivity):
    ws, res = sensitivity
    names = set(checkpoint_modules(base).names)
    rows = res.data["ranking"]
    assert res.data["recipe"] == "int8_sq" and res.data["groups"] == len(rows) == 30
    assert [r["rank"] for r in rows] == list(range(1, 31))
    assert all(math.isfinite(r["effect"]) and math.isfinite(r["alone_nll"]) for r in rows)
    assert [r["effect"] for r in rows] == sorted((r["effect"] for r in rows), reverse=True)
    covered = [m for r in rows for m in r["modules"]]
    assert len(covered) == len(set(covered)) == 210 and set(covered) <= names  # every linear, once
    assert {r["group"] for r in rows} == {f"model.layers.{i}" for i in range(30)}
    assert math.isfinite(res.data["all_quantized_nll"]) and res.data["all_quantized_delta"] > 0
    assert res.data["heldout"]["file"] == "skills/data/heldout.txt"
    on_disk = json.loads((ws / res.artifacts["ranking"]).read_text())
    assert on_disk["ranking"] == rows
    assert res.data["suggested_exclude"] == [r["pattern"] for r in rows if r["effect"] > 0][:2]


def test_a_proposal_cites_the_ranking_and_resolves_to_its_top_groups(base, sensitivity):
    ws, res = sensitivity
    top = [r for r in res.data["ranking"] if r["effect"] > 0][:2]
    planned = plan_proposal({"base": "int8_sq", "exclude_sensitive": {"ranking": res.artifacts["ranking"], "top_k": 2},
                             "reason": "the two most sensitive layers"}, base, ws)
    assert planned.resolved.exclude_patterns == [r["pattern"] for r in top]
    assert set(planned.resolved.excluded_modules) == {m for r in top for m in r["modules"]}


def quantize(out: Path, inp: dict) -> SkillResult:
    out.mkdir(parents=True, exist_ok=True)
    (out / "input.json").write_text(json.dumps(inp))
    proc = subprocess.run([sys.executable, "-m", "skills.quantize.run", "--input", str(out / "input.json"),
                           "--out-dir", str(out), "--workspace", str(out)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **OFFLINE}, timeout=1800, check=False)
    assert (out / "result.json").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return SkillResult.model_validate_json((out / "result.json").read_text())


def test_an_exclusion_proposal_is_quantized_and_the_ptq_gate_names_what_it_excluded(tmp_path, base):
    planned = plan_proposal({"base": "int8_sq", "exclude_first_layers": 1, "exclude": ["model.layers.*.mlp.down_proj"],
                             "calib_size": 4, "calib_seq_len": 32, "reason": "test"}, base)
    inp = planned.quantize_input.model_dump(mode="json", exclude_none=True)
    res = quantize(tmp_path / "q", inp)
    assert res.ok, res.error
    excluded = set(planned.resolved.excluded_modules)
    assert len(excluded) == 7 + 29 and res.data["layers_quantized"] == 210 - 36
    ebr = res.data["excluded_by_request"]
    # each module counts under the first pattern that matches it (the explicit one comes first)
    assert set(ebr["names"]) == excluded and ebr["per_pattern"] == {"model.layers.*.mlp.down_proj": 30,
                                                                    "model.layers.0.*": 6}
    assert res.data["calib_data"]["shipped"] is True and res.data["calib_size"] == 4
    # the gate judges the export against the proposal's recipe: PASS, and it names the modules kept bf16
    recipe = tmp_path / "recipe.json"
    recipe.write_text(planned.resolved.recipe.model_dump_json())
    v = gate("ptq", base, res.artifacts["export"], args=("--recipe", str(recipe)))
    assert v["pass"], v["detail"]
    by_pattern = v["evidence"]["excluded_by_pattern"]
    assert by_pattern["model.layers.*.mlp.down_proj"] == 30 and by_pattern["model.layers.0.*"] == 6
    assert v["evidence"]["layers_excluded"]["count"] == 36 + 1  # + the embeddings (the head is tied)
    named = v["evidence"]["layers_excluded"]["layers"]  # capped: the first names, by group
    assert named and set(named) <= excluded | {"model.embed_tokens"}
    # against the catalogue recipe, the same export has holes where the proposal kept bf16
    v = gate("ptq", base, res.artifacts["export"], args=("--recipe", "int8_sq"))
    assert not v["pass"] and v["failure_class"] == "QUANT_COVERAGE_FAILURE"
    assert "36 covered matrices left unquantized" in v["detail"]
