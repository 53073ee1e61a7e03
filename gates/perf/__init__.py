"""perf gate: serving throughput, its noise sign-off, and MLPerf's TEST04 caching audit on a live
endpoint (CACHING_DETECTED). The rules are in gates/perf/decide.py."""

from __future__ import annotations

import textwrap

from gates.contract import GateSpec
from gates.perf.collect import collect
from gates.perf.decide import decide
from gates.perf.models import PerfFacts


def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(par, 96) if par else "" for par in text.split("\n"))


SPEC = GateSpec(
    name="perf",
    facts_model=PerfFacts,
    decide=decide,
    summary=_wrap(
        "Perf gate: throughput figures of a served endpoint, per mode (offline = max throughput, "
        "single_stream = concurrency 1), re-derived from the load generator's per-request records.\n\n"
        "TEST04 per mode (threshold t = 0.10 offline, 0.20 single-stream): pass iff every run of both "
        "phases completed >= requested x (1 - t) queries AND median audit qps (one fixed prompt "
        "repeated) < median reference qps (distinct prompts) x (1 + t); else CACHING_DETECTED, also when "
        "prefix caching was on or the server's prefix-cache counter moved. Partial data is never "
        "certified: SAMPLE_ACCOUNTING_FAILED (INFERENCE_FAILED when nothing completed). The load "
        "generator's totals disagreeing with its records: REPORTED_MISMATCH. Phases that are not "
        "TEST04's, or a faster audit with shorter completions: COMPARISON_NOT_LIKE_FOR_LIKE. Noise: a "
        "qps spread (max-min)/median above the band asks for one re-measure (INFRA_TRANSIENT); still "
        "noisy after it, TEST04 must hold for every pairing of runs, else INDETERMINATE. A "
        "candidate-vs-baseline speedup is claimed only on non-overlapping ranges."),
    collect=collect,
    artifacts_help="PERF_RECORD.json (the perf skill's record; run reports are read relative to it)",
)
