"""SlurmExecutor on a real SLURM cluster (scripts/slurm_cluster.py: slurmctld, slurmd, slurmdbd, MariaDB).

Every job is real: submitted with sbatch, followed with squeue and sacct, cancelled with scancel.
The cluster's node declares 8 CPUs on this 2-core machine, so several one-CPU jobs run at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from conductor.attempt import read_result
from conductor.executor import ProcessSpec
from conductor.redact import Redactor
from conductor.slurm import SlurmExecutor, SlurmOptions, SlurmSettings
from conductor.slurm.jobs import parse_sacct
from conductor.slurm.serve import ServeJob, port_open
from tests.proctools import alive, wait_dead
from tests import slurm_cluster as cluster_fixture

slurm_cluster = cluster_fixture.slurm_cluster  # the session fixture: a real cluster, started when needed

pytestmark = [pytest.mark.integration, pytest.mark.slurm, pytest.mark.timeout(600),
              pytest.mark.usefixtures("slurm_cluster")]

PY = sys.executable
TINY = Path(__file__).resolve().parents[1] / "fixtures" / "slurm" / "tiny_server.py"
SECRET = "sk-ant-api03-" + "Q" * 40
# a child that starts a grandchild `sleep 1000`, prints both pids, then sleeps
FAMILY = ("import subprocess, os, time\n"
          "g = subprocess.Popen(['sleep', '1000'])\n"
          "print('pids', os.getpid(), g.pid, flush=True)\n"
          "time.sleep(1000)\n")


def executor(tmp_path: Path, tag: str = "", **settings) -> SlurmExecutor:
    return SlurmExecutor(SlurmSettings(poll_s=0.5, **settings), state_dir=tmp_path / "slurm",
                         run_tag=tag or f"t{uuid.uuid4().hex[:8]}")


def spec(tmp_path: Path, code: str, name: str = "quantize:quantize", **kw) -> ProcessSpec:
    return ProcessSpec(argv=[PY, "-c", code], cwd=str(tmp_path), log_path=str(tmp_path / f"{name.split(':')[0]}.log"),
                       name=name, **kw)


def settled(query, done, timeout_s: float = 60):
    """slurmctld sends job records to slurmdbd asynchronously (seconds behind on a loaded machine):
    ask sacct again until the records are complete."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = query()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def sacct(*ids: int) -> dict:
    """The accounting records of these jobs, once each shows the job ended."""
    argv = ["sacct", "-n", "-X", "-P", "-j", ",".join(map(str, ids)), "-o",
            "JobIDRaw,State,ExitCode,Reason,NodeList,Submit,Start,End,Elapsed,JobName"]
    return settled(lambda: parse_sacct(subprocess.run(argv, capture_output=True, text=True, check=True).stdout),
                   lambda recs: set(recs) == set(ids) and not any(r.live for r in recs.values()))


def jobs_named(name: str, expected: int) -> list[int]:
    """Every job with this exact name in the accounting database (resubmissions included), once the
    expected one has arrived there, and a moment more for any other."""
    argv = ["sacct", "-n", "-X", "-P", "-S", "now-1hours", f"--name={name}", "-o", "JobIDRaw"]

    def ids() -> list[int]:
        return [int(x) for x in subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()]

    settled(ids, lambda got: expected in got)
    time.sleep(2)
    return ids()


def live_jobs_of(ex: SlurmExecutor) -> list[int]:
    prefix = f"conductor:{ex.run_tag}:"
    return [j for j, st in ex.cli.my_jobs().items() if st.live and (st.name or "").startswith(prefix)]


def in_thread(fn, *args, **kw) -> tuple[threading.Thread, dict]:
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("out", fn(*args, **kw)), daemon=True)
    t.start()
    return t, box


def running_job(ex: SlurmExecutor, tmp_path: Path) -> tuple[threading.Thread, dict]:
    """A job followed in a thread, once it is running (it prints 'started', then sleeps 300 s)."""
    started = threading.Event()
    t, box = in_thread(ex.run, spec(tmp_path, "import time; print('started', flush=True); time.sleep(300)"),
                       on_line=lambda line: started.set() if line == "started" else None)
    assert started.wait(60), "the job did not start within 60 s"
    return t, box


# ----------------------------------------------------------------------------- a skill as a job


SKILL = """
import json, os, sys, time
out = os.path.join(os.getcwd(), 'out')
os.makedirs(out, exist_ok=True)
print('computing on', os.uname().nodename, flush=True)
print('job env', os.environ.get('SLURM_JOB_ID'), os.environ.get('CONDUCTOR_EXTRA'), flush=True)
print('secret-looking names:', sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k), flush=True)
print('token-shaped argument', sys.argv[2], flush=True)
print('unlisted variable:', os.environ.get('CONDUCTOR_UNLISTED'), flush=True)
ok = sys.argv[1] == 'ok'
res = {'ok': ok, 'summary': 'done', 'data': {'node': os.uname().nodename}}
if not ok:
    res.update(error='no CUDA device here', failure_class='HARDWARE_UNAVAILABLE')
open(os.path.join(out, 'result.json'), 'w').write(json.dumps(res))
sys.exit(0 if ok else 1)
"""


def test_a_skill_job_returns_its_result_and_the_job_record(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123456789")
    monkeypatch.setenv("CONDUCTOR_UNLISTED", "not-for-the-job")
    states: list[tuple[int, str, str | None]] = []  # what the stage rail and the transcript get
    ex = SlurmExecutor(SlurmSettings(poll_s=0.5), state_dir=tmp_path / "slurm", redact=Redactor().redact_text,
                       on_job=lambda job, st: states.append((job.job_id, st.state, st.node)))
    s = ProcessSpec(argv=[PY, "-c", SKILL, "ok", "hf_" + "A" * 30], cwd=str(tmp_path),
                    log_path=str(tmp_path / "skill.log"), name="quantize:quantize",
                    env_extra={"CONDUCTOR_EXTRA": "reached"}, timeout_s=120)
    seen = []
    out = ex.run(s, on_line=seen.append)
    assert out.exit_code == 0 and out.failure_class is None and out.finding == "COMPLETED", out.log_tail
    run = read_result(tmp_path, tmp_path / "out", out.exit_code, out.log_tail)
    assert run.failure is None and run.result.ok and run.result.data["node"] == socket.gethostname()
    st = out.status
    assert (st.state, st.node, st.job_id) == ("COMPLETED", socket.gethostname(), out.job.job_id)
    assert st.elapsed_s is not None and st.start_time >= st.submit_time
    log = (tmp_path / "skill.log").read_text()
    assert f"job env {out.job.job_id} reached" in log and f"[slurm] job {out.job.job_id} RUNNING on" in log
    assert "secret-looking names: []" in log and SECRET not in log  # secrets are not exported to the job
    assert "unlisted variable: None" in log  # only the listed names are exported
    assert "token-shaped argument [REDACTED]" in log and "hf_AAAA" not in log  # the log is redacted
    assert seen == log.splitlines() and not Path(out.job.output).exists()  # the raw copy is gone, the log stays
    assert states[-1] == (out.job.job_id, "COMPLETED", socket.gethostname())
    assert (out.job.job_id, "RUNNING", socket.gethostname()) in states
    assert "--export=" not in Path(out.job.script).read_text() and SECRET not in Path(out.job.script).read_text()


def test_a_failed_job_with_the_skills_own_result_is_that_result(tmp_path):
    out = executor(tmp_path).run(ProcessSpec(argv=[PY, "-c", SKILL, "fail", "-"], cwd=str(tmp_path), name="quantize:q"))
    assert (out.status.state, out.exit_code, out.failure_class, out.finding) == ("FAILED", 1, None, "FAILED")
    run = read_result(tmp_path, tmp_path / "out", out.exit_code, out.log_tail)
    assert run.failure.value == "HARDWARE_UNAVAILABLE" and "no CUDA" in run.error


def test_the_log_streams_while_the_job_runs(tmp_path):
    go = tmp_path / "go"
    code = (f"import os, time\nprint('waiting for go', flush=True)\nt = time.time()\n"
            f"while not os.path.exists({str(go)!r}) and time.time() - t < 60: time.sleep(0.1)\n"
            f"print('got go' if os.path.exists({str(go)!r}) else 'no go', flush=True)\n")

    def on_line(line: str) -> None:
        if line == "waiting for go":  # only a streamed line can let the job finish
            go.touch()

    out = executor(tmp_path).run(spec(tmp_path, code), on_line=on_line)
    assert out.exit_code == 0 and "got go" in out.log_tail, out.log_tail


def test_capture_stdout_keeps_stdout_apart_from_the_log(tmp_path):
    code = "import sys\nprint('{\"gate\": \"ptq\"}')\nprint('diagnostic', file=sys.stderr)\n"
    out = executor(tmp_path).run(spec(tmp_path, code, name="gate:ptq", capture_stdout=True))
    assert out.exit_code == 0 and json.loads(out.stdout) == {"gate": "ptq"}
    log = (tmp_path / "gate.log").read_text()
    assert "diagnostic" in log and "ptq" not in log.replace("gate:ptq", "")


def test_the_options_reach_the_scheduler(tmp_path, slurm_cluster):
    ex = executor(tmp_path, account=slurm_cluster["account"],
                  stages={"quantize": SlurmOptions(cpus=2, mem="300M", time_limit="7")})
    out = ex.run(spec(tmp_path, "print('x')"))
    argv = ["sacct", "-n", "-X", "-P", "-j", str(out.job.job_id), "-o", "Account,AllocCPUS,ReqMem,Timelimit"]
    row = settled(lambda: subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip(),
                  lambda r: r.endswith(":00"))  # the record is complete once it has the time limit
    assert row == f"{slurm_cluster['account']}|2|300M|00:07:00", row


def test_a_refused_submission_is_a_configuration_error(tmp_path):
    out = executor(tmp_path, partition="no-such-partition").run(spec(tmp_path, "print('x')"))
    assert out.exit_code is None and out.job is None
    assert (out.failure_class, out.finding) == ("USER_CONFIG_ERROR", "SUBMIT_FAILED")
    assert "invalid partition" in out.error.lower(), out.error


# ----------------------------------------------------------------------------- how jobs end


def test_a_job_past_its_time_limit_is_infra_transient(tmp_path):
    # SLURM counts time limits in minutes and checks them about every 30 s: this takes 60-100 s
    long_job = spec(tmp_path, "import time; print('long', flush=True); time.sleep(600)")
    out = executor(tmp_path, time_limit="1").run(long_job)
    assert out.status.state == "TIMEOUT" and out.timed_out and not out.cancelled
    assert (out.failure_class, out.finding) == ("INFRA_TRANSIENT", "TIMEOUT")
    assert any("DUE TO TIME LIMIT" in line for line in out.log_tail), out.log_tail


def test_a_job_over_its_memory_is_out_of_memory(tmp_path):
    code = "import time\nx = bytearray(400 * 1024 * 1024)\nprint('allocated', flush=True)\ntime.sleep(30)\n"
    out = executor(tmp_path, stages={"quantize": SlurmOptions(mem="60M")}).run(spec(tmp_path, code))
    assert (out.failure_class, out.finding) == ("SKILL_FAILED", "OUT_OF_MEMORY"), (out.status, out.log_tail)
    assert "60M" in out.detail and "raise the skill's `mem`" in out.detail


def test_a_job_pending_past_its_ceiling_is_cancelled_and_infra_transient(tmp_path):
    ex = executor(tmp_path, pending_ceiling_s=3, extra_sbatch=["--begin=now+600"])
    t0 = time.monotonic()
    out = ex.run(spec(tmp_path, "print('never runs')"))
    assert (out.failure_class, out.finding) == ("INFRA_TRANSIENT", "PENDING_TOO_LONG") and not out.cancelled
    assert "BeginTime" in out.detail and time.monotonic() - t0 < 30
    assert sacct(out.job.job_id)[out.job.job_id].state == "CANCELLED" and live_jobs_of(ex) == []


def test_a_job_cancelled_by_someone_else_says_so(tmp_path):
    ex = executor(tmp_path)
    t, box = running_job(ex, tmp_path)
    subprocess.run(["scancel", str(ex.live_jobs()[0])], check=True)  # an operator, not this run
    t.join(90)
    out = box["out"]
    assert (out.failure_class, out.finding) == ("UNKNOWN", "CANCELLED_BY_OTHER") and not out.cancelled
    assert "uid 0" in out.detail and "not by this run" in out.detail


def test_a_preempted_job_is_infra_transient(tmp_path, slurm_cluster):
    ex = executor(tmp_path)
    t, box = running_job(ex, tmp_path)
    urgent = executor(tmp_path, partition=slurm_cluster["urgent_partition"], cpus=slurm_cluster["cpus"])
    big = urgent.run(spec(tmp_path, "print('urgent work')", name="evaluate:urgent"))  # needs every CPU
    t.join(90)
    out = box["out"]
    assert big.finding == "COMPLETED" and out.status.state == "PREEMPTED", out.status
    assert (out.failure_class, out.finding) == ("INFRA_TRANSIENT", "PREEMPTED")


def test_a_node_failure_is_infra_transient(tmp_path, slurm_cluster):
    ex = executor(tmp_path)
    t, box = running_job(ex, tmp_path)
    node = slurm_cluster["node"]
    try:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=conductor-test"], check=True)
        t.join(90)
    finally:
        wait_node_usable(node)
    out = box["out"]
    assert out.status.state == "NODE_FAIL" and (out.failure_class, out.finding) == ("INFRA_TRANSIENT", "NODE_FAIL")


def wait_node_usable(node: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        if state.rstrip("*~#") in ("idle", "mixed", "allocated"):
            return
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], capture_output=True)
        time.sleep(1)
    raise AssertionError(f"node {node} did not come back after the node-failure test")


# ----------------------------------------------------------------------------- cancel, leave nothing behind


def test_cancel_scancels_the_job_and_its_processes(tmp_path):
    ex = executor(tmp_path)
    cancel, pids = threading.Event(), []

    def on_line(line: str) -> None:
        if line.startswith("pids "):
            pids.extend(int(p) for p in line.split()[1:])
            cancel.set()

    out = ex.run(spec(tmp_path, FAMILY), on_line=on_line, cancel=cancel)
    assert out.cancelled and out.finding == "CANCELLED_BY_RUN" and out.failure_class is None
    assert len(pids) == 2 and wait_dead(pids, 10) == []  # the skill and its child: scancel reached both
    assert live_jobs_of(ex) == [] and ex.live_jobs() == []


def test_terminate_all_and_cancel_run_leave_no_job_of_the_run(tmp_path):
    ex = executor(tmp_path)
    handles = [ex.spawn(spec(tmp_path, "import time; time.sleep(300)", name=f"serve:s{i}")) for i in range(2)]
    # a job of the same run submitted by a conductor that died: nobody follows it here
    orphan = SlurmExecutor(SlurmSettings(), state_dir=tmp_path / "slurm", run_tag=ex.run_tag)
    lost = orphan.submit(spec(tmp_path, "import time; time.sleep(300)", name="evaluate:baseline"))
    ids = sorted([h.job_id for h in handles] + [lost.job_id])
    deadline = time.monotonic() + 30
    while sorted(live_jobs_of(ex)) != ids and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sorted(live_jobs_of(ex)) == ids
    assert ex.cancel_run() == ids  # what the transcript will name
    for h in handles:
        assert h.wait(90) is not None and h.outcome.cancelled
    deadline = time.monotonic() + 30
    while live_jobs_of(ex) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert live_jobs_of(ex) == [] and {st.state for st in sacct(*ids).values()} == {"CANCELLED"}


# ----------------------------------------------------------------------------- resume: re-attach, never resubmit


def test_a_new_executor_reattaches_to_a_running_job_without_resubmitting(tmp_path):
    go = tmp_path / "go"
    code = (f"import os, time\nprint('before', flush=True)\nt = time.time()\n"
            f"while not os.path.exists({str(go)!r}) and time.time() - t < 120: time.sleep(0.1)\n"
            f"print('after', flush=True)\n")
    first = executor(tmp_path)
    job = first.submit(spec(tmp_path, code, name="evaluate:baseline"))  # then the conductor dies (kill -9)
    record = json.loads(job.model_dump_json())  # what the transcript keeps
    from conductor.slurm import SubmittedJob

    second = SlurmExecutor(SlurmSettings(poll_s=0.5), state_dir=tmp_path / "slurm", run_tag=first.run_tag)
    seen = []

    def on_line(line: str) -> None:
        seen.append(line)
        if line == "before":
            go.touch()  # the job finishes only once the new executor streams its output

    out = second.attach(SubmittedJob.model_validate(record), on_line=on_line)
    assert out.finding == "COMPLETED" and out.exit_code == 0, out.log_tail
    assert "before" in seen and "after" in seen and out.job.job_id == job.job_id
    assert (tmp_path / "evaluate.log").read_text().count("before") == 1
    assert jobs_named(job.name, job.job_id) == [job.job_id]  # one job in the accounting: none resubmitted


def test_reattaching_to_a_job_that_ended_meanwhile_collects_it(tmp_path):
    first = executor(tmp_path)
    job = first.submit(spec(tmp_path, "print('finished while nobody watched')", name="evaluate:candidate"))
    deadline = time.monotonic() + 60
    while first.cli.status(job.job_id) is None or first.cli.status(job.job_id).live:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    out = executor(tmp_path, tag=first.run_tag).attach(job)
    assert out.finding == "COMPLETED" and "finished while nobody watched" in out.log_tail
    assert jobs_named(job.name, job.job_id) == [job.job_id]


# ----------------------------------------------------------------------------- concurrency


def test_two_jobs_run_at_the_same_time(tmp_path):
    ex = executor(tmp_path)
    code = "import time; print('working', flush=True); time.sleep(6)"
    runs = [in_thread(ex.run, spec(tmp_path / str(i), code, name=f"evaluate:side{i}")) for i in range(2)]
    for t, _ in runs:
        t.join(120)
    outs = [box["out"] for _, box in runs]
    assert all(o.finding == "COMPLETED" for o in outs), [o.log_tail for o in outs]
    recs = sacct(*(o.job.job_id for o in outs)).values()
    overlap = min(r.end_time for r in recs) - max(r.start_time for r in recs)
    print(f"\n[slurm] two 6 s jobs: starts {[r.start_time for r in recs]}, ends {[r.end_time for r in recs]}, "
          f"overlap {overlap:.0f}s")
    assert overlap >= 4  # both ran at once (sacct's times are whole seconds)


# ----------------------------------------------------------------------------- a server as a job


def serve_spec(tmp_path: Path, *extra: str) -> ProcessSpec:
    return ProcessSpec(argv=[PY, str(TINY), "--host", "{host}", "--port", "{port}", *extra], cwd=str(tmp_path),
                       log_path=str(tmp_path / "server.log"), name="serve:serve")


CLIENT = """
import json, sys, urllib.request
ep = json.load(open(sys.argv[1]))
with urllib.request.urlopen(ep['url'] + '/answer', timeout=10) as r:
    body = json.load(r)
print('answer from', ep['url'], body, flush=True)
open('result.json', 'w').write(json.dumps({'ok': True, 'data': {'answer': body['answer'], 'url': ep['url']}}))
"""


def test_a_server_job_publishes_its_endpoint_for_another_job_and_is_torn_down(tmp_path):
    ex = executor(tmp_path)
    srv = ServeJob(ex, serve_spec(tmp_path), endpoint_file=tmp_path / "serve" / "endpoint.json")
    ep = srv.start(ceiling_s=60)
    try:
        assert ep is not None, srv.handle.log_tail
        assert ep.host == "127.0.0.1" and ep.job_id == srv.handle.job_id and alive(ep.pid)
        client = ex.run(ProcessSpec(argv=[PY, "-c", CLIENT, str(srv.endpoint_file)], cwd=str(tmp_path),
                                    name="evaluate:baseline"))
        assert client.finding == "COMPLETED", client.log_tail
        assert json.loads((tmp_path / "result.json").read_text())["data"] == {"answer": 42, "url": ep.url}
    finally:
        check = srv.stop()
    assert check.clean and check.state == "CANCELLED" and check.pid_gone and check.port_closed, check
    assert not srv.endpoint_file.exists()  # withdrawn when the server stopped
    assert live_jobs_of(ex) == []


def test_a_daemonizing_server_escapes_the_job_and_the_teardown_check_says_so(tmp_path):
    ex = executor(tmp_path)
    pid_file = tmp_path / "escaped.pid"
    srv = ServeJob(ex, serve_spec(tmp_path, "--daemonize", str(pid_file)), endpoint_file=tmp_path / "endpoint.json")
    ep = srv.start(ceiling_s=60)
    escaped = None
    try:
        assert ep is not None, srv.handle.log_tail
        escaped = int(pid_file.read_text())
        check = srv.stop()
        assert check.state == "CANCELLED" and check.pid_gone  # the process the job started is gone...
        assert check.port_closed is False and not check.clean  # ...but its detached server still answers
        assert alive(escaped) and port_open(ep.host, ep.port)
    finally:
        if escaped is not None and alive(escaped):
            os.kill(escaped, signal.SIGKILL)
    assert wait_dead([escaped]) == []


def test_a_server_that_never_becomes_healthy_publishes_nothing(tmp_path):
    ex = executor(tmp_path)
    srv = ServeJob(ex, serve_spec(tmp_path, "--delay-s", "600"), endpoint_file=tmp_path / "endpoint.json")
    t0 = time.monotonic()
    assert srv.start(ceiling_s=5) is None and time.monotonic() - t0 < 60
    assert not srv.endpoint_file.exists()
    srv.handle.wait(60)
    assert srv.handle.outcome.exit_code == 3 and srv.handle.status.state == "FAILED", srv.handle.log_tail
    assert any("did not answer /health within 5s" in line for line in srv.handle.log_tail)
