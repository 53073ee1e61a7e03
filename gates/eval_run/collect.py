"""Collect EvalRunFacts from one lm-eval 0.4.13 output directory (`--output_path DIR --log_samples`).

Layout lm-eval writes (model_name_sanitized is the model name with "/" turned into "__"):

    DIR/run.json                                        our evaluate skill's run record (optional)
    DIR/<model_name_sanitized>/results_<date_id>.json   aggregated results, written last
    DIR/<model_name_sanitized>/samples_<task>_<date_id>.jsonl   one per leaf task, same date_id

The newest results file is read (a re-run into the same directory adds a new pair of files), and
only the samples files of its date_id. Results of several models in one directory are refused.

Per task, from the results file: the primary metric and filter, the reported score and stderr,
`n-samples` (expected = `effective`, which already applies --limit), `n-shot`, `higher_is_better`,
the task's config (output type, generation kwargs, filters, the metric's aggregation),
`config.bootstrap_iters`. From the per-sample log: the samples scored, the score re-derived with the
task's aggregation (a mean and lm-eval's own mean_stderr; or, for a corpus-level aggregate such as
F1, MCC, BLEU or a perplexity, lm-eval's registered function and its bootstrap: corpus.py, which
imports lm-eval lazily and, without it, leaves the score "cannot be re-derived"), the documents'
identities and the values' domains, empty / errored responses, extraction failures, the average
completion tokens. What the metric is by definition (range, scale, direction) is metrics.py's.

Primary metric: the first metric of the task's `metric_list` in its config; failing that, the
first metric of `higher_is_better[task]`; failing that, the first `<metric>,<filter>` key of the
task's results. Primary filter: the first entry of the config's `filter_list` ("none" without one);
if the results carry no `<metric>,<that filter>` key, the first `<metric>,<filter>` key present.

Nothing in the directory's contents makes this raise: unreadable, truncated or non-numeric data
becomes a fact (None, a count, a note) for the decision to judge. Only an unusable *input* raises
InputError (exit 2): the path is not a directory, run.json is invalid, several models' results.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Optional

from gates.contract import InputError
from gates.eval_run.models import EvalRunFacts, EvalSettings, TaskRun
from gates.eval_run.rescore import rescorer
from gates.eval_run.run_record import RunRecord, read_run_record
from gates.eval_run.corpus import (ITEM_CHECKS, ITEM_SHAPES, LMEVAL_BOOTSTRAPPED, MEAN, NOT_REDERIVABLE, aggregation_of,
                                   check_item, rederive)
from gates.eval_run.metrics import domain_of, nature
from gates.eval_run.samples import DEFAULT_FALLBACK, SampleTally, loads_unique, mean_and_stderr, tally_samples
from gates.eval_run.tokens import TokenCounter, token_counter

_RESULTS_NAME = re.compile(r"^results_(?P<date_id>.+)\.json$")
_OUTPUT_TYPES = ("loglikelihood", "multiple_choice", "generate_until", "loglikelihood_rolling")


# ---------------------------------------------------------------- small readers

def _finite(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _number_or_raw(v: Any, *, non_negative: bool = False) -> tuple[Optional[float], Optional[str]]:
    """(value, None) for a finite number; (None, what was written) otherwise; (None, None) if absent."""
    x = _finite(v)
    if x is not None and not (non_negative and x < 0):
        return x, None
    if v is None:
        return None, None
    return None, (v if isinstance(v, str) else json.dumps(v, default=str))[:200]


def _int_or_none(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _jsonable(x: Any) -> Any:
    """Plain JSON values only (non-finite floats become None), so facts always serialise."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def _str_or_none(x: Any) -> Optional[str]:
    return x if isinstance(x, str) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


# ---------------------------------------------------------------- layout

def find_results(root: Path) -> list[Path]:
    """Every results file of the run, oldest first; refuses results of several models."""
    files = sorted((p for p in root.rglob("results_*.json") if _RESULTS_NAME.match(p.name)),
                   key=lambda p: _RESULTS_NAME.match(p.name).group("date_id"))  # type: ignore[union-attr]
    parents = sorted({str(p.parent) for p in files})
    if len(parents) > 1:
        raise InputError(str(root), f"results of several models/runs in one directory ({parents}); "
                                    f"pass the output directory of one run")
    return files


def _read_results(path: Path) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    try:
        data = loads_unique(path.read_text(encoding="utf-8"))  # lm-eval itself may write NaN; never a key twice
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{path.name} is not readable JSON ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        return None, f"{path.name} has no 'results' object"
    return data, None


# ---------------------------------------------------------------- per task

def _leaf_tasks(results: dict[str, Any]) -> list[str]:
    configs = _dict(results.get("configs"))
    if configs:
        return list(configs)
    groups = set(_dict(results.get("group_subtasks")))
    return [t for t in _dict(results.get("results")) if t not in groups]


def primary_metric(task: str, cfg: dict[str, Any], results: dict[str, Any]) -> Optional[str]:
    mlist = cfg.get("metric_list")
    if isinstance(mlist, list) and mlist and isinstance(mlist[0], dict) and isinstance(mlist[0].get("metric"), str):
        return mlist[0]["metric"]
    hib = _dict(_dict(results.get("higher_is_better")).get(task))
    if hib:
        return next(iter(hib))
    for key in _dict(_dict(results.get("results")).get(task)):
        name, sep, _ = key.partition(",")
        if sep and not name.endswith("_stderr"):
            return name
    return None


def primary_filter(metric: str, cfg: dict[str, Any], task_results: dict[str, Any]) -> str:
    flist = cfg.get("filter_list")
    first = "none"
    if isinstance(flist, list) and flist and isinstance(flist[0], dict) and isinstance(flist[0].get("name"), str):
        first = flist[0]["name"]
    if f"{metric},{first}" in task_results:
        return first
    for key in task_results:
        name, sep, filt = key.partition(",")
        if sep and name == metric:
            return filt
    return first


def expected_by_limit(original: Optional[int], limit: Any) -> Optional[int]:
    """The documents lm-eval evaluates (evaluator_utils.get_sample_size, then the doc iterator): the whole
    dataset without --limit; ceil(limit * n) for a fraction below 1; else the first int(limit) of them. A
    --samples selection is not recorded in the results, so such a run cannot be accounted for."""
    if original is None:
        return None
    lim = _finite(limit)
    if limit is None:
        return original
    if lim is None or lim < 0:
        return None
    return min(original, math.ceil(original * lim) if lim < 1.0 else int(lim))


def _filter_names(cfg: dict[str, Any]) -> Optional[list[str]]:
    """The filters lm-eval runs for the task: filter_list's names, or 'none' without one."""
    flist = cfg.get("filter_list")
    if flist is None:
        return ["none"]
    names = [e.get("name") for e in flist if isinstance(e, dict)] if isinstance(flist, list) else []
    return [n for n in names if isinstance(n, str)] or None


def _fallbacks(cfg: dict[str, Any], filter_name: str) -> frozenset[str]:
    """The values a regex step of the filter writes when it extracts nothing."""
    out = set()
    for entry in cfg.get("filter_list") or []:
        if not isinstance(entry, dict) or entry.get("name") != filter_name:
            continue
        for step in entry.get("filter") or []:
            if isinstance(step, dict) and "regex" in str(step.get("function", "")):
                fb = step.get("fallback", DEFAULT_FALLBACK)
                if isinstance(fb, str):
                    out.add(fb)
    return frozenset(out)


def _plan(metric: str, cfg: dict[str, Any]) -> tuple[Optional[str], Optional[Callable[[Any], str]], Optional[str]]:
    """(aggregation, item check for a corpus-level one, why the score cannot be re-derived)."""
    agg, why = aggregation_of(metric, cfg)
    if agg is None or agg == MEAN:
        return agg, None, why
    if agg in NOT_REDERIVABLE:
        return agg, None, f"{metric!r} aggregates by {agg!r}: {NOT_REDERIVABLE[agg]}"
    if agg not in ITEM_CHECKS:
        return agg, None, f"{metric!r} aggregates by {agg!r}, which this gate cannot re-derive"
    return agg, functools.partial(check_item, agg), None


def _score_fields(metric: str, filt: str, agg: Optional[str], t: SampleTally,
                  bootstrap_iters: Optional[int]) -> dict[str, Any]:
    if t.non_numeric_metric:
        shape = ITEM_SHAPES.get(agg or "", "numbers")
        return {"rederive_note": f"{t.non_numeric_metric} per-sample value(s) of {metric!r} are not what lm-eval "
                                 f"logs for a {agg!r} aggregation ({shape})"}
    if not (t.values or t.items):
        return {"rederive_note": f"no per-sample value of {metric!r} under filter {filt!r}"}
    if agg == MEAN:
        score, stderr = mean_and_stderr(t.values)
        note = None if stderr is not None else "a stderr needs at least 2 samples" if len(t.values) < 2 else \
            "the per-sample values are too large for a standard deviation (a float overflow)"
        return {"rederived_score": score, "rederived_stderr": stderr, "stderr_method": "mean_stderr",
                "rederive_note": note}
    r = rederive(metric, agg or "", t.items, bootstrap_iters)  # agg is a corpus aggregation here
    return {"rederived_score": r.score, "rederived_stderr": r.stderr, "rederive_note": r.note,
            "stderr_method": "bootstrap" if r.stderr is not None else None, "bootstrap_replicates": r.replicates,
            "lmeval_bootstrap_replicates": r.lmeval_replicates, "stderr_rel_se": r.stderr_rel_se}


def _samples_part(path: Path, cfg: dict[str, Any], metric: str, filt: str, output_type: str,
                  counter: TokenCounter, bootstrap_iters: Optional[int]) -> dict[str, Any]:
    agg, item_check, why = _plan(metric, cfg)
    out: dict[str, Any] = {"aggregation": agg}
    if not path.is_file():
        return {**out, "rederive_note": f"no per-sample log {path.name} (was lm-eval run with --log_samples?)"}
    generative = output_type == "generate_until"
    domain = domain_of(metric) if agg == MEAN else None
    check, not_rescored = rescorer(output_type, metric, cfg)
    try:
        t = tally_samples(path, filter_name=filt, metric=metric, generative=generative,
                          fallbacks=_fallbacks(cfg, filt) if generative else frozenset(),
                          count_tokens=counter.count, domain=domain, item_check=item_check, rescore=check)
    except OSError as exc:
        return {**out, "samples_file": path.name, "rederive_note": f"cannot read {path.name}: {exc}"}
    out.update({
        "samples_file": path.name, "samples_scored": t.lines, "samples_corrupt": t.corrupt,
        "samples_duplicated": t.duplicated, "samples_without_metric": t.without_metric,
        "samples_bad_doc_id": t.bad_doc_id, "samples_out_of_domain": t.out_of_domain,
        "samples_hash_mismatch": t.hash_mismatch, "filter_lines": t.filter_lines, "documents": t.documents,
        "samples_duplicated_other_filters": t.other_filters_duplicated, "known_filters": _filter_names(cfg),
        "samples_rescored": t.rescored, "samples_rescore_mismatch": t.rescore_mismatch, "rescore_note": not_rescored,
        "metric_domain": domain if item_check is None else ITEM_SHAPES.get(agg or ""),
        "responses_total": t.lines, "responses_empty": t.empty, "responses_errored": t.errored,
        "extraction_failed": t.extraction_failed,
    })
    if generative and t.completions:
        out["avg_completion_tokens"] = t.completion_tokens / t.completions
        out["token_count_method"] = counter.method
    if why is not None:
        out["rederive_note"] = why
    else:
        out.update(_score_fields(metric, filt, agg, t, bootstrap_iters))
    return out


def task_facts(task: str, results: dict[str, Any], run_dir: Path, date_id: str,
               counter: TokenCounter) -> tuple[Optional[TaskRun], Optional[str]]:
    """(facts, None), or (None, why the task cannot be read into facts)."""
    cfg = _dict(_dict(results.get("configs")).get(task))
    task_results = _dict(_dict(results.get("results")).get(task))
    output_type = cfg.get("output_type")
    if output_type not in _OUTPUT_TYPES:
        return None, f"no known output_type in the task's config ({output_type!r})"
    metric = primary_metric(task, cfg, results)
    if metric is None:
        return None, "no metric in the task's config or results"
    filt = primary_filter(metric, cfg, task_results)
    score, score_raw = _number_or_raw(task_results.get(f"{metric},{filt}"))
    stderr, stderr_raw = _number_or_raw(task_results.get(f"{metric}_stderr,{filt}"), non_negative=True)
    hib = _dict(_dict(results.get("higher_is_better")).get(task)).get(metric)
    gen_kwargs = cfg.get("generation_kwargs") if output_type == "generate_until" else None
    iters = _int_or_none(_dict(results.get("config")).get("bootstrap_iters"))
    n_samples = _dict(_dict(results.get("n-samples")).get(task))
    expected = _int_or_none(n_samples.get("effective"))
    part = _samples_part(run_dir / f"samples_{task}_{date_id}.jsonl", cfg, metric, filt, output_type, counter, iters)
    score_range, scale, expected_hib = nature(metric, part["aggregation"])
    fields: dict[str, Any] = dict(
        output_type=output_type, primary_metric=metric, primary_filter=filt,
        higher_is_better=hib if isinstance(hib, bool) else expected_hib if expected_hib is not None else True,
        expected_higher_is_better=expected_hib, scale=scale, score_range=score_range,
        num_fewshot=_int_or_none(_dict(results.get("n-shot")).get(task)),
        samples_expected=expected,
        samples_expected_by_limit=expected_by_limit(_int_or_none(n_samples.get("original")),
                                                    _dict(results.get("config")).get("limit")),
        reported_sample_len=_int_or_none(task_results.get("sample_len")),
        reported_score=score, reported_score_raw=score_raw, reported_stderr=stderr, reported_stderr_raw=stderr_raw,
        generation_kwargs=_jsonable(gen_kwargs) if isinstance(gen_kwargs, dict) else None, **part,
    )
    n = fields.get("samples_scored")
    if iters is not None and n is not None and part["aggregation"] is not None:
        fields["lmeval_computes_stderr"] = iters > 0 and n > 1 and (
            part["aggregation"] == MEAN or part["aggregation"] in LMEVAL_BOOTSTRAPPED)
    documents = fields.pop("documents", None)
    if documents is not None and expected is not None:
        fields["samples_outside_range"] = sum(1 for d in documents if not (isinstance(d, int) and 0 <= d < expected))
    return TaskRun.model_validate(fields), None


# ---------------------------------------------------------------- run level

def _model_args(config: dict[str, Any]) -> dict[str, Any]:
    args = config.get("model_args")
    if isinstance(args, dict):
        return args
    if isinstance(args, str):  # older lm-eval: "pretrained=x,dtype=y"
        return dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv)
    return {}


def _gen_kwargs(v: Any) -> Optional[dict[str, Any]]:
    if isinstance(v, str) and v.strip():
        v = dict(kv.split("=", 1) for kv in v.split(",") if "=" in kv)
    return _jsonable(v) if isinstance(v, dict) and v else None


def settings_of(results: dict[str, Any]) -> EvalSettings:
    config = _dict(results.get("config"))
    seeds = [config.get(k) for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")]
    limit = _finite(config.get("limit"))
    return EvalSettings(
        backend=config["model"] if isinstance(config.get("model"), str) else "unknown",
        lm_eval_version=_str_or_none(results.get("lm_eval_version")),
        limit=limit if limit is not None and limit >= 0 else None,
        apply_chat_template=results.get("chat_template") is not None,
        fewshot_as_multiturn=results.get("fewshot_as_multiturn") is True,
        system_instruction=_str_or_none(results.get("system_instruction")),
        gen_kwargs=_gen_kwargs(config.get("gen_kwargs")),
        seed=[s if isinstance(s, int) and not isinstance(s, bool) else None for s in seeds]
        if any(s is not None for s in seeds) else None,
    )


def _identity(record: Optional[RunRecord], results: Optional[dict[str, Any]]) -> Optional[str]:
    if record is not None and record.model_identity:
        return record.model_identity
    if results is None:
        return None
    args = _model_args(_dict(results.get("config")))
    for v in (args.get("pretrained"), args.get("model"), results.get("model_name")):
        if isinstance(v, str) and v:
            return v
    return None


def _status(record: Optional[RunRecord], results_found: bool) -> dict[str, Any]:
    if record is not None:
        return {"run_status": record.status, "status_source": "run_record", "exit_code": record.exit_code,
                "error": record.error}
    if results_found:
        return {"run_status": "SUCCESS", "status_source": "inferred"}
    return {"run_status": "UNKNOWN", "status_source": "inferred",
            "error": "no run record (run.json) and no lm-eval results file: the run may still be running, "
                     "may have crashed, or never started"}


def collect_run(path: str | Path, *, token_counter_factory: Callable[..., TokenCounter] = token_counter
                ) -> EvalRunFacts:
    """The facts of one lm-eval output directory. Used by compare, verbosity and audit too."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(str(path), "not a directory (expected an lm-eval --output_path directory)")
    record = read_run_record(root)
    files = find_results(root)
    facts: dict[str, Any] = {**_status(record, bool(files)), "results_files_found": len(files)}
    results = None
    if files:
        newest = files[-1]
        facts["results_file"] = str(newest.relative_to(root))
        results, facts["results_error"] = _read_results(newest)
    facts["model_identity"] = _identity(record, results)
    if results is not None:
        date_id = _RESULTS_NAME.match(files[-1].name).group("date_id")  # type: ignore[union-attr]
        config = _dict(results.get("config"))
        facts["used_cache"] = (config.get("use_cache") is not None) if "use_cache" in config else None
        facts["settings"] = settings_of(results)
        counter = token_counter_factory(record.tokenizer if record else None, _model_args(config))
        tasks, errors = {}, {}
        for task in _leaf_tasks(results):
            tr, why = task_facts(task, results, files[-1].parent, date_id, counter)
            if tr is not None:
                tasks[task] = tr
            else:
                errors[task] = why
        facts["tasks"], facts["task_errors"] = tasks, errors
    return EvalRunFacts.model_validate(facts)


def collect(args: argparse.Namespace) -> EvalRunFacts:
    if len(args.artifacts) != 1:
        raise InputError("--artifacts", "expected one lm-eval output directory")
    return collect_run(args.artifacts[0])
