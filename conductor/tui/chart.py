"""The report's delta chart as styled text spans: plain data, no terminal UI (widgets/report.py draws it)."""

from __future__ import annotations

from typing import Optional

from conductor.runtime.report import TaskRow


def delta_chart(rows: list[TaskRow], threshold: Optional[float],
                width: int = 31) -> list[tuple[str, list[tuple[str, str]]]]:
    """A small text chart of each task's delta (unit scale) against its allowed drop, as styled spans.

    The axis runs from -2*threshold to +2*threshold (deltas beyond are clamped to the edge and
    marked with an arrow). `│` marks the row's allowed drop, `┊` zero. A bar is "pass" or "fail" as
    the compare gate said (`within`); the chart never decides it again. Returns
    [(task, [(text, style)])] with style one of "pass", "fail", "axis", "limit", "dim".
    """
    thr = threshold or 0.01
    lo, hi = -2 * thr, 2 * thr
    width = max(11, width | 1)

    def col(x: float) -> int:
        x = min(hi, max(lo, x))
        return round((x - lo) / (hi - lo) * (width - 1))

    zero = col(0.0)
    out = []
    for r in rows:
        allowed = r.threshold if r.threshold else thr
        limit = col(-allowed)
        cells = [("·", "dim")] * width
        cells[limit] = ("│", "limit")
        cells[zero] = ("┊", "axis")
        d = r.delta
        if d is not None:
            style = "pass" if r.within else "fail"
            c = col(d)
            a, b = (c, zero - 1) if c < zero else (zero + 1, c)
            for i in range(a, b + 1):
                cells[i] = ("█", style)
            if c == zero:  # a delta too small to draw still shows which side it is on
                cells[zero] = ("▏" if d >= 0 else "▕", style)
            if d < lo or d > hi:
                cells[c] = ("◀" if d < lo else "▶", style)
            if a <= limit <= b:  # the limit stays visible across a bar that crosses it
                cells[limit] = ("│", "limit")
        spans: list[tuple[str, str]] = []
        for ch, st in cells:
            if spans and spans[-1][1] == st:
                spans[-1] = (spans[-1][0] + ch, st)
            else:
                spans.append((ch, st))
        out.append((r.task, spans))
    return out
