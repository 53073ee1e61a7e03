"""Collect perf facts from the perf skill's record (perf_record.json) and the load generator's own
per-request reports (GuideLLM JSON, one per run), re-deriving every number from the requests.

The record says what was asked (sides, modes, measurements, requested counts, the prefix-cache
counter deltas the skill read from the server's /metrics) and where each run's report lies
(relative to the record's folder). From a report, only per-request records are trusted:

    benchmarks[0].requests.{successful, errored, incomplete}[]:
        request_start_time, request_end_time, output_metrics.text_tokens (the server's usage), output,
        request_args (the JSON body sent; null for an errored request),
        time_to_first_token_ms, inter_token_latency_ms, info.error
    benchmarks[0].metrics.request_totals.successful     (the generator's own total: compared, not used)
    benchmarks[0].config.constraints.max_requests.args.count   (what it was configured to send)

A run without a readable report (the load generator crashed) has nothing completed: the gate says
partial. Policy fields in the record (thresholds, noise band) are dropped: the gate sets them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Optional

from gates.contract import InputError, parse_json_strict
from gates.perf.models import Percentiles, PerfFacts

_POLICY = ("thresholds", "noise_band", "min_repetitions")
MAX_ERRORS = 5


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return parse_json_strict(fh.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(what, f"cannot read {path!r}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(what, f"{path!r} is not valid JSON: {exc}") from None


def percentiles(values: list[Any]) -> Optional[Percentiles]:
    """Linear interpolation between closest ranks (numpy's default); values that are not finite numbers >= 0
    (a missing figure) are left out."""
    xs = sorted(v for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0)
    if not xs:
        return None

    def at(q: float) -> float:
        pos = (len(xs) - 1) * q
        lo, hi = math.floor(pos), math.ceil(pos)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    return Percentiles(p50=at(0.5), p90=at(0.9), p99=at(0.99))


def prompt_of(request_args: Any) -> Optional[str]:
    """The prompt text of one request body (chat messages or a completion prompt), canonical JSON."""
    if isinstance(request_args, str):
        try:
            request_args = json.loads(request_args)
        except ValueError:
            return None
    body = request_args.get("body") if isinstance(request_args, dict) else None
    if not isinstance(body, dict):
        return None
    content = body.get("messages", body.get("prompt"))
    return None if content is None else json.dumps(content, sort_keys=True, ensure_ascii=False)


def _num(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _benchmark(report: Any, where: str) -> dict[str, Any]:
    benches = report.get("benchmarks") if isinstance(report, dict) else None
    if not isinstance(benches, list) or len(benches) != 1 or not isinstance(benches[0], dict):
        raise InputError(where, "expected a GuideLLM report with exactly one benchmark")
    return benches[0]


def _requests(bench: dict[str, Any], kind: str, where: str) -> list[dict[str, Any]]:
    reqs = (bench.get("requests") or {}).get(kind)
    if reqs is None:
        return []
    if not isinstance(reqs, list) or not all(isinstance(r, dict) for r in reqs):
        raise InputError(where, f"requests.{kind} is not a list of request records")
    return reqs


def _reported(bench: dict[str, Any]) -> tuple[Optional[int], Optional[int]]:
    totals = ((bench.get("metrics") or {}).get("request_totals") or {})
    count = (((bench.get("config") or {}).get("constraints") or {}).get("max_requests") or {})
    count = (count.get("args") or {}).get("count") if isinstance(count, dict) else None
    ok = totals.get("successful") if isinstance(totals, dict) else None
    return (ok if isinstance(ok, int) and not isinstance(ok, bool) else None,
            count if isinstance(count, int) and not isinstance(count, bool) else None)


def _output(done: list[dict[str, Any]], tokenizer_counts: Optional[dict[str, Any]]) -> tuple[float, str]:
    """(total, unit): server usage tokens when every non-empty completion has them, else the skill's
    tokenizer counts when given for every request, else characters."""
    outputs = [r.get("output") for r in done]
    texts = [o if isinstance(o, str) else "" for o in outputs]
    # output_metrics.text_tokens is the server's usage.completion_tokens (null without usage); GuideLLM's
    # top-level output_tokens falls back to counting stream chunks, which is not a token count
    tokens = [_num((r.get("output_metrics") or {}).get("text_tokens")) if isinstance(r.get("output_metrics"), dict)
              else None for r in done]
    if all(tok is not None and (tok > 0 or not text) for tok, text in zip(tokens, texts, strict=False)):
        return float(sum(tok for tok in tokens if tok is not None)), "tokens_usage"
    if tokenizer_counts:
        counts = [_num(tokenizer_counts.get(str(r.get("request_id")))) for r in done]
        if all(c is not None for c in counts):
            return float(sum(c for c in counts if c is not None)), "tokens_tokenizer"
    return float(sum(len(t) for t in texts)), "characters"


def _errors(bench: dict[str, Any], errored: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in errored:
        raw_info = r.get("info")
        info = raw_info if isinstance(raw_info, dict) else {}
        msg = info.get("error") or r.get("error")
        if msg:
            out.append(str(msg)[:300])
    return list(dict.fromkeys(out))[:MAX_ERRORS]


def run_facts(run: dict[str, Any], record_dir: str, where: str) -> dict[str, Any]:
    """One run's facts from the record's run entry and its report."""
    return read_run(run, record_dir, where)[0]


def read_run(run: dict[str, Any], record_dir: str, where: str) -> tuple[dict[str, Any], list[str]]:
    """(the run's facts, the known prompts it sent, one per request)."""
    requested = run.get("requested")
    base: dict[str, Any] = {"requested": requested, "prefix_cache_hits": run.get("prefix_cache_hits"),
                            "errors": [str(run["loadgen_error"])[:300]] if run.get("loadgen_error") else []}
    report_rel = run.get("report")
    path = os.path.join(record_dir, report_rel) if isinstance(report_rel, str) else None
    if path is None or not os.path.isfile(path):
        base["errors"].append(f"no load-generator report at {report_rel!r}")
        return {**base, "completed": 0, "errored": 0, "incomplete": 0, "distinct_prompts": 0,
                "output_unit": "characters"}, []
    bench = _benchmark(_read_json(path, where), where)
    done, errored = _requests(bench, "successful", where), _requests(bench, "errored", where)
    cut = _requests(bench, "incomplete", where)
    everyone = done + errored + cut
    starts = [s for s in (_num(r.get("request_start_time")) for r in everyone) if s is not None]
    ends = [e for e in (_num(r.get("request_end_time")) for r in done) if e is not None]
    duration = (max(ends) - min(starts)) if done and starts and ends and max(ends) > min(starts) else None
    total, unit = _output(done, run.get("tokenizer_output_tokens"))
    reported, configured = _reported(bench)
    known = [p for p in (prompt_of(r.get("request_args")) for r in everyone) if p is not None]
    return {**base, "loadgen_requested": configured, "completed": len(done), "errored": len(errored),
            "incomplete": len(cut), "reported_completed": reported,
            "distinct_prompts": len(set(known)), "prompts_known": len(known),
            "duration_s": duration, "output_total": total if done else None, "output_unit": unit,
            "ttft_ms": percentiles([r.get("time_to_first_token_ms") for r in done]),
            "itl_ms": percentiles([r.get("inter_token_latency_ms") for r in done]),
            "errors": (base["errors"] + _errors(bench, errored))[:MAX_ERRORS]}, known


def _measurement(m: Any, record_dir: str, where: str, sent: dict[str, list[str]]) -> Any:
    """A measurement's facts; the prompts its runs sent are added to `sent` by phase."""
    if not isinstance(m, dict):
        return m  # validation names the wrong shape
    out: dict[str, Any] = {"reason": m.get("reason")}
    for phase in ("reference", "audit"):
        runs = m.get(phase) or []
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            raise InputError(f"{where}.{phase}", "expected a list of run entries")
        out[phase] = []
        for i, r in enumerate(runs):
            facts, prompts = read_run(r, record_dir, f"{where}.{phase}[{i}]")
            out[phase].append(facts)
            sent[phase] += prompts
    return out


def prompt_reuse(sent: dict[str, list[str]]) -> int:
    """Reference requests whose prompt was sent before: a repeat among them, or the audit's prompt."""
    ref, audit = sent["reference"], set(sent["audit"])
    return len(ref) - len(set(ref)) + sum(1 for p in ref if p in audit)


def facts_from_record(record: dict[str, Any], record_dir: str) -> PerfFacts:
    data = {k: v for k, v in record.items() if k in PerfFacts.model_fields and k not in _POLICY}
    sides = []
    for i, side in enumerate(record.get("sides") or []):
        if not isinstance(side, dict):
            sides.append(side)
            continue
        modes: dict[str, Any] = {}
        sent: dict[str, list[str]] = {"reference": [], "audit": []}
        for mode, mf in (side.get("modes") or {}).items():
            ms = mf.get("measurements") if isinstance(mf, dict) else None
            if not isinstance(ms, list):
                raise InputError(f"sides[{i}].modes.{mode}", "expected measurements: a list")
            modes[mode] = {"concurrency": mf.get("concurrency"),
                           "measurements": [_measurement(m, record_dir, f"sides[{i}].modes.{mode}[{j}]", sent)
                                            for j, m in enumerate(ms)]}
        sides.append({k: side.get(k) for k in ("role", "base_url", "model", "prefix_caching")}
                     | {"modes": modes, "reference_prompt_reuse": prompt_reuse(sent)})
    data["sides"] = sides
    return PerfFacts.model_validate(data)


def collect(args: argparse.Namespace) -> PerfFacts:
    if len(args.artifacts) != 1:
        raise InputError("--artifacts", "expected one perf record: PERF_RECORD.json")
    path = args.artifacts[0]
    record = _read_json(path, "--artifacts")
    if not isinstance(record, dict):
        raise InputError("(top level)", f"expected a JSON object, got {type(record).__name__}")
    return facts_from_record(record, os.path.dirname(os.path.abspath(path)))
