"""Tally one lm-eval per-sample log (`samples_<task>_<timestamp>.jsonl`) for one filter.

lm-eval 0.4.13 writes one JSON line per (document, filter):

    {"doc_id": 0, "doc": {...}, "target": "5", "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": ...}},
     "resps": [[" 5"]], "filtered_resps": ["5"], "filter": "lenient", "metrics": ["exact_match"],
     "doc_hash": ..., "prompt_hash": ..., "target_hash": ..., "exact_match": 1.0}

`resps` holds one list per request (K completions each; K = repeats); for multiple_choice /
loglikelihood each response is `[logprob, is_greedy]`, written as strings ("-17.43", "False").
`filtered_resps` holds one value per request after the filter pipeline; a regex filter that finds
nothing writes its fallback, "[invalid]" by default. The metric values are top-level keys.

The tally never raises on a bad line: an unparseable line (bad JSON, bad UTF-8, not an object,
a torn last line) is counted in `corrupt`, and the rest of the file is still read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from gates.eval_run.run_record import NULL_RESPONSE_MARKER
from gates.text import is_blank

DEFAULT_FALLBACK = "[invalid]"
ERROR_MARKERS = frozenset({NULL_RESPONSE_MARKER})


@dataclass
class SampleTally:
    lines: int = 0  # parseable lines of this filter
    corrupt: int = 0  # unparseable lines (any filter: we cannot tell whose they were)
    duplicated: int = 0  # lines whose doc_id was already seen for this filter
    other_filters: int = 0  # parseable lines of other filters
    values: list[float] = field(default_factory=list)  # the per-sample metric, in file order
    without_metric: int = 0  # lines of this filter with no finite numeric value for the metric
    non_numeric_metric: int = 0  # ... of which the value was present but not a number (a list, a string)
    empty: int = 0  # samples whose every completion is blank (generative)
    errored: int = 0  # samples with a null / error-marker / non-finite response
    extraction_failed: int = 0  # non-empty, non-errored samples whose filtered answer is the fallback
    completions: int = 0  # completions counted for the token average
    completion_tokens: int = 0


def _metric_value(v: Any) -> Optional[float]:
    """lm-eval's per-sample value as a float: bools are 0/1 (some tasks return them), else numbers."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def _is_error(x: Any) -> bool:
    return x is None or (isinstance(x, str) and x in ERROR_MARKERS)


def _loglik_errored(resp: Any) -> bool:
    """A loglikelihood response is [logprob, is_greedy]; it errored if the logprob is not a finite number."""
    if not isinstance(resp, (list, tuple)) or not resp:
        return True
    lp = resp[0]
    if isinstance(lp, bool) or _is_error(lp):
        return True
    try:
        return not math.isfinite(float(lp))
    except (TypeError, ValueError):
        return True


def _completions(resps: Any) -> Optional[list[Any]]:
    """The generated texts of one sample: resps is [[text, ...], ...] (one list per request)."""
    if not isinstance(resps, list) or not resps:
        return None
    out: list[Any] = []
    for per_request in resps:
        if isinstance(per_request, list):
            out.extend(per_request)
        else:
            out.append(per_request)
    return out


def _classify_generative(obj: dict[str, Any], t: SampleTally, count_tokens: Callable[[str], int]) -> str:
    """'errored' (no completion, a null, an error marker, a non-string), 'empty' (every completion
    blank: it prints nothing, `gates.text.is_blank`, not merely whitespace) or 'ok'; counts the tokens of every real completion (blank ones count as 0 tokens)."""
    texts = _completions(obj.get("resps"))
    state = "ok"
    if not texts or any(_is_error(x) or not isinstance(x, str) for x in texts):
        t.errored += 1
        state = "errored"
        texts = [x for x in (texts or []) if isinstance(x, str) and not _is_error(x)]
    elif all(is_blank(x) for x in texts):
        t.empty += 1
        state = "empty"
    for x in texts:
        t.completions += 1
        t.completion_tokens += count_tokens(x)
    return state


def _loglik_responses(resps: Any) -> Optional[list[Any]]:
    """[[[lp, greedy], ...K], ...requests] -> every [lp, greedy]; tolerates the un-nested [[lp, greedy], ...]."""
    if not isinstance(resps, list) or not resps:
        return None
    out: list[Any] = []
    for per_request in resps:
        if isinstance(per_request, list) and per_request and all(isinstance(r, list) for r in per_request):
            out.extend(per_request)
        else:
            out.append(per_request)
    return out


def _classify_loglik(obj: dict[str, Any], t: SampleTally) -> str:
    responses = _loglik_responses(obj.get("resps"))
    if not responses or any(_loglik_errored(r) for r in responses):
        t.errored += 1
        return "errored"
    return "ok"


def _extraction_failed(obj: dict[str, Any], fallbacks: frozenset[str]) -> bool:
    filtered = obj.get("filtered_resps")
    vals = filtered if isinstance(filtered, list) else [filtered]
    flat: list[Any] = []
    for v in vals:
        flat.extend(v if isinstance(v, list) else [v])
    return bool(fallbacks) and any(isinstance(v, str) and v in fallbacks for v in flat)


def tally_samples(path: Path, *, filter_name: str, metric: str, generative: bool,
                  fallbacks: frozenset[str] = frozenset(), count_tokens: Callable[[str], int] = lambda s: 0
                  ) -> SampleTally:
    """Read `path` line by line and tally the lines of `filter_name` (lines without a filter key count
    as filter "none"). `fallbacks` are the extraction-failure values of the filter's regex steps."""
    t = SampleTally()
    seen: set[str] = set()
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                t.corrupt += 1
                continue
            if not isinstance(obj, dict):
                t.corrupt += 1
                continue
            if obj.get("filter", "none") != filter_name:
                t.other_filters += 1
                continue
            t.lines += 1
            doc = json.dumps(obj.get("doc_id"), sort_keys=True)
            if doc in seen:
                t.duplicated += 1
            seen.add(doc)
            value = _metric_value(obj.get(metric))
            if value is None:
                t.without_metric += 1
                if metric in obj and obj[metric] is not None:
                    t.non_numeric_metric += 1
            else:
                t.values.append(value)
            if generative:
                # extraction is judged only on real answers: an empty or errored one is counted as such
                if _classify_generative(obj, t, count_tokens) == "ok" and _extraction_failed(obj, fallbacks):
                    t.extraction_failed += 1
            else:
                _classify_loglik(obj, t)
    return t


def mean_and_stderr(values: list[float]) -> tuple[Optional[float], Optional[float]]:
    """lm-eval's own `mean` and `mean_stderr` (sample standard deviation / sqrt(n)), same order of
    operations so that an honest report matches to the last bit; stderr needs n >= 2."""
    n = len(values)
    if n == 0:
        return None, None
    mu = sum(values) / n
    if not math.isfinite(mu):
        return None, None
    if n < 2:
        return mu, None
    sd = math.sqrt(sum([(x - mu) ** 2 for x in values]) / (n - 1))
    se = sd / math.sqrt(n)
    return mu, se if math.isfinite(se) else None
