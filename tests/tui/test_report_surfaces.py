"""One report model, three surfaces: for every curated transcript, the closeout report (report.md),
the headless summary and the TUI's report screen show the same numbers.

Each surface folds the recorded events its own way (closeout from the workspace's records, headless
as the events pass, the TUI through its run model); all three go through conductor.runtime.report,
so their models agree, and the numbers each one renders (decision, exit code, size ratio, every
task's scores and delta) are the same strings, formatted once (fmt_*).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from conductor.app.headless import HeadlessPrinter
from conductor.runtime.report import ReleaseReport, fmt_delta, fmt_ratio, fmt_score
from conductor.transcript.events import DecisionMade
from conductor.transcript.jsonl import read_transcript
from conductor.tui.model import RunModel
from conductor.tui.widgets.report import chart_content, decision_content, task_cells
from skills.closeout.records import load_records
from skills.closeout.render import render_markdown
from skills.closeout.report import build_report

TRANSCRIPTS = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("*.jsonl"))


def closeout_surface(path: Path, tmp: Path) -> tuple[ReleaseReport, str]:
    t = read_transcript(path)
    ws = tmp / "ws"
    ws.mkdir()
    shutil.copy(path, ws / "transcript.jsonl")  # the records of a workspace whose other files are gone
    d = next(e for e in reversed(t.events) if isinstance(e, DecisionMade))
    decision = {"decision": d.decision, "exit_code": d.exit_code, "reason": d.reason,
                "failure_class": d.failure_class, "stage": d.stage}
    recs = load_records(ws, t.header.config, decision)
    return recs.report, render_markdown(build_report(recs))


def headless_surface(path: Path) -> tuple[ReleaseReport, str]:
    t = read_transcript(path)
    out = io.StringIO()
    printer = HeadlessPrinter(stream=out, config=t.header.config, clock=lambda: 0.0)
    for e in t.events:
        printer(e)
    assert printer.report is not None
    return printer.report, out.getvalue()


def tui_surface(path: Path) -> tuple[ReleaseReport, str]:
    t = read_transcript(path)
    m = RunModel(t.header.model_dump(mode="json"), keep_items=False)
    m.apply_many(t.events)
    rep = m.report
    rows = ["  ".join(c if isinstance(c, str) else c.plain for c in task_cells(r)) for r in rep.rows]
    return rep, "\n".join([decision_content(rep).plain, *rows, chart_content(rep).plain])


def numbers(rep: ReleaseReport) -> dict:
    return {"decision": rep.decision, "exit_code": rep.exit_code, "size_ratio": rep.size_ratio,
            "threshold": rep.threshold, "rows": [(r.task, r.shown_baseline, r.shown_candidate, r.delta, r.within,
                                                  r.verdict) for r in rep.rows],
            "gates": [(g.stage, g.gate, g.attempt, g.passed, g.failure_class) for g in rep.gates]}


def shown(rep: ReleaseReport) -> list[list[str]]:
    """What every surface must render for this report: each group on one line, in this order."""
    assert rep.decision is not None
    out = [[rep.decision.value, f"exit {rep.exit_code}"]]
    if rep.size_ratio is not None:
        out.append([fmt_ratio(rep.size_ratio)])
    for r in rep.rows:
        out.append([r.task, fmt_score(r.shown_baseline), fmt_score(r.shown_candidate), fmt_delta(r.delta)])
    return out


def on_one_line(text: str, parts: list[str]) -> bool:
    def in_order(line: str) -> bool:
        at = 0
        for p in parts:
            at = line.find(p, at)
            if at < 0:
                return False
            at += len(p)
        return True

    return any(in_order(line) for line in text.splitlines())


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_closeout_headless_and_tui_show_the_same_numbers(path, tmp_path):
    surfaces = {"closeout": closeout_surface(path, tmp_path), "headless": headless_surface(path),
                "tui": tui_surface(path)}
    models = {name: numbers(rep) for name, (rep, _) in surfaces.items()}
    assert models["closeout"] == models["headless"] == models["tui"], models
    rep = surfaces["tui"][0]
    for name, (_, text) in surfaces.items():
        missing = [s for s in shown(rep) if not on_one_line(text, s)]
        assert not missing, f"{name} does not show {missing}"


def test_the_curated_set_covers_rows_a_size_and_several_decisions():
    reports = [tui_surface(p)[0] for p in TRANSCRIPTS]
    assert any(r.rows for r in reports) and any(r.size_ratio is not None for r in reports)
    assert len({r.decision for r in reports}) >= 3
