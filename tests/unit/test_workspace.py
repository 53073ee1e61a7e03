"""Workspace: layout, attempts, hashing, atomic seals and their verification."""

from __future__ import annotations

import json
import os

import pytest

from conductor.runtime.skill import SkillResult
from conductor.runtime.workspace import SealError, Workspace, hash_path
from tests.eventfactory import verdict


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "run").create()


def make_export(ws: Workspace) -> tuple[int, os.PathLike]:
    n, out = ws.new_attempt_dir("quantize")
    (out / "export").mkdir()
    (out / "export" / "model.safetensors").write_bytes(b"\x00" * 1000)
    (out / "export" / "config.json").write_text('{"a": 1}')
    (out / "result.json").write_text("{}")
    return n, out


def test_layout(ws):
    assert ws.stages_dir.is_dir() and ws.logs_dir.is_dir() and ws.seals_dir.is_dir()
    assert ws.transcript_path.name == "transcript.jsonl" and ws.decision_path.name == "decision.json"
    assert ws.log_path("quantize-1").parent == ws.logs_dir


def test_attempt_dirs_count_up(ws):
    assert ws.new_attempt_dir("quantize") == (1, ws.stages_dir / "quantize" / "attempt-1")
    assert ws.new_attempt_dir("quantize")[0] == 2
    assert ws.new_attempt_dir("serve")[0] == 1
    assert ws.attempts("quantize") == [1, 2]


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden"])
def test_stage_names_are_checked(ws, bad):
    with pytest.raises(ValueError):
        ws.new_attempt_dir(bad)


def test_hash_of_a_file_and_of_a_directory(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert hash_path(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a").write_text("1")
    (d / "sub" / "b").write_text("2")
    h = hash_path(d)
    assert h == hash_path(d)
    (d / "sub" / "b").write_text("3")
    h2 = hash_path(d)
    assert h2 != h
    (d / "sub" / "b").rename(d / "sub" / "c")
    assert hash_path(d) != h2
    (d / "empty").mkdir()
    assert hash_path(d) not in (h, h2)


def test_symlinks_are_recorded_not_followed(tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_text("v1")
    d = tmp_path / "d"
    d.mkdir()
    (d / "link").symlink_to(outside)
    (d / "dirlink").symlink_to(tmp_path, target_is_directory=True)  # a loop, if it were followed
    h = hash_path(d)
    outside.write_text("v2")
    assert hash_path(d) == h  # the content behind an outside link is not part of the hash
    (d / "link").unlink()
    (d / "link").symlink_to(tmp_path / "elsewhere")
    assert hash_path(d) != h  # but where it points is


def test_seal_round_trip_and_verify(ws):
    n, out = make_export(ws)
    result = SkillResult(ok=True, summary="done", artifacts={"export": ws.rel(out / "export")})
    path = ws.seal("quantize", {"export": str(out / "export"), "result": str(out / "result.json")},
                   [verdict("ptq", True)], result, {"recipe": "fp8"}, attempt=n)
    assert path == ws.seals_dir / "quantize.json"
    data = json.loads(path.read_text())
    assert data["artifacts"]["export"]["path"] == "stages/quantize/attempt-1/export"
    assert data["artifacts"]["export"]["kind"] == "dir" and data["artifacts"]["result"]["kind"] == "file"
    seals = ws.load_seals()
    assert list(seals) == ["quantize"] and seals["quantize"].result.summary == "done"
    assert seals["quantize"].hashes()["stages/quantize/attempt-1/export"] == hash_path(out / "export")
    assert ws.verify_seal("quantize") == []
    assert [p.name for p in ws.seals_dir.iterdir()] == ["quantize.json"]  # no temp files left


def test_verify_seal_reports_changed_and_vanished(ws):
    _, out = make_export(ws)
    ws.seal("quantize", {"export": str(out / "export"), "result": str(out / "result.json")},
            [], SkillResult(ok=True), {})
    (out / "export" / "config.json").write_text('{"a": 2}')
    (out / "result.json").unlink()
    problems = ws.verify_seal("quantize")
    assert problems == ["export (stages/quantize/attempt-1/export): changed since it was sealed",
                        "result (stages/quantize/attempt-1/result.json): vanished"]
    assert ws.verify_seal("serve") == ["stage 'serve' has no seal"]


def test_paths_outside_the_workspace_are_stored_absolute(ws, tmp_path):
    src = tmp_path / "source-model"
    src.mkdir()
    (src / "w").write_text("x")
    ws.seal("preflight", {"source": str(src)}, [], SkillResult(ok=True), {})
    assert ws.load_seal("preflight").artifacts["source"].path == str(src)
    assert ws.verify_seal("preflight") == []


def test_sealing_a_missing_artifact_is_an_error(ws):
    with pytest.raises(SealError, match="does not exist"):
        ws.seal("quantize", {"export": "stages/quantize/attempt-9/export"}, [], SkillResult(ok=True), {})
    assert ws.load_seals() == {}


def test_a_corrupt_seal_is_an_error(ws):
    (ws.seals_dir / "quantize.json").write_text("{not json")
    with pytest.raises(SealError, match="corrupt"):
        ws.load_seals()


def test_decision_config_report_are_written(ws):
    ws.write_decision({"decision": "ACCEPT", "exit_code": 0})
    ws.write_config({"model": "m"})
    ws.write_report("# report\n")
    assert json.loads(ws.decision_path.read_text())["decision"] == "ACCEPT"
    assert json.loads(ws.config_path.read_text()) == {"model": "m"}
    assert ws.report_path.read_text() == "# report\n"
