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

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator, Optional

from gates.eval_run.metrics import in_domain
from gates.eval_run.run_record import NULL_RESPONSE_MARKER
from gates.text import is_blank

DEFAULT_FALLBACK = "[invalid]"
ERROR_MARKERS = frozenset({NULL_RESPONSE_MARKER})


@dataclass
class SampleTally:
    lines: int = 0  # parseable lines of this filter
    corrupt: int = 0  # unparseable or misshapen lines (any filter: we cannot tell whose they were)
    duplicated: int = 0  # lines whose document (canonical doc_id) was already seen for this filter
    bad_doc_id: int = 0  # lines (any filter) whose doc_id is not what lm-eval writes (a non-negative JSON integer)
    hash_mismatch: int = 0  # lines (any filter) whose doc / prompt / target no longer hash to what lm-eval wrote
    other_filters: int = 0  # parseable lines of other filters
    other_filters_duplicated: int = 0  # ... repeating a document of their own filter
    filter_lines: dict[str, int] = field(default_factory=dict)  # parseable lines per filter, this one included
    documents: set[Hashable] = field(default_factory=set)  # canonical identities of this filter's documents
    rescored: int = 0  # lines whose metric value was re-derived from the model's recorded response
    rescore_mismatch: int = 0  # ... and disagrees with it
    values: list[float] = field(default_factory=list)  # the per-sample metric, in file order (a mean's)
    items: list[Any] = field(default_factory=list)  # the per-sample items of a corpus-level aggregate, in order
    without_metric: int = 0  # lines of this filter with no finite numeric value for the metric
    non_numeric_metric: int = 0  # ... of which the value was present but not a number (a list, a string)
    out_of_domain: int = 0  # finite values outside the metric's per-sample domain (an acc of 2.0)
    empty: int = 0  # samples whose every completion is blank (generative)
    errored: int = 0  # samples with a null / error-marker / non-finite response
    extraction_failed: int = 0  # non-empty, non-errored samples whose filtered answer is the fallback
    completions: int = 0  # completions counted for the token average
    completion_tokens: int = 0


_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")


def doc_identity(doc_id: Any) -> tuple[Hashable, bool]:
    """(the document's canonical identity, whether the doc_id is well formed).

    lm-eval writes a doc_id as a non-negative JSON integer; only that is well formed. Every other
    spelling of a number (5.0, "5", " 5") is canonicalised to the same integer, so that it is counted
    as the same document (a duplicate), never as another one; true/false are not numbers here (JSON
    booleans are not integers), and anything else (null, "five", 5.5, a list) keeps its own JSON text."""
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        return doc_id, doc_id >= 0
    if isinstance(doc_id, float) and math.isfinite(doc_id) and doc_id.is_integer():
        return int(doc_id), False
    if isinstance(doc_id, str) and _INT_TEXT.match(doc_id) and len(doc_id) < 40:
        return int(doc_id), False
    return ("malformed", json.dumps(doc_id, sort_keys=True, default=str)), False


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def loads_unique(text: str) -> Any:
    """json.loads that refuses an object naming a key twice (json.dump never writes one; json.loads would
    silently keep the last value, so a line with two values of a metric, or a results file naming a task
    twice, would be read as whichever came last). NaN stays allowed: lm-eval itself may write it."""
    return json.loads(text, object_pairs_hook=_unique)


LINE_KEYS = frozenset({"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
                       "doc_hash", "prompt_hash", "target_hash"})
_HASHES = ("doc_hash", "prompt_hash", "target_hash")


def _numbered(d: Any, prefix: str) -> bool:
    """A dict keyed prefix_0 .. prefix_{n-1}, as lm-eval's evaluation tracker writes `arguments`."""
    return isinstance(d, dict) and list(d) == [f"{prefix}_{i}" for i in range(len(d))]


def well_shaped(obj: dict[str, Any]) -> bool:
    """The line has the shape lm-eval 0.4.13 writes: only its own keys and the metrics it lists, the
    three hashes together or not at all, `arguments` as gen_args_i -> arg_j. A renamed key (a byte flipped
    in "prompt_hash") is a corrupt line, not a line without a hash."""
    names = obj.get("metrics")
    if isinstance(names, list):
        allowed = LINE_KEYS | {n for n in names if isinstance(n, str)}
        if any(k not in allowed for k in obj):
            return False
    present = sum(k in obj for k in _HASHES)
    if present not in (0, len(_HASHES)):
        return False
    args = obj.get("arguments")
    return args is None or (_numbered(args, "gen_args") and all(_numbered(a, "arg") for a in args.values()))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _prompt(obj: dict[str, Any]) -> Any:
    args = obj.get("arguments")
    first = args.get("gen_args_0") if isinstance(args, dict) else None
    return first.get("arg_0") if isinstance(first, dict) else None


def hashes_match(obj: dict[str, Any]) -> bool:
    """lm-eval 0.4.13 writes doc_hash, prompt_hash and target_hash: sha256 of the document as
    json.dumps(doc, indent=2, ensure_ascii=False), of the first request's context, and of str(target).
    A line whose content no longer hashes to them was edited after lm-eval wrote it. A hash that is
    absent (an older lm-eval) is not checked."""
    sources: tuple[tuple[str, Callable[[], Any]], ...] = (
        ("doc_hash", lambda: json.dumps(obj["doc"], indent=2, ensure_ascii=False) if "doc" in obj else None),
        ("prompt_hash", lambda: _prompt(obj)), ("target_hash", lambda: str(obj["target"]) if "target" in obj else None))
    for key, source in sources:
        if key not in obj:
            continue
        text = source()
        if not isinstance(obj[key], str) or not isinstance(text, str) or _sha256(text) != obj[key]:
            return False
    return True


def _metric_value(v: Any) -> Optional[float]:
    """lm-eval's per-sample value as a float: bools are 0/1 (some tasks return them), else finite numbers."""
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
    blank: it prints nothing, `gates.text.is_blank`, not merely whitespace) or 'ok'; counts the tokens
    of every real completion (blank ones count as 0 tokens)."""
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


def _read_lines(path: Path, t: SampleTally) -> Iterator[dict[str, Any]]:
    """The parseable JSON objects of `path`, in order; everything else is counted in t.corrupt."""
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                obj = loads_unique(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                t.corrupt += 1
                continue
            if isinstance(obj, dict) and well_shaped(obj):
                yield obj
            else:
                t.corrupt += 1


def _tally_item(raw: Any, item_check: Callable[[Any], str], t: SampleTally) -> None:
    state = item_check(raw) if raw is not None else "missing"
    if state in ("missing", "malformed"):
        t.without_metric += 1
        t.non_numeric_metric += state == "malformed"
        return
    t.out_of_domain += state == "out_of_domain"
    t.items.append(raw)


def _tally_metric(obj: dict[str, Any], metric: str, domain: Optional[str], t: SampleTally,
                  item_check: Optional[Callable[[Any], str]]) -> None:
    names = obj.get("metrics")
    if isinstance(names, list) and metric not in names:  # lm-eval lists every metric a line carries
        t.without_metric += 1
        return
    if item_check is not None:
        _tally_item(obj.get(metric), item_check, t)
        return
    value = _metric_value(obj.get(metric))
    if value is None:
        t.without_metric += 1
        if metric in obj and obj[metric] is not None:
            t.non_numeric_metric += 1
        return
    if not in_domain(value, domain):
        t.out_of_domain += 1
    t.values.append(value)


def tally_samples(path: Path, *, filter_name: str, metric: str, generative: bool,
                  fallbacks: frozenset[str] = frozenset(), count_tokens: Callable[[str], int] = lambda s: 0,
                  domain: Optional[str] = None, item_check: Optional[Callable[[Any], str]] = None,
                  rescore: Optional[Callable[[dict[str, Any]], Optional[bool]]] = None) -> SampleTally:
    """Read `path` line by line and tally the lines of `filter_name` (lines without a filter key count
    as filter "none"). `fallbacks` are the extraction-failure values of the filter's regex steps;
    `domain` the metric's per-sample domain (gates.eval_run.metrics), None = any finite number. With
    `item_check` (a corpus-level aggregate: gates.eval_run.corpus.check_item), the raw per-sample items
    are kept in `items` instead of numbers in `values`. `rescore` (gates.eval_run.rescore) re-scores each
    line from its recorded response: True agrees, False disagrees, None cannot tell."""
    t = SampleTally()
    seen: dict[str, set[Hashable]] = {}
    for obj in _read_lines(path, t):
        filt = obj.get("filter", "none")
        filt = filt if isinstance(filt, str) else json.dumps(filt, default=str)
        t.filter_lines[filt] = t.filter_lines.get(filt, 0) + 1
        doc, well_formed = doc_identity(obj.get("doc_id"))
        t.bad_doc_id += not well_formed
        t.hash_mismatch += not hashes_match(obj)
        docs = seen.setdefault(filt, set())
        repeated = doc in docs
        docs.add(doc)
        if filt != filter_name:
            t.other_filters += 1
            t.other_filters_duplicated += repeated
            continue
        t.lines += 1
        t.duplicated += repeated
        t.documents.add(doc)
        _tally_metric(obj, metric, domain, t, item_check)
        verdict = rescore(obj) if rescore is not None else None
        t.rescored += verdict is not None
        t.rescore_mismatch += verdict is False
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
    try:
        sd = math.sqrt(sum([(x - mu) ** 2 for x in values]) / (n - 1))
    except OverflowError:  # values near the float limit (never a real metric): no stderr, never a crash
        return mu, None
    se = sd / math.sqrt(n)
    return mu, se if math.isfinite(se) else None
