"""Every gate's CLI as a whole process (interpreter start included), deciding and collecting.

    .venv/bin/python benchmarks/bench_gates.py [--runs 5]

Builds artifacts from the committed fixtures (a real lm-eval output, a synthetic fp8 checkpoint
pair, a serve record), collects each gate's facts once with --artifacts --facts-out, then times
`python -m gates.<name> --input facts.json` (deciding) and `--artifacts ...` (collecting then
deciding). Target: deciding well under a second per gate. Prints min / median / max.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures import checkpoints as ck  # noqa: E402
from tests.unit.test_gate_serve import record  # noqa: E402

LMEVAL = REPO / "tests" / "fixtures" / "lmeval_real_output"


def artifacts(tmp: Path) -> dict[str, list[str]]:
    base, cand = tmp / "base", tmp / "cand"
    shutil.copytree(LMEVAL, base)
    shutil.copytree(LMEVAL, cand)
    src, exp = ck.synthetic_pair(tmp / "ckpt", "fp8")
    (tmp / "serve_record.json").write_text(json.dumps(record()))
    return {
        "ptq": ["--artifacts", str(src), str(exp), "--recipe", "fp8"],
        "serve": ["--artifacts", str(tmp / "serve_record.json")],
        "eval_run": ["--artifacts", str(base)],
        "compare": ["--artifacts", str(base), str(cand)],
        "verbosity": ["--artifacts", str(base), str(cand)],
        "audit": ["--artifacts", str(base), str(cand)],
    }


def timed(argv: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - t0, p.returncode


def fmt(ts: list[float]) -> str:
    return f"min {min(ts)*1e3:6.0f} ms  median {statistics.median(ts)*1e3:6.0f} ms  max {max(ts)*1e3:6.0f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        arts = artifacts(tmp)
        print(f"{'gate':10} {'what':8} exit  timing ({args.runs} runs, whole process)")
        for gate, art in arts.items():
            facts = tmp / f"{gate}.facts.json"
            subprocess.run([sys.executable, "-m", f"gates.{gate}", *art, "--facts-out", str(facts)], cwd=REPO,
                           capture_output=True)
            for what, argv in (("decide", [f"gates.{gate}", "--input", str(facts)]),
                               ("collect", [f"gates.{gate}", *art])):
                runs = [timed(argv) for _ in range(args.runs)]
                print(f"{gate:10} {what:8} {runs[0][1]:>4}  {fmt([t for t, _ in runs])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
