"""The sensitivity runner: which layer groups does a PTQ recipe hurt most, measured on held-out text.

    python -m skills.sensitivity.run --input args.json --out-dir DIR --workspace W [--context context.json]

Order, cheap refusals first: recipe -> hardware -> source -> model and coverage -> held-out and
calibration text -> one modelopt calibration of the whole recipe -> the held-out loss with no group,
every group, and each group alone / all but each group quantized (skills/sensitivity/measure.py).
Writes DIR/result.json (skills.common.runner) and DIR/ranking.json (the ranked groups, also in
result.data.ranking).
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Any

from conductor.runtime.fsutil import atomic_write_json
from skills.common.runner import RunContext, SkillFailure, main, progress
from skills.sensitivity.groups import Group, group_modules, pattern_exact
from skills.sensitivity.models import SensitivityInput

HELDOUT_FILE = Path(__file__).resolve().parents[1] / "data" / "heldout.txt"
RANKING_FILE = "ranking.json"
EMBEDDED_DEFAULT = "embedded:smollm2-135m-instruct"


def _stop(exc: Any) -> SkillFailure:
    f = exc.failure
    return SkillFailure(f.failure_class, f.error, data=f.data)


def source_of(inp: SensitivityInput, rc: RunContext) -> str:
    """The input's source, else the checkpoint preflight sealed, else the configured model."""
    if inp.source:
        return inp.source
    pre = rc.sealed.get("preflight")
    ckpt = pre.artifacts.get("checkpoint") if pre is not None else None
    if ckpt:
        return str(rc.resolve(ckpt))
    model = rc.config.get("model")
    if model and not str(model).startswith("embedded:"):
        return str(rc.user_path(model))
    return str(model or EMBEDDED_DEFAULT)


def prepare(inp: SensitivityInput, rc: RunContext) -> dict[str, Any]:
    """Recipe, hardware, source: every refusal that needs no model."""
    from skills.quantize import plan
    from skills.quantize import run as qrun

    name = inp.recipe or str(rc.config.get("recipe") or "fp8")
    base = plan.load_recipe(name)
    recipe = plan.effective_recipe(base, inp.exclude)
    try:
        backend = plan.backend_for(base)
        device = qrun.check_hardware(recipe)
        source = qrun.resolve_source(source_of(inp, rc))
    except qrun.Stop as exc:
        raise _stop(exc) from None
    except plan.PlanError as exc:
        raise SkillFailure("USER_CONFIG_ERROR", str(exc)) from None
    return {"base": base, "recipe": recipe, "backend": backend, "device": device, "source": source}


def load(job: dict[str, Any], inp: SensitivityInput) -> list[Group]:
    """The model, its weight modules, and the groups of the modules the recipe quantizes."""
    from skills.quantize import plan
    from skills.quantize import run as qrun

    progress(0.03, f"loading {job['source']}")
    job["model"], job["tok"], _ = qrun.load_model(job["source"], job["device"])
    modules = qrun.weight_modules(job["model"])
    cov = plan.coverage(job["recipe"], modules)
    if not cov.covered:
        raise SkillFailure("MODEL_UNSUPPORTED", f"recipe {job['recipe'].name} (with exclusions {inp.exclude}) "
                                                f"quantizes none of the {len(modules)} weight modules")
    bad = plan.unpackable_layers(job["recipe"], cov)
    if bad:
        f = plan.unpackable_failure(job["recipe"], cov, bad, [m.name for m in modules])
        raise SkillFailure(f.failure_class, f.error + "; measure with those exclusions", data=f.data)
    job["cov"], job["modules"] = cov, modules
    covered = [m.name for m in cov.covered]
    groups = group_modules(covered, inp.granularity)
    loose = [g.pattern for g in groups if not pattern_exact(g, covered)]
    if loose:  # a pattern that would exclude more than its group: the ranking could not be acted on
        raise SkillFailure("SKILL_FAILED", f"group patterns match modules outside their group: {loose[:3]}")
    return groups


def texts(job: dict[str, Any], inp: SensitivityInput) -> dict[str, Any]:
    """Held-out ids (skills/data/heldout.txt, never calibration) and the calibration ids."""
    from skills.quantize import calib

    progress(0.08, "tokenizing held-out and calibration text")
    docs = calib.load_corpus(HELDOUT_FILE)
    held = calib.pack(docs, job["tok"], inp.heldout_seqs, inp.heldout_seq_len, seed=0)
    cal_docs, _ = calib.split(calib.load_corpus())
    cal = calib.pack(cal_docs, job["tok"], inp.calib_size, inp.calib_seq_len, inp.seed)
    job["held_ids"], job["calib_ids"] = held.input_ids, cal.input_ids
    raw = HELDOUT_FILE.read_bytes()
    return {"file": "skills/data/heldout.txt", "sha256": hashlib.sha256(raw).hexdigest(), "documents": len(docs),
            "sequences": inp.heldout_seqs, "seq_len": inp.heldout_seq_len,
            "tokens": inp.heldout_seqs * inp.heldout_seq_len, "epochs": held.epochs}


def calibrate(job: dict[str, Any], inp: SensitivityInput) -> float:
    """mtq.quantize with the recipe's modelopt config (as the quantize skill builds it); returns seconds."""
    import modelopt.torch.quantization as mtq

    from skills.quantize import plan
    from skills.quantize import run as qrun

    recipe, model = job["recipe"], job["model"]
    cfg = plan.build_quant_cfg(recipe, getattr(mtq, job["backend"].cfg_name), job["cov"])
    kw = qrun.forward_kwargs(model)
    ids, n = job["calib_ids"], int(job["calib_ids"].shape[0])
    batch = max(1, qrun.CALIB_TOKENS_PER_BATCH // inp.calib_seq_len)

    def loop(m: Any) -> None:
        import torch

        with torch.no_grad():
            for i in range(0, n, batch):
                m(ids[i:i + batch].to(job["device"]), **kw)

    progress(0.12, f"calibrating {recipe.name} on {n} x {inp.calib_seq_len} tokens")
    t = time.monotonic()
    try:
        mtq.quantize(model, cfg, loop)
    except Exception as exc:
        f = plan.classify_error(exc, recipe, job["cov"], [m.name for m in job["modules"]], "calibrating")
        raise SkillFailure(f.failure_class, f.error, data=f.data) from exc
    qrun.round_to_export_precision(model, qrun.source_dtype(job["source"]))
    return time.monotonic() - t


def rank(groups: list[Group], sweep: dict[str, Any], params: dict[str, int]) -> list[dict[str, Any]]:
    """Groups by measured effect, largest first: the loss recovered by keeping the group unquantized
    ("restore") when measured, else the loss added by quantizing it alone."""
    off, full = sweep["unquantized"], sweep["all_quantized"]
    rows = []
    for g in groups:
        m = sweep["per_group"][g.key]
        row: dict[str, Any] = {"group": g.key, "pattern": g.pattern, "modules": list(g.modules),
                               "params": params.get(g.key, 0)}
        if "alone" in m:
            row["alone_nll"], row["alone_delta"] = round(m["alone"], 5), round(m["alone"] - off, 5)
        if "restore" in m:
            row["restore_nll"], row["restore_gain"] = round(m["restore"], 5), round(full - m["restore"], 5)
        row["effect"] = row.get("restore_gain", row.get("alone_delta"))
        rows.append(row)
    rows.sort(key=lambda r: -r["effect"])
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows


def check_finite(sweep: dict[str, Any]) -> None:
    """A NaN or infinite loss cannot be ranked (nor written as JSON): refuse, naming where it appeared."""
    bad = [k for k in ("unquantized", "all_quantized") if not math.isfinite(sweep[k])]
    bad += [f"{g} ({mode})" for g, m in sweep["per_group"].items() for mode, v in m.items() if not math.isfinite(v)]
    if bad:
        raise SkillFailure("SKILL_FAILED", f"the held-out loss is not finite with {', '.join(bad[:5])} "
                                           f"({len(bad)} measurement(s)); the recipe breaks the model outright there")


def summary_line(recipe: str, rows: list[dict[str, Any]], sweep: dict[str, Any], k: int) -> str:
    top = ", ".join(f"{r['group']} ({r['effect']:+.4f})" for r in rows[:k])
    return (f"{recipe}: held-out loss {sweep['unquantized']:.4f} unquantized, {sweep['all_quantized']:.4f} with every "
            f"group quantized; most sensitive of {len(rows)} groups: {top}")


def run(inp: SensitivityInput, rc: RunContext) -> dict[str, Any]:
    from skills.quantize import run as qrun
    from skills.sensitivity import measure

    t0 = time.monotonic()
    job = prepare(inp, rc)
    groups = load(job, inp)
    heldout = texts(job, inp)
    model, device = job["model"], job["device"]
    kw = {k: v for k, v in qrun.forward_kwargs(model).items() if k != "logits_to_keep"}

    def nll() -> float:
        return measure.heldout_nll(model, job["held_ids"], device, kw)

    source_nll = nll()
    calib_s = calibrate(job, inp)
    switch = measure.QuantizerSwitch(model, groups)
    if switch.empty:
        raise SkillFailure("SKILL_FAILED", f"modelopt enabled no quantizer in groups {switch.empty[:3]}")
    modes = ["alone", "restore"] if inp.measure == "both" else [inp.measure]
    n = len(groups) * len(modes)
    t_sweep = time.monotonic()
    sweep = measure.sweep(switch, nll, modes, lambda i, total, what: progress(0.2 + 0.78 * i / total, what))
    check_finite(sweep)
    params = {g.key: sum(int(m.weight.numel()) for name, m in model.named_modules() if name in g.modules)
              for g in groups}
    rows = rank(groups, sweep, params)
    positive = [r for r in rows if r["effect"] > 0][:inp.top_k]
    out = {"recipe": job["recipe"].name, "granularity": inp.granularity, "measure": inp.measure,
           "source_nll": round(source_nll, 5), "unquantized_nll": round(sweep["unquantized"], 5),
           "all_quantized_nll": round(sweep["all_quantized"], 5),
           "all_quantized_delta": round(sweep["all_quantized"] - sweep["unquantized"], 5),
           "groups": len(groups), "modules_measured": sum(len(g.modules) for g in groups),
           "excluded_before": list(inp.exclude), "suggested_exclude": [r["pattern"] for r in positive],
           "calibration": {"size": inp.calib_size, "seq_len": inp.calib_seq_len, "seed": inp.seed,
                           "seconds": round(calib_s, 2)},
           "heldout": heldout, "passes": n + 3, "sweep_seconds": round(time.monotonic() - t_sweep, 2),
           "seconds": round(time.monotonic() - t0, 2), "device": device, "ranking": rows}
    path = rc.out_dir / RANKING_FILE
    atomic_write_json(path, out)
    progress(1.0, "done")
    return {"summary": summary_line(job["recipe"].name, rows, sweep, inp.top_k), "data": out,
            "artifacts": {"ranking": rc.rel(path), "source": str(job["source"])}}


if __name__ == "__main__":
    raise SystemExit(main(SensitivityInput, run))
