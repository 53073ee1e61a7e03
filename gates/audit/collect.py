"""Collect audit facts from two lm-eval output directories, and a tolerant per-sample log reader.

lm-eval writes DIR/<model_name>/samples_<task>_<timestamp>.jsonl, one JSON object per document and
filter: doc_id, resps (raw model output), filtered_resps, filter, metrics (names), and the metric
values as top-level keys. The reader tolerates a torn last line, skips (and counts) malformed
lines, keeps the newest file per task, and refuses a directory holding several models' runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from gates.audit.models import AuditFacts, ResponseKind, SideIdentity, TaskComparison
from gates.contract import InputError
from gates.eval_run.samples import doc_identity, loads_unique

_NAME = re.compile(r"^samples_(?P<task>.+?)_(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}[-:]\d{2}[-:]\d{2}(?:\.\d+)?)\.jsonl$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


@dataclass
class SampleRecord:
    doc_id: str
    filter: Optional[str]
    resps: Any
    metrics: dict[str, Any]


@dataclass
class TaskSamples:
    task: str
    file: str
    records: dict[str, dict[Optional[str], SampleRecord]] = field(default_factory=dict)
    malformed_lines: int = 0

    def first(self, doc: str) -> SampleRecord:
        return next(iter(self.records[doc].values()))

    def one(self, doc: str, filt: Optional[str]) -> Optional[SampleRecord]:
        """The record of `filt`; with no filter named, the only record (None if several)."""
        recs = self.records.get(doc, {})
        if filt:
            return recs.get(filt)
        return next(iter(recs.values())) if len(recs) == 1 else None


def _doc_key(doc_id: Any) -> Optional[str]:
    """A document's canonical identity, eval_run's (`doc_identity`): 5, "5" and 5.0 are one document; a
    bool, null, fraction, word or container is no doc id (the line is malformed)."""
    ident, _ = doc_identity(doc_id)
    return str(ident) if isinstance(ident, int) else None


def _parse_line(line: str) -> Optional[SampleRecord]:
    try:
        obj = loads_unique(line)  # a key named twice (two values of one metric) is a malformed line
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    doc = _doc_key(obj.get("doc_id"))
    if doc is None or "resps" not in obj:
        return None
    names = obj.get("metrics")
    keys = names if isinstance(names, list) else [k for k in obj if k not in ("doc", "arguments", "resps")]
    metrics = {k: obj[k] for k in keys if isinstance(k, str) and k in obj}
    filt = obj.get("filter") if isinstance(obj.get("filter"), str) else None
    return SampleRecord(doc_id=doc, filter=filt, resps=obj["resps"], metrics=metrics)


def read_samples_file(path: Path, task: str) -> TaskSamples:
    out = TaskSamples(task=task, file=str(path))
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(str(path), f"cannot read per-sample log: {exc}") from None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        rec = _parse_line(line)
        if rec is None:
            if i != len(lines) - 1:  # a torn last line is an interrupted write, not a malformed log
                out.malformed_lines += 1
            continue
        out.records.setdefault(rec.doc_id, {}).setdefault(rec.filter, rec)
    return out


def _sample_files(run_dir: Path) -> dict[str, Path]:
    found: dict[str, tuple[str, Path]] = {}
    parents = set()
    for path in sorted(run_dir.rglob("samples_*.jsonl")):
        m = _NAME.match(path.name)
        task, ts = (m.group("task"), m.group("ts")) if m else (path.name[len("samples_"):-len(".jsonl")], "")
        parents.add(path.parent)
        if task not in found or ts > found[task][0]:
            found[task] = (ts, path)
    if len(parents) > 1:
        raise InputError(str(run_dir), f"per-sample logs of several runs ({sorted(str(p) for p in parents)}); "
                                       f"pass the directory of one run")
    return {t: p for t, (_, p) in found.items()}


def read_run_samples(run_dir: str | os.PathLike[str]) -> dict[str, TaskSamples]:
    """task -> its per-sample records (newest file per task)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(str(run_dir), "not a directory")
    return {task: read_samples_file(path, task) for task, path in _sample_files(root).items()}


# ---------------------------------------------------------------- comparison

def _leaves(x: Any) -> Iterator[Any]:
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    else:
        yield x


def _as_float(v: Any) -> Optional[float]:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v not in ("True", "False"):
        try:
            return float(v)  # lm-eval writes every response leaf as a string
        except ValueError:
            return None
    return None


def _numbers(x: Any) -> list[float]:
    return [f for f in (_as_float(v) for v in _leaves(x)) if f is not None]


_LOGLIK_TYPES = {"loglikelihood", "multiple_choice", "loglikelihood_rolling"}


def kind_of(resps: Any) -> Optional[ResponseKind]:
    """From the shape lm-eval writes: generative resps are [[text], ...]; loglikelihood resps are
    [[[logprob, is_greedy]], ...] (all leaves strings once sanitised, or numbers)."""
    if not isinstance(resps, list) or not resps or not all(isinstance(r, list) and r for r in resps):
        return None
    if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in _leaves(resps)):
        return "loglikelihood"
    if all(isinstance(x, str) for r in resps for x in r):
        return "generative"
    if all(isinstance(x, list) for r in resps for x in r):
        return "loglikelihood"
    return None


def _canonical(resps: Any) -> str:
    return json.dumps(resps, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def compare_task(base: TaskSamples, cand: TaskSamples, output_type: Optional[str] = None) -> Optional[TaskComparison]:
    """None when the task's kind cannot be told (or differs between the sides)."""
    docs = sorted(set(base.records) & set(cand.records))
    if output_type is not None:
        kind: Optional[ResponseKind] = "loglikelihood" if output_type in _LOGLIK_TYPES else "generative"
    else:
        sample = [base.first(d).resps for d in docs] + [cand.first(d).resps for d in docs]
        if not sample:
            sample = [ts.first(d).resps for ts in (base, cand) for d in sorted(ts.records)[:1]]
        kinds = {kind_of(r) for r in sample}
        kind = kinds.pop() if len(kinds) == 1 else None
    if kind is None:
        return None
    identical, lengths, compared_values, compared_docs, max_diff, shape_mismatch = 0, [], 0, 0, 0.0, 0
    for d in docs:
        b, c = base.first(d).resps, cand.first(d).resps
        if _canonical(b) == _canonical(c):
            identical += 1
        if kind == "generative":
            lengths.append(sum(len(v) for v in _leaves(c) if isinstance(v, str)))
        else:
            bn, cn = _numbers(b), _numbers(c)
            if len(bn) != len(cn):
                shape_mismatch += 1
            else:
                diffs = [abs(x - y) for x, y in zip(bn, cn, strict=True)]
                if diffs and all(math.isfinite(v) for v in diffs):
                    compared_docs += 1
                    compared_values += len(diffs)
                    max_diff = max([max_diff, *diffs])
    return TaskComparison(
        kind=kind, samples_baseline=len(base.records), samples_candidate=len(cand.records),
        samples_compared=len(docs), identical_responses=identical,
        mean_response_chars=(sum(lengths) / len(lengths)) if lengths else None,
        loglik_docs_compared=compared_docs, loglik_values_compared=compared_values,
        max_abs_loglik_diff=max_diff if compared_values else None, loglik_shape_mismatch=shape_mismatch)


# ---------------------------------------------------------------- identity

def weights_fingerprint(path: Optional[str]) -> tuple[Optional[str], Optional[int]]:
    """sha256 over the weight files (relative names and bytes) of a local checkpoint directory."""
    if not path or not os.path.isdir(path):
        return None, None
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        return None, None
    h, total = hashlib.sha256(), 0
    for p in files:
        h.update(str(p.relative_to(root)).encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
                total += len(chunk)
    return h.hexdigest(), total


def _side(run: Any, checkpoint: Optional[str]) -> SideIdentity:
    sha, size = weights_fingerprint(checkpoint or run.model_identity)
    return SideIdentity(evaluated=run.model_identity, used_cache=run.used_cache, weights_sha256=sha,
                        weights_bytes=size)


def collect(args: argparse.Namespace) -> AuditFacts:
    if len(args.artifacts) != 2:
        raise InputError("--artifacts", "expected two lm-eval output directories: BASELINE CANDIDATE")
    from gates.eval_run.collect import collect_run  # lazily: the decision never needs it
    base_dir, cand_dir = args.artifacts
    base_run, cand_run = collect_run(base_dir), collect_run(cand_dir)
    b_samples, c_samples = read_run_samples(base_dir), read_run_samples(cand_dir)
    tasks = {}
    for task in sorted(set(b_samples) & set(c_samples)):
        run_task = base_run.tasks.get(task) or cand_run.tasks.get(task)
        comp = compare_task(b_samples[task], c_samples[task], run_task.output_type if run_task else None)
        if comp is not None:
            tasks[task] = comp
    return AuditFacts(baseline=_side(base_run, getattr(args, "baseline_checkpoint", None)),
                      candidate=_side(cand_run, getattr(args, "candidate_checkpoint", None)), tasks=tasks)
