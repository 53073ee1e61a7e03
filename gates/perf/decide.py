"""Pure decision: are the throughput figures complete, stable enough to sign off, and not served
from a cache (MLPerf TEST04)? Checked per side (baseline / candidate / endpoint) and per mode.

Per mode, t = the mode's threshold (0.10 offline, 0.20 single-stream) and every run of every
measurement counted (none dropped):
  complete         every run completed >= requested x (1 - t) queries. Otherwise the data is partial
                   and never certified: SAMPLE_ACCOUNTING_FAILED (INFERENCE_FAILED when no run of a
                   phase completed anything). An incomplete phase is not a cache: the throughput
                   comparison is then not judged at all.
  counts           the load generator's own totals equal the re-derived ones (successful requests, the
                   query count it was configured with): otherwise REPORTED_MISMATCH.
  repetitions      each phase of the deciding (last) measurement has >= min_repetitions runs: a single
                   run has no noise estimate (INDETERMINATE).
  noise.<phase>    the qps spread (max-min)/median of the last measurement's runs is within the noise
                   band. Above it on the first measurement: INFRA_TRANSIENT, re-measure once. Above it
                   after the one re-measure: signed off as flagged (the detail says so), and the
                   TEST04 comparison below must then hold for every pairing of runs, not only medians.
With an audit (TEST04):
  test04.prompts   the reference phase sent distinct prompts only, the audit phase one fixed prompt:
                   otherwise the phases are not TEST04's (COMPARISON_NOT_LIKE_FOR_LIKE).
  test04.fresh_prompts (per side)  no reference request re-sent a prompt that endpoint had already been
                   sent in these runs (another repetition, another mode, the audit prompt): a cache
                   would answer those fast too, and the comparison would hide it.
  test04.prefix_cache  prefix caching declared on, or the server's prefix-cache hit counter moved
                   during any run: CACHING_DETECTED (TEST04 fails honestly; re-serve with it off).
  test04.throughput  pass: median(audit qps) < median(reference qps) x (1 + t) (when the last measurement
                   is noisy: max(audit) < min(reference) x (1 + t)). CACHING_DETECTED needs every audit
                   run to beat every reference run by the margin: min(audit) >= max(reference) x (1 + t).
                   Between the two, INDETERMINATE (after the re-measure) or INFRA_TRANSIENT (before it):
                   a drift of a loaded machine is neither a pass nor a cache. A faster audit whose completions are
                   also shorter than the reference's by more than t (output per request) cannot be told
                   from a cache: COMPARISON_NOT_LIKE_FOR_LIKE instead of CACHING_DETECTED.
A candidate-vs-baseline speedup is claimed only when the ranges do not overlap (candidate min >
baseline max); otherwise the evidence says "not distinguishable". A baseline-only record says why.
"""

from __future__ import annotations

import statistics
from typing import Any, Optional

from gates.contract import Check, Verdict, check, verdict_from_checks
from gates.failure_classes import FailureClass as FC
from gates.perf.models import Mode, ModeFacts, PerfFacts, PhaseRun, SideFacts

GATE = "perf"
PRIORITY = (FC.INFERENCE_FAILED, FC.SAMPLE_ACCOUNTING_FAILED, FC.REPORTED_MISMATCH, FC.COMPARISON_NOT_LIKE_FOR_LIKE,
            FC.CACHING_DETECTED, FC.INFRA_TRANSIENT, FC.INDETERMINATE)
EPS = 1e-12


def spread(values: list[float]) -> float:
    """(max - min) / median; 0 for one value."""
    med = statistics.median(values)
    return (max(values) - min(values)) / med if med > 0 else float("inf")


def _stats(values: list[float]) -> Optional[dict[str, Any]]:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "spread": spread(values), "values": values}


def _pct_median(runs: list[PhaseRun], field: str) -> Optional[dict[str, float]]:
    got = [getattr(r, field) for r in runs if getattr(r, field) is not None]
    if not got:
        return None
    return {p: statistics.median(getattr(x, p) for x in got) for p in ("p50", "p90", "p99")}


def phase_figures(runs: list[PhaseRun]) -> dict[str, Any]:
    qps = [r.qps for r in runs if r.qps is not None]
    out = [r.output_per_s for r in runs if r.output_per_s is not None]
    return {"runs": len(runs), "requested": [r.requested for r in runs], "completed": [r.completed for r in runs],
            "qps": _stats(qps), "output_per_s": _stats(out), "output_unit": runs[0].output_unit,
            "ttft_ms": _pct_median(runs, "ttft_ms"), "itl_ms": _pct_median(runs, "itl_ms")}


def _phases(mf: ModeFacts, audit: bool) -> list[tuple[str, list[PhaseRun]]]:
    last = mf.measurements[-1]
    return [("reference", last.reference)] + ([("audit", last.audit)] if audit else [])


# ---------------------------------------------------------------- accounting

def _complete(p: str, mf: ModeFacts, t: float) -> tuple[Check, bool]:
    short, dead_phases = [], []
    for i, m in enumerate(mf.measurements):
        for phase, runs in (("reference", m.reference), ("audit", m.audit)):
            for j, r in enumerate(runs):
                if r.completed < r.requested * (1 - t) - EPS:
                    errs = f" (errors: {'; '.join(r.errors[:2])})" if r.errors else ""
                    short.append(f"{phase} run {j + 1} of measurement {i + 1}: {r.completed}/{r.requested}{errs}")
            if runs and all(r.completed == 0 for r in runs):
                dead_phases.append(phase)
    ok = not short
    fc = FC.INFERENCE_FAILED if dead_phases else FC.SAMPLE_ACCOUNTING_FAILED
    detail = (f"{p}: every run completed at least requested x (1 - {t:g}) queries" if ok else
              f"{p}: partial data is not certified (an incomplete phase is not a cache): "
              f"{len(short)} run(s) short: " + "; ".join(short[:4])
              + (f"; nothing completed in the {' and '.join(dead_phases)} phase" if dead_phases else ""))
    return check(
        f"{p}.complete", ok, detail, failure_class=fc, observed=short[:10], expected=f">= requested x {1 - t:g}"
    ), ok


def _counts(p: str, mf: ModeFacts) -> Check:
    bad = []
    for i, m in enumerate(mf.measurements):
        for phase, runs in (("reference", m.reference), ("audit", m.audit)):
            for j, r in enumerate(runs):
                where = f"{phase} run {j + 1} of measurement {i + 1}"
                if r.reported_completed is not None and r.reported_completed != r.completed:
                    bad.append(
                        f"{where}: the load generator reported {r.reported_completed} successful, "
                        f"its per-request records show {r.completed}"
                    )
                if r.loadgen_requested is not None and r.loadgen_requested != r.requested:
                    bad.append(
                        f"{where}: the record says {r.requested} requested, the load generator was "
                        f"configured for {r.loadgen_requested}"
                    )
    return check(
        f"{p}.counts",
        not bad,
        f"{p}: " + ("; ".join(bad[:3]) if bad else "the load generator's totals match its per-request records"),
        failure_class=FC.REPORTED_MISMATCH,
        observed=bad[:10],
    )


def _repetitions(p: str, f: PerfFacts, mf: ModeFacts) -> Check:
    few = {ph: len(runs) for ph, runs in _phases(mf, f.audit is not None) if len(runs) < f.min_repetitions}
    return check(
        f"{p}.repetitions",
        not few,
        f"{p}: "
        + (
            f"too few repetitions for a noise estimate: {few} (need {f.min_repetitions})"
            if few
            else f"each phase repeated at least {f.min_repetitions} times"
        ),
        failure_class=FC.INDETERMINATE,
        observed=few or None,
        expected=f.min_repetitions,
    )


def _noise(p: str, f: PerfFacts, mode: Mode, mf: ModeFacts) -> tuple[list[Check], bool]:
    band, remeasured, checks, noisy = f.noise_band[mode], len(mf.measurements) > 1, [], False
    for phase, runs in _phases(mf, f.audit is not None):
        qps = [r.qps for r in runs]
        if len(qps) < 2 or any(q is None for q in qps):
            continue  # counted by complete / repetitions
        s = spread([q for q in qps if q is not None])
        if s <= band:
            checks.append(
                check(
                    f"{p}.noise.{phase}",
                    True,
                    f"{p} {phase}: qps spread {s:.1%} within the {band:.0%} band",
                    observed=s,
                    expected=band,
                )
            )
            continue
        noisy = True
        if remeasured:
            checks.append(
                check(
                    f"{p}.noise.{phase}",
                    True,
                    f"{p} {phase}: FLAGGED: qps spread {s:.1%} is above the "
                    f"{band:.0%} band after one re-measure; figures are noisy (TEST04 then needs "
                    "every pairing of runs to agree)",
                    observed=s,
                    expected=band,
                )
            )
        else:
            checks.append(
                check(
                    f"{p}.noise.{phase}",
                    False,
                    f"{p} {phase}: qps spread {s:.1%} is above the {band:.0%} noise band: re-measure once",
                    failure_class=FC.INFRA_TRANSIENT,
                    observed=s,
                    expected=band,
                )
            )
    return checks, noisy


# ---------------------------------------------------------------- TEST04


def _prompts(p: str, mf: ModeFacts) -> Check:
    bad = []
    for i, m in enumerate(mf.measurements):
        for phase, runs in (("reference", m.reference), ("audit", m.audit)):
            for j, r in enumerate(runs):
                where = f"{phase} run {j + 1} of measurement {i + 1}"
                if r.known < r.completed:
                    bad.append(f"{where}: the prompts of {r.completed - r.known} completed request(s) are not recorded")
                elif phase == "reference" and r.distinct_prompts != r.known:
                    bad.append(f"{where} sent {r.known} requests with {r.distinct_prompts} distinct prompts")
                elif phase == "audit" and r.known and r.distinct_prompts != 1:
                    bad.append(f"{where} sent {r.distinct_prompts} distinct prompts")
    return check(
        f"{p}.test04.prompts",
        not bad,
        f"{p}: "
        + (
            "; ".join(bad[:3]) + ": these phases are not TEST04's"
            if bad
            else "distinct prompts in the reference phase, one fixed prompt in the audit phase"
        ),
        failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE,
        observed=bad[:10],
    )


def _fresh(side: SideFacts) -> Check:
    n = side.reference_prompt_reuse
    return check(
        f"{side.role}.test04.fresh_prompts",
        n == 0,
        f"{side.role}: "
        + (
            "every reference request sent a prompt new to this endpoint"
            if n == 0
            else f"{n} reference request(s) re-sent a prompt this endpoint had already been sent "
            "(another run, or the audit prompt): a cache would speed the reference up too "
            "and hide itself"
        ),
        failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE,
        observed=n,
        expected=0,
    )


def _prefix_cache(p: str, side: SideFacts, mf: ModeFacts) -> Check:
    hits = [r.prefix_cache_hits for m in mf.measurements for r in m.reference + m.audit]
    moved = sum(h for h in hits if h)
    if side.prefix_caching == "on" or moved:
        why = (
            "automatic prefix caching was on"
            if side.prefix_caching == "on"
            else f"the server's prefix-cache hit counter moved by {moved} during the runs"
        )
        return check(
            f"{p}.test04.prefix_cache",
            False,
            f"{p}: {why}: repeated prompts are served from a cache; "
            "TEST04 fails honestly (serve with prefix caching off to measure)",
            failure_class=FC.CACHING_DETECTED,
            observed={"declared": side.prefix_caching, "hits": moved},
            expected="off, no hits",
        )
    known = any(h is not None for h in hits)
    detail = f"{p}: prefix caching {side.prefix_caching}" + (
        ", no prefix-cache hits during the runs"
        if known
        else ", its hit counter not measurable here: TEST04 rests on the throughput comparison"
    )
    return check(
        f"{p}.test04.prefix_cache",
        True,
        detail,
        observed={"declared": side.prefix_caching, "hits": moved if known else None},
    )


def _per_request(runs: list[PhaseRun]) -> Optional[float]:
    done = [r for r in runs if r.completed and r.output_total is not None]
    return statistics.median(r.output_total / r.completed for r in done) if done else None  # type: ignore[operator]


def _throughput(p: str, t: float, mf: ModeFacts, complete: bool, noisy: bool) -> Check:
    name, last = f"{p}.test04.throughput", mf.measurements[-1]
    if not complete:
        return check(
            name, False, f"{p}: TEST04 not judged: a phase is incomplete", failure_class=FC.SAMPLE_ACCOUNTING_FAILED
        )
    ref = [r.qps for r in last.reference if r.qps is not None]
    aud = [r.qps for r in last.audit if r.qps is not None]
    if not ref or not aud:
        return check(
            name, False, f"{p}: TEST04 not judged: no qps in a phase", failure_class=FC.SAMPLE_ACCOUNTING_FAILED
        )
    ref_m, aud_m = statistics.median(ref), statistics.median(aud)
    obs = {"audit_qps_median": aud_m, "reference_qps_median": ref_m, "ratio": aud_m / ref_m,
           "audit_qps": aud, "reference_qps": ref, "noisy": noisy}
    # A cache is claimed only when every audit run beats every reference run by the margin; a pass needs
    # the medians (or, when noisy, every pairing) under it; anything between is not judged (re-measure).
    caching = min(aud) >= max(ref) * (1 + t)
    passing = (max(aud) if noisy else aud_m) < (min(ref) if noisy else ref_m) * (1 + t)
    if not caching and not passing:
        fc = FC.INDETERMINATE if len(mf.measurements) > 1 else FC.INFRA_TRANSIENT
        return check(name, False, f"{p}: TEST04 not judged: the audit/reference ranges straddle the {t:.0%} "
                     f"margin{' (noisy runs)' if noisy else ''} (audit {min(aud):.3g}-{max(aud):.3g} qps vs "
                     f"reference {min(ref):.3g}-{max(ref):.3g}, median ratio {aud_m / ref_m:.2f}): "
                     "re-measure before calling it a cache", failure_class=fc, observed=obs)
    if passing:
        return check(name, True, f"{p}: audit {aud_m:.3g} qps < reference {ref_m:.3g} x {1 + t:g} "
                     f"(ratio {aud_m / ref_m:.3f})", observed=obs, expected=f"< {1 + t:g}")
    aud_len, ref_len = _per_request(last.audit), _per_request(last.reference)
    if aud_len is not None and ref_len is not None and aud_len < ref_len * (1 - t):
        return check(
            name,
            False,
            f"{p}: the audit is {aud_m / ref_m:.2f}x faster but its completions are shorter "
            f"({aud_len:.1f} vs {ref_len:.1f} per request): a cache cannot be told from shorter answers; "
            "fix the output length (ignore_eos) and re-measure",
            failure_class=FC.COMPARISON_NOT_LIKE_FOR_LIKE,
            observed={**obs, "audit_output_per_request": aud_len, "reference_output_per_request": ref_len},
        )
    return check(
        name,
        False,
        f"{p}: CACHING: repeating one prompt is {aud_m / ref_m:.2f}x the reference throughput "
        f"(audit {aud_m:.3g} qps >= reference {ref_m:.3g} x {1 + t:g})",
        failure_class=FC.CACHING_DETECTED,
        observed=obs,
        expected=f"< {1 + t:g}",
    )


# ---------------------------------------------------------------- per mode, comparison, verdict


def _mode(f: PerfFacts, side: SideFacts, mode: Mode, mf: ModeFacts) -> tuple[list[Check], dict[str, Any]]:
    p, t = f"{side.role}.{mode}", f.thresholds[mode]
    done, complete = _complete(p, mf, t)
    checks = [done, _counts(p, mf), _repetitions(p, f, mf)]
    noise_checks, noisy = _noise(p, f, mode, mf)
    checks += noise_checks
    if f.audit is not None:
        checks += [_prompts(p, mf), _prefix_cache(p, side, mf), _throughput(p, t, mf, complete, noisy)]
    ev: dict[str, Any] = {name: phase_figures(runs) for name, runs in _phases(mf, f.audit is not None)}
    ev["threshold"], ev["noise_band"], ev["concurrency"] = t, f.noise_band[mode], mf.concurrency
    ev["noisy"] = noisy
    ev["earlier"] = [
        {"reason": m.reason, "reference_qps": [r.qps for r in m.reference], "audit_qps": [r.qps for r in m.audit]}
        for m in mf.measurements[:-1]
    ]
    ev["reason"] = mf.measurements[-1].reason
    return checks, ev


def range_verdict(base: Optional[dict[str, Any]], cand: Optional[dict[str, Any]]) -> str:
    if not base or not cand:
        return "not measured"
    if cand["min"] > base["max"]:
        return "candidate faster"
    if cand["max"] < base["min"]:
        return "candidate slower"
    return "not distinguishable"


def comparison(figs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    base, cand = figs.get("baseline"), figs.get("candidate")
    if base is None or cand is None:
        return {}
    out = {}
    for mode in sorted(set(base) & set(cand)):
        b, c = base[mode]["reference"], cand[mode]["reference"]
        same_unit = b["output_unit"] == c["output_unit"]
        out[mode] = {
            "qps": range_verdict(b["qps"], c["qps"]),
            "output_per_s": range_verdict(b["output_per_s"], c["output_per_s"])
            if same_unit
            else "not comparable (different output units)",
        }
    return out


def _pass_detail(f: PerfFacts, figs: dict[str, dict[str, Any]]) -> str:
    parts = []
    for role, modes in figs.items():
        for mode, ev in modes.items():
            q = ev["reference"]["qps"]
            if q:
                parts.append(
                    f"{role} {mode} {q['median']:.3g} qps [{q['min']:.3g}-{q['max']:.3g}]"
                    + (" (noisy)" if ev["noisy"] else "")
                )
    head = "TEST04 passed; " if f.audit else "throughput measured (no caching audit); "
    tail = f"; baseline only: {f.candidate_not_measured}" if f.candidate_not_measured else ""
    return head + "; ".join(parts) + tail


def decide(f: PerfFacts) -> Verdict:
    checks: list[Check] = []
    figs: dict[str, dict[str, Any]] = {}
    for side in f.sides:
        if f.audit is not None:
            checks.append(_fresh(side))
        for mode, mf in side.modes.items():
            c, ev = _mode(f, side, mode, mf)
            checks += c
            figs.setdefault(side.role, {})[mode] = ev
    evidence = {
        "figures": figs,
        "comparison": comparison(figs),
        "audit": f.audit,
        "load_generator": f.load_generator,
        "candidate_not_measured": f.candidate_not_measured,
        "endpoints": {
            s.role: {"base_url": s.base_url, "model": s.model, "prefix_caching": s.prefix_caching} for s in f.sides
        },
    }
    return verdict_from_checks(GATE, checks, pass_detail=_pass_detail(f, figs), evidence=evidence, priority=PRIORITY)
