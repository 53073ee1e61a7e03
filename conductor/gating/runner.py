"""Runs one gate as a separate process and turns whatever happened into a schema-valid verdict.

Gates fail closed: a crash, a timeout, stdout that is not exactly one JSON object, a verdict that
violates the gate's output schema or contradicts its exit code, or facts that are missing or
violate the input schema all become a synthesized FAIL with failure_class GATE_ERROR, whose
evidence says what went wrong. Exit 2 (USER_CONFIG_ERROR) is the gate's own verdict, kept as is.

    run = run_gate(GateCall(gate="verbosity", args=["--artifacts", base, cand]),
                   executor=LocalExecutor(), workspace=ws, out_dir=attempt_dir, timeout_s=120)
    run.verdict.passed, run.verdict.failure_class, run.facts    # run.verdict: gates.contract.Verdict

`GateRun` is the one outcome type of a gate run, from here to the loop, the transcript and replay;
its verdict is the gates' own pydantic `Verdict`, never a dict.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import gates
from conductor.runtime.executor import Executor, ProcessOutcome, ProcessSpec
from conductor.runtime.fsutil import atomic_write_json
from conductor.runtime.skill import GateCall
from conductor.runtime.workspace import Workspace
from gates.contract import Check, Verdict, parse_json_strict
from gates.failure_classes import FailureClass

PROJECT_ROOT = Path(gates.__file__).resolve().parent.parent
GATE_GRACE_S = 2.0
STDOUT_HEAD = 2000
_GATE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

SchemaLoader = Callable[[str, str], dict]  # (gate, "input" | "output") -> JSON Schema


def committed_schema(gate: str, kind: str) -> dict:
    """gates/schemas/<gate>.<kind>.schema.json, as committed."""
    from gates.schemas import load

    return load(gate, kind)


class GateRun(BaseModel):
    """One gate run, live or replayed: the verdict (the gate's own, or a synthesized GATE_ERROR), the
    facts it decided on, and how the process went. The one outcome type of a gate run."""

    model_config = ConfigDict(extra="forbid")

    gate: str
    verdict: Verdict
    facts: Optional[dict[str, Any]] = None  # what the gate decided on (replay re-decides on these)
    exit_code: Optional[int] = None
    duration_s: float = 0.0
    error: Optional[str] = None  # why the conductor failed the gate closed; None if the gate spoke
    argv: list[str] = Field(default_factory=list)
    log_path: Optional[str] = None
    facts_path: Optional[str] = None

    @classmethod
    def failed_closed(cls, gate: str, detail: str) -> GateRun:
        """A required gate that never ran (or could not be named): a GATE_ERROR the conductor writes."""
        return cls(gate=gate, verdict=gate_error_verdict(gate, detail), error=detail)


class _Fail(Exception):
    """The gate's output cannot be trusted; the message says why (it becomes the detail)."""


def run_gate(call: GateCall, *, executor: Executor, workspace: Workspace, out_dir: Path, timeout_s: float,
             python: str = sys.executable, overrides: Sequence[str] = (), module_prefix: str = "gates",
             schema_loader: SchemaLoader = committed_schema, cancel: Any = None) -> GateRun:
    """`python -m <module_prefix>.<gate> <args> <overrides> --facts-out <out_dir>/<gate>.facts.json`."""
    if not _GATE_NAME.match(call.gate):
        raise ValueError(f"invalid gate name {call.gate!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    facts_path = _unused(out_dir, call.gate, ".facts.json")
    log_path = facts_path.with_name(facts_path.name.removesuffix(".facts.json") + ".log")
    argv = [python, "-m", f"{module_prefix}.{call.gate}", *call.args, *overrides, "--facts-out", str(facts_path)]
    pythonpath = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    spec = ProcessSpec(argv=argv, cwd=str(workspace.root), env_extra={"PYTHONPATH": pythonpath},
                       log_path=str(log_path), timeout_s=timeout_s, capture_stdout=True,
                       name=f"gate:{call.gate}", grace_s=GATE_GRACE_S)
    outcome = executor.run(spec, cancel=cancel)
    verdict, facts, error = judge(call.gate, outcome, facts_path, schema_loader, timeout_s)
    return GateRun(gate=call.gate, argv=argv, exit_code=outcome.exit_code, verdict=verdict, facts=facts,
                   duration_s=round(outcome.duration_s, 3), error=error, log_path=workspace.rel(log_path),
                   facts_path=workspace.rel(facts_path) if facts is not None else None)


def regate_on_facts(gate: str, facts: dict[str, Any], *, executor: Executor, workspace: Workspace, out_dir: Path,
                    timeout_s: float, extra_args: Sequence[str] = (), **kwargs: Any) -> GateRun:
    """Decide again, for real, on recorded facts (`--input`); extra_args e.g. ["--threshold", "0.005"].

    `executor` is a LocalExecutor (a child process) or, for replay, gate_inprocess.InProcessGates (the
    same `python -m` entry point in this process); `judge` treats both outcomes the same way."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inp = atomic_write_json(_unused(out_dir, gate, ".input.json"), facts)
    return run_gate(GateCall(gate=gate, args=["--input", str(inp), *extra_args]), executor=executor,
                    workspace=workspace, out_dir=out_dir, timeout_s=timeout_s, **kwargs)


def _unused(out_dir: Path, gate: str, suffix: str) -> Path:
    """<gate><suffix>, or <gate>-2<suffix>, ... when a stage runs the same gate twice."""
    path, n = out_dir / f"{gate}{suffix}", 1
    while path.exists():
        n += 1
        path = out_dir / f"{gate}-{n}{suffix}"
    return path


def judge(gate: str, outcome: ProcessOutcome, facts_path: Path, loader: SchemaLoader,
          timeout_s: float) -> tuple[Verdict, Optional[dict[str, Any]], Optional[str]]:
    """(verdict, facts, error): the gate's own verdict when it can be trusted, else GATE_ERROR."""
    try:
        _check_process(outcome, timeout_s)
        verdict = _parse_verdict(gate, outcome, loader)
        facts = _read_facts(gate, outcome.exit_code, facts_path, loader)
    except _Fail as exc:
        return gate_error_verdict(gate, str(exc), outcome), None, str(exc)
    return verdict, facts, None


def _check_process(outcome: ProcessOutcome, timeout_s: float) -> None:
    if outcome.error:
        raise _Fail(f"the gate could not start: {outcome.error}")
    if outcome.timed_out:
        raise _Fail(f"the gate timed out after {timeout_s:g} s and was killed")
    if outcome.cancelled:
        raise _Fail("the gate was cancelled before it finished")
    code = outcome.exit_code
    if code not in (0, 1, 2):
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        raise _Fail(f"the gate crashed: it {how} (a gate exits 0, 1 or 2)")


def _validator(loader: SchemaLoader, gate: str, kind: str) -> jsonschema.Draft202012Validator:
    try:
        return _compiled(loader, gate, kind)
    except FileNotFoundError:
        raise _Fail(f"gate {gate!r} has no committed {kind} schema (gates/schemas/{gate}.{kind}.schema.json)") from None
    except (ValueError, jsonschema.SchemaError) as exc:
        raise _Fail(f"the {kind} schema of gate {gate!r} is unusable: {exc}") from None


@functools.lru_cache(maxsize=64)
def _compiled(loader: SchemaLoader, gate: str, kind: str) -> jsonschema.Draft202012Validator:
    schema = loader(gate, kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_problem(validator: jsonschema.Draft202012Validator, data: Any) -> Optional[str]:
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"at {where}: {error.message[:300]}"


def _parse_verdict(gate: str, outcome: ProcessOutcome, loader: SchemaLoader) -> Verdict:
    text = outcome.stdout.strip()
    if not text:
        raise _Fail(f"the gate printed nothing on stdout (exit code {outcome.exit_code})")
    try:
        verdict = parse_json_strict(text)
    except (ValueError, RecursionError) as exc:
        raise _Fail(f"the gate's stdout is not exactly one JSON object: {exc}") from None
    if not isinstance(verdict, dict):
        raise _Fail(f"the gate's stdout is JSON but not an object ({type(verdict).__name__})")
    problem = _schema_problem(_validator(loader, gate, "output"), verdict)
    if problem:
        raise _Fail(f"the gate's verdict violates its output schema {problem}")
    problem = _inconsistency(gate, verdict, outcome.exit_code)
    if problem:
        raise _Fail(problem)
    try:
        return Verdict.model_validate(verdict)
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        where = "/".join(str(p) for p in e["loc"]) or "(top level)"
        raise _Fail(f"the gate's verdict is not a valid Verdict at {where}: {e['msg']}") from None


def _inconsistency(gate: str, v: dict[str, Any], exit_code: Optional[int]) -> Optional[str]:
    """The contract the schema cannot say: names, pass vs failure_class vs checks vs exit code."""
    passed, fc = v.get("pass"), v.get("failure_class")
    failed_checks = [c for c in v.get("checks", []) if isinstance(c, dict) and c.get("pass") is False]
    if v.get("gate") != gate:
        return f"the verdict names gate {v.get('gate')!r}, but gate {gate!r} was run"
    if passed is True and (fc is not None or failed_checks or exit_code != 0):
        return (f"the verdict says pass but carries failure_class {fc!r}, {len(failed_checks)} failed check(s), "
                f"exit code {exit_code}")
    if passed is False and (fc is None or exit_code == 0):
        return f"the verdict says fail with failure_class {fc!r} and exit code {exit_code}"
    if exit_code == 2 and fc != FailureClass.USER_CONFIG_ERROR.value:
        return f"the gate exited 2 (invalid input) but its verdict says {fc!r}, not USER_CONFIG_ERROR"
    return None


def _read_facts(gate: str, exit_code: Optional[int], path: Path, loader: SchemaLoader) -> Optional[dict[str, Any]]:
    """The facts the gate decided on; required (and schema-valid) when it decided (exit 0/1)."""
    if exit_code == 2:
        return None
    try:
        facts = parse_json_strict(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Fail(f"the gate decided but wrote no facts to {path.name}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise _Fail(f"the gate's facts file {path.name} is not valid JSON: {exc}") from None
    if not isinstance(facts, dict):
        raise _Fail(f"the gate's facts file {path.name} holds {type(facts).__name__}, not an object")
    problem = _schema_problem(_validator(loader, gate, "input"), facts)
    if problem:
        raise _Fail(f"the gate's facts violate its input schema {problem}")
    return facts


def gate_error_verdict(gate: str, detail: str, outcome: Optional[ProcessOutcome] = None) -> Verdict:
    """A FAIL with GATE_ERROR, valid against every gate's output schema that accepts the base Verdict:
    the one fail-closed verdict the conductor writes itself (evidence: what the process did, if it ran)."""
    evidence: dict[str, Any] = {}
    if outcome is not None:
        evidence = {"exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
                    "stdout_head": outcome.stdout[:STDOUT_HEAD], "log_tail": outcome.log_tail[-20:]}
    v = Verdict(gate=gate, passed=False, failure_class=FailureClass.GATE_ERROR, detail=detail,
                checks=[Check(name="gate_ran_cleanly", passed=False, detail=detail,
                              failure_class=FailureClass.GATE_ERROR)],
                evidence=evidence)
    return v
