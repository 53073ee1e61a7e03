"""Collect serve facts from the record the serve skill writes (SERVE_RECORD.json).

The record is read as raw material: only the fields the gate decides on are taken (a producer's
own `passed` / `ok` / `summary` is dropped, never trusted, and so are policy fields such as
`min_canaries`: the producer does not set its own bar), and for a prompt of the default canary set
the answer key comes from gates/serve/canaries.py, not from the record.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import BaseModel

from gates.contract import InputError, parse_json_strict
from gates.serve.canaries import ANSWER_KEY, key
from gates.serve.models import CanaryResult, HealthProbe, ServeFacts, ServerExit


def _only(obj: Any, model: type[BaseModel]) -> Any:
    if not isinstance(obj, dict):
        return obj  # validation reports the wrong shape
    return {k: v for k, v in obj.items() if k in model.model_fields}


def _canary(obj: Any) -> Any:
    c = _only(obj, CanaryResult)
    if isinstance(c, dict) and isinstance(c.get("prompt"), str) and key(c["prompt"]) in ANSWER_KEY:
        c["must_contain"] = list(ANSWER_KEY[key(c["prompt"])])
    return c


# gate policy comes from the gate (or from facts given with --input), never from the producer's record
_POLICY = ("min_canaries", "min_correct_fraction")


def facts_from_record(record: dict[str, Any]) -> ServeFacts:
    data = {k: v for k, v in _only(record, ServeFacts).items() if k not in _POLICY}
    if isinstance(data.get("health_probes"), list):
        data["health_probes"] = [_only(p, HealthProbe) for p in data["health_probes"]]
    if isinstance(data.get("canaries"), list):
        data["canaries"] = [_canary(c) for c in data["canaries"]]
    if isinstance(data.get("server_exit"), dict):
        data["server_exit"] = _only(data["server_exit"], ServerExit)
    if isinstance(data.get("log_tail"), str):
        data["log_tail"] = data["log_tail"].splitlines()
    return ServeFacts.model_validate(data)


def collect(args: argparse.Namespace) -> ServeFacts:
    if len(args.artifacts) != 1:
        raise InputError("--artifacts", "expected one serve record: SERVE_RECORD.json")
    path = args.artifacts[0]
    try:
        with open(path, encoding="utf-8") as fh:
            record = parse_json_strict(fh.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("--artifacts", f"cannot read {path!r}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError("--artifacts", f"{path!r} is not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise InputError("(top level)", f"expected a JSON object, got {type(record).__name__}")
    return facts_from_record(record)
