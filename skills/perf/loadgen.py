"""The load generator: GuideLLM (PyPI `guidellm`), driven through its own command line, every job of a
plan in this one process (its start-up is paid once, not per phase).

    python skills/common/launch.py skills.perf.loadgen --plan plan.json --results results.json

A job is one run of one phase: a prompts file (one request per line, in order), a query count, a mode
(offline: GuideLLM's `throughput` profile, every request at once; single_stream: `synchronous`, one at a
time) and where GuideLLM writes its JSON report (per-request records). Around each job the server's
prefix-cache counter is read from /metrics. results.json is rewritten (atomically) after every job,
so a crash loses nothing already measured. The API key is read from the named environment variable
in this process and handed to GuideLLM in memory: it is in no argv, file or log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from conductor.fsutil import atomic_write_json
from skills.common.endpoint import Endpoint
from skills.perf.cachemetrics import delta, hits_total

NAME = "guidellm"


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    root: str = Field(description="the endpoint without /v1")
    model: str
    api_key_env: Optional[str] = None
    mode: str
    prompts_file: str
    requested: int = Field(ge=1)
    report: str
    max_tokens: int
    ignore_eos: bool = True
    request_timeout_s: float = 600.0


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[Job]
    load_workers: Optional[int] = None


class JobResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    loadgen_error: Optional[str] = None
    wall_s: float
    prefix_cache_hits: Optional[int] = None


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return f"{NAME} {dist_version(NAME)}"
    except PackageNotFoundError:
        return f"{NAME} (not installed)"


def guidellm_argv(job: Job, api_key: Optional[str]) -> list[str]:
    """The `guidellm run` arguments of one job (JSON objects, so no value needs escaping)."""
    body: dict[str, Any] = {"temperature": 0}
    if job.ignore_eos:
        body["ignore_eos"] = True
    backend: dict[str, Any] = {"kind": "openai_http", "target": job.root, "model": job.model,
                               "max_tokens": job.max_tokens, "timeout": job.request_timeout_s,
                               "validate_backend": False, "extras": {"body": body}}
    if api_key:
        backend["api_key"] = api_key
    # offline: every query issued at once (MLPerf's offline scenario); single stream: one after another
    profile = ({"kind": "throughput", "max_concurrency": job.requested} if job.mode == "offline"
               else {"kind": "synchronous"})
    return ["run", "--backend", json.dumps(backend), "--profile", json.dumps(profile),
            "--data", json.dumps({"kind": "json_file", "path": job.prompts_file}),
            "--constraint", json.dumps({"kind": "max_requests", "count": job.requested}),
            "--output", json.dumps({"kind": "json", "path": job.report}),
            "--disable-console-interactive"]


def redacted(argv: list[str]) -> list[str]:
    """The argv as it may be shown or recorded: an api_key value replaced."""
    out = []
    for a in argv:
        try:
            obj = json.loads(a)
        except ValueError:
            out.append(a)
            continue
        if isinstance(obj, dict) and "api_key" in obj:
            obj["api_key"] = "<from $env>"
        out.append(json.dumps(obj) if isinstance(obj, dict) else a)
    return out


def _invoke(argv: list[str]) -> Optional[str]:
    """Run GuideLLM's CLI in this process; None on success, else one sentence."""
    from guidellm.__main__ import cli  # lazily: only this process imports GuideLLM

    try:
        cli.main(args=argv, prog_name="guidellm", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return f"guidellm exited with {exc.code}"
    except Exception as exc:  # GuideLLM's own failure is a fact of this run, not a crash of ours
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return f"guidellm raised {type(exc).__name__}: {first}"
    return None


def run_job(job: Job) -> JobResult:
    key = os.environ.get(job.api_key_env) if job.api_key_env else None
    ep = Endpoint(job.root, api_key=key)
    before = hits_total(ep.metrics_text())
    Path(job.report).parent.mkdir(parents=True, exist_ok=True)
    argv = guidellm_argv(job, key)
    print(f"[perf] job {job.id}: guidellm {' '.join(redacted(argv))}", flush=True)
    t0 = time.monotonic()
    error = _invoke(argv)
    wall = time.monotonic() - t0
    if error is None and not Path(job.report).is_file():
        error = "guidellm finished without writing its report"
    hits = delta(before, hits_total(ep.metrics_text()))
    print(f"[perf] job {job.id}: {'ok' if error is None else error} in {wall:.1f}s; prefix-cache hits {hits}",
          flush=True)
    return JobResult(id=job.id, loadgen_error=error, wall_s=round(wall, 3), prefix_cache_hits=hits)


def configure_env(load_workers: Optional[int]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # GuideLLM may look a tokenizer up by the model's name
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("GUIDELLM__LOGGING__CONSOLE_LOG_LEVEL", "WARNING")
    if load_workers:
        os.environ["GUIDELLM__MAX_WORKER_PROCESSES"] = str(load_workers)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="run every job of a perf plan with GuideLLM")
    p.add_argument("--plan", required=True)
    p.add_argument("--results", required=True)
    args = p.parse_args(argv)
    plan = Plan.model_validate_json(Path(args.plan).read_text(encoding="utf-8"))
    configure_env(plan.load_workers)
    results: list[dict[str, Any]] = []
    for job in plan.jobs:
        results.append(run_job(job).model_dump())
        atomic_write_json(args.results, {"load_generator": version(), "results": results})
    atomic_write_json(args.results, {"load_generator": version(), "results": results})
    return 0


if __name__ == "__main__":  # GuideLLM's worker processes are spawned: they re-import this module
    sys.exit(main())
