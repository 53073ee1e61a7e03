"""The closeout report as the TUI shows it: per-task rows, every gate, the decision, and a text
chart of the deltas against the threshold. Plain data, no terminal UI.

Rows come from the compare gate's evidence table (`evidence.tasks`), or failing that from its
facts; the size ratio from the ptq gate's evidence (`size_ratio`) or facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

RECOMMENDATIONS = {
    "ACCEPT": "Publish: every gate passed and every task is within the threshold.",
    "REGRESSION": "Do not publish: the candidate is outside the threshold on some task.",
    "ANOMALOUS": "Hold: the results cannot be trusted either way; a person must review the evidence.",
    "INFEASIBLE": "Do not publish: this model and recipe cannot work here (see the reason).",
    "NEEDS_HUMAN": "Waiting on a person: a decision only a human may take was not answered.",
    "CONFIG_ERROR": "Fix the configuration and run again.",
    "SYSTEMIC": "Infrastructure failed after its retries; run again when it is healthy.",
    "BUDGET_EXHAUSTED": "A budget ran out before a decision; raise it or resume the run.",
    "INTERNAL_ERROR": "The conductor itself failed; the transcript holds the details.",
    "INTERRUPTED": "Interrupted; the transcript is closed and the run can be resumed.",
}


@dataclass
class TaskRow:
    task: str
    baseline: Optional[float]
    candidate: Optional[float]
    delta: Optional[float]
    stderr: Optional[float]
    within: Optional[bool]
    unit_scale: float = 1.0  # 100 when the task is on a 0-100 scale
    label: Optional[str] = None  # the gate's per-task verdict (REGRESSION, INDETERMINATE, ...)
    allowed: Optional[float] = None  # allowed drop on the unit scale (relative thresholds differ per task)

    @property
    def delta_unit(self) -> Optional[float]:
        """The delta as a fraction of the score's scale (what the threshold is expressed in)."""
        return None if self.delta is None else self.delta / self.unit_scale


@dataclass
class GateRow:
    stage: str
    gate: str
    attempt: int
    passed: bool
    failure_class: Optional[str]
    detail: str
    seq: int


@dataclass
class ReportView:
    rows: list[TaskRow] = field(default_factory=list)
    threshold: Optional[float] = None
    threshold_kind: str = "absolute"
    size_ratio: Optional[float] = None
    gates: list[GateRow] = field(default_factory=list)
    decision: Optional[str] = None
    exit_code: Optional[int] = None
    reason: str = ""
    failure_class: Optional[str] = None

    @property
    def recommendation(self) -> str:
        return RECOMMENDATIONS.get(self.decision or "", "No decision yet.")


# ---------------------------------------------------------------------------- report extraction

_ROW_KEYS = ("tasks", "per_task", "table", "rows")


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _pick(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return None


def _num(v: Any) -> Optional[float]:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, dict):  # {"score": ...}
        return _num(_pick(v, "score", "value"))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _unit_scale(*scores: Optional[float], declared: Any = None) -> float:
    if declared == "percent":
        return 100.0
    if declared == "unit":
        return 1.0
    return 100.0 if any(s is not None and abs(s) > 1.5 for s in scores) else 1.0


def rows_from_compare(verdict: dict[str, Any], facts: Optional[dict[str, Any]]) -> list[TaskRow]:
    """Per-task rows from the compare gate: its evidence table when present, else its facts.

    The compare gate's evidence.tasks is a list of rows {task, baseline, candidate, baseline_unit,
    candidate_unit, delta (unit scale, improvement), stderr_diff, within, threshold (allowed drop),
    verdict}. Unit-scale figures are preferred so every row reads against the same threshold.
    Also accepted: evidence.{per_task|table|rows}, or a dict task -> row.
    """
    ev = _d(verdict.get("evidence"))
    table = next((ev[k] for k in _ROW_KEYS if isinstance(ev.get(k), (list, dict)) and ev.get(k)), None)
    rows: list[TaskRow] = []
    if table is not None:
        items = table.items() if isinstance(table, dict) else (
            (r.get("task") or r.get("name"), r) for r in table if isinstance(r, dict))
        for name, r in items:
            if not isinstance(r, dict):
                continue
            bu, cu = _num(r.get("baseline_unit")), _num(r.get("candidate_unit"))
            if bu is not None or cu is not None:
                b, c, scale = bu, cu, 1.0
            else:
                b = _num(_pick(r, "baseline", "baseline_score"))
                c = _num(_pick(r, "candidate", "candidate_score"))
                scale = _unit_scale(b, c, declared=r.get("scale"))
            d = _num(_pick(r, "delta", "diff", "difference"))
            if d is None and b is not None and c is not None:
                d = c - b
            w = _pick(r, "within", "within_threshold", "pass", "passed", "ok")
            label = r.get("verdict") if isinstance(r.get("verdict"), str) else None
            rows.append(TaskRow(str(name), b, c, d, _num(_pick(r, "stderr_diff", "stderr", "delta_stderr", "se")),
                                w if isinstance(w, bool) else None, scale, label=label,
                                allowed=_num(r.get("threshold"))))
        if rows:
            return rows
    if not isinstance(facts, dict):
        return rows
    base = _d(_d(facts.get("baseline")).get("tasks"))
    cand = _d(_d(facts.get("candidate")).get("tasks"))
    thr = _num(_d(facts.get("threshold")).get("value"))
    for name in sorted(set(base) | set(cand)):
        bt, ct = _d(base.get(name)), _d(cand.get(name))
        b, c = _num(bt.get("score")), _num(ct.get("score"))
        d = None if b is None or c is None else c - b
        errs = [_num(t.get("stderr")) for t in (bt, ct)]
        se = math.sqrt(sum(e * e for e in errs)) if all(e is not None for e in errs) else None  # type: ignore[operator]
        scale = _unit_scale(b, c, declared=bt.get("scale") or ct.get("scale"))
        within = None if d is None or thr is None else (d / scale) >= -float(thr) - 1e-9
        rows.append(TaskRow(name, b, c, d, se, within, scale))
    return rows


def _size_ratio(evidence: dict[str, Any], facts: Optional[dict[str, Any]] = None) -> Optional[float]:
    """export bytes / source bytes, from the ptq gate's evidence or, failing that, its facts."""
    for key in ("size_ratio", "bytes_ratio", "ratio", "weight_bytes_ratio"):
        v = _num(evidence.get(key))
        if v is not None:
            return v
    for sub in ("size", "bytes", "weights"):
        if isinstance(evidence.get(sub), dict):
            v = _size_ratio(evidence[sub])
            if v is not None:
                return v
    src = _num(_pick(evidence, "source_bytes", "source_weight_bytes"))
    out = _num(_pick(evidence, "export_bytes", "quantized_bytes", "export_weight_bytes"))
    if src and out is not None:
        return out / src
    if facts and isinstance(facts.get("source"), dict) and isinstance(facts.get("export"), dict):
        s, x = _num(facts["source"].get("tensor_bytes")), _num(facts["export"].get("tensor_bytes"))
        if s and x is not None:
            return x / s
    return None


# ------------------------------------------------------------------------------ text chart


def delta_chart(rows: list[TaskRow], threshold: Optional[float], width: int = 31) -> list[tuple[str, list[tuple[str, str]]]]:
    """A small text chart of each task's delta against the threshold, as styled spans.

    The axis runs from -2*threshold to +2*threshold (deltas beyond are clamped to the edge and
    marked with an arrow). `│` marks -threshold, `┊` zero. Returns [(task, [(text, style)])]
    with style one of "pass", "fail", "axis", "limit", "dim".
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
        limit = col(-(r.allowed if r.allowed else thr))
        cells = [("·", "dim")] * width
        cells[limit] = ("│", "limit")
        cells[zero] = ("┊", "axis")
        d = r.delta_unit
        if d is not None:
            allowed = r.allowed if r.allowed else thr
            style = "pass" if (r.within if r.within is not None else d >= -allowed - 1e-9) else "fail"
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
