"""One skill attempt in the real world: run the skill through the executor, read its result, run
its gates, seal the stage. The loop talks to a `World`; `LiveWorld` is this machine, and replay
has its own World that serves the record instead.

    world = LiveWorld(executor, workspace, gate_timeout_s=120, cancel=steering.cancel)
    n, out_dir = world.new_attempt("quantize")
    argv, log = world.prepare(call, ctx)
    run = world.run_skill(call, ctx, argv, log, on_line, timeout_s)
    gates = world.run_gates(call, ctx, run.result, required=("ptq",), on_gate=emit)
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence

from pydantic import BaseModel, ValidationError

from conductor.executor import ProcessSpec
from conductor.skill import RESULT_FILE, GateCall, Skill, SkillContext, SkillResult
from gates.failure_classes import FailureClass
from conductor.triage import classify

LOG_TAIL = 20


@dataclass(frozen=True)
class SkillCall:
    stage: str
    skill: Skill
    input: BaseModel
    tool_use_id: str
    attempt: int


@dataclass
class SkillRun:
    """How a skill attempt ended. `failure` is None when the skill succeeded."""

    exit_code: Optional[int]
    duration_s: float
    result: Optional[SkillResult]
    raw_result: dict[str, Any]
    failure: Optional[FailureClass] = None
    error: Optional[str] = None
    timed_out: bool = False
    cancelled: bool = False
    log_tail: list[str] = field(default_factory=list)


@dataclass
class GateOutcome:
    """One gate's verdict as the loop uses it (built from gate_runner.GateRun or from the record)."""

    gate: str
    verdict: dict[str, Any]
    facts: Optional[dict[str, Any]]
    exit_code: Optional[int]
    duration_s: float
    error: Optional[str] = None
    argv: Optional[list[str]] = None  # the gate's command line (None: a verdict the conductor wrote)

    @property
    def passed(self) -> bool:
        return self.verdict.get("pass") is True


class World(Protocol):
    def new_attempt(self, stage: str) -> tuple[int, Path]: ...

    def prepare(self, call: SkillCall, ctx: SkillContext) -> tuple[list[str], str]: ...

    def run_skill(self, call: SkillCall, ctx: SkillContext, argv: list[str], log_path: str,
                  on_line: Callable[[str], None], timeout_s: float) -> SkillRun: ...

    def run_gates(self, call: SkillCall, ctx: SkillContext, result: SkillResult, required: Sequence[str],
                  on_gate: Callable[[GateOutcome], None]) -> list[GateOutcome]: ...

    def seal(self, stage: str, attempt: int, result: SkillResult, verdicts: list[dict[str, Any]],
             inp: dict[str, Any]) -> tuple[dict[str, str], str]: ...

    def read(self, name: str, tool_use_id: str, inp: BaseModel) -> tuple[bool, str]:
        """read_artifact / list_workspace: (is_error, text)."""


def gate_error(gate: str, detail: str) -> dict[str, Any]:
    """A fail-closed verdict the conductor writes itself (a required gate that never ran)."""
    return {"gate": gate, "pass": False, "failure_class": FailureClass.GATE_ERROR.value, "detail": detail,
            "checks": [{"name": "gate_ran", "pass": False, "detail": detail, "failure_class": "GATE_ERROR"}],
            "evidence": {}}


def read_result(root: Path, out_dir: Path, exit_code: Optional[int], log_tail: list[str]) -> SkillRun:
    """Read out_dir/result.json; anything missing, invalid or contradictory is a classified failure."""
    tail = log_tail[-LOG_TAIL:]
    path = out_dir / RESULT_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        result = SkillResult.model_validate(raw)
    except FileNotFoundError:
        return SkillRun(exit_code, 0.0, None, {}, FailureClass.SKILL_FAILED,
                        f"the skill exited with code {exit_code} and wrote no {RESULT_FILE}", log_tail=tail)
    except (ValueError, ValidationError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return SkillRun(exit_code, 0.0, None, {}, FailureClass.SKILL_FAILED,
                        f"{RESULT_FILE} is invalid: {msg}", log_tail=tail)
    run = SkillRun(exit_code, 0.0, result, raw, log_tail=tail)
    if not result.ok:
        run.failure = classify(result.failure_class)
        run.error = result.error or result.summary or "the skill reported a failure"
    elif exit_code != 0:
        run.failure, run.error = FailureClass.SKILL_FAILED, f"{RESULT_FILE} says ok but the skill exited {exit_code}"
    else:
        missing = [f"{k} ({v})" for k, v in result.artifacts.items() if not _resolve(root, v).exists()]
        if missing:
            run.failure, run.error = FailureClass.SKILL_FAILED, f"declared artifacts do not exist: {missing}"
    return run


def scrub_after_child(workspace: Path, out_dir: Path) -> None:
    """What a skill or its gates wrote, redacted before it is read, hashed or sealed (conductor.scrub):
    the attempt's folder, and the files at the top of the run folder (a closeout's report), never the
    transcript (its writer redacts each line, and is appending to it)."""
    from conductor.redact import default_redactor
    from conductor.scrub import scrub_tree

    red = default_redactor()
    scrub_tree(out_dir, red)
    root = Path(workspace)
    for top in root.iterdir() if root.is_dir() else ():
        if top.is_file() and top.name != "transcript.jsonl":
            scrub_tree(top, red)


def _resolve(root: Path, p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else root / q


class LiveWorld:
    """Skills and gates run for real on this machine, through the one executor."""

    def __init__(self, executor: Any, workspace: Any, gate_timeout_s: float, cancel: threading.Event,
                 gate_kwargs: Optional[dict[str, Any]] = None):
        self.executor = executor
        self.workspace = workspace
        self.gate_timeout_s = gate_timeout_s
        self.cancel = cancel
        # e.g. module_prefix / schema_loader for gates that live outside `gates/` (tests)
        self.gate_kwargs = dict(gate_kwargs or {})

    def new_attempt(self, stage: str) -> tuple[int, Path]:
        return self.workspace.new_attempt_dir(stage)

    def prepare(self, call: SkillCall, ctx: SkillContext) -> tuple[list[str], str]:
        argv = [str(a) for a in call.skill.command(call.input, ctx)]
        return argv, str(ctx.out_dir / "skill.log")

    def run_skill(self, call: SkillCall, ctx: SkillContext, argv: list[str], log_path: str,
                  on_line: Callable[[str], None], timeout_s: float) -> SkillRun:
        from conductor.gate_runner import PROJECT_ROOT

        # skills run from the workspace; the project must stay importable whether installed or not
        pythonpath = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        spec = ProcessSpec(argv=argv, cwd=str(ctx.workspace), log_path=log_path, timeout_s=timeout_s,
                           name=f"{call.stage}:{call.skill.name}", grace_s=3.0, env_extra={"PYTHONPATH": pythonpath},
                           pass_secrets=list(getattr(call.skill, "env_secrets", ())))
        t0 = time.monotonic()
        out = self.executor.run(spec, on_line=on_line, cancel=self.cancel)
        if out.error is not None:
            run = SkillRun(None, 0.0, None, {}, FailureClass.SKILL_FAILED, out.error, log_tail=out.log_tail[-LOG_TAIL:])
        elif out.cancelled:
            run = SkillRun(out.exit_code, 0.0, None, {}, FailureClass.INFRA_TRANSIENT, "the skill was stopped",
                           cancelled=True, log_tail=out.log_tail[-LOG_TAIL:])
        elif out.timed_out:
            run = SkillRun(out.exit_code, 0.0, None, {}, FailureClass.INFRA_TRANSIENT,
                           f"the skill did not finish within its timeout of {timeout_s:.0f} s and was stopped",
                           timed_out=True, log_tail=out.log_tail[-LOG_TAIL:])
        else:
            run = read_result(ctx.workspace, ctx.out_dir, out.exit_code, out.log_tail)
        scrub_after_child(ctx.workspace, ctx.out_dir)  # after reading: the result in memory keeps real paths
        run.duration_s = round(time.monotonic() - t0, 3)
        return run

    def run_gates(self, call: SkillCall, ctx: SkillContext, result: SkillResult, required: Sequence[str],
                  on_gate: Callable[[GateOutcome], None]) -> list[GateOutcome]:
        from conductor.gate_runner import run_gate

        try:
            calls: list[GateCall] = list(call.skill.gates(call.input, ctx, result))
        except Exception as exc:  # a skill that cannot name its gates fails closed
            name = required[0] if required else "gates"
            err = f"the skill could not name its gates: {type(exc).__name__}: {exc}"
            out = GateOutcome(name, gate_error(name, err), None, None, 0.0, err)
            on_gate(out)
            return [out]
        outs = []
        for gc in calls:
            if self.cancel.is_set():
                break
            gr = run_gate(gc, executor=self.executor, workspace=self.workspace, out_dir=ctx.out_dir,
                          timeout_s=self.gate_timeout_s, cancel=self.cancel, **self.gate_kwargs)
            out = GateOutcome(gr.gate, gr.verdict, gr.facts, gr.exit_code, gr.duration_s, gr.error, gr.argv)
            on_gate(out)
            outs.append(out)
        scrub_after_child(ctx.workspace, ctx.out_dir)
        for missing in [g for g in required if g not in {c.gate for c in calls}]:
            out = GateOutcome(missing, gate_error(missing, f"stage {call.stage!r} must be judged by gate "
                                                           f"{missing!r}, but the skill did not name it"), None, None, 0.0)
            on_gate(out)
            outs.append(out)
        return outs

    def read(self, name: str, tool_use_id: str, inp: BaseModel) -> tuple[bool, str]:
        from conductor.tools import READ_ARTIFACT, list_workspace, read_artifact

        if name == READ_ARTIFACT:
            return read_artifact(self.workspace.root, inp)  # type: ignore[arg-type]
        return list_workspace(self.workspace.root, inp)  # type: ignore[arg-type]

    def seal(self, stage: str, attempt: int, result: SkillResult, verdicts: list[dict[str, Any]],
             inp: dict[str, Any]) -> tuple[dict[str, str], str]:
        path = self.workspace.seal(stage, result.artifacts, verdicts, result, inp, attempt=attempt)
        seal = self.workspace.load_seal(stage)
        return seal.hashes(), self.workspace.rel(path)
