"""`conductor transcript list|show`: find recorded runs and read one as a timeline.

Both return an exit code: 0 on success, 2 (with one sentence on stderr) when the folder or file
is missing or the transcript cannot be read (unknown schema_version, corrupt line).

    raise SystemExit(cmd_list("runs", as_json=False))
    raise SystemExit(cmd_show("runs/r1", as_json=True))   # a workspace or a .jsonl file
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, TextIO

from conductor.app.headless import describe_event
from conductor.transcript.events import ToolResult
from conductor.transcript.jsonl import Transcript, TranscriptError, read_transcript, summarize
from gates.failure_classes import ExitCode

EXIT_OK = ExitCode.ACCEPT
EXIT_USAGE = ExitCode.CONFIG_ERROR


def find_transcripts(folder: Path) -> list[Path]:
    """*.jsonl in the folder (curated transcripts) and */transcript.jsonl (a runs folder)."""
    if folder.is_file():
        return [folder]
    return sorted(set(folder.glob("*.jsonl")) | set(folder.glob("*/transcript.jsonl")))


def _row(path: Path) -> dict[str, Any]:
    try:
        return summarize(read_transcript(path))
    except TranscriptError as exc:
        return {"transcript": str(path), "error": str(exc)}


def _stages(s: dict[str, Any]) -> str:
    ok, bad = len(s["stages_passed"]), len(s["stages_failed"])
    return f"{ok} ok" + (f", {bad} failed" if bad else "")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    head = ("RUN", "STARTED", "MODEL", "RECIPE", "DECISION", "EXIT", "STAGES", "COST")
    body = []
    for r in rows:
        if "error" in r:
            body.append((Path(r["transcript"]).name, "-", "-", "-", "UNREADABLE", "-", "-", "-"))
            continue
        decision = r["decision"] or ("(unfinished)" if not r["finished"] else "-")
        body.append((r["run_id"], r["started_at"][:19].replace("T", " "), str(r["model"]), str(r["recipe"]),
                     decision, "-" if r["exit_code"] is None else str(r["exit_code"]), _stages(r),
                     f"${r['cost_usd']:.2f}"))
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [head, *body]]


def cmd_list(folder: str, as_json: bool = False, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    path = Path(folder)
    if not path.exists():
        err.write(f"error: {folder} does not exist; pass a runs folder or a transcripts folder.\n")
        return EXIT_USAGE
    rows = [_row(p) for p in find_transcripts(path)]
    if as_json:
        out.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    if not rows:
        err.write(f"no transcripts in {folder} (looked for *.jsonl and */transcript.jsonl)\n")
        return EXIT_OK
    out.write("\n".join(_table(rows)) + "\n")
    for r in rows:
        if "error" in r:
            err.write(f"warning: {r['error']}\n")
    return EXIT_OK


def _resolve(target: str) -> Path:
    path = Path(target)
    return path / "transcript.jsonl" if path.is_dir() else path


def cmd_show(target: str, as_json: bool = False, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        t = read_transcript(_resolve(target))
    except TranscriptError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_USAGE
    if as_json:
        doc = {"summary": summarize(t), "header": t.header.model_dump(mode="json"),
               "events": [e.model_dump(mode="json") for e in t.events], "warnings": t.warnings}
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(_show_lines(t)) + "\n")
    for w in t.warnings:
        err.write(f"warning: {w}\n")
    return EXIT_OK


def _show_lines(t: Transcript) -> list[str]:
    h, s = t.header, summarize(t)
    lines = [f"run {h.run_id}  started {h.started_at} on {h.host}  (conductor {h.conductor_version})",
             f"model {s['model']}  recipe {s['recipe']}  agent {h.provider}/{h.model}",
             f"tasks {', '.join(map(str, h.config.get('tasks', [])))}  threshold {h.config.get('threshold')}", ""]
    t0 = _parse_ts(h.started_at)
    for ev in t.events:
        at = _parse_ts(ev.ts)
        rel = f"+{(at - t0).total_seconds():8.1f}s" if at and t0 else " " * 10
        lines.append(f"{ev.seq:>6} {rel}  {describe_event(ev) or _plain(ev)}")
    decision = s["decision"] or "no decision (the run did not finish)"
    lines += ["", f"decision: {decision}" + ("" if s["exit_code"] is None else f" (exit {s['exit_code']})")
              + f"; {s['turns']} turns, ${s['cost_usd']:.4f}"]
    return lines


def _plain(ev: Any) -> str:
    if isinstance(ev, ToolResult):
        return f"<- {ev.name} ok"
    return ev.type


def _parse_ts(ts: str) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
