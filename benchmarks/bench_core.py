"""Benchmark of the conductor core: its own cost per event, and replaying a 10,000-event run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_core.py [--events 10000]

1. Overhead per event: a whole run through the real loop (tool registry, JSON Schema validation,
   stage machine, triage, budget, event bus, redacting transcript writer with its fsyncs, seals,
   closeout) with the provider and the skills taken out: the scripted provider answers at once and
   a null world serves skill results and PASS verdicts without processes. Provider and skill time
   are measured and subtracted anyway. Target: < 5 ms per event.
2. Replay: a run of about 10,000 recorded events (six gated stages with real gate processes, the
   rest turns reading artifacts), recorded through the live loop, then replayed by
   `conductor.replay.replayer.replay_transcript` as `conductor replay` does (gates re-decided in-process):
   every turn served, every gate re-run on its facts and compared. Target: < 2 s wall (the median
   of --repeat replays). For reference, the same replay with each gate as a child process.

The machine may be shared: every figure comes with the 1-minute load average when it was taken,
and CPU time (this process + its reaped children) next to wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor.engine.approver import NoHumanApprover  # noqa: E402
from conductor.engine.attempt import SkillRun  # noqa: E402
from conductor.engine.config import load_config  # noqa: E402
from conductor.engine.session import run_session  # noqa: E402
from conductor.gating.runner import GateRun  # noqa: E402
from conductor.providers.scripted import ScriptedProvider, tool_use  # noqa: E402
from conductor.replay.replayer import replay_transcript  # noqa: E402
from conductor.runtime.skill import SkillResult  # noqa: E402
from conductor.transcript.events import verdict_record  # noqa: E402
from conductor.transcript.jsonl import read_transcript  # noqa: E402
from gates.contract import Verdict  # noqa: E402
from tests.fakes.harness import FAKE_GATES  # noqa: E402
from tests.fakes.skills import FakeSkill  # noqa: E402

STAGES = ["quantize", "serve", "eval_baseline", "eval_candidate", "compare", "audits"]
EVENTS_PER_READ_TURN = 3  # assistant_message, tool_call, tool_result (budget is live-only)


class NullWorld:
    """Skills and gates without processes: the loop's own cost is all that is left."""

    def __init__(self, workspace: Any):
        self.ws = workspace
        self.skill_s = 0.0

    def new_attempt(self, stage: str):
        return self.ws.new_attempt_dir(stage)

    def prepare(self, call, ctx):
        return ["null-skill"], str(ctx.out_dir / "skill.log")

    def run_skill(self, call, ctx, argv, log_path, on_line, timeout_s) -> SkillRun:
        t0 = time.perf_counter()
        res = {"ok": True, "summary": "null", "artifacts": {}, "data": {}}
        run = SkillRun(0, 0.0, SkillResult.model_validate(res), res)
        self.skill_s += time.perf_counter() - t0
        return run

    def run_gates(self, call, ctx, result, required, on_gate) -> list[GateRun]:
        outs = []
        for g in required:
            v = Verdict.model_validate({"gate": g, "pass": True, "failure_class": None, "detail": "null", "checks": [
                {"name": "null", "pass": True, "detail": "null"}], "evidence": {"decision": "ACCEPT"}})
            out = GateRun(gate=g, verdict=v, facts={"null": True}, exit_code=0)
            on_gate(out)
            outs.append(out)
        return outs

    def seal(self, stage, attempt, result, verdicts, inp):
        records = [verdict_record(v) for v in verdicts]
        path = self.ws.seal(stage, result.artifacts, records, result, inp, attempt=attempt)
        return self.ws.load_seal(stage).hashes(), self.ws.rel(path)

    def read(self, name, tool_use_id, inp):
        from conductor.engine.tools import READ_ARTIFACT, list_workspace, read_artifact

        return read_artifact(self.ws.root, inp) if name == READ_ARTIFACT else list_workspace(self.ws.root, inp)


def reading_operator(skills: Sequence[Any], reads_per_stage: int) -> tuple[ScriptedProvider, dict[str, float]]:
    """Reads config.json `reads_per_stage` times in each stage, then calls the stage's skill."""
    by_stage = {s.stage: s for s in skills}
    seen: dict[str, int] = {}
    timing = {"provider_s": 0.0}

    def respond(req):
        t0 = time.perf_counter()
        n = seen[req.stage] = seen.get(req.stage, 0) + 1
        resp = (tool_use("read_artifact", {"path": "config.json", "max_bytes": 2000}) if n <= reads_per_stage
                else tool_use(by_stage[req.stage].name, {"recipe": "fp8"}))
        timing["provider_s"] += time.perf_counter() - t0
        return resp

    return ScriptedProvider(respond), timing


def _config(ws: Path, turns: int):
    return load_config(overrides={"workspace": str(ws), "provider": "scripted", "budgets.max_turns": turns + 50})


def bench_overhead(tmp: Path, reads_per_stage: int) -> dict[str, float]:
    from conductor.runtime.workspace import Workspace

    skills = [FakeSkill(s) for s in STAGES]
    provider, timing = reading_operator(skills, reads_per_stage)
    ws = Workspace(tmp / "overhead")
    world = NullWorld(ws)
    events: list[Any] = []
    t0 = time.perf_counter()
    out = run_session(_config(ws.root, reads_per_stage * len(STAGES)), provider, skills, NoHumanApprover(),
                      listeners=[events.append], gate_prefix=FAKE_GATES, workspace=ws, world_factory=lambda e: world)
    wall = time.perf_counter() - t0
    own = wall - timing["provider_s"] - world.skill_s
    assert out.decision == "ACCEPT", out.reason
    return {"events": len(events), "wall_s": wall, "provider_s": timing["provider_s"], "skill_s": world.skill_s,
            "own_s": own, "ms_per_event": 1000 * own / len(events)}


def _cpu_s() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def _load() -> float:
    return os.getloadavg()[0]


def timed_replays(path: Path, repeat: int, gate_mode: str) -> dict[str, Any]:
    """`repeat` replays: wall and CPU (own + children) each, with the load when each ended."""
    runs = []
    for _ in range(repeat):
        t0, c0, own0 = time.perf_counter(), _cpu_s(), time.process_time()
        rep = replay_transcript(path, gate_mode=gate_mode)
        runs.append({"wall_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0,
                     "own_cpu_s": time.process_time() - own0, "load": _load()})
        assert rep.divergence is None, rep.divergence
        assert rep.gates_mode == gate_mode
    return {"runs": runs, "gates_rerun": rep.gates_rerun, "gates_mode": rep.gates_mode,
            "median_wall_s": statistics.median(r["wall_s"] for r in runs),
            "median_cpu_s": statistics.median(r["cpu_s"] for r in runs)}


def record_replayable(tmp: Path, target_events: int) -> dict[str, Any]:
    skills = [FakeSkill(s) for s in STAGES]
    reads = max(1, (target_events - 60) // (EVENTS_PER_READ_TURN * len(STAGES)))
    provider, _ = reading_operator(skills, reads)
    ws = tmp / "replayed"
    t0 = time.perf_counter()
    out = run_session(_config(ws, reads * len(STAGES)), provider, skills, NoHumanApprover(), gate_prefix=FAKE_GATES)
    record_s = time.perf_counter() - t0
    assert out.decision == "ACCEPT", out.reason
    path = ws / "transcript.jsonl"
    t1 = time.perf_counter()
    n = len(read_transcript(path).events)
    read_s = time.perf_counter() - t1
    return {"path": path, "events": n, "record_s": record_s, "read_s": read_s, "bytes": path.stat().st_size}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "OVER"


def print_replays(label: str, r: dict[str, Any], target_s: Optional[float]) -> None:
    each = ", ".join(f"{x['wall_s']:.2f} s wall / {x['cpu_s']:.2f} s CPU (own {x['own_cpu_s']:.2f}) "
                     f"@ load {x['load']:.1f}" for x in r["runs"])
    line = (f"  {label}: {r['gates_rerun']} gates re-run {r['gates_mode']}; median {r['median_wall_s']:.3f} s wall, "
            f"{r['median_cpu_s']:.3f} s CPU incl. children")
    if target_s is not None:
        line += f" (target < {target_s:g} s wall) {_verdict(r['median_wall_s'] < target_s)}"
    print(line)
    print(f"    runs: {each}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000, help="size of the replayed transcript")
    ap.add_argument("--reads-per-stage", type=int, default=200, help="turns per stage in the overhead run")
    ap.add_argument("--repeat", type=int, default=3, help="replays per gate mode (the median is judged)")
    ap.add_argument("--no-reference", action="store_true", help="skip the replay with gates as child processes")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-core-") as d:
        tmp = Path(d)
        o = bench_overhead(tmp, args.reads_per_stage)
        print(f"overhead: {o['events']} events in {o['wall_s']:.3f} s wall @ load {_load():.1f} "
              f"(provider {o['provider_s'] * 1000:.1f} ms, skills {o['skill_s'] * 1000:.1f} ms excluded) -> "
              f"{o['ms_per_event']:.3f} ms per event (target < 5 ms) {_verdict(o['ms_per_event'] < 5)}")
        r = record_replayable(tmp, args.events)
        print(f"replay: {r['events']} recorded events ({r['bytes'] / 1e6:.1f} MB, recorded in {r['record_s']:.2f} s); "
              f"read {r['read_s']:.3f} s @ load {_load():.1f}")
        print_replays("conductor replay", timed_replays(r["path"], args.repeat, "in-process"), 2.0)
        if not args.no_reference:
            print_replays("reference, gates as child processes",
                          timed_replays(r["path"], args.repeat, "processes"), None)
        print(f"machine load at the end: {_load():.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
