"""Step 1 on the GPU machine: convert SmolLM2, quantize fp8 + nvfp4 with the real skill runner, ptq gates,
lm-eval (evaluate skill, hf in-process) baseline / fp8 / nvfp4 candidates, eval_run and compare gates.

    python3 .gpu/scripts/step1.py WORKDIR          (env DRY=1: tiny settings, for a CPU dry run)

Every step runs as a subprocess exactly as the conductor would run it; each step's wall time, exit code
and the gate verdicts are collected in WORKDIR/summary.json. Never stops at a failed step.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
W = Path(sys.argv[1]).absolute()
W.mkdir(parents=True, exist_ok=True)
DRY = os.environ.get("DRY") == "1"
PY = sys.executable
SUMMARY = {"dry": DRY, "steps": [], "gates": {}}


def save():
    (W / "summary.json").write_text(json.dumps(SUMMARY, indent=2) + "\n")


def sh(name, argv, log=None, cwd=None):
    t = time.monotonic()
    print(f"\n===== {name}: $ {' '.join(map(str, argv))}", flush=True)
    with open(log or W / f"{name}.log", "w") as fh:
        p = subprocess.run([str(a) for a in argv], stdout=fh, stderr=subprocess.STDOUT, cwd=str(cwd or W))
    dt = round(time.monotonic() - t, 2)
    tail = (log or W / f"{name}.log").read_text(errors="replace").splitlines()[-6:]
    print(f"----- {name}: rc={p.returncode} in {dt}s\n" + "\n".join("  | " + ln for ln in tail), flush=True)
    SUMMARY["steps"].append({"name": name, "rc": p.returncode, "seconds": dt})
    save()
    return p.returncode


def gate(name, gate_mod, args):
    t = time.monotonic()
    p = subprocess.run([PY, "-m", f"gates.{gate_mod}", *map(str, args)], capture_output=True, text=True, cwd=str(REPO))
    dt = round(time.monotonic() - t, 2)
    (W / f"gate_{name}.json").write_text(p.stdout)
    try:
        v = json.loads(p.stdout)
    except ValueError:
        v = {"unparsed_stdout": p.stdout[-2000:], "stderr": p.stderr[-2000:]}
    SUMMARY["gates"][name] = {"rc": p.returncode, "pass": v.get("pass"), "failure_class": v.get("failure_class"),
                              "detail": v.get("detail"), "seconds": dt}
    print(f"GATE {name}: rc={p.returncode} pass={v.get('pass')} failure_class={v.get('failure_class')} "
          f"detail={str(v.get('detail'))[:400]}", flush=True)
    save()
    return v


def result(d):
    try:
        return json.loads((d / "result.json").read_text())
    except (OSError, ValueError):
        return None


def quantize(recipe):
    d = W / f"q_{recipe}"
    d.mkdir(exist_ok=True)
    inp = {"source": "embedded:smollm2-135m-instruct", "recipe": recipe,
           "calib_size": 4 if DRY else 64, "calib_seq_len": 32 if DRY else 256}
    (d / "input.json").write_text(json.dumps(inp))
    sh(f"quantize_{recipe}", [PY, "-m", "skills.quantize.run", "--input", d / "input.json", "--out-dir", d,
                              "--workspace", W])
    r = result(d)
    if r:
        data = r.get("data") or {}
        SUMMARY[f"quantize_{recipe}"] = {k: data.get(k) for k in (
            "device", "quant_algo", "layers_quantized", "weight_modules", "calib_dtype", "calib_seconds", "seconds",
            "heldout_nll", "simulated_state_verified", "modelopt_version", "torch_version", "timings_s")}
        SUMMARY[f"quantize_{recipe}"].update(ok=r.get("ok"), failure_class=r.get("failure_class"),
                                             error=r.get("error"), summary=r.get("summary"))
        exp = (r.get("artifacts") or {}).get("export")
        if r.get("ok") and exp:
            ep = Path(exp)
            SUMMARY[f"quantize_{recipe}"]["export_bytes"] = {f.name: f.stat().st_size for f in ep.iterdir()}
            try:
                SUMMARY[f"quantize_{recipe}"]["hf_quant_config"] = json.loads((ep / "hf_quant_config.json").read_text())
            except (OSError, ValueError) as exc:
                SUMMARY[f"quantize_{recipe}"]["hf_quant_config"] = f"unreadable: {exc}"
            gate(f"ptq_{recipe}", "ptq", ["--artifacts", r["artifacts"]["source"], exp, "--recipe", recipe])
    save()
    return r


def evaluate(name, side, qres, base_res, src):
    d = W / f"ev_{name}"
    d.mkdir(exist_ok=True)
    cfg = {"model": "embedded:smollm2-135m-instruct", "eval": {"backend": "hf", "batch_size": 16}}
    if DRY:
        cfg["eval"]["limit"] = 4
    sealed = {"preflight": {"ok": True, "artifacts": {"checkpoint": str(src)}, "data": {}}}
    if qres:
        sealed["quantize"] = qres
    if base_res:
        sealed["eval_baseline"] = base_res
    (d / "context.json").write_text(json.dumps({"config": cfg, "sealed": sealed, "decision": None, "cwd": str(W)}))
    (d / "args.json").write_text(json.dumps({"side": side}))
    sh(f"eval_{name}", [PY, REPO / "skills/common/launch.py", "skills.evaluate.run", "--input", d / "args.json",
                        "--out-dir", d, "--workspace", W, "--context", d / "context.json"])
    r = result(d)
    if r:
        data = r.get("data") or {}
        SUMMARY[f"eval_{name}"] = {k: data.get(k) for k in (
            "mode", "status", "samples", "lmeval_wall_s", "samples_per_s", "request_phase_s", "model_identity",
            "settings", "error")}
        SUMMARY[f"eval_{name}"].update(ok=r.get("ok"), failure_class=r.get("failure_class"), summary=r.get("summary"))
        gate(f"eval_run_{name}", "eval_run", ["--artifacts", d / "lmeval"])
    save()
    return r


def main():
    t0 = time.monotonic()
    sh("convert", [PY, "-m", "skills._embedded.smollm2", "--check"])
    sys.path.insert(0, str(REPO))
    from skills._embedded import smollm2
    src = smollm2.default_checkpoint_dir()
    SUMMARY["source_bytes"] = {f.name: f.stat().st_size for f in src.iterdir()} if src.is_dir() else None
    q = {r: quantize(r) for r in ("fp8", "nvfp4")}
    base = evaluate("baseline", "baseline", q["fp8"], None, src)
    for r in ("fp8", "nvfp4"):
        if q[r] and q[r].get("ok") and base and base.get("ok"):
            evaluate(r, "candidate", q[r], base, src)
            gate(f"compare_{r}", "compare", ["--artifacts", W / "ev_baseline" / "lmeval", W / f"ev_{r}" / "lmeval"])
    SUMMARY["total_s"] = round(time.monotonic() - t0, 1)
    save()
    (W / "DONE").write_text("done\n")
    print(f"STEP1 DONE in {SUMMARY['total_s']}s", flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        (W / "DONE").write_text("done\n")
