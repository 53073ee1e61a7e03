"""Step 5 on the GPU machine: vLLM (CUDA build) serves the fp8 export with --quantization modelopt through the
serve skill (canary) + serve gate; then the evaluate skill's endpoint backend (lm-eval local-completions against
a vLLM it starts on the fp8 export) + eval_run gate; then, if time allows, the baseline through the same
endpoint path + compare gate.

    python3 .gpu/scripts/step5.py WORKDIR DEADLINE_S
"""

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
W = Path(sys.argv[1]).absolute()
DEADLINE = float(sys.argv[2]) if len(sys.argv) > 2 else 420.0
T0 = time.monotonic()
PY = sys.executable
S = {"steps": [], "gates": {}}
OUTF = W / "summary5.json"


def save():
    OUTF.write_text(json.dumps(S, indent=2) + "\n")


def left():
    return DEADLINE - (time.monotonic() - T0)


def sh(name, argv, timeout):
    t = time.monotonic()
    print(f"\n===== {name}: $ {' '.join(map(str, argv))}", flush=True)
    log = W / f"{name}.log"
    with open(log, "w") as fh:
        try:
            p = subprocess.run([str(a) for a in argv], stdout=fh, stderr=subprocess.STDOUT, cwd=str(W), timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    dt = round(time.monotonic() - t, 2)
    tail = log.read_text(errors="replace").splitlines()[-8:]
    print(f"----- {name}: rc={rc} in {dt}s\n" + "\n".join("  | " + ln[:300] for ln in tail), flush=True)
    S["steps"].append({"name": name, "rc": rc, "seconds": dt})
    save()
    return rc


def gate(name, mod, args):
    t = time.monotonic()
    p = subprocess.run([PY, "-m", f"gates.{mod}", *map(str, args)], capture_output=True, text=True, cwd=str(REPO))
    (W / f"gate_{name}.json").write_text(p.stdout)
    try:
        v = json.loads(p.stdout)
    except ValueError:
        v = {"unparsed_stdout": p.stdout[-2000:], "stderr": p.stderr[-2000:]}
    S["gates"][name] = {"rc": p.returncode, "pass": v.get("pass"), "failure_class": v.get("failure_class"),
                        "detail": v.get("detail"), "seconds": round(time.monotonic() - t, 2)}
    print(f"GATE {name}: rc={p.returncode} pass={v.get('pass')} failure_class={v.get('failure_class')} "
          f"detail={str(v.get('detail'))[:500]}", flush=True)
    save()
    return v


def result(d):
    try:
        return json.loads((d / "result.json").read_text())
    except (OSError, ValueError):
        return None


def ctx(d, cfg, sealed):
    d.mkdir(parents=True, exist_ok=True)
    (d / "context.json").write_text(json.dumps({"config": cfg, "sealed": sealed, "decision": None, "cwd": str(W)}))
    return d / "context.json"


def main():
    sys.path.insert(0, str(REPO))
    from skills._embedded import smollm2
    src = smollm2.default_checkpoint_dir()
    qfp8 = result(W / "q_fp8")
    if not (qfp8 and qfp8.get("ok")):
        print("no fp8 export: nothing to serve", flush=True)
        return
    sealed = {"preflight": {"ok": True, "artifacts": {"checkpoint": str(src)}, "data": {}}, "quantize": qfp8}
    cfg = {"model": "embedded:smollm2-135m-instruct", "serve": {"load_ceiling_s": 300, "max_model_len": 2048},
           "eval": {"backend": "endpoint", "limit": 40, "batch_size": 16, "timeout_s": 240}}

    # 1. the serve skill (canary) on the fp8 candidate, then the serve gate
    d = W / "serve_fp8"
    c = ctx(d, cfg, sealed)
    (d / "args.json").write_text(json.dumps({"checkpoint": "candidate", "enforce_eager": True,
                                             "extra_args": ["--gpu-memory-utilization", "0.3"]}))
    sh("serve_fp8", [PY, REPO / "skills/common/launch.py", "skills.serve.run", "--input", d / "args.json",
                     "--out-dir", d, "--workspace", W, "--context", c], timeout=min(330, max(60, left())))
    r = result(d)
    S["serve_fp8"] = {k: (r or {}).get(k) for k in ("ok", "summary", "failure_class", "error", "data")}
    rec = d / "serve_record.json"
    if rec.is_file():
        gate("serve_fp8", "serve", ["--artifacts", rec])
    save()

    # 2. lm-eval local-completions against vLLM serving the fp8 export (the evaluate skill's endpoint backend)
    if left() < 120:
        print(f"skipping endpoint evaluation: {left():.0f}s left", flush=True)
        return
    d = W / "ep_fp8"
    c = ctx(d, cfg, sealed)
    (d / "args.json").write_text(json.dumps({"side": "candidate"}))
    sh("ep_fp8", [PY, REPO / "skills/common/launch.py", "skills.evaluate.run", "--input", d / "args.json",
                  "--out-dir", d, "--workspace", W, "--context", c], timeout=min(330, max(60, left())))
    r = result(d)
    S["ep_fp8"] = {k: (r or {}).get(k) for k in ("ok", "summary", "failure_class", "error")}
    S["ep_fp8"]["data"] = {k: ((r or {}).get("data") or {}).get(k) for k in (
        "mode", "status", "startup_s", "samples", "lmeval_wall_s", "samples_per_s", "model_identity", "error",
        "settings", "server_note")}
    if (d / "lmeval").is_dir():
        gate("eval_run_ep_fp8", "eval_run", ["--artifacts", d / "lmeval"])
    save()

    # 3. the baseline through the same endpoint path, then compare (like for like), if time allows
    if left() < 150 or not (r and r.get("ok")):
        print(f"skipping endpoint baseline: {left():.0f}s left", flush=True)
        return
    d = W / "ep_base"
    c = ctx(d, cfg, sealed)
    (d / "args.json").write_text(json.dumps({"side": "baseline"}))
    sh("ep_base", [PY, REPO / "skills/common/launch.py", "skills.evaluate.run", "--input", d / "args.json",
                   "--out-dir", d, "--workspace", W, "--context", c], timeout=min(330, max(60, left())))
    rb = result(d)
    S["ep_base"] = {k: (rb or {}).get(k) for k in ("ok", "summary", "failure_class", "error")}
    if (d / "lmeval").is_dir():
        gate("eval_run_ep_base", "eval_run", ["--artifacts", d / "lmeval"])
        gate("compare_ep_fp8", "compare", ["--artifacts", d / "lmeval", W / "ep_fp8" / "lmeval"])
    save()


if __name__ == "__main__":
    try:
        main()
    finally:
        S["total_s"] = round(time.monotonic() - T0, 1)
        save()
        print(f"STEP5 DONE in {S['total_s']}s", flush=True)
