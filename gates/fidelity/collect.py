"""Collect fidelity facts: re-derive every figure from the per-document record of skills/fidelity/run.py,
re-check the held-out corpus against the calibration corpus, and count multiple-choice flips from the
two evaluation stages' per-sample logs.

    --artifacts MEASURE.json [BASELINE_LMEVAL_DIR CANDIDATE_LMEVAL_DIR]

Statistics (documents are the independent units; a document of n_d tokens contributes y_d):
  token-weighted mean   R = sum y_d / sum n_d
  its standard error    the ratio estimator's: sqrt(sum (y_d - R n_d)^2 / (D (D - 1))) / mean(n_d)
  per-document mean     mean of y_d over documents, se = sd / sqrt(D)
  percentile q          nearest rank over every token: the ceil(q N)-th smallest value
"""

from __future__ import annotations

import argparse
import hashlib
import math
from pathlib import Path
from typing import Any, Optional, Sequence

from gates.contract import InputError, parse_json_strict
from gates.fidelity.models import FidelityFacts, FlipFacts, HeldoutFacts, TokenFacts

FORMAT = "conductor-fidelity/1"
_MIN_OVERLAP_CHARS = 40


# ------------------------------------------------------------------ statistics

def ratio_mean_se(ys: Sequence[float], ns: Sequence[int]) -> tuple[Optional[float], Optional[float]]:
    """Token-weighted mean of per-document sums ys over token counts ns, and its standard error."""
    pairs = [(y, n) for y, n in zip(ys, ns, strict=True) if n > 0]  # same scored documents
    total = sum(n for _, n in pairs)
    if not total:
        return None, None
    r = sum(y for y, _ in pairs) / total
    d = len(pairs)
    if d < 2:
        return r, None
    s2 = sum((y - r * n) ** 2 for y, n in pairs) / (d - 1)
    return r, math.sqrt(s2 / d) / (total / d)


def mean_se(xs: Sequence[float]) -> tuple[Optional[float], Optional[float]]:
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs))


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Nearest rank: the ceil(q N)-th smallest (q in (0, 1])."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def token_facts(docs: Sequence[dict[str, Any]]) -> TokenFacts:
    scored = [d for d in docs if d["tokens"] > 0]
    ns = [d["tokens"] for d in scored]
    kls = [x for d in scored for x in d["kl"]]
    kl_mean, kl_se = ratio_mean_se([sum(d["kl"]) for d in scored], ns)
    top1, top1_se = ratio_mean_se([d["top1_agree"] for d in scored], ns)
    lld, lld_se = ratio_mean_se([d["ll_cand"] - d["ll_base"] for d in scored], ns)
    per_doc, per_doc_se = mean_se([d["ll_cand"] - d["ll_base"] for d in scored])
    return TokenFacts(documents=len(scored), tokens=sum(ns), nonfinite_tokens=sum(d["nonfinite"] for d in docs),
                      kl_mean=kl_mean, kl_mean_se=kl_se, kl_p99=percentile(kls, 0.99), kl_max=max(kls, default=None),
                      top1_agreement=top1, top1_agreement_se=top1_se, ll_diff_per_token=lld,
                      ll_diff_per_token_se=lld_se, ll_diff_per_doc=per_doc, ll_diff_per_doc_se=per_doc_se)


# ------------------------------------------------------------------ the record

def _doc_ok(d: Any) -> bool:
    num = (int, float)
    return (isinstance(d, dict) and isinstance(d.get("tokens"), int) and isinstance(d.get("kl"), list)
            and len(d["kl"]) == d["tokens"] and all(isinstance(x, num) and math.isfinite(x) and x >= 0 for x in d["kl"])
            and isinstance(d.get("top1_agree"), int) and 0 <= d["top1_agree"] <= d["tokens"]
            and all(isinstance(d.get(k), num) and math.isfinite(d[k]) for k in ("ll_base", "ll_cand"))
            and isinstance(d.get("nonfinite"), int) and d["nonfinite"] >= 0)


def read_record(path: str) -> dict[str, Any]:
    try:
        rec = parse_json_strict(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError("--artifacts", f"cannot read the fidelity record {path!r}: {exc}") from None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise InputError("--artifacts", f"{path!r} is not a {FORMAT} record (skills/fidelity/run.py writes one)")
    docs = rec.get("docs")
    if not isinstance(docs, list) or not docs:
        raise InputError("docs", "the record has no documents")
    bad = [i for i, d in enumerate(docs) if not _doc_ok(d)]
    if bad:
        raise InputError(f"docs[{bad[0]}]", f"{len(bad)} malformed document record(s) (counts, KL list, "
                                            f"finite non-negative values)")
    return rec


# ------------------------------------------------------------------ held-out vs calibration

def corpus_docs(text: str) -> list[str]:
    """Documents of a calibration.txt-format corpus, normalised (case, whitespace)."""
    return [" ".join(line.strip().lower().split()) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def overlap(heldout: Sequence[str], calibration: Sequence[str]) -> int:
    """Held-out documents equal to, contained in, or containing a calibration document."""
    cal = set(calibration)
    long_cal = [c for c in calibration if len(c) >= _MIN_OVERLAP_CHARS]
    return sum(1 for h in heldout if h in cal or (len(h) >= _MIN_OVERLAP_CHARS and any(h in c or c in h
                                                                                      for c in long_cal)))


def _file(rec: dict[str, Any], key: str) -> tuple[Path, str]:
    info = rec.get(key)
    if not isinstance(info, dict) or not isinstance(info.get("path"), str):
        raise InputError(key, f"the record does not name its {key} corpus")
    path = Path(info["path"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(key, f"cannot read the {key} corpus {str(path)!r}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if info.get("sha256") != digest:
        raise InputError(key, f"the {key} corpus {str(path)!r} changed since it was measured (sha256 differs)")
    return path, data.decode("utf-8", errors="replace")


def heldout_facts(rec: dict[str, Any]) -> HeldoutFacts:
    hpath, htext = _file(rec, "heldout")
    _, ctext = _file(rec, "calibration")
    hdocs = corpus_docs(htext)[: len(rec["docs"])]
    return HeldoutFacts(path=str(hpath), sha256=rec["heldout"]["sha256"], documents=len(rec["docs"]),
                        calibration_overlap=overlap(hdocs, corpus_docs(ctext)))


# ------------------------------------------------------------------ MC flips

def _logprob(x: Any) -> Optional[float]:
    if isinstance(x, bool):
        return None
    try:
        return float(x)  # lm-eval writes response leaves as strings
    except (TypeError, ValueError):
        return None


def _choice(resps: Any) -> Optional[int]:
    """argmax option of a multiple-choice record: resps = [[[logprob, is_greedy]], ...], one per option."""
    try:
        lps = [_logprob(r[0][0]) for r in resps]
    except (TypeError, IndexError, KeyError):
        return None
    if len(lps) < 2 or any(v is None or not math.isfinite(v) for v in lps):
        return None
    return max(range(len(lps)), key=lambda i: (lps[i], -i))  # lm-eval's argmax: the first of equal maxima


def flips_of(base_dir: str, cand_dir: str) -> dict[str, FlipFacts]:
    from gates.audit.collect import kind_of, read_run_samples

    base, cand = read_run_samples(base_dir), read_run_samples(cand_dir)
    out = {}
    for task in sorted(set(base) & set(cand)):
        b, c = base[task], cand[task]
        docs = sorted(set(b.records) & set(c.records))
        if not docs or kind_of(b.first(docs[0]).resps) != "loglikelihood":
            continue
        n = changed = r2w = w2r = 0
        for d in docs:
            rb, rc = b.first(d), c.first(d)
            cb, cc = _choice(rb.resps), _choice(rc.resps)
            ab, ac = rb.metrics.get("acc"), rc.metrics.get("acc")
            if cb is None or cc is None or not isinstance(ab, (int, float)) or not isinstance(ac, (int, float)):
                continue
            n += 1
            if cb != cc:
                changed += 1
                r2w += int(ab == 1 and ac == 0)
                w2r += int(ab == 0 and ac == 1)
        if n:
            out[task] = FlipFacts(n=n, changed=changed, right_to_wrong=r2w, wrong_to_right=w2r)
    return out


def collect(args: argparse.Namespace) -> FidelityFacts:
    arts = list(args.artifacts)
    if len(arts) not in (1, 3):
        raise InputError("--artifacts", "expected MEASURE.json, optionally followed by BASELINE_LMEVAL_DIR "
                                        "CANDIDATE_LMEVAL_DIR (for multiple-choice flips)")
    rec = read_record(arts[0])
    flips = flips_of(arts[1], arts[2]) if len(arts) == 3 else {}
    return FidelityFacts(baseline_identity=str(rec.get("baseline")), candidate_identity=str(rec.get("candidate")),
                         heldout=heldout_facts(rec), tokenizer_match=rec.get("tokenizer_match") is True,
                         tokens=token_facts(rec["docs"]), flips=flips)
