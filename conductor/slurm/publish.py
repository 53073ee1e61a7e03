"""Runs inside a serve job: start the server in the foreground (never daemonized, so scancel reaches
it), wait until it answers its health URL, then publish host:port in the endpoint file.

    python -m conductor.slurm.publish --endpoint-file RUN/serve/endpoint.json --host 127.0.0.1 \
        -- vllm serve CKPT --host {host} --port {port}

`{host}` and `{port}` in the server's argv are replaced (port 0: a free one on this node). The file
is written atomically once /health answers 200 and removed when the server exits. The server is a
child of this process (LocalExecutor.spawn: its own process group, still inside the job's process
tree); SIGTERM (scancel) stops its group: SIGTERM, --grace-s seconds, SIGKILL. Exit: the server's
code; 3 when it never became healthy within --ceiling-s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict

from conductor.executor import ChildHandle, LocalExecutor, ProcessSpec

NOT_HEALTHY = 3


class Endpoint(BaseModel):
    """What a serve job publishes once its server is healthy."""

    model_config = ConfigDict(extra="forbid")

    url: str
    host: str
    port: int
    pid: int  # the server's PID on `node`
    node: str
    job_id: Optional[int] = None
    healthy_after_s: float


def pick_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def wait_healthy(proc: ChildHandle, url: str, ceiling_s: float) -> Optional[float]:
    """Seconds until healthy; None when the server exited or the ceiling passed first."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < ceiling_s:
        if proc.poll() is not None:
            return None
        if healthy(url):
            return round(time.monotonic() - t0, 3)
        time.sleep(0.5)
    return None


def serve(a: argparse.Namespace) -> int:
    port = a.port or pick_port(a.host)
    argv = [x.replace("{host}", a.host).replace("{port}", str(port)) for x in a.argv]
    published = socket.gethostname() if a.host in ("0.0.0.0", "::") else a.host
    base = f"http://{published}:{port}"
    proc = LocalExecutor().spawn(ProcessSpec(argv=argv, name="server", grace_s=a.grace_s),
                                 on_line=lambda line: print(line, flush=True))
    endpoint = Path(a.endpoint_file)

    def on_term(signum: int, frame: object) -> None:
        endpoint.unlink(missing_ok=True)
        proc.stop()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    after = wait_healthy(proc, base + a.health_path, a.ceiling_s)
    if after is None:
        print(f"[serve] the server did not answer {a.health_path} within {a.ceiling_s:.0f}s"
              f" (exit {proc.poll()})", flush=True)
        proc.stop()
        return NOT_HEALTHY
    job = os.environ.get("SLURM_JOB_ID")
    ep = Endpoint(url=base, host=published, port=port, pid=proc.pid, node=socket.gethostname(),
                  job_id=int(job) if job and job.isdigit() else None, healthy_after_s=after)
    endpoint.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(endpoint, ep.model_dump_json())
    print(f"[serve] healthy at {base} after {after:.1f}s; published in {endpoint}", flush=True)
    code = proc.wait()
    endpoint.unlink(missing_ok=True)
    print(f"[serve] the server exited with code {code}", flush=True)
    return code


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conductor.slurm.publish", description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint-file", required=True, help="where host:port is published (JSON) once healthy")
    p.add_argument("--host", default="127.0.0.1", help="address the server binds (0.0.0.0: publish the node's name)")
    p.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    p.add_argument("--health-path", default="/health")
    p.add_argument("--ceiling-s", type=float, default=900.0, help="give up when not healthy by then")
    p.add_argument("--grace-s", type=float, default=10.0, help="between SIGTERM and SIGKILL of the server")
    p.add_argument("argv", nargs=argparse.REMAINDER, help="-- the server's command, with {host} and {port}")
    a = p.parse_args(argv)
    a.argv = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
    if not a.argv:
        p.error("the server's command is missing (after --)")
    return serve(a)


if __name__ == "__main__":
    sys.exit(main())
