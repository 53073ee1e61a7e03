"""The perf runner: check the endpoint(s), warm up, run the TEST04 phases with GuideLLM, re-measure a
noisy mode once, and write the record the perf gate reads.

    python skills/common/launch.py skills.perf.run --input args.json --out-dir DIR --workspace W

Per target and mode, measurement 1 runs r repetitions of (reference, audit), interleaved, so a drift of
the machine touches both phases alike. Every reference run sends prompts never sent before to that
endpoint (a cache must not speed the reference up too); every audit run repeats one fixed prompt
that no reference run uses. A mode whose qps spread (max-min)/median in a phase is above
the gate's noise band is measured once more (measurement 2); measurement 1 stays in the record with
the reason. Writes DIR/perf_record.json (after every load-generator pass: nothing measured is lost),
DIR/runs/.../*.json (GuideLLM's own reports), DIR/prompts/*.jsonl, DIR/loadgen.log, DIR/result.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
from typing import Any, Optional

from conductor.executor import LocalExecutor, ProcessSpec, exit_cleanly_on_signals
from conductor.fsutil import atomic_write_json
from gates.perf.collect import run_facts
from gates.perf.decide import spread
from gates.perf.models import DEFAULT_THRESHOLDS, PhaseRun
from skills.common.base import LAUNCH
from skills.common.runner import SKILL_FAILED, USER_CONFIG_ERROR, RunContext, SkillFailure, main, progress
from skills.perf import RECORD_FILE, PerfInput, Target, endpoint_root
from skills.perf import prompts as P
from skills.perf.loadgen import Job, Plan, version
from skills.perf.preflight import check_target
from skills.perf.tokens import add_tokenizer_counts

PHASES = ("reference", "audit")
LOG = "loadgen.log"


def _pools(inp: PerfInput, rc: RunContext) -> dict[str, P.PromptPool]:
    """One prompt pool per target; fails up front when the file cannot feed every run fresh prompts."""
    prompts = P.load_prompts(rc.user_path(inp.prompts_file) if inp.prompts_file else None)
    need = P.needed([inp.queries(m) for m in inp.modes], inp.repetitions, 2 if inp.remeasure_when_noisy else 1)
    if need > len(prompts):
        raise SkillFailure(USER_CONFIG_ERROR, f"every reference run needs prompts never sent before: {need} distinct "
                                              f"prompts for these queries and repetitions (with room for one "
                                              f"re-measure), the prompts file has {len(prompts)}")
    return {t.role: P.PromptPool(prompts, inp.audit_index) for t in inp.targets}


def _jobs(inp: PerfInput, rc: RunContext, t: Target, mode: str, k: int,
          pool: P.PromptPool) -> tuple[list[Job], dict[str, list[dict[str, Any]]]]:
    """The jobs of measurement k of one target and mode (interleaved phases) and its record entry."""
    jobs, entry = [], {ph: [] for ph in PHASES if ph == "reference" or inp.audit}
    n, where = inp.queries(mode), f"{t.role}/{mode}/m{k}"
    audit_file = rc.out_dir / "prompts" / t.role / mode / "audit.jsonl"
    if inp.audit and not audit_file.exists():
        P.write_prompts(audit_file, pool.audit_prompts(n))
    for rep in range(1, inp.repetitions + 1):
        for phase in entry:
            prompts_file = (audit_file if phase == "audit" else
                            P.write_prompts(rc.out_dir / "prompts" / where / f"reference-{rep}.jsonl", pool.take(n)))
            rel = f"runs/{where}/{phase}-{rep}.json"
            job = Job(id=f"{where}/{phase}-{rep}", root=endpoint_root(t.base_url), model=t.model,
                      api_key_env=t.api_key_env, mode=mode, prompts_file=str(prompts_file), requested=n,
                      report=str(rc.out_dir / rel), max_tokens=inp.max_tokens, ignore_eos=inp.ignore_eos,
                      request_timeout_s=inp.request_timeout_s)
            jobs.append(job)
            entry[phase].append({"job": job.id, "requested": n, "report": rel})
    return jobs, entry


def _timeout(inp: PerfInput, jobs: list[Job]) -> float:
    per = [120.0 + inp.request_timeout_s * (1 if j.mode == "offline" else j.requested) for j in jobs]
    return 300.0 + sum(per)


def _echo(line: str) -> None:
    """The driver's own lines reach the skill log; GuideLLM's tables stay in loadgen.log."""
    if line.startswith("[perf]"):
        print(line, flush=True)


def run_loadgen(inp: PerfInput, rc: RunContext, jobs: list[Job], tag: str) -> dict[str, dict[str, Any]]:
    """Run the jobs in one GuideLLM process; results by job id (a job it never reached has an error)."""
    plan_path = atomic_write_json(rc.out_dir / f"plan-{tag}.json",
                                  Plan(jobs=jobs, load_workers=inp.load_workers).model_dump(mode="json"))
    results_path = rc.out_dir / f"results-{tag}.json"
    secrets = [os.environ[t.api_key_env] for t in inp.targets if t.api_key_env and os.environ.get(t.api_key_env)]

    def redact(line: str) -> str:
        for s in secrets:
            line = line.replace(s, "***")
        return line

    executor = LocalExecutor(redact=redact)
    exit_cleanly_on_signals(executor)
    argv = [sys.executable, str(LAUNCH), "skills.perf.loadgen", "--plan", str(plan_path), "--results",
            str(results_path)]
    out = executor.run(ProcessSpec(argv=argv, log_path=str(rc.out_dir / LOG), timeout_s=_timeout(inp, jobs),
                                   name="guidellm"), on_line=_echo)
    done: dict[str, dict[str, Any]] = {}
    if results_path.is_file():
        done = {r["id"]: r for r in json.loads(results_path.read_text(encoding="utf-8"))["results"]}
    why = ("timed out" if out.timed_out else out.error or f"exit code {out.exit_code}")
    for j in jobs:
        done.setdefault(j.id, {"id": j.id, "loadgen_error": f"the load generator stopped before this run ({why})"})
    return done


def _fill(entry: dict[str, list[dict[str, Any]]], results: dict[str, dict[str, Any]]) -> None:
    for runs in entry.values():
        for r in runs:
            res = results[r["job"]]
            r.update(prefix_cache_hits=res.get("prefix_cache_hits"), loadgen_error=res.get("loadgen_error"),
                     wall_s=res.get("wall_s"))


def phase_runs(rc: RunContext, entry: dict[str, list[dict[str, Any]]], phase: str) -> list[PhaseRun]:
    """The gate's own view of a phase's runs (the collector re-derives them from the reports)."""
    return [PhaseRun.model_validate(run_facts(r, str(rc.out_dir), r["job"])) for r in entry.get(phase, [])]


def noise_reason(rc: RunContext, entry: dict[str, list[dict[str, Any]]], mode: str) -> Optional[str]:
    """Why this measurement should be taken again (qps spread above the band), or None."""
    band = DEFAULT_THRESHOLDS[mode]
    for phase in entry:
        qps = [r.qps for r in phase_runs(rc, entry, phase)]
        if len(qps) < 2 or any(q is None for q in qps):
            return None  # incomplete: a re-measure would not make it certifiable
        s = spread([q for q in qps if q is not None])
        if s > band:
            return f"re-measure: {phase} qps spread {s:.1%} > noise band {band:.0%}"
    return None


def _record(inp: PerfInput, sides: list[dict[str, Any]]) -> dict[str, Any]:
    return {"load_generator": version(), "audit": inp.audit, "candidate_not_measured": inp.candidate_not_measured,
            "sides": sides}


def _side(t: Target) -> dict[str, Any]:
    return {"role": t.role, "base_url": t.base_url, "model": t.model, "prefix_caching": t.prefix_caching,
            "modes": {}}


def measure(inp: PerfInput, rc: RunContext, pools: dict[str, P.PromptPool]) -> dict[str, Any]:
    sides = [_side(t) for t in inp.targets]
    record_path = rc.out_dir / RECORD_FILE
    jobs, entries = [], []
    for t, side in zip(inp.targets, sides):
        for mode in inp.modes:
            js, entry = _jobs(inp, rc, t, mode, 1, pools[t.role])
            jobs += js
            entries.append((t, side, mode, entry))
            side["modes"][mode] = {"concurrency": None if mode == "offline" else 1,
                                   "measurements": [{"reason": "initial", **entry}]}
    progress(0.1, f"measuring: {len(jobs)} runs with {version()}")
    results = run_loadgen(inp, rc, jobs, "m1")
    for *_, entry in entries:
        _fill(entry, results)
    atomic_write_json(record_path, _record(inp, sides))
    again = [(t, side, mode, reason) for t, side, mode, entry in entries
             if inp.remeasure_when_noisy and (reason := noise_reason(rc, entry, mode))]
    if again:
        progress(0.6, f"noisy: measuring {len(again)} mode(s) once more")
        jobs, new = [], []
        for t, side, mode, reason in again:
            js, entry = _jobs(inp, rc, t, mode, 2, pools[t.role])
            jobs += js
            new.append(entry)
            side["modes"][mode]["measurements"].append({"reason": reason, **entry})
        results = run_loadgen(inp, rc, jobs, "m2")
        for entry in new:
            _fill(entry, results)
    record = _record(inp, sides)
    if inp.tokenizer:
        add_tokenizer_counts(record, rc.out_dir, rc.user_path(inp.tokenizer))
    atomic_write_json(record_path, record)
    return record


def summary(rc: RunContext, record: dict[str, Any]) -> str:
    parts = []
    for side in record["sides"]:
        for mode, mf in side["modes"].items():
            last = mf["measurements"][-1]
            for phase in ("reference", "audit"):
                runs = phase_runs(rc, last, phase) if phase in last else []
                qps = [r.qps for r in runs if r.qps is not None]
                done = sum(r.completed for r in runs)
                asked = sum(r.requested for r in runs)
                if runs:
                    med = f"{statistics.median(qps):.3g} qps" if qps else "no qps"
                    parts.append(f"{side['role']} {mode} {phase}: {med} ({done}/{asked} completed, "
                                 f"{len(mf['measurements'])} measurement(s))")
    return "; ".join(parts) + "; the perf gate judges TEST04 and the noise"


def run(inp: PerfInput, rc: RunContext) -> dict[str, Any]:
    if importlib.util.find_spec("guidellm") is None:
        raise SkillFailure(SKILL_FAILED, "the load generator GuideLLM is not installed in this environment "
                                         "(scripts/setup.sh installs it; or pip install guidellm==0.8.1)")
    for t in inp.targets:
        check_target(t, inp)
    pools = _pools(inp, rc)
    record = measure(inp, rc, pools)
    arts = {"perf_record": rc.rel(rc.out_dir / RECORD_FILE), "loadgen_log": rc.rel(rc.out_dir / LOG)}
    data = {"endpoints": {t.role: {"base_url": t.base_url, "model": t.model} for t in inp.targets},
            "load_generator": record["load_generator"], "audit": inp.audit, "modes": list(inp.modes),
            "remeasured": [f"{s['role']}.{m}" for s in record["sides"] for m, mf in s["modes"].items()
                           if len(mf["measurements"]) > 1],
            "candidate_not_measured": inp.candidate_not_measured}
    return {"summary": summary(rc, record), "artifacts": arts, "data": data}


if __name__ == "__main__":
    sys.exit(main(PerfInput, run))

