"""The search ladder the autopilot follows (skills/quantize/ladder.py): every step it proposes is a valid
proposal, it measures before it excludes, it never repeats an attempt, and the budget ends it."""

from __future__ import annotations

import json

import pytest

from gates.ptq.modules import checkpoint_modules
from gates.recipes.proposal import parse_proposal, resolve
from skills.quantize.ladder import WIDER, next_step
from tests.fixtures import checkpoints as ck

FIRST = {"base": "int8_sq", "calib_size": 8, "calib_seq_len": 64}
RANKING = {"recipe": "int8_sq", "ranking": [
    {"pattern": f"model.layers.{i}.*", "effect": e} for i, e in ((3, 0.4), (0, 0.2), (5, 0.05), (1, -0.01))]}


def walk(ranking=RANKING, path="ranking.json", max_recipes=9, first=FIRST, allowed=None):
    attempts, steps = [first], []
    while True:
        s = next_step(attempts, ranking, path, max_recipes=max_recipes, allowed=allowed)
        steps.append(s)
        if s.action != "propose":
            return attempts, steps
        attempts.append({k: v for k, v in s.proposal.items() if k != "reason"})


def test_without_a_ranking_the_first_step_is_to_measure_with_the_failed_calibration():
    s = next_step([FIRST])
    assert s.action == "sensitivity" and s.input == {"recipe": "int8_sq", "calib_size": 8, "calib_seq_len": 64,
                                                     "top_k": 3}


def test_a_ranking_for_another_format_is_not_evidence():
    assert next_step([FIRST], {**RANKING, "recipe": "fp8"}, "r.json").action == "sensitivity"


def test_the_ladder_excludes_then_calibrates_then_widens_then_stops():
    attempts, steps = walk()
    assert [s.action for s in steps] == ["propose", "propose", "propose", "stop"]
    exclude, calibrate, widen = attempts[1:]
    assert exclude == {**FIRST, "exclude_sensitive": {"ranking": "ranking.json", "top_k": 3}}
    assert calibrate == {"base": "int8_sq", "calib_size": 64, "calib_seq_len": 256,
                         "exclude_sensitive": {"ranking": "ranking.json", "top_k": 3}}
    assert widen == {"base": WIDER["int8_sq"], "calib_size": 64, "calib_seq_len": 256}
    assert "exhausted" in steps[-1].reason


def test_top_k_never_exceeds_the_groups_that_measured_harmful():
    ranking = {"recipe": "int8_sq", "ranking": [{"pattern": "model.layers.3.*", "effect": 0.4},
                                                {"pattern": "model.layers.0.*", "effect": -0.1}]}
    s = next_step([FIRST], ranking, "r.json")
    assert s.proposal["exclude_sensitive"]["top_k"] == 1


def test_a_ranking_where_nothing_hurt_goes_straight_to_more_calibration():
    ranking = {"recipe": "int8_sq", "ranking": [{"pattern": "model.layers.3.*", "effect": -0.1}]}
    s = next_step([FIRST], ranking, "r.json")
    assert s.action == "propose" and "exclude_sensitive" not in s.proposal and s.proposal["calib_size"] == 64


def test_the_budget_counts_the_release_recipe_and_ends_the_search():
    attempts, steps = walk(max_recipes=3)
    assert len(attempts) == 3 and steps[-1].action == "stop" and "budget" in steps[-1].reason


def test_an_attempt_already_made_is_skipped():
    done = {**FIRST, "exclude_sensitive": {"ranking": "ranking.json", "top_k": 3}}
    s = next_step([FIRST, done], RANKING, "ranking.json")
    assert s.proposal["calib_size"] == 64


def test_a_first_attempt_at_the_raised_calibration_goes_from_exclusion_to_the_wider_format():
    first = {"base": "int8_sq", "calib_size": 128, "calib_seq_len": 256}
    attempts, steps = walk(first=first)
    assert [a["base"] for a in attempts] == ["int8_sq", "int8_sq", "fp8"]
    assert attempts[2]["calib_size"] == 128


def test_formats_the_release_does_not_allow_are_skipped():
    attempts, _ = walk(allowed=["int8_sq"])
    assert {a["base"] for a in attempts} == {"int8_sq"}


def test_fp8_has_no_wider_format_here():
    attempts, steps = walk(ranking={"recipe": "fp8", "ranking": RANKING["ranking"]},
                           first={"base": "fp8", "calib_size": 64, "calib_seq_len": 256})
    assert [a["base"] for a in attempts] == ["fp8", "fp8"] and steps[-1].action == "stop"


def test_every_proposal_the_ladder_makes_is_accepted_by_the_proposal_model(tmp_path):
    cfg = ck.llama_config(layers=6)
    src = ck.write_synthetic_checkpoint(tmp_path / "src", cfg, ck.llama_tensors(cfg))
    (tmp_path / "ranking.json").write_text(json.dumps(RANKING))
    attempts, _ = walk()
    mods = checkpoint_modules(src)
    for a in attempts[1:]:
        p = parse_proposal({**a, "reason": "ladder"})
        resolve(p, mods, tmp_path)


def test_no_attempts_is_a_programming_error():
    with pytest.raises(ValueError):
        next_step([])
