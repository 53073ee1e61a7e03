"""Evidence that can say yes: can an FP8 ACCEPT of the embedded SmolLM2 be resolved on this machine?

    PYTHONPATH=. .venv/bin/python benchmarks/bench_evidence.py            # print the figures (recorded data)
    PYTHONPATH=. .venv/bin/python benchmarks/bench_evidence.py --record NAME LMEVAL_DIR [--timing T.json]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_evidence.py --record-fidelity NAME MEASURE.json [BASE CAND]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_evidence.py --record-noise NAME NOISE.json

Prints, from the per-document results recorded in benchmarks/data/evidence_smollm2.json (lm-eval runs
of the real model, hf backend, float32 on this 2-core CPU):
  1. the packs' negative controls (computed now: every control of every item scores 0);
  2. per task, baseline and candidate scores, the answers that changed (paired), and what the compare
     gate itself says at the 1-point threshold: its z*se_diff, its INDETERMINATE rule, its
     samples_needed_per_side; the time those samples cost per side (CPU seconds per document measured,
     on 2 idle cores at best half of that); the smallest threshold the shipped data resolves;
  3. the fidelity measurements (FP8, int8_sq under-calibrated, scrambled) through the fidelity gate;
  4. the repeat-noise measurements (greedy determinism, sampled spread).
Figures depend on load: the load average and the CPU seconds of each run are recorded with it.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "data" / "evidence_smollm2.json"
THRESHOLD = 0.01
PRIMARY = {"conductor_pack_extract": "field_acc"}  # else: acc (multiple choice), pass (packs), exact_match
FLOOR = 0.15  # a pack joins the default set when the baseline passes at least this fraction (decided before
#             measuring: below it a threshold-sized drop is a handful of items and the pack measures noise)
PAIRS = [("base_mcl", "fp8_mcl", "FP8 vs baseline"), ("base_mcl", "int8sq8_mcl", "int8_sq calib 8x64 vs baseline"),
         ("base_packs", "fp8_packs", "FP8 vs baseline"), ("base_facts", "fp8_facts", "FP8 vs baseline")]


def load() -> dict[str, Any]:
    return json.loads(DATA.read_text()) if DATA.is_file() else {"runs": {}, "fidelity": {}, "noise": {}}


def save(data: dict[str, Any]) -> None:
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def metric_of(task: str) -> str:
    if task in PRIMARY:
        return PRIMARY[task]
    return "pass" if task.startswith("conductor_pack_") else "exact_match" if task.endswith("_gen") else "acc"


# ------------------------------------------------------------------ recording

def encode(vals: list[float]) -> Any:
    """Per-document values in document order: a string of 0/1 when binary (compact), else a list."""
    if all(v in (0, 1) for v in vals):
        return "".join(str(int(v)) for v in vals)
    return [round(float(v), 6) for v in vals]


def decode(x: Any) -> list[float]:
    return [float(c) for c in x] if isinstance(x, str) else [float(v) for v in x]


def record_run(lmeval_dir: str, timing: Optional[str], label: str, into: Optional[dict[str, Any]] = None
               ) -> dict[str, Any]:
    """Per task, the primary metric per document (ids and values); merged into an earlier record of the same
    run (a run completed in parts, e.g. lm-eval --samples for the documents a --limit run left out)."""
    from gates.audit.collect import read_run_samples

    rec = into or {"label": label, "tasks": {}, "parts": []}
    samples = read_run_samples(lmeval_dir)
    for task, ts in sorted(samples.items()):
        m = metric_of(task)
        old = rec["tasks"].get(task)
        by_id = dict(zip(old["ids"], decode(old["values"]), strict=True)) if old else {}
        by_id.update({int(d): float(ts.first(d).metrics[m]) for d in ts.records})
        ids = sorted(by_id)
        rec["tasks"][task] = {"metric": m, "docs": len(ids), "ids": ids, "values": encode([by_id[i] for i in ids])}
    results = json.loads(sorted(Path(lmeval_dir).rglob("results_*.json"))[-1].read_text())
    part = {"model_args": results["config"].get("model_args"), "batch_size": results["config"].get("batch_size"),
            "chat_template": bool(results.get("chat_template")), "tasks": sorted(results["results"]),
            "docs": sum(len(ts.records) for ts in samples.values())}
    if timing:
        part["timing"] = json.loads(Path(timing).read_text())
    rec["parts"].append(part)
    return rec


# ------------------------------------------------------------------ paired statistics through the compare gate

def aligned(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The two sides' values on the documents both have, in document order."""
    va = dict(zip(a["ids"], decode(a["values"]), strict=True))
    vb = dict(zip(b["ids"], decode(b["values"]), strict=True))
    common = sorted(set(va) & set(vb))
    return [va[i] for i in common], [vb[i] for i in common]


def paired(a: list[float], b: list[float]) -> dict[str, Any]:
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    return {"n": len(a), "base": statistics.fmean(a), "cand": statistics.fmean(b),
            "worse": sum(1 for d in diffs if d < 0), "better": sum(1 for d in diffs if d > 0),
            "mean_diff": statistics.fmean(diffs), "sd_diff": statistics.stdev(diffs)}


def compare_rows(rows: dict[str, dict[str, Any]], threshold: float) -> dict[str, dict[str, Any]]:
    """The compare gate's own decision on these paired results (its rules, not a re-implementation)."""
    from gates.compare.decide import decide
    from gates.compare.models import CompareFacts

    settings = {"backend": "hf", "apply_chat_template": False}
    side = {t: {"score": r["base"], "samples": r["n"], "scale": "unit", "metric": "m"} for t, r in rows.items()}
    cand = {t: {"score": r["cand"], "samples": r["n"], "scale": "unit", "metric": "m"} for t, r in rows.items()}
    facts = CompareFacts.model_validate({
        "baseline": {"settings": settings, "tasks": side}, "candidate": {"settings": settings, "tasks": cand},
        "threshold": {"kind": "absolute", "value": threshold},
        "paired": {t: {"n_pairs": r["n"], "mean_diff": r["mean_diff"], "sd_diff": r["sd_diff"]}
                   for t, r in rows.items() if r["sd_diff"] > 0 or r["mean_diff"] == 0}})
    v = decide(facts)
    return {row["task"]: row for row in v.evidence["tasks"]} | {"_decision": v.evidence["decision"]}


def accept_threshold(row: dict[str, Any]) -> float:
    """The smallest absolute threshold (0.001 steps) at which the compare gate would ACCEPT this task: a figure
    to read, never to set (a threshold chosen after seeing the drop is a manufactured pass)."""
    for milli in range(1, 501):
        if compare_rows({"x": row}, milli / 1000)["x"]["verdict"] == "OK":
            return milli / 1000
    return math.inf


# ------------------------------------------------------------------ printing

def print_packs() -> None:
    from skills.evaluate import packs

    print("== 1. quality packs: negative controls (computed now)")
    for c in packs.self_test():
        n_controls = len(packs.controls([{}, {}], 0))
        print(f"  {c.pack:14s} {c.items} items x {n_controls} controls: "
              f"{len(c.control_passes)} control(s) scored above 0; {len(c.reference_failures)} reference(s) failed")


def seconds_per_doc(run: dict[str, Any], task: str) -> Optional[float]:
    """CPU seconds per document: of `task` alone when a part evaluated only it, else the average document of
    the parts that evaluated it with others (the packs run together)."""
    timed = [p for p in run.get("parts", []) if task in p.get("tasks", []) and (p.get("timing") or {}).get("cpu_s")]
    alone = [p for p in timed if p["tasks"] == [task]]
    parts = alone or timed
    docs = sum(p.get("docs", 0) for p in parts)
    return sum(p["timing"]["cpu_s"] for p in parts) / docs if docs else None


def print_pairs(data: dict[str, Any]) -> None:
    print(f"\n== 2. paired results through the compare gate (threshold {THRESHOLD:g} absolute, 95% one-sided)")
    runs = data["runs"]
    for base, cand, label in PAIRS:
        if base not in runs or cand not in runs:
            print(f"  ({label}: {base} / {cand} not recorded)")
            continue
        rows = {t: paired(*aligned(runs[base]["tasks"][t], runs[cand]["tasks"][t]))
                for t in sorted(set(runs[base]["tasks"]) & set(runs[cand]["tasks"]))}
        gate = compare_rows(rows, THRESHOLD)
        print(f"  {label} [{base} -> {cand}]: compare decision {gate['_decision']}")
        for t, r in rows.items():
            g = gate[t]
            need = g.get("samples_needed_per_side")
            spd = seconds_per_doc(runs[cand], t) or seconds_per_doc(runs[base], t)
            cost = (f"; {need} docs x {spd:.2f} CPU-s = {need * spd / 60:.0f} CPU-min per side (wall on 2 idle "
                    f"cores: {need * spd / 120:.0f}-{need * spd / 60:.0f} min)") if need and spd else ""
            print(f"    {t:28s} n {r['n']:5d}  {r['base']:.4f} -> {r['cand']:.4f}  worse {r['worse']:3d} better "
                  f"{r['better']:3d}  z*se {g.get('mde', float('nan')):.4f}  verdict {g['verdict']:13s} "
                  f"would ACCEPT only at >= {accept_threshold(r):.3f}{cost}")
    print_floor(runs)


def print_floor(runs: dict[str, Any]) -> None:
    base = runs.get("base_packs")
    if not base:
        return
    print(f"\n  pack floor rule: in the default set when the baseline passes >= {FLOOR:.0%} of items")
    for t, x in sorted(base["tasks"].items()):
        vals = decode(x["values"])
        s = statistics.fmean(vals)
        se = statistics.stdev(vals) / math.sqrt(len(vals)) if len(vals) > 1 else float("nan")
        print(f"    {t:28s} baseline {s:.4f} +- {se:.4f} ({sum(1 for v in vals if v == 1)}/{x['docs']} "
              f"full passes): {'IN' if s >= FLOOR else 'OUT'}")


def print_fidelity(data: dict[str, Any]) -> None:
    from gates.fidelity.decide import decide
    from gates.fidelity.models import FidelityFacts

    print("\n== 3. fidelity on the held-out corpus (gate defaults)")
    for name, rec in sorted(data.get("fidelity", {}).items()):
        f = FidelityFacts.model_validate(rec["facts"])
        v = decide(f)
        t = f.tokens
        flips = "; ".join(f"{k}: {fl.changed}/{fl.n} changed ({fl.right_to_wrong} r->w, {fl.wrong_to_right} w->r)"
                          for k, fl in f.flips.items())
        print(f"  {name:12s} KL mean {t.kl_mean:.5f} +- {t.kl_mean_se:.5f}  p99 {t.kl_p99:.4f}  max {t.kl_max:.3f}  "
              f"top-1 {t.top1_agreement:.4f}  ll/token {t.ll_diff_per_token:+.4f} +- {t.ll_diff_per_token_se:.4f}  "
              f"ll/doc {t.ll_diff_per_doc:+.2f} +- {t.ll_diff_per_doc_se:.2f}  [{t.tokens} tokens, both models: "
              f"{(rec.get('seconds') or {}).get('measure', '?')} s wall under load]  -> "
              f"{'PASS' if v.passed else v.failure_class.value}"
              + (f"\n               {flips}" if flips else ""))


def print_noise(data: dict[str, Any]) -> None:
    print("\n== 4. repeat noise")
    for name, rec in sorted(data.get("noise", {}).items()):
        print(f"  {name}: {rec.get('summary')}")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--record", nargs=2, metavar=("NAME", "LMEVAL_DIR"))
    p.add_argument("--timing", help="timing.json of the run (wall_s, cpu_s, load)")
    p.add_argument("--label", default="")
    p.add_argument("--record-fidelity", nargs="+", metavar="ARG", help="NAME MEASURE.json [BASE_DIR CAND_DIR]")
    p.add_argument("--record-noise", nargs=2, metavar=("NAME", "NOISE_JSON"))
    args = p.parse_args(argv)
    data = load()
    if args.record:
        name = args.record[0]
        data["runs"][name] = record_run(args.record[1], args.timing, args.label, data["runs"].get(name))
        save(data)
    if args.record_fidelity:
        data["fidelity"][args.record_fidelity[0]] = record_fidelity(args.record_fidelity[1:])
        save(data)
    if args.record_noise:
        data["noise"][args.record_noise[0]] = json.loads(Path(args.record_noise[1]).read_text())
        save(data)
    print_packs()
    print_pairs(data)
    print_fidelity(data)
    print_noise(data)
    return 0


def record_fidelity(args: list[str]) -> dict[str, Any]:
    from gates.fidelity.collect import collect

    ns = argparse.Namespace(artifacts=args)
    rec = json.loads(Path(args[0]).read_text())
    return {"facts": collect(ns).model_dump(mode="json"), "seconds": rec.get("seconds"),
            "candidate": rec.get("candidate")}


if __name__ == "__main__":
    raise SystemExit(main())
