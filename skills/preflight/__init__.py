"""preflight: resolve the model to a readable checkpoint and record what this machine has.

No gate judges this stage (STAGE_GATES["preflight"] is empty): the conductor judges it on the
result alone, so the result is strict. A model that is not a readable Hugging Face checkpoint, or
a task that cannot be evaluated here, is ok=false with USER_CONFIG_ERROR; hardware and versions
are recorded either way.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from conductor.redact import HUB_SECRETS
from skills.common.base import RunnerSkill


class PreflightInput(BaseModel):
    """Preflight takes everything from the release config (model, recipe, tasks)."""

    model_config = ConfigDict(extra="forbid")


class Preflight(RunnerSkill):
    name = "preflight"
    stage = "preflight"
    runner = "skills.preflight.run"
    input_model = PreflightInput
    doc_path = Path(__file__).with_name("SKILL.md")
    timeout_s = 1800.0  # the embedded model is converted once (about 30 s), a big checkpoint's headers read
    env_secrets = HUB_SECRETS  # the only secrets this skill's process gets (a gated model on the hub)
    description = ("Resolve the release's model to a local Hugging Face checkpoint (the embedded model is "
                   "prepared once and cached), check its files and the evaluation tasks, and record the "
                   "hardware (CUDA, CPUs, memory), the library versions and where vLLM can run. No input.")


SKILL = Preflight()
