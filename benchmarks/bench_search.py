"""The recipe-search ladder on the embedded model, measured: can search repair a broken int8_sq?

    PYTHONPATH=. .venv/bin/python benchmarks/bench_search.py --limit 60 --workdir /tmp/bench_search
    PYTHONPATH=. .venv/bin/python benchmarks/bench_search.py --workdir /tmp/bench_search --print-only

`int8_sq` calibrated on 8 x 64 tokens breaks SmolLM2-135M (notes/embedded.md). This script runs, as
the conductor runs them (the skills' runners in a workspace, the real gates):
  1. the baseline evaluation (the evaluate skill, in-process hf, `--limit` samples per task), once;
  2. the sensitivity skill for int8_sq at that calibration (30 layer groups, ranked);
  3. each rung of the ladder as a recipe proposal (gates/recipes/proposal.py): quantize (modelopt),
     the ptq gate against the proposal's recipe, the candidate's evaluation (simulated quantization),
     and the compare gate at the release defaults (0.01 absolute, anomalous gain 0.05).
Then it prints one row per rung: what was kept unquantized, the weight-size ratio the ptq gate
measured, the held-out loss the quantize skill measured, the score per task, and the compare verdict.
Every step's result is kept in --workdir and reused by a later call (delete a rung's folder to rerun
it); --print-only prints what is there. Wall times depend on the machine's load (printed with them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gates.recipes.proposal import ProposalError  # noqa: E402
from skills.compare import Criterion, compare_args  # noqa: E402
from skills.quantize.proposal import plan_proposal  # noqa: E402
from tests.embedded_release import (  # noqa: E402
    NOT_SERVED,
    context,
    embedded_checkpoint,
    gate,
    release_config,
    run_skill,
)

THRESHOLD = Criterion(0.01, "absolute", 0.05)  # the release config's defaults
BROKEN = {"calib_size": 8, "calib_seq_len": 64}  # the calibration that breaks int8_sq on SmolLM2
RUNGS: dict[str, dict[str, Any]] = {
    "int8_sq@8x64": {"base": "int8_sq", **BROKEN},
    "top1@8x64": {"base": "int8_sq", **BROKEN, "sensitive": 1},
    "top3@8x64": {"base": "int8_sq", **BROKEN, "sensitive": 3},
    "top6@8x64": {"base": "int8_sq", **BROKEN, "sensitive": 6},
    "int8_sq@64x256": {"base": "int8_sq", "calib_size": 64, "calib_seq_len": 256},
    "top3@64x256": {"base": "int8_sq", "calib_size": 64, "calib_seq_len": 256, "sensitive": 3},
    "fp8@8x64": {"base": "fp8", **BROKEN},
}
TASKS = ("conductor_facts_mc", "conductor_facts_gen")


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def cached(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def baseline(work: Path, base: Path, limit: int) -> tuple[Path, Any]:
    ws = work / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    done = ws / "baseline.json"
    if cached(done) is None:
        ctx = context(ws, base, None, release_config(limit), {"serve": NOT_SERVED})
        res, log, secs = run_skill("skills.evaluate.run", {"side": "baseline"}, ws, "eval_baseline", ctx)
        if not res.ok:
            raise SystemExit(f"baseline evaluation failed: {res.error}\n{log[-2000:]}")
        done.write_text(json.dumps({"result": res.model_dump(mode="json"), "seconds": secs, "load": load()}))
        print(f"baseline evaluated in {secs:.0f}s ({load()})", flush=True)
    from conductor.runtime.skill import SkillResult

    return ws, SkillResult.model_validate(cached(done)["result"])


def sensitivity(work: Path, base: Path, given: Path | None) -> dict[str, Any]:
    """The sensitivity skill's result (run once), or a ranking.json measured before (--ranking)."""
    ws = work / "ws"
    done = ws / "sensitivity.json"
    if cached(done) is None and given is not None:
        data = json.loads(given.read_text())
        (ws / "ranking.json").write_text(json.dumps(data))
        done.write_text(json.dumps({"result": {"data": data, "artifacts": {"ranking": "ranking.json"}},
                                    "seconds": data["seconds"], "load": f"given {given}"}))
    if cached(done) is None:
        ctx = context(ws, base, None, {"model": str(base), "recipe": "int8_sq"})
        res, log, secs = run_skill("skills.sensitivity.run", {"recipe": "int8_sq", **BROKEN}, ws, "sensitivity", ctx)
        if not res.ok:
            raise SystemExit(f"sensitivity failed: {res.error}\n{log[-2000:]}")
        done.write_text(json.dumps({"result": res.model_dump(mode="json"), "seconds": secs, "load": load()}))
        print(f"sensitivity measured in {secs:.0f}s ({load()}): {res.summary}", flush=True)
    return cached(done)


def proposal(name: str, rung: dict[str, Any], ranking: str) -> dict[str, Any]:
    p = {k: v for k, v in rung.items() if k != "sensitive"}
    if rung.get("sensitive"):
        p["exclude_sensitive"] = {"ranking": ranking, "top_k": rung["sensitive"]}
    return {**p, "reason": f"ladder rung {name}"}


def quantize(out: Path, inp: dict[str, Any]) -> tuple[Any, float]:
    import subprocess

    from conductor.runtime.skill import SkillResult
    from tests.embedded_release import OFFLINE

    out.mkdir(parents=True, exist_ok=True)
    (out / "input.json").write_text(json.dumps(inp))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "skills.quantize.run", "--input", str(out / "input.json"),
                           "--out-dir", str(out), "--workspace", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **OFFLINE}, check=False)
    if not (out / "result.json").is_file():
        raise SystemExit(f"quantize wrote no result: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return SkillResult.model_validate_json((out / "result.json").read_text()), time.monotonic() - t0


def task_rows(v: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["task"]: r for r in v["evidence"].get("tasks", [])}


def run_rung(name: str, rung: dict[str, Any], ws: Path, base: Path, b: Any, limit: int, ranking: str) -> dict:
    """quantize -> ptq gate -> evaluate the candidate -> compare gate; the facts of one rung."""
    folder = ws / "rungs" / name
    done = folder / "rung.json"
    if cached(done) is not None:
        return cached(done)
    try:
        planned = plan_proposal(proposal(name, rung, ranking), base, ws)
    except ProposalError as exc:
        return {"rung": name, "refused": str(exc)}
    q, q_secs = quantize(folder / "quantize", planned.quantize_input.model_dump(mode="json", exclude_none=True))
    row: dict[str, Any] = {"rung": name, "proposal": planned.resolved.proposal.model_dump(mode="json"),
                           "excluded_modules": len(planned.resolved.excluded_modules),
                           "patterns": planned.resolved.exclude_patterns, "quantize_seconds": round(q_secs, 1),
                           "load": load()}
    if not q.ok:
        return {**row, "quantize_failed": f"{q.failure_class}: {q.error}"}
    (folder / "recipe.json").write_text(planned.resolved.recipe.model_dump_json())
    ptq = gate("ptq", base, q.artifacts["export"], args=("--recipe", str(folder / "recipe.json")))
    row.update({"ptq": ptq["failure_class"] or "PASS", "size_ratio": ptq["evidence"].get("size_ratio"),
                "heldout_nll": q.data["heldout_nll"]})
    ctx = context(ws, base, q, release_config(limit), {"serve": NOT_SERVED, "eval_baseline": b})
    c, _log, e_secs = run_skill("skills.evaluate.run", {"side": "candidate"}, ws, "eval_candidate", ctx)
    row["eval_seconds"] = round(e_secs, 1)
    if not c.ok:
        return {**row, "eval_failed": f"{c.failure_class}: {c.error}"}
    args = compare_args(ws / b.artifacts["lmeval_dir"], ws / c.artifacts["lmeval_dir"], THRESHOLD)
    v = gate("compare", *args[1:3], args=tuple(args[3:]))
    row.update({"compare": v["failure_class"] or "PASS", "tasks": {
        t: {k: r.get(k) for k in ("baseline_unit", "candidate_unit", "drop", "mde", "significant_drop")}
        for t, r in task_rows(v).items()}})
    folder.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(row, indent=2))
    return row


def fmt(row: dict[str, Any]) -> str:
    if "refused" in row or "quantize_failed" in row or "eval_failed" in row:
        why = row.get("refused") or row.get("quantize_failed") or row.get("eval_failed")
        return f"{row['rung']:<16} {str(why)[:100]}"
    nll = row["heldout_nll"]
    cells = []
    for t in TASKS:
        r = row["tasks"].get(t) or {}
        cells.append(f"{r.get('baseline_unit', 0):.3f}->{r.get('candidate_unit', 0):.3f} ({-r.get('drop', 0):+.3f})")
    return (f"{row['rung']:<16} {row['excluded_modules']:>4} {row['size_ratio']:.3f} {nll['delta']:+.3f}  "
            f"{cells[0]:<22} {cells[1]:<22} {row['compare']:<22} q {row['quantize_seconds']:.0f}s "
            f"eval {row['eval_seconds']:.0f}s ({row['load']})")


def report(work: Path, rows: list[dict[str, Any]]) -> None:
    sens = cached(work / "ws" / "sensitivity.json")
    if sens:
        d = sens["result"]["data"]
        top = ", ".join(f"{r['group']} {r['effect']:+.3f}" for r in d["ranking"][:6])
        print(f"sensitivity (int8_sq {d['calibration']['size']}x{d['calibration']['seq_len']}, {d['measure']}, "
              f"{d['heldout']['tokens']} held-out tokens): loss {d['unquantized_nll']:.3f} -> "
              f"{d['all_quantized_nll']:.3f} all quantized; top: {top}; {sens['seconds']:.0f}s wall ({sens['load']})")
    print(f"{'rung':<16} {'bf16':>4} {'size':<5} {'dNLL':<6}  {'mc acc (delta)':<22} {'gen EM (delta)':<22} "
          f"{'compare':<22} wall")
    for row in rows:
        print(fmt(row))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=60, help="samples per task (both sides)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_search"))
    ap.add_argument("--rungs", default=",".join(RUNGS), help=f"comma-separated, from {', '.join(RUNGS)}")
    ap.add_argument("--print-only", action="store_true", help="print what --workdir holds; run nothing")
    ap.add_argument("--ranking", type=Path, help="a sensitivity ranking.json measured before (int8_sq, 8 x 64): "
                                                 "used instead of running the sensitivity skill")
    args = ap.parse_args()
    os.environ.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    names = [n for n in args.rungs.split(",") if n]
    unknown = [n for n in names if n not in RUNGS]
    if unknown:
        raise SystemExit(f"unknown rung(s) {unknown}; known: {', '.join(RUNGS)}")
    if args.print_only:
        report(args.workdir, [r for n in names if (r := cached(args.workdir / "ws" / "rungs" / n / "rung.json"))])
        return 0
    base = embedded_checkpoint()
    ws, b = baseline(args.workdir, base, args.limit)
    needs = any(RUNGS[n].get("sensitive") for n in names)
    ranking = sensitivity(args.workdir, base, args.ranking)["result"]["artifacts"]["ranking"] if needs else ""
    rows = []
    for n in names:
        rows.append(run_rung(n, RUNGS[n], ws, base, b, args.limit, ranking))
        print(fmt(rows[-1]), flush=True)
    report(args.workdir, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
