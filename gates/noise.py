"""Repeat-noise sign-off: may a baseline be gated on, or must it be measured again first?

Greedy evaluation (temperature 0, one sample per document) must be deterministic: two runs of the same
model with the same settings give identical per-document results. A difference is a finding in itself
(a non-deterministic kernel, batch-dependent numerics, a server that samples when asked not to): the
baseline cannot be compared with anything until it is explained. `determinism(run_a, run_b)` compares
the per-sample logs of two runs, task by task, document by document (responses and metric values).

Sampled evaluation (temperature > 0, or repeats > 1) has honest noise. Evaluate the baseline k times
(seeded) and `spread(runs)`:
  scores        one score per run (mean of the metric over documents)
  spread        max - min of the scores, and (max - min) / median (the issue's figure)
  noise band    what pure sampling noise allows: q_k * sigma_run, sigma_run^2 = sum_d v_d / n^2, v_d the
                unbiased variance of document d's value across the k runs (the runs share documents, so
                only the within-document sampling varies), q_k the 95% quantile of the range of k
                independent standard normals (2.77 for k = 2, 3.31 for 3, 3.86 for 5; computed here)
  agreement     the fraction of documents whose value is the same in every run
  pooled        the mean over runs and documents, with se = sd over documents of their k-run means /
                sqrt(n): the variance compare should use (documents are the independent units)
A spread beyond the band flags the baseline: something other than sampling moves the score (a run that
degraded, a different data subset, a flaky server); the conductor re-measures (at most MAX_REMEASURES
times) before compare, and compare uses the pooled estimate with its se.

    python -m gates.noise determinism RUN_A RUN_B          # lm-eval output dirs; exit 0 identical, 1 not
    python -m gates.noise spread RUN_1 RUN_2 [RUN_3 ...] --task T [--metric M]   # exit 0 within, 1 flagged
Both print one JSON object; exit 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any, Mapping, Optional, Sequence

MAX_REMEASURES = 2
_N = NormalDist()


def range_cdf(w: float, k: int, steps: int = 2000) -> float:
    """P(max - min of k iid standard normals <= w) = k * integral phi(x) (Phi(x + w) - Phi(x))^(k-1) dx."""
    if w <= 0:
        return 0.0
    lo, hi = -8.0, 8.0
    h = (hi - lo) / steps
    total = 0.0
    for i in range(steps + 1):  # Simpson's rule
        x = lo + i * h
        f = _N.pdf(x) * (_N.cdf(x + w) - _N.cdf(x)) ** (k - 1)
        total += f * (1 if i in (0, steps) else 4 if i % 2 else 2)
    return min(1.0, k * total * h / 3)


def range_quantile(k: int, q: float = 0.95) -> float:
    """The q-quantile of the range of k iid standard normals (bisection on range_cdf)."""
    if k < 2:
        raise ValueError("a range needs at least two runs")
    lo, hi = 0.0, 12.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if range_cdf(mid, k) < q else (lo, mid)
    return (lo + hi) / 2


# ------------------------------------------------------------------ greedy: determinism

@dataclass
class TaskDeterminism:
    task: str
    documents: int  # documents in both runs
    same_responses: int
    same_values: int  # documents whose primary metric value is the same
    only_in_one: int  # documents present in one run only
    differing: list[str] = field(default_factory=list)  # first doc ids whose responses differ
    max_abs_loglik_diff: Optional[float] = None

    @property
    def identical(self) -> bool:
        return self.only_in_one == 0 and self.same_responses == self.documents > 0


@dataclass
class Determinism:
    tasks: list[TaskDeterminism]
    missing_tasks: list[str]

    @property
    def identical(self) -> bool:
        return not self.missing_tasks and bool(self.tasks) and all(t.identical for t in self.tasks)

    def summary(self) -> str:
        if self.identical:
            n = sum(t.documents for t in self.tasks)
            return f"deterministic: {n} documents of {len(self.tasks)} task(s) give identical responses in both runs"
        parts = [f"task(s) in one run only: {self.missing_tasks}"] if self.missing_tasks else []
        parts += [f"{t.task}: {t.documents - t.same_responses} of {t.documents} responses differ "
                  f"({t.documents - t.same_values} metric values), e.g. docs {t.differing[:5]}"
                  + (f", {t.only_in_one} documents in one run only" if t.only_in_one else "")
                  for t in self.tasks if not t.identical]
        return "NOT deterministic: " + "; ".join(parts)


def _value(rec: Any, metric: Optional[str]) -> Any:
    if metric is not None:
        return rec.metrics.get(metric)
    return next(iter(rec.metrics.values()), None)


def compare_task(task: str, a: Any, b: Any, metric: Optional[str] = None) -> TaskDeterminism:
    from gates.audit.collect import _canonical, _numbers

    docs = sorted(set(a.records) & set(b.records), key=lambda d: (len(d), d))
    out = TaskDeterminism(task=task, documents=len(docs), same_responses=0, same_values=0,
                          only_in_one=len(set(a.records) ^ set(b.records)))
    worst = None
    for d in docs:
        ra, rb = a.first(d), b.first(d)
        if _canonical(ra.resps) == _canonical(rb.resps):
            out.same_responses += 1
        elif len(out.differing) < 20:
            out.differing.append(d)
        out.same_values += int(_value(ra, metric) == _value(rb, metric))
        na, nb = _numbers(ra.resps), _numbers(rb.resps)
        if na and len(na) == len(nb):
            diff = max(abs(x - y) for x, y in zip(na, nb, strict=True))
            worst = diff if worst is None else max(worst, diff)
    out.max_abs_loglik_diff = worst
    return out


def determinism(run_a: str, run_b: str) -> Determinism:
    from gates.audit.collect import read_run_samples

    a, b = read_run_samples(run_a), read_run_samples(run_b)
    tasks = [compare_task(t, a[t], b[t]) for t in sorted(set(a) & set(b))]
    return Determinism(tasks=tasks, missing_tasks=sorted(set(a) ^ set(b)))


# ------------------------------------------------------------------ sampled: spread

@dataclass
class Spread:
    runs: int
    documents: int
    scores: list[float]
    median: float
    spread: float  # max - min
    spread_rel: Optional[float]  # (max - min) / median
    sigma_run: float  # sampling stderr of one run's score
    band: float  # q_k * sigma_run
    agreement: float  # documents with the same value in every run
    pooled: float
    pooled_se: Optional[float]
    within_band: bool
    confidence: float

    def summary(self) -> str:
        rel = f" ({self.spread_rel:.1%} of the median)" if self.spread_rel is not None else ""
        verdict = "within" if self.within_band else "BEYOND"
        return (f"{self.runs} runs x {self.documents} documents: scores {[round(s, 4) for s in self.scores]}, spread "
                f"{self.spread:.4f}{rel} {verdict} the sampling-noise band {self.band:.4f}; per-document agreement "
                f"{self.agreement:.1%}; pooled {self.pooled:.4f} +- {self.pooled_se or 0:.4f}")


def spread(runs: Sequence[Mapping[str, float]], confidence: float = 0.95) -> Spread:
    """runs: per run, doc id -> metric value; only documents present in every run count."""
    if len(runs) < 2:
        raise ValueError("a spread needs at least two runs")
    docs = sorted(set.intersection(*(set(r) for r in runs)))
    if not docs:
        raise ValueError("no document is present in every run")
    k, n = len(runs), len(docs)
    scores = [statistics.fmean(r[d] for d in docs) for r in runs]
    per_doc = [[r[d] for r in runs] for d in docs]
    v = [statistics.variance(vals) for vals in per_doc]  # unbiased, across the k runs
    sigma_run = math.sqrt(sum(v)) / n
    band = range_quantile(k, confidence) * sigma_run
    med = statistics.median(scores)
    means = [statistics.fmean(vals) for vals in per_doc]
    width = max(scores) - min(scores)
    return Spread(runs=k, documents=n, scores=scores, median=med, spread=width,
                  spread_rel=width / med if med else None, sigma_run=sigma_run, band=band,
                  agreement=sum(1 for vals in per_doc if len(set(vals)) == 1) / n, pooled=statistics.fmean(means),
                  pooled_se=statistics.stdev(means) / math.sqrt(n) if n > 1 else None,
                  within_band=width <= band + 1e-12, confidence=confidence)


def run_values(run_dir: str, task: str, metric: Optional[str] = None) -> dict[str, float]:
    from gates.audit.collect import read_run_samples

    samples = read_run_samples(run_dir)
    if task not in samples:
        raise KeyError(f"{run_dir}: no per-sample log of task {task!r}")
    out = {}
    for d in samples[task].records:
        v = _value(samples[task].first(d), metric)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{run_dir}: {task} doc {d} has no finite value of {metric or 'its first metric'}")
        out[d] = float(v)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gates.noise", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("determinism", help="two greedy runs must give identical per-document results")
    d.add_argument("runs", nargs=2)
    s = sub.add_parser("spread", help="k sampled runs: spread against the sampling-noise band")
    s.add_argument("runs", nargs="+")
    s.add_argument("--task", required=True)
    s.add_argument("--metric", default=None, help="default: the first metric of each record")
    args = p.parse_args(argv)
    try:
        if args.cmd == "determinism":
            res: Any = determinism(*args.runs)
            ok, out = res.identical, {"identical": res.identical, "summary": res.summary(),
                                      "tasks": [asdict(t) for t in res.tasks], "missing_tasks": res.missing_tasks}
        else:
            res = spread([run_values(r, args.task, args.metric) for r in args.runs])
            ok, out = res.within_band, {**asdict(res), "summary": res.summary()}
    except (KeyError, ValueError, OSError) as exc:
        print(f"cannot measure: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # gates.contract.InputError and friends: one sentence, never a traceback
        print(f"cannot read the runs: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
