"""The release report's figures, built once from typed gate verdicts: the one model that the closeout
report, the headless summary and the TUI's report screen all show, so that no two of them disagree.

Every figure is read from a verdict by the names its gate writes (the compare gate's evidence: its
`tasks` rows and `threshold`; the ptq gate's size figures), never guessed from other spellings and
never decided again: a task is within the threshold because the compare gate says so. The wording
of a decision lives on `gates.failure_classes.Decision`; the number formats every surface uses are
the `fmt_*` functions below.

    report = ReleaseReport.for_config(config)                 # the release config's threshold
    report.add_verdict("quantize", 1, ptq_verdict)            # a gates.contract.Verdict
    report.add_verdict("compare", 1, compare_verdict)
    report.decide(Decision.REGRESSION, 10, "stage compare: ACCURACY_REGRESSION: ...")
    report.size.size_ratio, report.rows[0].delta, report.recommendation
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gates.contract import Verdict
from gates.failure_classes import Decision

PTQ, COMPARE = "ptq", "compare"


def fc_name(verdict: Verdict) -> Optional[str]:
    """The verdict's failure_class as its name (None on a pass)."""
    return verdict.failure_class.value if verdict.failure_class is not None else None


class _Figures(BaseModel):
    """A typed view of a gate's evidence: the fields it names, the rest left to the gate's own record."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Threshold(_Figures):
    value: float
    kind: str = "absolute"


class TaskRow(_Figures):
    """One row of the compare gate's evidence.tasks, by the names gates/compare/decide.py writes."""

    task: str
    verdict: Optional[str] = None  # the gate's label: OK, REGRESSION, INDETERMINATE, MISSING_ON_BASELINE, ...
    baseline: Optional[float] = None  # as reported, on the task's own scale
    candidate: Optional[float] = None
    baseline_unit: Optional[float] = None  # on the unit scale (0-1), what the threshold is read against
    candidate_unit: Optional[float] = None
    delta: Optional[float] = None  # the improvement on the unit scale (a drop is negative)
    threshold: Optional[float] = None  # the allowed drop on the unit scale (relative thresholds differ per task)
    within: Optional[bool] = None  # the compare gate's own answer
    stderr_diff: Optional[float] = None
    mde: Optional[float] = None  # z * stderr of the difference
    significant_drop: Optional[bool] = None
    samples_baseline: Optional[int] = None
    scale: Optional[str] = None
    higher_is_better: bool = True

    @property
    def on_unit_scale(self) -> bool:
        return self.baseline_unit is not None or self.candidate_unit is not None

    @property
    def shown_baseline(self) -> Optional[float]:
        """The unit-scale score when the gate put the task on it, else the reported one."""
        return self.baseline_unit if self.on_unit_scale else self.baseline

    @property
    def shown_candidate(self) -> Optional[float]:
        return self.candidate_unit if self.on_unit_scale else self.candidate


class CompareFigures(_Figures):
    threshold: Optional[Threshold] = None
    decision: Optional[str] = None
    anomalous_gain: Optional[float] = None
    confidence: Optional[float] = None
    settings_diff: list[Any] = Field(default_factory=list)
    tasks: list[Any] = Field(default_factory=list)  # rows, each read as a TaskRow


class SizeFigures(_Figures):
    """The ptq gate's size figures (gates/ptq/decide.py `size_facts`), as its evidence carries them."""

    recipe: Optional[str] = None
    size_ratio: Optional[float] = None  # export weight bytes / source weight bytes
    estimated_ratio: Optional[float] = None
    source_weight_bytes: Optional[int] = None
    export_weight_bytes: Optional[int] = None
    source_file_bytes: Optional[int] = None
    export_file_bytes: Optional[int] = None
    quantized_matrices: Optional[int] = None
    matrices: Optional[int] = None
    source_precision: Optional[str] = None


class Judged(BaseModel):
    """A gate verdict with where it was given: the stage, the attempt and the facts it decided on."""

    model_config = ConfigDict(extra="forbid")

    stage: str
    attempt: Optional[int] = None
    verdict: Verdict
    facts: Optional[dict[str, Any]] = None

    @property
    def gate(self) -> str:
        return self.verdict.gate


class GateRow(BaseModel):
    """One line of the report's verdict table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    gate: str
    attempt: Optional[int]
    passed: bool
    failure_class: Optional[str]
    detail: str
    seq: int = 0

    def record(self) -> dict[str, Any]:
        """As decision.json and report.json write it ("pass", as the gates do)."""
        return {"stage": self.stage, "gate": self.gate, "attempt": self.attempt, "pass": self.passed,
                "failure_class": self.failure_class, "detail": self.detail}


class ReleaseReport(BaseModel):
    """The figures of one run, folded from its gate verdicts (in order) and its decision."""

    model_config = ConfigDict(extra="forbid")

    threshold: Optional[Threshold] = None  # the compare verdict's, else the release config's
    gates: list[GateRow] = Field(default_factory=list)
    ptq: Optional[Judged] = None  # the latest ptq verdict, a passing one preferred
    compare: Optional[Judged] = None  # the latest compare verdict
    size: Optional[SizeFigures] = None
    compare_figures: Optional[CompareFigures] = None
    rows: list[TaskRow] = Field(default_factory=list)  # the latest compare verdict's evidence.tasks
    decision: Optional[Decision] = None
    exit_code: Optional[int] = None
    reason: str = ""
    failure_class: Optional[str] = None
    stage: Optional[str] = None
    notes: list[str] = Field(default_factory=list)  # figures a verdict carried that could not be read

    @classmethod
    def for_config(cls, config: Optional[Mapping[str, Any]]) -> ReleaseReport:
        cfg = config or {}
        value = cfg.get("threshold")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return cls(threshold=Threshold(value=value, kind=cfg.get("threshold_kind") or "absolute") if ok else None)

    # -- folding

    def add_verdict(self, stage: str, attempt: Optional[int], verdict: Verdict, *,
                    facts: Optional[dict[str, Any]] = None, seq: int = 0) -> None:
        self.gates.append(GateRow(stage=stage, gate=verdict.gate, attempt=attempt, passed=verdict.passed,
                                  failure_class=fc_name(verdict), detail=verdict.detail, seq=seq))
        judged = Judged(stage=stage, attempt=attempt, verdict=verdict, facts=facts)
        if verdict.gate == PTQ and (verdict.passed or self.ptq is None or not self.ptq.verdict.passed):
            self.ptq = judged
            self.size = self._read(SizeFigures, verdict)
        elif verdict.gate == COMPARE:
            self.compare = judged
            self.compare_figures = self._read(CompareFigures, verdict)
            self.rows = self._rows(self.compare_figures)
            if self.compare_figures is not None and self.compare_figures.threshold is not None:
                self.threshold = self.compare_figures.threshold

    def decide(self, decision: Decision | str, exit_code: int, reason: str = "",
               failure_class: Optional[str] = None, stage: Optional[str] = None) -> None:
        self.decision, self.exit_code, self.reason = Decision(decision), int(exit_code), reason
        self.failure_class, self.stage = failure_class, stage

    def _read(self, model: type[Any], verdict: Verdict) -> Any:
        try:
            return model.model_validate(verdict.evidence)
        except ValidationError as exc:
            self.notes.append(f"the {verdict.gate} verdict's figures cannot be read: {_first(exc)}")
            return None

    def _rows(self, figures: Optional[CompareFigures]) -> list[TaskRow]:
        rows = []
        for raw in figures.tasks if figures is not None else []:
            try:
                rows.append(TaskRow.model_validate(raw))
            except ValidationError as exc:
                self.notes.append(f"a row of the compare verdict's tasks cannot be read: {_first(exc)}")
        return rows

    # -- reading

    @property
    def size_ratio(self) -> Optional[float]:
        return self.size.size_ratio if self.size is not None else None

    @property
    def recommendation(self) -> str:
        return self.decision.advice if self.decision is not None else "No decision yet."

    def copy_for_fold(self) -> ReleaseReport:
        """A copy that folding on does not share lists with (the replay viewer's checkpoints)."""
        return self.model_copy(update={"gates": list(self.gates), "notes": list(self.notes)})


def _first(exc: ValidationError) -> str:
    e = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"


# -- the number formats every surface uses (closeout markdown, headless, TUI)


def fmt_score(v: Optional[float], missing: str = "n/a") -> str:
    return missing if v is None else f"{v:.4f}"


def fmt_delta(v: Optional[float], missing: str = "n/a") -> str:
    return missing if v is None else f"{v:+.4f}"


def fmt_ratio(v: Optional[float], missing: str = "n/a") -> str:
    return missing if v is None else f"{v:.3f}"


def summary_lines(report: ReleaseReport) -> list[str]:
    """The report in a few plain lines (the headless summary): the same figures as report.md and the TUI."""
    dec = report.decision.value if report.decision is not None else "no decision"
    lines = [f"report: {dec} (exit {report.exit_code}): {report.recommendation}"]
    thr = f"{report.threshold.value:g} ({report.threshold.kind})" if report.threshold is not None else "n/a"
    lines.append(f"  threshold {thr}; size ratio {fmt_ratio(report.size_ratio)} (quantized / source weight bytes)")
    for r in report.rows:
        said = "within" if r.within else (r.verdict or "outside") if r.within is False else (r.verdict or "?")
        lines.append(f"  task {r.task}: {fmt_score(r.shown_baseline)} -> {fmt_score(r.shown_candidate)}, "
                     f"delta {fmt_delta(r.delta)} (allowed drop {fmt_score(r.threshold)}): {said}")
    failed = [g for g in report.gates if not g.passed]
    lines.append(f"  gates: {len(report.gates)} verdict(s), {len(failed)} failed"
                 + (": " + ", ".join(f"{g.stage}/{g.gate} {g.failure_class}" for g in failed) if failed else ""))
    return lines
