"""Transcript figures: reading a 10,000-event transcript, and the per-event cost of recording it.

    python benchmarks/bench_transcript.py [--events 10000]

Targets (issue 3): read_transcript < 2 s for 10,000 events; TranscriptWriter + HeadlessPrinter
(redaction, JSON, flush, fsync at verdicts, --json stream) < 5 ms per event. Exit 1 if missed.
The synthetic events are the size of real ones: an assistant turn, a tool call, skill start and
finish, a gate verdict with facts (fsynced), a tool result, repeating.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conductor.app.headless import HeadlessPrinter  # noqa: E402
from conductor.runtime.redact import Redactor  # noqa: E402
from conductor.transcript.events import EventBus  # noqa: E402
from conductor.transcript.jsonl import TranscriptWriter, iter_events, read_transcript, summarize  # noqa: E402
from tests.eventfactory import header, synthetic_events  # noqa: E402

READ_TARGET_S = 2.0
EVENT_TARGET_MS = 5.0


def record(path: Path, n: int, printer: bool, writer: bool = True) -> float:
    """ms per event for emitting n events through the bus to the chosen listeners."""
    events = list(synthetic_events(n))
    bus = EventBus()
    w = TranscriptWriter(path, header(), Redactor()) if writer else None
    if w is not None:
        bus.subscribe(w, critical=True)
    if printer:
        bus.subscribe(HeadlessPrinter(stream=io.StringIO(), json_stream=io.StringIO(), redactor=Redactor()))
    t0 = time.perf_counter()
    for ev in events:
        bus.emit(ev)
    elapsed = time.perf_counter() - t0
    if w is not None:
        w.close()
    return elapsed * 1000 / n


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000)
    n = p.parse_args().events
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "t.jsonl"
        both = record(path, n, printer=True)
        only_writer = record(Path(tmp) / "w.jsonl", n, printer=False)
        only_printer = record(Path(tmp) / "p.jsonl", n, printer=True, writer=False)
        size_mb = path.stat().st_size / 1e6
        t, read_s = timed(lambda: read_transcript(path))
        count, iter_s = timed(lambda: sum(1 for _ in iter_events(path)))
        _, sum_s = timed(lambda: summarize(t))
    assert len(t.events) == n == count
    print(f"transcript: {n} events, {size_mb:.1f} MB")
    print(f"read_transcript:        {read_s:6.3f} s   (target < {READ_TARGET_S} s)")
    print(f"iter_events (stream):   {iter_s:6.3f} s")
    print(f"summarize:              {sum_s * 1000:6.1f} ms")
    print(f"writer + printer:       {both:6.3f} ms/event   (target < {EVENT_TARGET_MS} ms)")
    print(f"  writer alone:         {only_writer:6.3f} ms/event   (redact, JSON, flush, fsync at verdicts)")
    print(f"  printer alone:        {only_printer:6.3f} ms/event   (stderr line + --json line)")
    ok = read_s < READ_TARGET_S and both < EVENT_TARGET_MS
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
