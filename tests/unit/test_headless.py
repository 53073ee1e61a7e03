"""HeadlessPrinter: readable lines on stderr, one JSON object per event on stdout, cheap."""

from __future__ import annotations

import io
import json
import time

from conductor.app.headless import HeadlessPrinter, describe_event
from conductor.runtime.redact import Redactor
from conductor.transcript import events as E
from conductor.transcript.events import EventBus
from tests.eventfactory import small_run, synthetic_events


def run_through(printer) -> None:
    bus = EventBus()
    bus.subscribe(printer)
    for ev in small_run():
        bus.emit(ev)
    assert bus.errors == []


def test_human_summary_lines():
    err = io.StringIO()
    run_through(HeadlessPrinter(stream=err, clock=lambda: 0.0))
    text = err.getvalue()
    for expected in ("run r-test started in /tmp/ws: quantize", "== stage quantize", "agent: Quantizing now.",
                     '-> quantize(recipe="fp8")', "skill quantize ok in 1.5s",
                     "gate ptq FAIL SIZE_NOT_REDUCED: something failed", "<- quantize error: FAIL",
                     "retry quantize after SIZE_NOT_REDUCED: 1 of 2 left", "gate ptq PASS (0.2s)",
                     "stage quantize sealed (1 artifacts, 3.0s)", "DECISION ACCEPT (exit 0): every gate passed",
                     "finished: ACCEPT (exit 0) in 4.0s; 2 turns, 280 tokens, $0.0300"):
        assert expected in text, expected
    assert all(line.startswith("[    0.0s] ") for line in text.splitlines())
    assert "Let me" not in text and "working" not in text  # text deltas and log lines are not echoed


def test_json_stream_one_object_per_event_ending_with_the_result():
    out = io.StringIO()
    run_through(HeadlessPrinter(stream=io.StringIO(), json_stream=out))
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    types = [r["type"] for r in rows]
    assert "text_delta" not in types and "skill_log" not in types and "budget" in types
    assert types[-1] == "run_finished" and rows[-1]["exit_code"] == 0 and rows[-1]["transcript"]
    assert len(rows) == len(small_run()) - 2
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)


def test_both_streams_are_redacted():
    out, err = io.StringIO(), io.StringIO()
    printer = HeadlessPrinter(stream=err, json_stream=out, redactor=Redactor(env={"X_API_KEY": "leaky-key-1"}))
    bus = EventBus()
    bus.subscribe(printer)
    bus.emit(E.Warning_(message="the key leaky-key-1 appeared"))
    bus.emit(E.ToolCall(turn=1, stage="s", tool_use_id="t", name="n", input={"api_key": "whatever-99"}))
    assert "leaky-key-1" not in err.getvalue() + out.getvalue()
    assert "whatever-99" not in out.getvalue()


def test_stopped_turns_are_visible():
    ev = E.AssistantMessage(turn=3, stage="s", content=[], stop_reason="max_tokens")
    assert describe_event(ev) == "agent:  [stop: max_tokens]"


def test_every_event_type_can_be_described_without_error():
    for ev in small_run() + list(synthetic_events(6)):
        describe_event(ev)


def test_cost_per_event_is_well_under_5_ms():
    out, err = io.StringIO(), io.StringIO()
    bus = EventBus()
    bus.subscribe(HeadlessPrinter(stream=err, json_stream=out))
    events = list(synthetic_events(2000))
    t0 = time.perf_counter()
    for ev in events:
        bus.emit(ev)
    per_event_ms = (time.perf_counter() - t0) * 1000 / len(events)
    assert per_event_ms < 5, per_event_ms


def test_skill_progress_is_shown_throttled_on_stderr():
    import io

    from conductor.app.headless import HeadlessPrinter
    from conductor.transcript.events import SkillProgress

    now = [0.0]
    err = io.StringIO()
    printer = HeadlessPrinter(stream=err, clock=lambda: now[0])
    for t, frac in ((0.0, 0.1), (1.0, 0.2), (20.0, 0.5), (21.0, 1.0)):
        now[0] = t
        printer(SkillProgress(stage="quantize", skill="quantize", fraction=frac, message=f"calibrating {frac}"))
    lines = err.getvalue().splitlines()
    assert len(lines) == 3  # 0.2 at 1 s is throttled; the last (done) always shows
    assert "10%" in lines[0] and "50%" in lines[1] and "100%" in lines[2]


def test_the_transcript_writer_the_printer_and_the_tui_pump_are_displays(tmp_path):
    from conductor.transcript.events import Display
    from conductor.transcript.jsonl import TranscriptWriter
    from conductor.tui.bridge import EventPump
    from tests.eventfactory import header

    writer = TranscriptWriter(tmp_path / "t.jsonl", header())
    for display in (writer, HeadlessPrinter(stream=io.StringIO()), EventPump(lambda: None)):
        assert isinstance(display, Display)  # runtime_checkable: each is called with one event
    writer.close()
