"""The committed JSON Schemas of conductor's own formats: one transcript line, and ReleaseConfig.

Regenerate after changing conductor/events.py or conductor/config.py:  python -m conductor.schemas
Check for drift (what the tests do):                                    python -m conductor.schemas --check
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, Union

from pydantic import Field, TypeAdapter

SCHEMA_DIR = Path(__file__).resolve().parent
REGENERATE = "python -m conductor.schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ALWAYS_PRESENT = ("seq", "ts", "type")  # set by the bus on every recorded event
HASH_PROPERTY = {
    "type": "string", "pattern": "^[0-9a-f]{64}$", "title": "Hash",
    "description": "schema_version 2: sha256 (hex) of the previous line's hash (\"\" for the header) followed by "
                   "this line's canonical JSON without `hash` (keys sorted, separators ',' and ':', UTF-8, "
                   "no ASCII escaping). The writer writes each line as that canonical JSON with `hash` appended as "
                   "its last key. Absent in schema_version 1.",
}


def transcript_line_schema() -> dict[str, Any]:
    """One line of a transcript: the header or any recorded event (as the writer dumps it)."""
    from conductor.events import Event, TranscriptHeader

    members = typing.get_args(typing.get_args(Event)[0])
    line = typing.Annotated[Union[(TranscriptHeader, *members)], Field(discriminator="type")]
    schema = TypeAdapter(line).json_schema(mode="serialization")
    for name, sub in schema.get("$defs", {}).items():
        if name in {m.__name__ for m in members}:
            sub["required"] = sorted(set(sub.get("required", [])) | set(ALWAYS_PRESENT))
        if name in {m.__name__ for m in (TranscriptHeader, *members)}:
            sub.setdefault("properties", {})["hash"] = HASH_PROPERTY
    schema["title"] = "conductor transcript line"
    schema["description"] = ("One line of a transcript (JSONL): line 1 is the header, every other "
                             "line one event. Ephemeral events (text_delta, skill_log, skill_progress, "
                             "budget) are live-only and never recorded. From schema_version 2 every line, "
                             "the header included, carries `hash`: the lines form a hash chain "
                             "(conductor/chain.py), so a line changed, removed, inserted or moved is found.")
    return {"$schema": DRAFT, "$id": "conductor/transcript.schema.json", **schema}


def release_schema() -> dict[str, Any]:
    from conductor.config import ReleaseConfig

    schema = ReleaseConfig.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": "conductor/release.schema.json", **schema}


def generated() -> dict[str, dict[str, Any]]:
    """The schemas the models produce now, keyed by file name."""
    return {"transcript.schema.json": transcript_line_schema(), "release.schema.json": release_schema()}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load(name: str) -> dict[str, Any]:
    """A committed schema: 'transcript' or 'release'."""
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def drifted() -> list[str]:
    """File names whose committed text differs from what the models generate."""
    out = []
    for fname, schema in generated().items():
        path = SCHEMA_DIR / fname
        if not path.exists() or path.read_text(encoding="utf-8") != dumps(schema):
            out.append(fname)
    return out
