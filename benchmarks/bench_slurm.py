"""Benchmark of the SLURM executor on the test cluster: what it adds to each job, and overlapped stages.

    .venv/bin/python benchmarks/bench_slurm.py [--jobs 10] [--poll 1.0 0.25] [--dag 6]

Starts the test cluster (scripts/slurm_cluster.py, as root) when it is not running, and stops it at
the end in that case. Each job is `sh -c` printing its own start and end clocks, so the figures are:

1. submit -> start: from the executor's submit() call to the job's first instruction (writing the
   batch script, sbatch, SLURM's scheduling, slurmd starting the step). Mostly SLURM's; the poll
   interval does not enter.
2. end -> result: from the job's last instruction to run() returning its outcome (the next squeue
   poll, sacct for the exit code of a job that did not complete, reading the rest of the output).
   Bounded by the poll interval; a FAILED job adds sacct's accounting lag.
3. --dag S: three jobs that sleep S seconds each, shaped like a release: PTQ and the baseline
   evaluation at once, the candidate evaluation after PTQ. Wall time against the critical path
   (PTQ + candidate evaluation = 2 S), and the overlap of the two first jobs. Each job on the
   critical path pays SLURM's submit -> start once, so the excess shrinks as stages grow (measured
   here under load 11: +70% at S=6, +5.3% at S=60).

Also the conductor's CPU time per job (this process and the squeue/sacct it ran). The machine may be
shared: the 1-minute load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor.executor import ProcessSpec  # noqa: E402
from conductor.slurm import SlurmExecutor, SlurmSettings  # noqa: E402

STAMPS = "echo T0 $(date +%s.%N); echo T1 $(date +%s.%N)"


def cluster(action: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "slurm_cluster.py"), action, "--json"],
                          capture_output=True, text=True, timeout=300, check=False)


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def one_job(ex: SlurmExecutor, workdir: Path, exit_code: int) -> tuple[float, float]:
    """(submit -> start, end -> result) in seconds for one job."""
    cmd = STAMPS + (f"; exit {exit_code}" if exit_code else "")
    spec = ProcessSpec(argv=["sh", "-c", cmd], cwd=str(workdir), name="bench:job")
    t_submit = time.time()
    out = ex.run(spec)
    t_result = time.time()
    stamps = {ln.split()[0]: float(ln.split()[1]) for ln in out.log_tail if ln.startswith(("T0 ", "T1 "))}
    want = "COMPLETED" if exit_code == 0 else "FAILED"
    if out.finding != want or len(stamps) != 2:
        raise SystemExit(f"bench_slurm: a job ended {out.finding} ({out.detail}); log: {out.log_tail[-5:]}")
    return stamps["T0"] - t_submit, t_result - stamps["T1"]


def summary(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"median {statistics.median(xs):.2f}s  p90 {p90:.2f}s  max {xs[-1]:.2f}s"


def overhead(workdir: Path, n: int, poll_s: float, exit_code: int) -> None:
    ex = SlurmExecutor(SlurmSettings(poll_s=poll_s), state_dir=workdir / "slurm", run_tag=f"bench{os.getpid()}")
    c0 = cpu_s()
    runs = [one_job(ex, workdir, exit_code) for _ in range(n)]
    cpu = (cpu_s() - c0) / n
    kind = "exit 0 (COMPLETED)" if exit_code == 0 else f"exit {exit_code} (FAILED: sacct for the code)"
    print(f"poll {poll_s:>4}s, {n} jobs, {kind}:")
    print(f"  submit -> start  {summary([r[0] for r in runs])}")
    print(f"  end -> result    {summary([r[1] for r in runs])}")
    print(f"  conductor CPU    {cpu * 1000:.0f} ms per job (this process + its squeue/sacct calls)")


def dag(workdir: Path, stage_s: float) -> None:
    """PTQ || baseline eval, then candidate eval after PTQ: wall vs the critical path (2 stages)."""
    ex = SlurmExecutor(SlurmSettings(poll_s=0.5), state_dir=workdir / "slurm", run_tag=f"dag{os.getpid()}")
    sleep = ["sh", "-c", f"sleep {stage_s}"]
    outs: dict[str, object] = {}

    def stage(name: str) -> None:
        outs[name] = ex.run(ProcessSpec(argv=sleep, cwd=str(workdir), name=name))

    t0 = time.monotonic()
    base = threading.Thread(target=stage, args=("evaluate:baseline",))
    base.start()
    stage("quantize:ptq")
    stage("evaluate:candidate")
    base.join()
    wall = time.monotonic() - t0
    crit = 2 * stage_s
    recs = {k: v.status for k, v in outs.items()}  # type: ignore[attr-defined]
    both = min(recs["quantize:ptq"].end_time, recs["evaluate:baseline"].end_time) - \
        max(recs["quantize:ptq"].start_time, recs["evaluate:baseline"].start_time)
    print(f"overlapped stages, {stage_s:.0f}s each: wall {wall:.1f}s vs critical path {crit:.0f}s "
          f"(+{100 * (wall - crit) / crit:.1f}%; serial would be {3 * stage_s:.0f}s); "
          f"PTQ and baseline evaluation overlapped {both:.0f}s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=10)
    p.add_argument("--poll", type=float, nargs="+", default=[1.0, 0.25], help="poll intervals to measure")
    p.add_argument("--dag", type=float, default=6.0, help="seconds per stage of the overlap run (0: skip)")
    a = p.parse_args()
    started = cluster("status").returncode != 0
    if started:
        up = cluster("start")
        if up.returncode != 0:
            print(f"bench_slurm: the test cluster did not start: {up.stderr.strip()[-500:]}", file=sys.stderr)
            return 2
    os.environ["SLURM_CONF"] = json.loads(cluster("status").stdout)["slurm_conf"]
    try:
        print(f"SLURM executor overhead (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        with tempfile.TemporaryDirectory(prefix="bench-slurm-") as d:
            for poll_s in a.poll:
                overhead(Path(d), a.jobs, poll_s, 0)
            overhead(Path(d), max(3, a.jobs // 3), a.poll[0], 1)
            if a.dag > 0:
                dag(Path(d), a.dag)
    finally:
        if started:
            cluster("stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
