"""Transcripts: the append-only JSONL record of a run, its writer, its reader and its summary.

Line 1 is the header (schema_version, conductor version, config, provider, model, host, start
time); every other line is one event (`conductor.events`) with its seq, UTC ts and type. The
writer is an EventBus listener: it skips ephemeral events, redacts at write time, flushes every
line and fsyncs at verdicts, seals, approvals and the decision. The reader tolerates a torn last
line (a run killed mid-write) and refuses a schema_version it does not know.

Version 2 chains the lines (`conductor.chain`): each line, the header included, carries the sha256
of its canonical JSON and of the previous line's hash. The reader verifies the chain as it reads
and says where it breaks (`Transcript.chain_break`); version 1 (no chain) is still read, and
`Transcript.tamper_evident` is False for it.

    writer = TranscriptWriter(ws.transcript_path, header, Redactor())
    bus.subscribe(writer, critical=True)
    ...
    writer.close()
    t = read_transcript(ws.transcript_path)
    print(summarize(t)["decision"])
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from pydantic import ValidationError

from conductor.chain import GENESIS, HASH_KEY, ChainBreak, ChainVerifier, chained_line
from conductor.events import (
    TRANSCRIPT_SCHEMA_VERSION, AssistantMessage, DecisionMade, GateVerdict, RunFinished, RunStarted,
    StageSealed, TranscriptHeader, event_from_dict,
)
from conductor.redact import NULL_REDACTOR, Redactor

SUPPORTED_SCHEMA_VERSIONS = (1, TRANSCRIPT_SCHEMA_VERSION)  # 1: no hash chain (not tamper-evident)
CHAINED_FROM = 2
FSYNC_TYPES = frozenset({"gate_verdict", "stage_sealed", "decision", "run_finished", "approval_decided"})

PathLike = Union[str, "os.PathLike[str]"]


class TranscriptError(Exception):
    """A transcript cannot be read or written: the message is one sentence for the user."""


def dumps_line(data: Any) -> str:
    """Compact JSON for one line; NaN/infinity (never valid JSON) become strings."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: record it as a string, keep the line JSON
        return json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _end_with_newline(path: Path) -> None:
    with open(path, "rb+") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            fh.write(b"\n")
            os.fsync(fh.fileno())


def _chained(prev: str, data: dict[str, Any]) -> tuple[str, str]:
    """The line with its hash appended, and the hash (NaN/infinity made strings first, as dumps_line does)."""
    try:
        return chained_line(prev, data)
    except ValueError:
        return chained_line(prev, _finite(data))


class TranscriptWriter:
    """EventBus listener that appends each non-ephemeral event as one redacted JSON line.

    A new transcript must not exist yet (or be empty). With resume=True the file is reopened for
    append: its header is kept, a torn or corrupt last line is cut first, and `last_seq` tells the
    caller where the bus should continue (EventBus(start_seq=writer.last_seq))."""

    def __init__(self, path: PathLike, header: TranscriptHeader, redactor: Optional[Redactor] = None,
                 resume: bool = False, fsync_types: frozenset[str] = FSYNC_TYPES):
        self.path = Path(path)
        self._redactor = redactor or NULL_REDACTOR
        self._fsync_types = fsync_types
        self._lock = threading.Lock()
        self.last_seq = 0
        self.lines_written = 0
        # the hash of the last line written (None: a version-1 transcript, which has no chain)
        self._prev: Optional[str] = GENESIS if header.schema_version >= CHAINED_FROM else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise TranscriptError(f"transcript {self.path} already exists; a transcript is never overwritten")
        if exists:
            self._prepare_resume()
        self._fh = open(self.path, "a", encoding="utf-8")
        if not exists:
            self._write_line(self._redactor.redact_obj(header.model_dump(mode="json")), sync=True)

    def _prepare_resume(self) -> None:
        t = read_transcript(self.path)
        if t.torn:
            with open(self.path, "rb+") as fh:
                fh.truncate(t.valid_bytes)
                os.fsync(fh.fileno())
        self.last_seq = t.events[-1].seq if t.events else 0
        self._prev = t.last_hash if t.tamper_evident else None  # a version-1 record stays unchained
        _end_with_newline(self.path)  # a complete last line may have lost its newline

    def __call__(self, event: Any) -> None:
        if getattr(event, "ephemeral", False):
            return
        data = self._redactor.redact_obj(event.model_dump(mode="json"))
        self._write_line(data, sync=data.get("type") in self._fsync_types)
        self.last_seq = max(self.last_seq, event.seq)

    def _write_line(self, data: dict[str, Any], sync: bool) -> None:
        with self._lock:
            if self._fh.closed:
                raise TranscriptError(f"transcript {self.path} is closed; event {data.get('type')} not recorded")
            if self._prev is not None:
                text, self._prev = _chained(self._prev, data)
                line = text + "\n"
            else:
                line = dumps_line(data) + "\n"
            self._fh.write(line)
            self._fh.flush()
            if sync:
                os.fsync(self._fh.fileno())
            self.lines_written += 1

    def close(self) -> None:
        """Flush, fsync and close; calling it twice is harmless."""
        with self._lock:
            if self._fh.closed:
                return
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def __enter__(self) -> "TranscriptWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Transcript:
    """A transcript as read: its header, its events in order, and what the reader noticed."""

    header: TranscriptHeader
    events: list[Any]
    warnings: list[str] = field(default_factory=list)
    torn: bool = False  # the last line was incomplete and was skipped
    path: Optional[Path] = None
    valid_bytes: int = 0  # bytes up to the end of the last good line (resume truncates there)
    tamper_evident: bool = False  # schema_version 2: every line is chained (conductor.chain)
    chain_break: Optional[ChainBreak] = None  # where the chain breaks (version 2 only)
    last_hash: str = GENESIS  # the hash of the last good line (the writer continues from it)


def _parse_header(raw: bytes, path: Path, state: Optional["_ScanState"] = None) -> TranscriptHeader:
    try:
        data = json.loads(raw)
    except ValueError:
        raise TranscriptError(f"{path}: line 1 is not a JSON header; is this a conductor transcript?") from None
    if not isinstance(data, dict) or data.get("type") != "header":
        raise TranscriptError(f"{path}: line 1 is not a transcript header; is this a conductor transcript?")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise TranscriptError(
            f"{path}: transcript schema_version {version!r} is not supported by this conductor "
            f"(supports {supported}); upgrade conductor, or read it with the version that wrote it")
    if state is not None and version >= CHAINED_FROM:
        state.chain = ChainVerifier()
        state.chain.feed(1, data, raw)
    try:
        return TranscriptHeader.model_validate({k: v for k, v in data.items() if k != HASH_KEY})
    except ValidationError as exc:
        raise TranscriptError(f"{path}: the header is invalid: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    e = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(line)"
    return f"field '{loc}': {e['msg']}"


def _parse_event(raw: bytes, chain: Optional[ChainVerifier] = None, lineno: int = 0) -> Any:
    """The event on one line; raises ValueError (with a reason) when the line is not one. The line
    is fed to `chain` (version 2) before its hash is dropped."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        event = event_from_dict({k: v for k, v in data.items() if k != HASH_KEY})
    except ValidationError as exc:
        raise ValueError(f"not a valid event ({_first_error(exc)})") from None
    if chain is not None:
        chain.feed(lineno, data, raw)
    return event


@dataclass
class _ScanState:
    torn: bool = False
    valid_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    chain: Optional[ChainVerifier] = None  # set by the header of a version-2 transcript


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise TranscriptError(f"transcript {path} does not exist") from None
    except IsADirectoryError:
        raise TranscriptError(f"{path} is a folder, not a transcript file") from None
    except OSError as exc:
        raise TranscriptError(f"cannot read transcript {path}: {exc.strerror or exc}") from None


def _scan(path: Path, state: _ScanState) -> Iterator[Any]:
    """Yield the header, then each event. A bad last line is a warning (torn); a bad line
    anywhere else is a TranscriptError naming it."""
    with _open(path) as fh:
        first = fh.readline()
        if not first.strip():
            raise TranscriptError(f"{path} is empty: it has no header line")
        yield _parse_header(first, path, state)
        state.valid_bytes = len(first)
        pending: Optional[tuple[int, bytes]] = None
        for lineno, raw in enumerate(fh, start=2):
            if pending is not None:
                yield _middle_event(path, *pending, state.chain)
                state.valid_bytes += len(pending[1])
            pending = (lineno, raw)
        if pending is None:
            return
        try:
            event = _parse_event(pending[1], state.chain, pending[0])
        except ValueError:
            state.torn = True
            state.warnings.append(f"line {pending[0]} is incomplete (the run was probably killed "
                                  "mid-write); stopping there")
            return
        state.valid_bytes += len(pending[1])
        yield event


def _middle_event(path: Path, lineno: int, raw: bytes, chain: Optional[ChainVerifier] = None) -> Any:
    try:
        return _parse_event(raw, chain, lineno)
    except ValueError as exc:
        raise TranscriptError(f"{path}: line {lineno} is corrupt: {exc}") from None


def read_transcript(path: PathLike) -> Transcript:
    """The whole transcript in memory; raises TranscriptError when it cannot be trusted."""
    path = Path(path)
    state = _ScanState()
    records = _scan(path, state)
    header = next(records)
    events = list(records)
    t = Transcript(header=header, events=events, warnings=state.warnings, torn=state.torn,
                   path=path, valid_bytes=state.valid_bytes)
    if state.chain is not None:
        t.tamper_evident, t.chain_break, t.last_hash = True, state.chain.broken, state.chain.last
        if t.chain_break is not None:
            t.warnings.append(f"the record was altered after it was written: {t.chain_break.sentence()}")
    return t


def read_header(path: PathLike) -> TranscriptHeader:
    return next(_scan(Path(path), _ScanState()))


def iter_events(path: PathLike, on_warning: Optional[Callable[[str], None]] = None) -> Iterator[Any]:
    """The events one at a time (constant memory); warnings (a torn tail) go to on_warning."""
    state = _ScanState()
    records = _scan(Path(path), state)
    next(records)
    yield from records
    for w in state.warnings:
        if on_warning is not None:
            on_warning(w)


def _seconds_between(start: str, end: str) -> Optional[float]:
    from datetime import datetime

    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((b - a).total_seconds(), 3)


def summarize(t: Transcript) -> dict[str, Any]:
    """One run in a few fields (what `conductor transcript list/show` print)."""
    cfg, h = t.header.config, t.header
    out: dict[str, Any] = {
        "run_id": h.run_id, "started_at": h.started_at, "model": cfg.get("model"), "recipe": cfg.get("recipe"),
        "provider": h.provider, "agent_model": h.model, "decision": None, "exit_code": None, "reason": None,
        "stages_passed": [], "stages_failed": [], "turns": 0, "input_tokens": 0, "output_tokens": 0,
        "cost_usd": 0.0, "wall_s": None, "events": len(t.events), "resumes": 0, "finished": False,
        "torn": t.torn, "transcript": str(t.path) if t.path else None,
    }
    failed: list[str] = []
    for ev in t.events:
        _fold(out, failed, ev)
    out["stages_failed"] = [s for s in dict.fromkeys(failed) if s not in out["stages_passed"]]
    out["cost_usd"] = round(out["cost_usd"], 6)
    if out["wall_s"] is None and t.events:
        out["wall_s"] = _seconds_between(h.started_at, t.events[-1].ts)
    return out


def _fold(out: dict[str, Any], failed: list[str], ev: Any) -> None:
    if isinstance(ev, AssistantMessage):
        out["turns"] += 1
        out["input_tokens"] += ev.usage.input_tokens
        out["output_tokens"] += ev.usage.output_tokens
        out["cost_usd"] += ev.cost_usd
    elif isinstance(ev, GateVerdict) and not ev.verdict.get("pass", False):
        failed.append(ev.stage)
    elif isinstance(ev, StageSealed) and ev.stage not in out["stages_passed"]:
        out["stages_passed"].append(ev.stage)
    elif isinstance(ev, DecisionMade):
        out.update(decision=ev.decision, exit_code=ev.exit_code, reason=ev.reason)
    elif isinstance(ev, RunStarted) and ev.resumed_from:
        out["resumes"] += 1
    elif isinstance(ev, RunFinished):  # authoritative totals (they span resumes)
        out.update(decision=ev.decision, exit_code=ev.exit_code, turns=ev.turns, input_tokens=ev.input_tokens,
                   output_tokens=ev.output_tokens, cost_usd=ev.cost_usd, wall_s=ev.wall_s, finished=True)
