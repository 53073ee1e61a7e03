"""The domain skills of a release, one per stage: what `conductor.app.wiring.build_skills` runs.

    skills = default_skills()      # [preflight, quantize, serve, evaluate x2, compare, audits, closeout]

Each skill package is imported lazily, here, and only its Skill classes: no skill module imports
torch, transformers, modelopt, lm-eval or vLLM at import time (their runners do). A package
provides the skill of a stage as one of (checked in this order):

    skill_for_stage(stage) -> Skill      # e.g. skills.evaluate, one class for two stages
    SKILLS: {stage: Skill} or [Skill]
    SKILL: Skill                         # a single-stage package

A package that is missing or fails to import raises `SkillUnavailable` (an ImportError) naming
the package and the stage, which the CLI reports as one sentence.
"""

from __future__ import annotations

import importlib
from typing import Any, Iterable, Optional

# stage -> the package that provides its skill (closeout is run by the conductor after the decision)
STAGE_PACKAGES: dict[str, str] = {
    "preflight": "skills.preflight",
    "quantize": "skills.quantize",
    "serve": "skills.serve",
    "eval_baseline": "skills.evaluate",
    "eval_candidate": "skills.evaluate",
    "compare": "skills.compare",
    "audits": "skills.audits",
    "closeout": "skills.closeout",
}


class SkillUnavailable(ImportError):
    """A stage's skill package is missing, fails to import, or provides no skill for the stage."""


def _import(package: str, stage: str) -> Any:
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name and (package == exc.name or package.startswith(exc.name + ".")):
            raise SkillUnavailable(f"the skill of stage {stage!r} is missing: package {package} is not "
                                   "part of this installation") from exc
        raise SkillUnavailable(f"the skill of stage {stage!r} ({package}) cannot be imported: {exc}") from exc
    except Exception as exc:
        raise SkillUnavailable(f"the skill of stage {stage!r} ({package}) cannot be imported: "
                               f"{type(exc).__name__}: {exc}") from exc


def _from_module(mod: Any, stage: str) -> Optional[Any]:
    factory = getattr(mod, "skill_for_stage", None)
    if callable(factory):
        return factory(stage)
    many = getattr(mod, "SKILLS", None)
    if isinstance(many, dict):
        return many.get(stage)
    if isinstance(many, (list, tuple)):
        return next((s for s in many if getattr(s, "stage", None) == stage), None)
    one = getattr(mod, "SKILL", None)
    return one if getattr(one, "stage", None) == stage else None


def skill_for(stage: str, package: Optional[str] = None) -> Any:
    package = package or STAGE_PACKAGES[stage]
    mod = _import(package, stage)
    try:
        skill = _from_module(mod, stage)
    except Exception as exc:
        raise SkillUnavailable(f"{package} could not build the skill of stage {stage!r}: "
                               f"{type(exc).__name__}: {exc}") from exc
    if skill is None:
        raise SkillUnavailable(f"{package} provides no skill for stage {stage!r} "
                               "(expected skill_for_stage(stage), SKILLS or SKILL)")
    if getattr(skill, "stage", None) != stage:
        raise SkillUnavailable(f"{package} returned a skill of stage {getattr(skill, 'stage', None)!r} "
                               f"for stage {stage!r}")
    return skill


def default_skills(stages: Optional[Iterable[str]] = None) -> list[Any]:
    """One skill per stage, in stage order (all eight stages by default)."""
    chosen = list(STAGE_PACKAGES) if stages is None else list(stages)
    unknown = [s for s in chosen if s not in STAGE_PACKAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; stages are {list(STAGE_PACKAGES)}")
    skills = [skill_for(s) for s in STAGE_PACKAGES if s in chosen]
    names = [s.name for s in skills]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SkillUnavailable(f"tool names must be unique across stages; used twice: {dup}")
    return skills
