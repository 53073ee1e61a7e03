"""`conductor bench`: the perf stage alone against any OpenAI-compatible endpoint, for a throughput
figure that was not served from a cache (MLPerf TEST04), without a release around it.

    conductor bench --base-url http://host:8000/v1 --model NAME [--audit test04|none] [--tokenizer DIR]

Runs the perf skill's runner in this process (GuideLLM in its own), then the perf gate as its own
process on the record, prints the figures and the verdict, and exits 0 pass, 1 CACHING_DETECTED or
any other failure (the verdict says which), 2 bad input (a bad URL or option, a model the endpoint
does not serve, a refused API key). Tokens come from the server's usage fields; without them, from
--tokenizer; without one, characters (said so). The answers' quality is never judged here (that is
the serve canary's job). The API key is read from the variable --api-key-env names, never written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import ValidationError

from conductor.executor import LocalExecutor, ProcessSpec
from conductor.fsutil import atomic_write_text
from skills.common.runner import USER_CONFIG_ERROR, RunContext, SkillFailure

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
MODES = ("offline", "single_stream")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", required=True, help="as OpenAI clients take it, e.g. http://host:8000/v1")
    p.add_argument("--model", required=True, help="the served model name")
    p.add_argument("--audit", choices=["test04", "none"], default="test04",
                   help="test04 (default): also the caching audit (one fixed prompt repeated); none: figures only")
    p.add_argument("--tokenizer", metavar="DIR", help="count output tokens with this tokenizer when the server "
                                                      "sends no usage fields (default: characters)")
    p.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the API key")
    p.add_argument("--modes", default="offline,single_stream", help="offline, single_stream, or both (default)")
    p.add_argument("--repetitions", type=int, default=3, help="runs per phase (default 3; the gate needs 2+)")
    p.add_argument("--queries-offline", type=int, default=32, dest="queries_offline")
    p.add_argument("--queries-single-stream", type=int, default=8, dest="queries_single_stream")
    p.add_argument("--max-tokens", type=int, default=64, dest="max_tokens")
    p.add_argument("--no-ignore-eos", action="store_true", help="do not send ignore_eos (for servers that reject it)")
    p.add_argument("--prompts", metavar="FILE", help="JSONL, one {\"prompt\": ...} per line (default: the shipped set)")
    p.add_argument("--prefix-caching", choices=["off", "on", "unknown"], default="unknown", dest="prefix_caching",
                   help="how the server was started, if you know (vLLM's counter is read from /metrics anyway)")
    p.add_argument("--out", metavar="DIR", help="where the record and reports go (default ./bench/<time>)")
    p.add_argument("--json", action="store_true", help="print the gate's verdict as JSON")


def perf_input(args: argparse.Namespace) -> Any:
    from skills.perf import PerfInput

    target = {"role": "endpoint", "base_url": args.base_url, "model": args.model,
              "prefix_caching": args.prefix_caching, "api_key_env": args.api_key_env}
    return PerfInput.model_validate({
        "targets": [target], "audit": None if args.audit == "none" else "test04",
        "modes": [m.strip() for m in args.modes.split(",") if m.strip()], "repetitions": args.repetitions,
        "queries_offline": args.queries_offline, "queries_single_stream": args.queries_single_stream,
        "max_tokens": args.max_tokens, "ignore_eos": not args.no_ignore_eos, "prompts_file": args.prompts,
        "tokenizer": args.tokenizer})


def _first_error(err: ValidationError) -> str:
    e = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in e["loc"] if not isinstance(p, int)) or "input"
    return f"{where}: {e['msg']}"


def run_gate(record: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "gates.perf", "--artifacts", str(record), "--facts-out",
            str(record.with_name("perf_facts.json"))]
    out = LocalExecutor().run(ProcessSpec(argv=argv, capture_stdout=True, timeout_s=600, name="gate perf"))
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"pass": False, "failure_class": "GATE_ERROR", "checks": [], "evidence": {},
                "detail": f"the perf gate printed no verdict (exit {out.exit_code}): {' | '.join(out.log_tail[-3:])}"}


def _fmt(x: Optional[float], unit: str) -> str:
    return "-" if x is None else f"{x:.3g} {unit}"


def figures_lines(verdict: dict[str, Any]) -> list[str]:
    lines = []
    for modes in (verdict.get("evidence", {}).get("figures") or {}).values():
        for mode, ev in modes.items():
            for phase in ("reference", "audit"):
                f = ev.get(phase)
                if not f:
                    continue
                q, o = f.get("qps") or {}, f.get("output_per_s") or {}
                unit = {"characters": "chars/s"}.get(f.get("output_unit"), "tok/s")
                ttft, itl = f.get("ttft_ms") or {}, f.get("itl_ms") or {}
                lines.append(f"  {mode:<14}{phase:<10}{_fmt(q.get('median'), 'qps')} "
                             f"[{_fmt(q.get('min'), '')}-{_fmt(q.get('max'), '')}]  {_fmt(o.get('median'), unit)}  "
                             f"TTFT p50 {_fmt(ttft.get('p50'), 'ms')} p99 {_fmt(ttft.get('p99'), 'ms')}  "
                             f"ITL p50 {_fmt(itl.get('p50'), 'ms')}" + ("  (noisy)" if ev.get("noisy") else ""))
    return lines


def run_bench(args: argparse.Namespace) -> int:
    from skills.perf.run import run

    try:
        inp = perf_input(args)
    except ValidationError as exc:
        sys.stderr.write(f"conductor bench: {_first_error(exc)}\n")
        return EXIT_USAGE
    out = Path(args.out or Path("bench") / time.strftime("%Y%m%d-%H%M%S")).absolute()
    out.mkdir(parents=True, exist_ok=True)
    rc = RunContext(out_dir=out, workspace=out, cwd=Path.cwd())
    try:
        run(inp, rc)
    except SkillFailure as f:
        sys.stderr.write(f"conductor bench: {f.failure_class}: {f.message}\n")
        return EXIT_USAGE if f.failure_class == USER_CONFIG_ERROR else EXIT_FAIL
    verdict = run_gate(out / "perf_record.json")
    atomic_write_text(out / "verdict.json", json.dumps(verdict, indent=2) + "\n")
    if args.json:
        print(json.dumps(verdict))
    else:
        print(f"conductor bench: {args.base_url} model {args.model}"
              + ("" if inp.audit else " (no caching audit)"))
        print("\n".join(figures_lines(verdict)))
        head = "PASS" if verdict.get("pass") else f"FAIL {verdict.get('failure_class')}"
        print(f"{head}: {verdict.get('detail')}\nrecord: {out / 'perf_record.json'}  verdict: {out / 'verdict.json'}")
    return EXIT_PASS if verdict.get("pass") else EXIT_FAIL
