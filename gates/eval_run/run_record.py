"""The run record our evaluate skill writes next to lm-eval's output: `<output_dir>/run.json`.

lm-eval itself does not say whether it finished: it writes its results file at the very end, and
swallows a failure to write it (a warning, exit code 0). So the skill records what the process
did, and the collector reads it:

    {"status": "SUCCESS", "exit_code": 0, "error": null,
     "model_identity": "/ckpt/smollm2-fp8", "tokenizer": "/ckpt/smollm2-fp8"}

Fields (every other field is refused: the record is strict like every gate input):
  status          SUCCESS | FAILED | ERROR | KILLED | RUNNING | PENDING | TIMEOUT | CANCELLED | UNKNOWN
                  (required). The skill writes RUNNING before it starts lm-eval and the terminal status
                  after: KILLED when a signal the conductor did not send ended lm-eval (the OOM killer,
                  a scheduler), CANCELLED when the conductor stopped it, TIMEOUT at its time limit.
                  ERROR is FAILED as other runners spell it.
  exit_code       lm-eval's exit code, negative when a signal ended it (-9: SIGKILL), or null while
                  running / when it never started.
  error           the error message (e.g. the last lines of stderr) when the run failed, else null.
  model_identity  what was evaluated: a checkpoint path or a served model name.
  tokenizer       a local tokenizer directory (or tokenizer.json) to count completion tokens with;
                  null lets the collector try lm-eval's model_args, then fall back to words.
  command         the argv that ran lm-eval (for the report and for replay).
  started_at, finished_at   ISO-8601 timestamps, informative only.

Without a run record the status is inferred: a results file present -> SUCCESS (lm-eval writes it
last); no results file -> UNKNOWN (still running, crashed or never started cannot be told apart
from the directory alone, so a person or a retry must decide; UNKNOWN is never a pass).

The skill should also set `LMEVAL_MODEL_NONE_ANSWER_PLACEHOLDER` to `NULL_RESPONSE_MARKER` for API
backends, so that a null answer from the server is counted as an errored response, not as an
empty one (lm-eval's default placeholder is the empty string).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import Field, ValidationError

from gates.contract import (InputError, StrictModel, atomic_write_text, format_validation_error,
                            parse_json_strict)
from gates.eval_run.models import RunStatus

RUN_RECORD_NAME = "run.json"
NULL_RESPONSE_MARKER = "[conductor:null-response]"


class RunRecord(StrictModel):
    """What the evaluate skill recorded about the lm-eval process."""

    status: RunStatus
    exit_code: Optional[int] = None
    error: Optional[str] = None
    model_identity: Optional[str] = None
    tokenizer: Optional[str] = Field(default=None, description="local tokenizer to count completion tokens with")
    command: Optional[list[str]] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None


def read_run_record(output_dir: Path) -> Optional[RunRecord]:
    """The run record in `output_dir`, None when there is none; InputError when it is unreadable."""
    path = Path(output_dir) / RUN_RECORD_NAME
    if not path.exists():
        return None
    try:
        data = parse_json_strict(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(str(path), f"the run record is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), f"the run record must be a JSON object, got {type(data).__name__}")
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        raise InputError(str(path), f"invalid run record: {format_validation_error(exc)}") from None


def write_run_record(output_dir: Path, record: RunRecord) -> Path:
    """Write `run.json` atomically (the skill's side of the contract; tests use it too)."""
    path = Path(output_dir) / RUN_RECORD_NAME
    atomic_write_text(str(path), json.dumps(record.model_dump(mode="json"), indent=2, allow_nan=False) + "\n")
    return path
