"""`conductor transcript list|show` as functions: tables, JSON, and one-sentence errors."""

from __future__ import annotations

import io
import json

from conductor.app.transcript_cmds import cmd_list, cmd_show
from conductor.transcript.events import EventBus
from conductor.transcript.jsonl import TranscriptWriter
from tests.eventfactory import header, small_run


def write(path, run_id="r-test", events=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    w = TranscriptWriter(path, header(run_id))
    bus = EventBus(clock=lambda: "2025-01-01T00:00:02.500Z")
    bus.subscribe(w, critical=True)
    for ev in small_run() if events is None else events:
        bus.emit(ev)
    w.close()


def call(fn, *args):
    out, err = io.StringIO(), io.StringIO()
    code = fn(*args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_list_a_runs_folder(tmp_path):
    write(tmp_path / "r1" / "transcript.jsonl", "r1")
    write(tmp_path / "r2" / "transcript.jsonl", "r2", small_run()[:4])
    (tmp_path / "broken.jsonl").write_text("nope\n")
    code, out, err = call(cmd_list, str(tmp_path), False)
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["RUN", "STARTED", "MODEL", "RECIPE", "DECISION", "EXIT", "STAGES", "COST"]
    assert any(r.startswith("r1 ") and "ACCEPT" in r and "1 ok" in r and "$0.03" in r for r in rows)
    assert any(r.startswith("r2 ") and "(unfinished)" in r for r in rows)
    assert any("UNREADABLE" in r for r in rows) and "broken.jsonl" in err


def test_list_as_json(tmp_path):
    write(tmp_path / "a.jsonl", "a")
    code, out, _ = call(cmd_list, str(tmp_path), True)
    rows = json.loads(out)
    assert code == 0 and rows[0]["run_id"] == "a" and rows[0]["decision"] == "ACCEPT"


def test_list_errors_and_empty(tmp_path):
    code, _, err = call(cmd_list, str(tmp_path / "missing"), False)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, out, err = call(cmd_list, str(tmp_path), False)
    assert code == 0 and out == "" and "no transcripts" in err


def test_show_a_workspace_as_a_timeline(tmp_path):
    write(tmp_path / "r1" / "transcript.jsonl", "r1")
    code, out, err = call(cmd_show, str(tmp_path / "r1"), False)
    assert code == 0 and err == ""
    assert out.startswith("run r1  started 2025-01-01T00:00:00.000Z on testhost")
    assert "+     2.5s  gate ptq FAIL SIZE_NOT_REDUCED" in out
    assert "<- quantize error: FAIL" in out
    assert out.rstrip().endswith("decision: ACCEPT (exit 0); 2 turns, $0.0300")


def test_show_as_json(tmp_path):
    path = tmp_path / "t.jsonl"
    write(path)
    with open(path, "a") as fh:
        fh.write("{")
    code, out, err = call(cmd_show, str(path), True)
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["decision"] == "ACCEPT" and doc["header"]["run_id"] == "r-test"
    assert doc["events"][-1]["type"] == "run_finished" and len(doc["warnings"]) == 1
    assert "incomplete" in err


def test_show_errors_are_one_sentence_and_exit_2(tmp_path):
    code, out, err = call(cmd_show, str(tmp_path / "missing.jsonl"), False)
    assert code == 2 and out == "" and "does not exist" in err and err.count("\n") == 1
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps({"type": "header", "schema_version": 7}) + "\n")
    code, _, err = call(cmd_show, str(path), False)
    assert code == 2 and "schema_version 7 is not supported" in err
