"""A server as a SLURM job: submit it through `conductor.slurm.publish`, wait for the endpoint it
publishes, and tear it down with proof (the job ended, the server's PID is gone, its port is closed).

    srv = ServeJob(executor, ProcessSpec(argv=["vllm", "serve", ckpt, "--host", "{host}", "--port", "{port}"],
                                         name="serve:serve", log_path=str(run / "server.log")),
                   endpoint_file=run / "serve" / "endpoint.json")
    ep = srv.start(ceiling_s=900)          # Endpoint(url="http://node3:41234", ...) or None
    ...                                    # the canary and the evaluations use ep.url
    check = srv.stop()                     # TeardownCheck(state="CANCELLED", pid_gone=True, port_closed=True)
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from conductor.executor import LineCallback, ProcessSpec

from .executor import SlurmExecutor, SlurmJobHandle
from .jobs import SubmittedJob
from .publish import Endpoint


AWAIT_MARGIN_S = 30.0  # past the server's own health ceiling, before the conductor gives up on the job


class TeardownCheck(BaseModel):
    """Evidence that a server job is gone. pid_gone is None when its node is not this machine."""

    model_config = ConfigDict(extra="forbid")

    job_id: int
    state: Optional[str]
    pid: Optional[int]
    pid_gone: Optional[bool]
    port_closed: Optional[bool]

    @property
    def clean(self) -> bool:
        return self.pid_gone is not False and self.port_closed is not False and self.state not in (None, "RUNNING")


def pid_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def read_endpoint(path: Path) -> Optional[Endpoint]:
    try:
        return Endpoint.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


class ServeJob:
    """One server job. `spec.argv` is the server's command with {host} and {port} placeholders."""

    def __init__(self, executor: SlurmExecutor, spec: ProcessSpec, endpoint_file: Path, *, host: str = "127.0.0.1",
                 health_path: str = "/health", python: str = sys.executable):
        self.executor, self.endpoint_file = executor, Path(endpoint_file).resolve()
        wrapper = [python, "-m", "conductor.slurm.publish", "--endpoint-file", str(self.endpoint_file),
                   "--host", host, "--health-path", health_path]
        self._wrapper, self.spec = wrapper, spec
        self.handle: Optional[SlurmJobHandle] = None
        self.endpoint: Optional[Endpoint] = None

    def start(self, ceiling_s: float = 900.0, on_line: Optional[LineCallback] = None) -> Optional[Endpoint]:
        """Submit and wait for the published endpoint. The health ceiling counts from the job's start
        (time in the queue is bounded by the executor's pending ceiling). None: the job ended first,
        or did not publish within the ceiling (plus a margin), and was then cancelled."""
        self.endpoint_file.unlink(missing_ok=True)  # a stale file from an earlier server must not count
        argv = [*self._wrapper, "--ceiling-s", str(ceiling_s), "--", *self.spec.argv]
        self.handle = self.executor.spawn(self.spec.model_copy(update={"argv": argv}), on_line=on_line)
        return self._await(ceiling_s + AWAIT_MARGIN_S)

    def reattach(self, job: SubmittedJob, ceiling_s: float = 60.0,
                 on_line: Optional[LineCallback] = None) -> Optional[Endpoint]:
        """Resume: follow a server job submitted earlier and read the endpoint it published."""
        self.handle = self.executor.attach_background(job, on_line)
        return self._await(ceiling_s)

    def _await(self, running_s: float) -> Optional[Endpoint]:
        """Wait for the endpoint while the job lives: as long as it is queued, then running_s."""
        assert self.handle is not None
        started: Optional[float] = None
        while self.handle.alive():
            ep = read_endpoint(self.endpoint_file)
            if ep is not None and ep.job_id in (None, self.handle.job_id):
                self.endpoint = ep
                return ep
            st = self.handle.status
            if started is None and st is not None and st.state not in ("PENDING", "CONFIGURING"):
                started = time.monotonic()
            if started is not None and time.monotonic() - started > running_s:
                self.handle.stop()
                break
            time.sleep(0.2)
        return None

    def stop(self) -> TeardownCheck:
        """scancel the job, wait for its end, then check by PID (on this machine) and by port."""
        assert self.handle is not None, "start() first"
        self.handle.stop()
        ep = self.endpoint
        st = self.handle.status
        local = ep is not None and ep.node == socket.gethostname()
        gone = None
        if ep is not None and local:
            deadline = time.monotonic() + 10
            while pid_running(ep.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            gone = not pid_running(ep.pid)
        closed = None if ep is None else not port_open(ep.host, ep.port)
        return TeardownCheck(job_id=self.handle.job_id, state=st.state if st else None, pid=ep.pid if ep else None,
                             pid_gone=gone, port_closed=closed)
