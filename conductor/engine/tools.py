"""The tools the agent may call, per stage: the open stage's skills plus four generic tools.

A call is resolved before anything runs: an unknown tool, another stage's (locked) tool, or an
input that fails the tool's JSON Schema (jsonschema) or its pydantic model is a `ToolRefusal`,
which the loop returns as an `is_error` tool result. The generic read-only tools are implemented
here and never leave the workspace.

    reg = ToolRegistry(skills)
    reg.definitions("quantize")          # what the model is offered
    r = reg.resolve("quantize", "quantize", {"recipe": "fp8"})   # Resolved | ToolRefusal
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conductor.runtime.skill import Skill, tool_schema

READ_ARTIFACT = "read_artifact"
LIST_WORKSPACE = "list_workspace"
ASK_HUMAN = "ask_human"
DECLARE_INFEASIBLE = "declare_infeasible"
ACCEPT_FAILURE = "accept_failure"


class ReadArtifactInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, description="file path relative to the workspace (or absolute inside it)")
    max_bytes: int = Field(default=20_000, ge=1, le=200_000, description="read at most this many bytes")


class ListWorkspaceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subdir: str = Field(default="", description="folder relative to the workspace; empty for the root")


class AskHumanInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=4000, description="one clear question for the person")


class DeclareInfeasibleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000, description="why this model/recipe cannot work here")


class AcceptFailureInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000, description="why no honest repair is left")


GENERIC: dict[str, tuple[type[BaseModel], str]] = {
    READ_ARTIFACT: (ReadArtifactInput, "Read a file of the run's workspace (logs, results, gate verdicts). "
                                       "Text is returned, truncated to max_bytes."),
    LIST_WORKSPACE: (ListWorkspaceInput, "List the files under a folder of the run's workspace, with sizes."),
    ASK_HUMAN: (AskHumanInput, "Ask the person overseeing the run a question and wait for the answer. "
                               "Headless runs without a policy end NEEDS_HUMAN."),
    DECLARE_INFEASIBLE: (DeclareInfeasibleInput, "Declare that this model/recipe cannot be released here, "
                                                 "with the reason. Ends the run INFEASIBLE."),
    ACCEPT_FAILURE: (AcceptFailureInput, "Stop repairing the open stage after a failure: the run ends with the "
                                         "decision the last failure_class implies (the triage table's 'ends as'), "
                                         "e.g. ANOMALOUS after CACHING_DETECTED. Only valid after a failure."),
}


def _definition(name: str, model: type[BaseModel], description: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return {"name": name, "description": description, "input_schema": schema}


@dataclass(frozen=True)
class Resolved:
    name: str
    input: BaseModel
    skill: Optional[Skill] = None  # None for the generic tools


@dataclass(frozen=True)
class ToolRefusal:
    name: str
    reason: str  # unknown | locked | invalid_input
    message: str


class ToolRegistry:
    def __init__(self, skills: Sequence[Skill]):
        self.skills: dict[str, Skill] = {}
        for s in skills:
            if s.name in GENERIC or s.name in self.skills:
                raise ValueError(f"tool name {s.name!r} is used twice")
            self.skills[s.name] = s
        self._defs: dict[str, dict[str, Any]] = {n: _definition(n, m, d) for n, (m, d) in GENERIC.items()}
        # a skill may carry its recorded definition (replay's stand-ins do); else it comes from its model
        self._defs.update({n: getattr(s, "tool_definition", None) or tool_schema(s) for n, s in self.skills.items()})
        self._validators = {n: jsonschema.Draft202012Validator(d["input_schema"]) for n, d in self._defs.items()}
        # inputs already found valid (the check depends only on the schema and the input): a long run
        # or a replay repeats the same calls thousands of times; bounded, so memory stays flat
        self._known_valid: set[tuple[str, str]] = set()

    def definition(self, name: str) -> dict[str, Any]:
        return self._defs[name]

    def stage_tools(self, stage: str) -> list[str]:
        return [n for n, s in self.skills.items() if s.stage == stage]

    def definitions(self, stage: str) -> list[dict[str, Any]]:
        """Generic tools first (stable across stages, good for the prompt cache), then the stage's."""
        return [self._defs[n] for n in GENERIC] + [self._defs[n] for n in self.stage_tools(stage)]

    def resolve(self, name: str, stage: str, raw: Any) -> Union[Resolved, ToolRefusal]:
        if name not in self._defs:
            return ToolRefusal(name, "unknown", f"unknown tool {name!r}; tools available in stage {stage!r}: "
                                                f"{[d['name'] for d in self.definitions(stage)]}")
        skill = self.skills.get(name)
        if skill is not None and skill.stage != stage:
            return ToolRefusal(name, "locked", f"tool {name!r} belongs to stage {skill.stage!r}, which is not "
                                               f"open; the open stage is {stage!r}. It was not run.")
        if not isinstance(raw, dict):
            return ToolRefusal(name, "invalid_input", f"input of {name!r} must be a JSON object")
        try:
            key: Optional[tuple[str, str]] = (name, json.dumps(raw, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError):
            key = None  # not plain JSON: always checked
        validator = self._validators[name]
        errors: list[Any]
        if key is not None and key in self._known_valid:
            errors = []
        elif validator.is_valid(raw):
            errors = []
            if key is not None and len(self._known_valid) < 4096:
                self._known_valid.add(key)
        else:
            errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.path) or "(input)"
            return ToolRefusal(name, "invalid_input", f"input of {name!r} fails its JSON Schema at {where}: "
                                                      f"{e.message}. It was not run.")
        model = skill.input_model if skill is not None else GENERIC[name][0]
        try:
            inp = model.model_validate(raw)
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in e["loc"]) or "(input)"
            return ToolRefusal(name, "invalid_input", f"input of {name!r} is invalid at {where}: {e['msg']}. "
                                                      f"It was not run.")
        return Resolved(name, inp, skill)


# -- the read-only generic tools ---------------------------------------------------------------


def _inside(root: Path, rel: str) -> Optional[Path]:
    base = root.resolve()
    target = (base / rel).resolve()
    if target == base or base in target.parents:
        return target
    return None


def read_artifact(root: Path, inp: ReadArtifactInput) -> tuple[bool, str]:
    """(is_error, text). Never reads outside the workspace (symlinks resolved first)."""
    target = _inside(root, inp.path)
    if target is None:
        return True, f"{inp.path!r} is outside the workspace; only files of this run can be read"
    if not target.is_file():
        return True, f"{inp.path!r} is not a file in the workspace"
    size = target.stat().st_size
    with open(target, "rb") as fh:
        data = fh.read(inp.max_bytes)
    if b"\x00" in data[:4096]:
        return False, f"{inp.path}: binary file, {size} bytes (not shown)"
    text = data.decode("utf-8", errors="replace")
    more = f" (showing the first {len(data)} of {size} bytes)" if size > len(data) else ""
    return False, f"{inp.path}{more}:\n{text}"


def list_workspace(root: Path, inp: ListWorkspaceInput, limit: int = 300) -> tuple[bool, str]:
    target = _inside(root, inp.subdir or ".")
    if target is None:
        return True, f"{inp.subdir!r} is outside the workspace"
    if not target.is_dir():
        return True, f"{inp.subdir!r} is not a folder in the workspace"
    base = root.resolve()
    rows: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(target):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath, f)
            try:
                rows.append({"path": str(p.relative_to(base)), "bytes": p.stat().st_size})
            except OSError:
                continue
            if len(rows) >= limit:
                return False, json.dumps({"files": rows, "truncated": True})
    return False, json.dumps({"files": rows, "truncated": False})
