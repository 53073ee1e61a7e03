"""The serve skill's probe mode: an endpoint that already runs (a vLLM on the cluster, a NIM) is
probed instead of starting vLLM, and leaves the same record the serve gate reads.

    python skills/common/launch.py skills.serve.probe --input args.json --out-dir DIR --workspace W

    {"base_url": "http://gpu-node:8000/v1", "model": "candidate", "api_key_env": "NIM_KEY"}

What is probed, in the serve record's own fields (gates/serve/models.py): health, polled until 200
or the ceiling (every probe recorded; GET /health, or, where an endpoint has none, the first of
/v1/health/ready and /v1/models that answers: the record names the path), the model list, the canary
questions through the chat template (greedy), and health once more after them. Nothing is started or
stopped, so there is no server exit and no log; `server_kind` is "endpoint". The API key is read from
the environment variable `api_key_env` names and is written nowhere.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conductor.fsutil import atomic_write_json
from gates.serve.canaries import as_records
from skills.common.apikey import api_key_from_env
from skills.common.endpoint import Endpoint, Probe, check_base_url, endpoint_root
from skills.common.runner import RunContext, main, progress
from skills.serve import RECORD_FILE, Canary
from skills.serve.run import ask

SERVER_KIND = "endpoint"
HEALTH_PATHS = ("/health", "/v1/health/ready", "/v1/models")
INTERVAL_S = 2.0


class ProbeInput(BaseModel):
    """Probe a running OpenAI-compatible endpoint: health, model list, canaries."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="as OpenAI clients take it, e.g. http://host:8000/v1")
    model: str = Field(min_length=1, max_length=512, description="the served model name")
    api_key_env: Optional[str] = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                       description="NAME of the environment variable holding the API key")
    role: str = Field(default="candidate", pattern=r"^(candidate|baseline)$")
    load_ceiling_s: float = Field(default=120.0, gt=0, le=7200,
                                  description="health must answer 200 within this many seconds of the first probe")
    canaries: Optional[list[Canary]] = Field(default=None, min_length=3,
                                             description="default (null): the gate's canary set; leave it null")
    max_tokens: int = Field(default=48, ge=4, le=512)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_base_url(v)


def _get(ep: Endpoint, path: str) -> Probe:
    return ep.health() if path == "/health" else ep.get(path)


def health_path(ep: Endpoint) -> str:
    """The first health path that exists here (404 = not this endpoint's path)."""
    for path in HEALTH_PATHS:
        if _get(ep, path).status not in (404, 405):
            return path
    return HEALTH_PATHS[0]


def poll_health(ep: Endpoint, path: str, ceiling_s: float, *, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep, t0: Optional[float] = None) -> list[dict[str, Any]]:
    """Probes until 200, or until one at/after the ceiling; t_s from t0 (the start of the probing)."""
    start = clock() if t0 is None else t0
    probes: list[dict[str, Any]] = []
    while True:
        p = _get(ep, path)
        probes.append({"t_s": round(clock() - start, 3), "http_status": p.status, "error": p.error})
        if p.status == 200 or probes[-1]["t_s"] >= ceiling_s:
            return probes
        sleep(min(INTERVAL_S, max(0.05, ceiling_s - probes[-1]["t_s"])))


def probe_record(inp: ProbeInput, ep: Endpoint) -> dict[str, Any]:
    """Health, models, canaries, health again: the serve gate's fields plus context it ignores."""
    t0 = time.monotonic()
    path = health_path(ep)
    progress(0.1, f"probing {inp.base_url} ({path}); ceiling {inp.load_ceiling_s:g}s")
    probes = poll_health(ep, path, inp.load_ceiling_s, t0=t0)
    models, canaries, extra = None, [], {}
    if probes[-1]["http_status"] == 200:
        listing = ep.models()
        models = listing.ids
        extra.update(models_error=listing.error, max_model_len_listed=listing.max_model_len)
        records = [c.model_dump() for c in inp.canaries] if inp.canaries else as_records()
        canaries = ask(ep, inp.model, records, inp.max_tokens)
        p = _get(ep, path)
        probes.append({"t_s": round(time.monotonic() - t0, 3), "http_status": p.status, "error": p.error})
    return {"server_kind": SERVER_KIND, "server_version": None, "model_requested": inp.model,
            "base_url": endpoint_root(inp.base_url), "load_ceiling_s": inp.load_ceiling_s, "health_probes": probes,
            "reported_time_to_healthy_s": None, "models_listed": models, "canaries": canaries,
            "server_exit": None, "log_tail": [],
            # context (the collector drops these)
            "mode": "probe", "endpoint": inp.base_url, "health_path": path, "checkpoint_role": inp.role,
            "started_by_us": False, "wall_s": round(time.monotonic() - t0, 3), **extra}


def run_probe(inp: ProbeInput, rc: RunContext) -> dict[str, Any]:
    ep = Endpoint(endpoint_root(inp.base_url), api_key=api_key_from_env(inp.api_key_env))
    record = probe_record(inp, ep)
    path = atomic_write_json(rc.out_dir / RECORD_FILE, record)
    healthy = record["health_probes"][-1]["http_status"] == 200
    answered = sum(1 for c in record["canaries"] if c.get("http_status") == 200)
    summary = (f"probed the running endpoint {inp.base_url} ({inp.model}): "
               + (f"healthy, models {record['models_listed']}, {answered}/{len(record['canaries'])} canaries "
                  "answered" if healthy else f"not healthy within {inp.load_ceiling_s:g}s")
               + "; the serve gate judges the record")
    data = {"requested": inp.role, "served": inp.role if healthy else None, "mode": "probe",
            "base_url": inp.base_url, "model": inp.model, "server_kind": SERVER_KIND}
    return {"summary": summary, "artifacts": {"serve_record": rc.rel(path)}, "data": data}


if __name__ == "__main__":
    sys.exit(main(ProbeInput, run_probe))
