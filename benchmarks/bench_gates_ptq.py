"""Benchmark the ptq gate: collector + decision on a small and a multi-GB checkpoint, and the CLI process.

    .venv/bin/python benchmarks/bench_gates_ptq.py [--runs 7] [--keep DIR]

The large checkpoints are sparse files (header written, then extended with truncate), so a
~60 GB (source + export) MoE pair costs a few MB of disk: the gate reads headers, the scale
tensors and three 4 KiB windows of each quantized weight (the fixture writes exactly those bytes),
so sparse and dense files time the same. Prints min and median of several runs for each figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gates.ptq.collect import collect_dirs  # noqa: E402
from gates.ptq.decide import decide  # noqa: E402
from gates.recipes import load_recipe  # noqa: E402
from tests.fixtures import checkpoints as ck  # noqa: E402

CASES = {
    # name: (config, shards)
    "small (tiny llama, 2 layers)": (ck.llama_config(), 1),
    "dense 8B-shaped (32 layers, 4096/14336)": (
        ck.llama_config(hidden=4096, inter=14336, layers=32, heads=32, kv_heads=8, vocab=128256), 4),
    "MoE 30B-shaped (48 layers x 64 experts, 2048/768)": (
        ck.llama_config(hidden=2048, inter=768, layers=48, heads=32, kv_heads=4, vocab=151936, experts=64), 16),
}


def _stats(times: list[float]) -> str:
    return f"min {min(times) * 1e3:8.1f} ms   median {statistics.median(times) * 1e3:8.1f} ms"


def _time(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_case(root: Path, name: str, cfg: dict, shards: int, runs: int) -> Path:
    src, exp = ck.synthetic_pair(root, "fp8", cfg=cfg, shards=shards, sparse=True)
    recipe = load_recipe("fp8")
    facts = collect_dirs(src, exp, recipe)
    verdict = decide(facts)
    assert verdict.passed, verdict.detail
    n = sum(g.count for g in facts.layers)
    print(f"\n{name}: {n} weight matrices, {facts.export.tensors} export tensors, "
          f"{(facts.source.file_bytes + facts.export.file_bytes) / 2**30:.1f} GiB apparent "
          f"({len(facts.layers)} layer groups in the facts)")
    print(f"  collect + decide  {_stats(_time(lambda: decide(collect_dirs(src, exp, recipe)), runs))}")
    print(f"  decide only       {_stats(_time(lambda: decide(facts), runs))}")
    facts_file = root / "facts.json"
    facts_file.write_text(facts.model_dump_json())
    return facts_file


def bench_cli(facts_file: Path, runs: int) -> None:
    cmd = [sys.executable, "-m", "gates.ptq", "--input", str(facts_file)]

    def once() -> None:
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        assert p.returncode == 0 and json.loads(p.stdout)["pass"], p.stdout + p.stderr

    print(f"\nwhole process `python -m gates.ptq --input facts.json` ({facts_file.stat().st_size} bytes of facts)")
    print(f"  {_stats(_time(once, runs))}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--keep", type=Path, default=None, help="build the checkpoints here and keep them")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_ptq_") as tmp:
        root = args.keep or Path(tmp)
        facts_files = [bench_case(root / f"case{i}", name, cfg, shards, args.runs)
                       for i, (name, (cfg, shards)) in enumerate(CASES.items())]
        bench_cli(facts_files[0], args.runs)
        bench_cli(facts_files[-1], args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
