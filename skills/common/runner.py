"""The runner framework every skill process uses: arguments in, result.json out, nothing lost.

    # skills/foo/run.py
    from skills.common.runner import RunContext, SkillFailure, main, progress

    def run(inp: FooInput, rc: RunContext) -> dict:
        progress(0.1, "loading the checkpoint")
        if not ok:
            raise SkillFailure("USER_CONFIG_ERROR", "the model path is not a checkpoint")
        return {"summary": "done", "artifacts": {"export": rc.rel(export)}, "data": {...}}

    if __name__ == "__main__":
        raise SystemExit(main(FooInput, run))

argv: `--input args.json --out-dir DIR --workspace W [--context context.json]` (what
`skills.common.base.runner_argv` builds). The function returns a SkillResult or a dict (ok
defaults to true); `SkillFailure` is a classified failure; any other exception becomes ok=false,
SKILL_FAILED, with one sentence in `error` and the whole traceback in the log (stderr). The
result is written atomically (temp, fsync, rename); exit code 0 when ok, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from pydantic import BaseModel, ValidationError

from conductor.runtime.fsutil import atomic_write_json
from conductor.runtime.progress import format_progress
from conductor.runtime.skill import RESULT_FILE, SkillResult

SKILL_FAILED = "SKILL_FAILED"
USER_CONFIG_ERROR = "USER_CONFIG_ERROR"


class SkillFailure(Exception):
    """A failure the skill understands: its class (from gates.failure_classes) and one sentence."""

    def __init__(self, failure_class: str, message: str, *, summary: str = "",
                 data: Optional[dict[str, Any]] = None, artifacts: Optional[dict[str, str]] = None):
        super().__init__(message)
        self.failure_class = getattr(failure_class, "value", failure_class)
        self.message = message
        self.summary = summary
        self.data = dict(data or {})
        self.artifacts = dict(artifacts or {})

    def result(self) -> SkillResult:
        return SkillResult(ok=False, summary=self.summary or self.message, error=self.message,
                           failure_class=self.failure_class, data=self.data, artifacts=self.artifacts)


@dataclass
class RunContext:
    """What a runner knows: where to write, the release config, what earlier stages sealed, and
    (closeout only) the run's decision. Sealed results are SkillResults."""

    out_dir: Path
    workspace: Path
    config: dict[str, Any] = field(default_factory=dict)
    sealed: dict[str, SkillResult] = field(default_factory=dict)
    decision: Optional[dict[str, Any]] = None
    cwd: Optional[Path] = None  # the conductor's working directory (user paths are relative to it)

    def user_path(self, path: Union[str, Path]) -> Path:
        """A path the user gave (config), resolved against the conductor's working directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.cwd or Path.cwd()) / p

    def resolve(self, path: Union[str, Path]) -> Path:
        """A stored path (relative to the workspace, or absolute) as an absolute path."""
        p = Path(path)
        return p if p.is_absolute() else self.workspace / p

    def rel(self, path: Union[str, Path]) -> str:
        """Relative to the workspace when inside it (how artifacts are recorded), else absolute."""
        p = Path(path).absolute()
        try:
            return p.relative_to(self.workspace.absolute()).as_posix()
        except ValueError:
            return str(p)


def progress(fraction: float, message: str = "") -> None:
    """A progress line on stdout (conductor.runtime.progress owns its format); the conductor shows it as progress."""
    print(format_progress(fraction, message), flush=True)


def write_result(out_dir: Path, result: SkillResult) -> Path:
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return atomic_write_json(Path(out_dir) / RESULT_FILE, result.model_dump(mode="json"))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="run one skill and write DIR/result.json")
    p.add_argument("--input", required=True, help="the skill's input (JSON, valid against its input model)")
    p.add_argument("--out-dir", required=True, help="this attempt's folder; result.json goes here")
    p.add_argument("--workspace", default=None, help="the run's folder (default: the working directory)")
    p.add_argument("--context", default=None, help="context.json: config, sealed results, decision")
    return p.parse_args(argv)


def load_context(args: argparse.Namespace) -> RunContext:
    rc = RunContext(out_dir=Path(args.out_dir).absolute(), workspace=Path(args.workspace or ".").absolute())
    if args.context:
        raw = json.loads(Path(args.context).read_text(encoding="utf-8"))
        rc.config = dict(raw.get("config") or {})
        rc.sealed = {k: SkillResult.model_validate(v) for k, v in (raw.get("sealed") or {}).items()}
        rc.decision = raw.get("decision")
        rc.cwd = Path(raw["cwd"]) if raw.get("cwd") else None
    return rc


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {Path(f.filename).name}:{f.lineno} in {f.name})"


def failure_from_exception(exc: BaseException) -> SkillResult:
    """One sentence for the agent; the traceback has already gone to the log."""
    first = (str(exc).strip().splitlines() or [""])[0][:500]
    msg = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return SkillResult(ok=False, summary="the skill failed unexpectedly", failure_class=SKILL_FAILED,
                       error=f"unexpected error: {msg}{_where(exc)}; the traceback is in the skill log")


def execute(input_model: type[BaseModel], fn: Callable[[Any, RunContext], Any],
            args: argparse.Namespace) -> SkillResult:
    """Load the input and context, call fn, and turn whatever happens into a SkillResult."""
    try:
        inp = input_model.model_validate_json(Path(args.input).read_text(encoding="utf-8"))
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        return SkillResult(ok=False, failure_class=USER_CONFIG_ERROR, summary="invalid skill input",
                           error=f"the skill's input {args.input} is invalid: field '{where}': {e['msg']}")
    except (OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return SkillResult(ok=False, failure_class=USER_CONFIG_ERROR, summary="invalid skill input",
                           error=f"the skill's input {args.input} is unreadable: {first}")
    try:
        rc = load_context(args)
        rc.out_dir.mkdir(parents=True, exist_ok=True)
        out = fn(inp, rc)
        if isinstance(out, SkillResult):
            return out
        return SkillResult.model_validate({"ok": True, **dict(out or {})})
    except SkillFailure as failure:
        print(f"skill failure ({failure.failure_class}): {failure.message}", file=sys.stderr, flush=True)
        return failure.result()
    except Exception as exc:  # never lose the evidence: traceback to the log, a sentence to the agent
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        return failure_from_exception(exc)


def main(input_model: type[BaseModel], fn: Callable[[Any, RunContext], Any],
         argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    result = execute(input_model, fn, args)
    try:
        write_result(Path(args.out_dir), result)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return 3
    print(("ok: " if result.ok else f"failed ({result.failure_class}): ") + (result.summary or result.error or ""),
          flush=True)
    return 0 if result.ok else 1
