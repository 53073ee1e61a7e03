"""Committed JSON Schemas match the models (gates and conductor), and recorded transcripts match
the transcript schema. A failure prints the command that fixes it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conductor import schemas as cschemas
from conductor.engine.config import ReleaseConfig
from conductor.transcript.events import EventBus
from conductor.transcript.jsonl import TranscriptWriter
from gates import GATE_NAMES
from tests.eventfactory import header, small_run

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = sorted((ROOT / "transcripts").glob("**/*.jsonl")) if (ROOT / "transcripts").is_dir() else []


def test_conductor_schemas_match_the_models():
    drift = cschemas.drifted()
    assert not drift, f"conductor schemas drifted: {', '.join(drift)}; regenerate with: {cschemas.REGENERATE}"


@pytest.mark.parametrize("gate", GATE_NAMES)
def test_gate_schemas_match_the_models(gate):
    if importlib.util.find_spec(f"gates.{gate}") is None:
        pytest.skip(f"gate {gate} is not written yet")
    from gates.schemas import REGENERATE, SCHEMA_DIR, dumps, generated

    drift = [f for f, s in generated(gate).items()
             if not (SCHEMA_DIR / f).exists() or (SCHEMA_DIR / f).read_text(encoding="utf-8") != dumps(s)]
    assert not drift, f"gate schemas drifted: {', '.join(drift)}; regenerate with: {REGENERATE}"


def test_gates_schema_check_command_passes():
    missing = [g for g in GATE_NAMES if importlib.util.find_spec(f"gates.{g}") is None]
    if missing:
        pytest.skip(f"gates not written yet: {', '.join(missing)}")
    proc = subprocess.run([sys.executable, "-m", "gates.schemas", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_conductor_schema_check_command_passes():
    proc = subprocess.run([sys.executable, "-m", "conductor.schemas", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def line_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(cschemas.load("transcript"))


def test_a_written_transcript_matches_the_schema(tmp_path):
    path = tmp_path / "t.jsonl"
    w = TranscriptWriter(path, header())
    bus = EventBus()
    bus.subscribe(w)
    for ev in small_run():
        bus.emit(ev)
    w.close()
    v = line_validator()
    for line in path.read_text().splitlines():
        v.validate(json.loads(line))


def test_the_schema_rejects_a_line_without_seq():
    with pytest.raises(jsonschema.ValidationError):
        line_validator().validate({"type": "warning", "ts": "x", "message": "m"})


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[str(p.relative_to(ROOT)) for p in TRANSCRIPTS])
def test_recorded_transcripts_match_the_schema(path):
    v = line_validator()
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        try:
            data = json.loads(line)
        except ValueError:
            assert n == len(lines), f"{path}: line {n} is not JSON"  # only a torn last line is allowed
            continue
        errors = sorted(v.iter_errors(data), key=lambda e: e.path)
        assert not errors, f"{path}: line {n}: {errors[0].message}"


def test_release_schema_accepts_the_default_config():
    jsonschema.Draft202012Validator(cschemas.load("release")).validate(ReleaseConfig().model_dump(mode="json"))
