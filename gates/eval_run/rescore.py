"""Re-score each per-sample line from the model's own recorded responses, as lm-eval 0.4.13 scores it
(lm_eval/api/task.py `process_results`), so that a per-sample value edited after the run (an acc flipped
from 0 to 1, its results restated to match) is caught: the score is re-derived from the per-sample
values, and each value from the raw response.

  multiple_choice   resps = one [loglikelihood, is_greedy] per choice; pred = the first argmax of the
                    log-likelihoods (the first half of them with acc_mutual_info); gold = the target (an
                    index, or the choice whose continuation is target_delimiter + target).
                    acc = pred == gold; f1 / mcc items = [gold, pred].
  loglikelihood     one request: acc = is_greedy; the perplexity item = its log-likelihood.
  loglikelihood_rolling   one request: the item's log-likelihood is the response's; its count is the
                    target's bytes (byte_perplexity, bits_per_byte) or whitespace-split words.
  generate_until    exact_match = lm-eval's own exact_match_hf_evaluate (imported lazily) of the first
                    filtered response against the target, with the metric's options from the config
                    (ignore_case, ignore_punctuation, ignore_numbers, regexes_to_ignore); a BLEU / chrF /
                    TER item = [target, first filtered response].

Only the standard scoring is re-derived: a task with its own process_results, several targets, or a
doc_to_choice on a generative task is not re-scored (`rescore_note` says so). A line that cannot be
told (a missing response) is left to the other checks.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional

Rescorer = Callable[[dict[str, Any]], Optional[bool]]  # True: agrees, False: disagrees, None: cannot tell
_MC_METRICS = frozenset({"acc", "f1", "mcc"})
_EM_OPTIONS = ("regexes_to_ignore", "ignore_case", "ignore_punctuation", "ignore_numbers")


def _float(x: Any) -> Optional[float]:
    if isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _loglik_pairs(obj: dict[str, Any]) -> Optional[list[tuple[float, str]]]:
    """[(loglikelihood, is_greedy text)] per request from resps ([[[ll, greedy]], ...], K = 1)."""
    resps = obj.get("resps")
    if not isinstance(resps, list):
        return None
    out: list[tuple[float, str]] = []
    for req in resps:
        pair = req[0] if isinstance(req, list) and len(req) == 1 and isinstance(req[0], list) else req
        ll = _float(pair[0]) if isinstance(pair, list) and len(pair) == 2 else None
        if ll is None:
            return None
        out.append((ll, str(pair[1])))
    return out or None


def _continuations(obj: dict[str, Any]) -> list[Any]:
    args = obj.get("arguments")
    return [a.get("arg_1") for a in args.values() if isinstance(a, dict)] if isinstance(args, dict) else []


def _gold(obj: dict[str, Any], n_choices: int, delimiter: str) -> Optional[int]:
    target = obj.get("target")
    if isinstance(target, str) and re.fullmatch(r"\d+", target.strip()):
        gold = int(target)
        return gold if gold < n_choices else -100
    conts = _continuations(obj)[:n_choices]
    if isinstance(target, str) and delimiter + target in conts:
        return conts.index(delimiter + target)
    return None  # several targets, or a target this reading cannot place


def _mc_pred_gold(obj: dict[str, Any], delimiter: str) -> Optional[tuple[int, int]]:
    pairs = _loglik_pairs(obj)
    if pairs is None:
        return None
    metrics = obj.get("metrics")
    names = metrics if isinstance(metrics, list) else []
    n = len(pairs) // 2 if "acc_mutual_info" in names and len(pairs) % 2 == 0 else len(pairs)
    lls = [ll for ll, _ in pairs[:n]]
    gold = _gold(obj, n, delimiter)
    return None if gold is None else (lls.index(max(lls)), gold)


def _mc(metric: str, delimiter: str) -> Rescorer:
    def check(obj: dict[str, Any]) -> Optional[bool]:
        pg = _mc_pred_gold(obj, delimiter)
        if pg is None or metric not in obj:
            return None
        pred, gold = pg
        if metric == "acc":
            return obj["acc"] == (1.0 if pred == gold else 0.0)
        return obj[metric] == [gold, pred]
    return check


def _loglik(metric: str) -> Rescorer:
    def check(obj: dict[str, Any]) -> Optional[bool]:
        pairs = _loglik_pairs(obj)
        if pairs is None or len(pairs) != 1 or metric not in obj:
            return None
        ll, greedy = pairs[0]
        return obj[metric] == (int(greedy == "True") if metric == "acc" else ll)
    return check


def _rolling(metric: str) -> Rescorer:
    def check(obj: dict[str, Any]) -> Optional[bool]:
        resps, target, item = obj.get("resps"), obj.get("target"), obj.get(metric)
        if not (isinstance(resps, list) and len(resps) == 1 and isinstance(resps[0], list) and len(resps[0]) == 1):
            return None
        ll = _float(resps[0][0])
        if ll is None or not isinstance(target, str) or not isinstance(item, list) or len(item) != 2:
            return None
        count = len(target.encode("utf-8")) if metric != "word_perplexity" else len(re.split(r"\s+", target))
        return item == [ll, count]
    return check


def _text_pair(metric: str) -> Rescorer:
    """bleu / chrf / ter items are [target, first filtered response] (lm-eval's passthrough metric)."""
    def check(obj: dict[str, Any]) -> Optional[bool]:
        filtered, target = obj.get("filtered_resps"), obj.get("target")
        pred = filtered[0] if isinstance(filtered, list) and filtered else None
        if not isinstance(pred, str) or not isinstance(target, str) or metric not in obj:
            return None
        return obj[metric] == [target, pred]
    return check


def _exact_match(options: dict[str, Any]) -> tuple[Optional[Rescorer], Optional[str]]:
    try:
        from lm_eval.api.metrics import exact_match_hf_evaluate
    except Exception as exc:
        return None, f"lm-eval is not importable here ({type(exc).__name__}): exact_match is not re-scored"

    def check(obj: dict[str, Any]) -> Optional[bool]:
        filtered, target = obj.get("filtered_resps"), obj.get("target")
        pred = filtered[0] if isinstance(filtered, list) and filtered else None
        if not isinstance(pred, str) or not isinstance(target, str) or "exact_match" not in obj:
            return None
        try:
            score = float(exact_match_hf_evaluate(predictions=[pred], references=[target], **options)["exact_match"])
        except Exception:
            return None
        return obj["exact_match"] == score
    return check, None


def rescorer(output_type: str, metric: str, cfg: dict[str, Any]) -> tuple[Optional[Rescorer], Optional[str]]:
    """(a per-line check, None), or (None, why this task's values are not re-scored)."""
    if cfg.get("process_results") is not None:
        return None, "the task scores with its own process_results: its per-sample values are not re-scored"
    entry = next((m for m in cfg.get("metric_list") or [] if isinstance(m, dict) and m.get("metric") == metric), {})
    target_delimiter = cfg.get("target_delimiter")
    delimiter = target_delimiter if isinstance(target_delimiter, str) else " "
    if output_type == "multiple_choice" and metric in _MC_METRICS and not cfg.get("multiple_target"):
        return _mc(metric, delimiter), None
    if output_type == "loglikelihood" and metric in ("acc", "perplexity"):
        return _loglik(metric), None
    if output_type == "loglikelihood_rolling" and metric in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        return _rolling(metric), None
    if output_type == "generate_until" and metric in ("bleu", "chrf", "chrf++", "ter") and \
            cfg.get("doc_to_choice") is None:
        return _text_pair(metric), None
    if output_type == "generate_until" and metric == "exact_match" and cfg.get("doc_to_choice") is None:
        options = {k: entry[k] for k in _EM_OPTIONS if k in entry}
        return _exact_match(options)
    return None, f"{metric!r} of a {output_type} task is not re-scored from the responses"

