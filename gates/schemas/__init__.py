"""The committed JSON Schemas of every gate's input (facts) and output (verdict).

Regenerate after changing a model:  python -m gates.schemas
Check for drift (what the tests do): python -m gates.schemas --check
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
REGENERATE = "python -m gates.schemas"


def generated(name: str) -> dict[str, dict[str, Any]]:
    """The schemas the models produce now, keyed by file name."""
    from gates import load_spec

    spec = load_spec(name)
    inp = spec.facts_model.model_json_schema(mode="validation")
    inp["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    inp["$id"] = f"conductor/gates/{name}.input.schema.json"
    out = spec.output_model.model_json_schema(mode="serialization", by_alias=True)
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["$id"] = f"conductor/gates/{name}.output.schema.json"
    return {f"{name}.input.schema.json": inp, f"{name}.output.schema.json": out}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load(name: str, kind: str) -> dict[str, Any]:
    """A committed schema: kind is 'input' or 'output'."""
    return json.loads((SCHEMA_DIR / f"{name}.{kind}.schema.json").read_text(encoding="utf-8"))
