"""One-off: rewrite imports written against the old flat conductor/ layout to the package per concept.

For merging branches made before the move (commit 141b7b5): run it on the files a branch adds or
changes, e.g. `python scripts/migrate_imports.py $(git diff --name-only main... -- '*.py')`. It
rewrites `conductor.<old module>` in imports, monkeypatch targets and docstrings, and
`from conductor import <old module>`; it prints each file it changed. Delete it once the branches
are merged.

Also changed by the architecture work, by hand (the script does not do these):
  cli.build_skills/build_provider/build_approver -> conductor.app.wiring (patch `wiring`, not `cli`)
  attempt.GateOutcome -> gating.runner.GateRun (verdict: gates.contract.Verdict, not a dict)
  gate_runner.GateRun.passed / .failure_class -> run.verdict.passed / run.verdict.failure_class
  events.GateVerdict.verdict is a Verdict: v.passed, v.failure_class (an enum), v.detail, v.evidence
  tui.report_model -> runtime.report (ReleaseReport, TaskRow) + tui.chart (delta_chart)
  tui.model status constants -> engine.stages.Status; logbatch.parse_progress -> runtime.progress
  session.LAST_TRANSCRIPT -> gone (the exception carries a note naming the transcript)
  cli's `bench` hook (importing skills.perf.bench) -> entry point group conductor.commands (runtime.command.Command)
  chain -> transcript.chain; integrity -> replay.integrity; redact, scrub -> runtime (skills' writes redact)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAP = {
    "approver": "engine.approver", "attempt": "engine.attempt", "budget": "engine.budget",
    "config": "engine.config", "feedback": "engine.feedback", "interrupt": "engine.interrupt",
    "loop": "engine.loop", "prompts": "engine.prompts", "stages": "engine.stages",
    "steering": "engine.steering", "tools": "engine.tools", "triage": "engine.triage",
    "session": "engine.session", "closeout": "engine.closeout", "providers.autopilot": "engine.autopilot",
    "events": "transcript.events", "transcript": "transcript.jsonl", "redact": "runtime.redact",
    "gate_runner": "gating.runner", "gate_inprocess": "gating.inprocess", "gate_modules": "gating.modules",
    "skill": "runtime.skill", "executor": "runtime.executor", "workspace": "runtime.workspace",
    "fsutil": "runtime.fsutil", "logbatch": "runtime.logbatch", "tui.report_model": "runtime.report",
    "replay": "replay.replayer", "record": "replay.record", "resume": "replay.resume",
    "chain": "transcript.chain", "scrub": "runtime.scrub", "integrity": "replay.integrity",
    "pricing": "providers.pricing", "headless": "app.headless", "transcript_cli": "app.transcript_cmds",
}
PARTS = ("engine", "transcript", "gating", "runtime", "replay", "providers", "app")
_NAMES = "|".join(re.escape(n) for n in sorted(MAP, key=len, reverse=True))
NEW_SUBMODULES = (*PARTS, "events", "jsonl", "redact", "chain", "scrub", "replayer", "record", "resume", "integrity")
_SUB = "|".join(NEW_SUBMODULES)
# not a path already in the new layout: `conductor.transcript.events`, `from conductor.transcript import events`
DOTTED = re.compile(rf"\bconductor\.({_NAMES})\b(?!\.(?:{_SUB})\b| import \(?(?:{_SUB})\b)")
FROM_PKG = re.compile(r"^(\s*)from conductor import ([\w, ]+?)(\s*(#.*)?)$", re.M)


def _dotted(m: re.Match[str]) -> str:
    return "conductor." + MAP[m.group(1)]


def _from(m: re.Match[str]) -> str:
    indent, what, tail = m.group(1), m.group(2), m.group(3)
    out = []
    for item in (x.strip() for x in what.split(",")):
        base, _, alias = item.partition(" as ")
        if base not in MAP:
            out.append(f"{indent}from conductor import {item}")
            continue
        pkg, _, mod = MAP[base].rpartition(".")
        name = f" as {alias}" if alias else (f" as {base}" if mod != base else "")
        out.append(f"{indent}from conductor.{pkg} import {mod}{name}")
    return "\n".join(out) + tail


def migrate(text: str) -> str:
    return FROM_PKG.sub(_from, DOTTED.sub(_dotted, text))


def main(paths: list[str]) -> int:
    for path in paths:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        new = migrate(text)
        if new != text:
            p.write_text(new, encoding="utf-8")
            print("rewrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
