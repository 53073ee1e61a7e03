"""Misbehaving and well-behaved fake gates for the gate runner's fail-closed tests.

Run as `python -m tests.fakegates.<name> [--input F] --facts-out F`; each prints what its name says.
Their schemas (`LOADER`): the base Verdict for output, {"x": number} for input.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

INPUT_SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "properties": {"x": {"type": "number"}}, "required": ["x"], "additionalProperties": False}


def loader(gate: str, kind: str) -> dict:
    if kind == "input":
        return INPUT_SCHEMA
    from gates.contract import Verdict

    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            **Verdict.model_json_schema(mode="serialization", by_alias=True)}


def facts_out() -> Optional[str]:
    argv = sys.argv[1:]
    return argv[argv.index("--facts-out") + 1] if "--facts-out" in argv else None


def verdict(gate: str, passed: bool, fc: Optional[str] = None, **extra: Any) -> dict[str, Any]:
    v = {"schema_version": 1, "gate": gate, "pass": passed, "failure_class": fc,
         "detail": "fake gate", "checks": [{"name": "c", "pass": passed, "detail": "d", "failure_class": fc}],
         "evidence": {}}
    v.update(extra)
    return v


def emit(v: Any, code: int, facts: Any = None) -> None:
    path = facts_out()
    if path and facts is not None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(facts if isinstance(facts, str) else json.dumps(facts))
    print(v if isinstance(v, str) else json.dumps(v), flush=True)
    raise SystemExit(code)
