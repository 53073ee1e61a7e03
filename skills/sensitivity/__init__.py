"""The `sensitivity` skill: which layer groups a PTQ recipe hurts most, measured on held-out text.

    from skills.sensitivity import SKILL
    argv = SKILL.command(SensitivityInput(recipe="int8_sq", calib_size=8), ctx)
    # runner: python -m skills.sensitivity.run (result.data.ranking, artifacts.ranking = ranking.json)

Its result is evidence, not a release artifact: no gate judges it. A recipe proposal cites its
ranking.json (`exclude_sensitive`), and the proposal is checked against it (gates/recipes/proposal.py).
"""

from __future__ import annotations

from pathlib import Path

from skills.common.base import RunnerSkill
from skills.sensitivity.models import SensitivityInput


class SensitivitySkill(RunnerSkill):
    name = "sensitivity"
    stage = "quantize"
    runner = "skills.sensitivity.run"
    input_model = SensitivityInput
    description = ("Per-layer-group sensitivity of the checkpoint to a PTQ recipe: calibrates the recipe once with "
                   "modelopt, then measures the held-out loss with one layer group quantized at a time (and with all "
                   "but one). Returns the groups ranked by measured effect and the exclusion patterns of the most "
                   "sensitive; cite its ranking.json in a recipe proposal. Read the sensitivity skill doc.")
    doc_path: Path | None = Path(__file__).with_name("SKILL.md")
    timeout_s = 2 * 3600.0


SKILL = SensitivitySkill()

__all__ = ["SKILL", "SensitivityInput", "SensitivitySkill"]
