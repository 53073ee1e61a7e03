"""The closeout report: decision and recommendation, per-task table, delta chart, every gate.

It shows the one release report model (conductor.runtime.report), with its number formats: the
same figures as report.md and the headless summary.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import DataTable, Static

from conductor.runtime.report import ReleaseReport as Report
from conductor.runtime.report import TaskRow, fmt_delta, fmt_ratio, fmt_score
from conductor.tui.chart import delta_chart

SPAN_STYLES = {"pass": "$success", "fail": "$error bold", "axis": "$text", "limit": "$warning bold",
               "dim": "$text-muted"}


MISSING = "—"


def _within(r: TaskRow) -> Content:
    if r.within is None:
        return Content.assemble(("?", "$warning"))
    label = r.verdict if r.verdict and r.verdict not in ("OK", "WITHIN", "ACCEPT") else ("yes" if r.within else "no")
    if r.within and label == "yes":
        return Content.assemble(("✓ yes", "$success"))
    return Content.assemble(("✗ " + label.lower() if not r.within else "? " + label.lower(),
                             "$error" if not r.within else "$warning"))


def task_cells(r: TaskRow) -> list[str | Content]:
    """One row of the task table: task, baseline, candidate, delta, stderr, within (unit scale)."""
    return [r.task, fmt_score(r.shown_baseline, MISSING), fmt_score(r.shown_candidate, MISSING),
            Content.assemble((fmt_delta(r.delta, MISSING), "$error" if r.within is False else "")),
            fmt_score(r.stderr_diff, MISSING), _within(r)]


def decision_content(rep: Report) -> Content:
    dec = rep.decision.value if rep.decision is not None else "no decision"
    ok = rep.exit_code == 0
    style = "$success bold" if ok else ("$error bold" if rep.decision else "$text-muted")
    parts: list[tuple[str, str] | str] = [
        ("Decision ", "bold"), (f" {dec} ", "reverse " + style),
        (f"  exit {rep.exit_code}" if rep.exit_code is not None else "", "$text-muted"),
    ]
    if rep.failure_class:
        parts.append((f"  {rep.failure_class}", "$error"))
    parts.append("\n")
    parts.append((rep.recommendation, style.replace(" bold", "")))
    if rep.reason:
        parts.append(("\n" + rep.reason, "$text-muted"))
    thr = f"{rep.threshold.value:g} ({rep.threshold.kind})" if rep.threshold is not None else MISSING
    ratio = f"{fmt_ratio(rep.size_ratio)} (quantized / source weight bytes)" if rep.size_ratio is not None else MISSING
    parts.append(("\nthreshold ", "$text-muted"))
    parts.append(thr)
    parts.append(("   size ratio ", "$text-muted"))
    parts.append(ratio)
    return Content.assemble(*parts)


def chart_content(rep: Report, width: int = 31) -> Content:
    if not rep.rows:
        return Content.assemble(("no per-task comparison recorded", "$text-muted"))
    thr = rep.threshold.value if rep.threshold is not None else 0.01
    name_w = min(22, max(len(r.task) for r in rep.rows))
    lines: list[Content] = [Content.assemble(
        (" " * (name_w + 1) + f"{-2 * thr:+.3f}".ljust(width // 2) + f"{2 * thr:+.3f}".rjust(width - width // 2),
         "$text-muted"))]
    for (task, spans), r in zip(delta_chart(rep.rows, thr, width), rep.rows, strict=True):
        parts: list[tuple[str, str] | str] = [(task[:name_w].ljust(name_w) + " ", "")]
        parts += [(text, SPAN_STYLES[st]) for text, st in spans]
        parts.append((f" {fmt_delta(r.delta, MISSING)}", "" if r.within is not False else "$error"))
        lines.append(Content.assemble(*parts))
    lines.append(Content.assemble(("│", "$warning bold"), (" allowed drop   ", "$text-muted"),
                                  ("┊", ""), (" zero   ", "$text-muted"),
                                  ("█", "$success"), (" within  ", "$text-muted"),
                                  ("█", "$error"), (" outside", "$text-muted")))
    return Content("\n").join(lines)


class ReportView(VerticalScroll):
    DEFAULT_CSS = """
    ReportView { padding: 0 1; }
    ReportView > Static { margin-bottom: 1; }
    ReportView > .heading { text-style: bold; color: $accent; margin: 0; }
    ReportView > DataTable { height: auto; max-height: 14; margin-bottom: 1; }
    """

    def __init__(self, report: Report, **kw):
        super().__init__(**kw)
        self.report = report

    def compose(self) -> ComposeResult:
        rep = self.report
        yield Static(decision_content(rep), id="decision")
        yield Static("Tasks (unit scale)", classes="heading")
        tasks: DataTable = DataTable(id="tasks", cursor_type="none", zebra_stripes=True)
        name_w = max([4] + [len(r.task) for r in rep.rows])
        for label, width in (("task", min(name_w, 28)), ("baseline", 8), ("candidate", 9), ("delta", 8),
                             ("stderr", 7), ("within", 16)):
            tasks.add_column(label, width=width)
        for r in rep.rows:
            tasks.add_row(*task_cells(r))
        yield tasks
        yield Static("Deltas against the threshold", classes="heading")
        yield Static(chart_content(rep), id="chart")
        yield Static("Gates", classes="heading")
        gates: DataTable = DataTable(id="gates", cursor_type="none", zebra_stripes=True)
        for label, width in (("stage", 14), ("gate", 9), ("try", 3), ("verdict", 26), ("detail", 36)):
            gates.add_column(label, width=width)
        for g in rep.gates:
            verdict = Content.assemble(("PASS", "$success")) if g.passed else Content.assemble(
                (f"FAIL {g.failure_class}", "$error"))  # the failure class's name (a str)
            gates.add_row(g.stage, g.gate, str(g.attempt), verdict, g.detail)
        yield gates
