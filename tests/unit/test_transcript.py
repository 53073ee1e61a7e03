"""TranscriptWriter / read_transcript / iter_events / summarize."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conductor import events as E
from conductor.events import EventBus
from conductor.transcript import (
    TranscriptError, TranscriptWriter, dumps_line, iter_events, read_header, read_transcript, summarize,
)
from tests.eventfactory import header, small_run

ROOT = Path(__file__).resolve().parents[2]


def record(path: Path, events=None, **kw) -> TranscriptWriter:
    w = TranscriptWriter(path, header(), **kw)
    bus = EventBus()
    bus.subscribe(w, critical=True)
    for ev in events if events is not None else small_run():
        bus.emit(ev)
    w.close()
    return w


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_header_then_one_line_per_recorded_event(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    rows = lines(path)
    assert rows[0]["type"] == "header" and rows[0]["schema_version"] == 2 and rows[0]["run_id"] == "r-test"
    types = [r["type"] for r in rows[1:]]
    assert "text_delta" not in types and "skill_log" not in types and "budget" not in types
    assert len(rows) - 1 == sum(not e.ephemeral for e in small_run())
    seqs = [r["seq"] for r in rows[1:]]
    assert seqs == sorted(seqs) and all(r["ts"].endswith("Z") for r in rows[1:])
    assert all("ephemeral" not in r for r in rows)


def test_round_trip(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    t = read_transcript(path)
    assert not t.torn and t.warnings == [] and t.header.run_id == "r-test"
    expected = [e for e in small_run() if not e.ephemeral]
    assert [type(e) for e in t.events] == [type(e) for e in expected]
    assert t.events[-1].decision == "ACCEPT" and t.valid_bytes == path.stat().st_size


def test_fsync_at_verdicts_seals_approvals_and_decision(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    path = tmp_path / "t.jsonl"
    w = TranscriptWriter(path, header())
    n_header = len(synced)
    for ev in [E.StageOpened(stage="s"), E.Warning_(message="w")]:
        w(ev)
    assert len(synced) == n_header
    for ev in [E.GateVerdict(stage="s", gate="g", attempt=1, facts=None, verdict={}, exit_code=0, duration_s=0),
               E.StageSealed(stage="s", artifacts={}, seal_path="x", duration_s=0),
               E.ApprovalDecided(request_id="r", answer="approve", by="policy"),
               E.DecisionMade(decision="ACCEPT", exit_code=0, reason="r")]:
        w(ev)
    assert len(synced) == n_header + 4
    w.close()


def test_a_transcript_is_never_overwritten(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    with pytest.raises(TranscriptError, match="already exists"):
        TranscriptWriter(path, header())


def test_writing_after_close_is_an_error(tmp_path):
    w = record(tmp_path / "t.jsonl")
    w.close()  # twice is fine
    with pytest.raises(TranscriptError, match="closed"):
        w(E.Warning_(message="late"))
    w(E.TextDelta(turn=1, text="ephemeral events are simply not recorded"))


def test_nan_never_breaks_a_line(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path, [E.GateVerdict(stage="s", gate="g", attempt=1, facts={"x": float("nan")}, verdict={},
                                exit_code=0, duration_s=0)])
    assert read_transcript(path).events[0].facts == {"x": None}  # pydantic's JSON mode: NaN -> null


def test_dumps_line_turns_non_finite_floats_into_strings():
    assert json.loads(dumps_line({"a": [float("inf")], "b": 1.5})) == {"a": ["inf"], "b": 1.5}


def test_torn_last_line_warns_and_stops(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    n = len(path.read_text().splitlines())
    with open(path, "a") as fh:
        fh.write('{"type": "warning", "message": "cut he')
    t = read_transcript(path)
    assert t.torn and len(t.events) == n - 1
    assert t.warnings == [f"line {n + 1} is incomplete (the run was probably killed mid-write); stopping there"]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    t = read_transcript(path)
    assert not t.torn and t.events[-1].type == "run_finished"


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    rows = path.read_text().splitlines()
    rows[3] = rows[3][:20]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(TranscriptError, match="line 4 is corrupt"):
        read_transcript(path)


def test_unknown_event_type_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    rows = path.read_text().splitlines()
    rows.insert(2, json.dumps({"type": "teleport", "seq": 99, "ts": "x"}))
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(TranscriptError, match="line 3 is corrupt: not a valid event"):
        read_transcript(path)


def test_unknown_schema_version_is_refused_clearly(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    rows = path.read_text().splitlines()
    head = json.loads(rows[0])
    head["schema_version"] = 99
    head["new_field"] = "from the future"
    path.write_text("\n".join([json.dumps(head), *rows[1:]]) + "\n")
    with pytest.raises(TranscriptError) as err:
        read_transcript(path)
    msg = str(err.value)
    assert "schema_version 99 is not supported by this conductor (supports 1, 2)" in msg and "upgrade conductor" in msg


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"not json\n", "not a JSON header"),
    (b'{"type": "warning", "message": "x"}\n', "not a transcript header"),
    (b'{"type": "header", "schema_version": 1}\n', "header is invalid"),
])
def test_missing_or_garbled_header(tmp_path, content, match):
    path = tmp_path / "t.jsonl"
    path.write_bytes(content)
    with pytest.raises(TranscriptError, match=match):
        read_transcript(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(TranscriptError, match="does not exist"):
        read_transcript(tmp_path / "nope.jsonl")
    with pytest.raises(TranscriptError, match="is a folder"):
        read_transcript(tmp_path)


def test_resume_cuts_the_torn_tail_and_appends(tmp_path):
    path = tmp_path / "t.jsonl"
    first = small_run()[:5]
    record(path, first)
    with open(path, "a") as fh:
        fh.write('{"type": "stage_ope')
    w = TranscriptWriter(path, header(), resume=True)
    assert w.last_seq == 5  # the torn line is gone; ephemeral events used seqs but were not recorded
    bus = EventBus(start_seq=w.last_seq)
    bus.subscribe(w, critical=True)
    bus.emit(E.RunStarted(run_id="r-test", workspace="/w", plan=[], resumed_from="seq 5"))
    bus.emit(E.DecisionMade(decision="ACCEPT", exit_code=0, reason="r"))
    w.close()
    t = read_transcript(path)
    assert not t.torn and t.warnings == []
    assert sum(1 for line in path.read_text().splitlines() if '"type":"header"' in line) == 1
    assert [e.seq for e in t.events] == sorted(e.seq for e in t.events)
    assert t.events[-1].type == "decision" and summarize(t)["resumes"] == 1


def test_resume_after_complete_line_without_newline(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path, small_run()[:2])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with TranscriptWriter(path, header(), resume=True) as w:
        w(E.Warning_(seq=9, ts="2025-01-01T00:00:01Z", message="after resume"))
    assert read_transcript(path).events[-1].message == "after resume"


def test_resume_of_an_empty_file_writes_the_header(tmp_path):
    path = tmp_path / "t.jsonl"
    path.touch()
    with TranscriptWriter(path, header(), resume=True):
        pass
    assert read_header(path).run_id == "r-test"


def test_iter_events_streams_and_reports_the_torn_tail(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    with open(path, "a") as fh:
        fh.write("{")
    warnings: list[str] = []
    events = list(iter_events(path, on_warning=warnings.append))
    assert events[-1].type == "run_finished" and len(warnings) == 1


def test_summarize(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path)
    s = summarize(read_transcript(path))
    assert s["run_id"] == "r-test" and s["model"] == "embedded:smollm2-135m-instruct" and s["recipe"] == "fp8"
    assert s["decision"] == "ACCEPT" and s["exit_code"] == 0 and s["finished"]
    assert s["stages_passed"] == ["quantize"] and s["stages_failed"] == []
    assert s["turns"] == 2 and s["cost_usd"] == 0.03 and s["wall_s"] == 4.0


def test_summarize_an_unfinished_run(tmp_path):
    path = tmp_path / "t.jsonl"
    record(path, small_run()[:10])
    s = summarize(read_transcript(path))
    assert s["decision"] is None and not s["finished"] and s["stages_failed"] == ["quantize"]
    assert s["turns"] == 1 and s["cost_usd"] == 0.01 and s["wall_s"] is not None


def test_a_writer_killed_mid_run_leaves_a_readable_transcript(tmp_path):
    """kill -9 while writing as fast as it can: the reader gets everything before the tear."""
    path = tmp_path / "t.jsonl"
    code = ("import sys\nfrom conductor.transcript import TranscriptWriter\nfrom conductor.events import EventBus\n"
            "from tests.eventfactory import header, synthetic_events\n"
            "w = TranscriptWriter(sys.argv[1], header()); bus = EventBus(); bus.subscribe(w, critical=True)\n"
            "print('ready', flush=True)\n"
            "for ev in synthetic_events(10**7): bus.emit(ev)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=str(ROOT), stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    t = read_transcript(path)
    assert len(t.events) > 10
    assert [e.seq for e in t.events] == list(range(1, len(t.events) + 1))
