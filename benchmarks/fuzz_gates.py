"""Fuzz every gate's facts through its real CLI entry and print the outcomes per gate.

    .venv/bin/python benchmarks/fuzz_gates.py --n 10000            # 10,000 inputs per gate (in-process)
    .venv/bin/python benchmarks/fuzz_gates.py --n 500 --processes 20 --gates compare audit

Seeds are each gate's facts as its own collector collects them from the committed artifacts, plus
hand-written facts that pass; each input is a seed with one to three mutations (type-variant ids,
out-of-domain values, invisible text, deep nesting, wrong types, NaN/Infinity tokens, huge numbers,
duplicate keys, unknown fields, dropped fields). tests/gate_fuzz.py holds the engine and the
invariants: no traceback, exactly one verdict valid against the output schema, an exit code that
agrees with it, no GATE_ERROR, never exit 0 on input that breaks the input schema. --processes K
also runs K inputs per gate through a real `python -m gates.<gate>` child.

Prints, per gate, the count of each outcome (exit 0 pass / exit 1 <class> / exit 2 USER_CONFIG_ERROR /
VIOLATION:<kind>) and the time per input; writes the first violating inputs to --save. Exit 1 if any
invariant broke.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gates import GATE_NAMES  # noqa: E402
from tests.gate_fuzz import Outcome, all_seeds, fuzzed, judge, judge_process  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000, help="fuzzed inputs per gate, in-process (default 10000)")
    ap.add_argument("--processes", type=int, default=0, help="inputs per gate through a real child process")
    ap.add_argument("--seed", default="0")
    ap.add_argument("--gates", nargs="+", default=list(GATE_NAMES), choices=GATE_NAMES)
    ap.add_argument("--save", type=Path, default=Path("/tmp/fuzz_gates_violations"),
                    help="directory for the first violating inputs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-gates-"))
    broken = 0
    try:
        seeds = all_seeds(tmp / "seeds")
        print(f"{'gate':10} {'inputs':>7} {'ms/input':>9}  outcomes")
        for gate in args.gates:
            counts: Counter[str] = Counter()
            r = random.Random(f"{args.seed}:{gate}")
            t0 = time.perf_counter()
            for i in range(args.n + args.processes):
                text, fams = fuzzed(r.choice(seeds[gate]), r)
                out: Outcome = judge(gate, text, tmp) if i < args.n else judge_process(gate, text, tmp)
                counts[out.label + (" (process)" if i >= args.n else "")] += 1
                if out.violations:
                    broken += 1
                    if broken <= 20:
                        args.save.mkdir(parents=True, exist_ok=True)
                        (args.save / f"{gate}-{i}.json").write_text(text, encoding="utf-8")
                        print(f"  VIOLATION {gate} {fams}: {out.violations[0][:200]}", flush=True)
            ms = (time.perf_counter() - t0) * 1e3 / max(1, args.n + args.processes)
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            print(f"{gate:10} {args.n + args.processes:>7} {ms:>9.1f}  {parts}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"invariants broken: {broken}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
