"""LocalExecutor: logs, capture, timeouts, cancel, terminate_all, spawn; never an orphan."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conductor.runtime.executor import ChildHandle, Executor, LocalExecutor, ProcessSpec, free_port
from conductor.runtime.redact import Redactor
from tests.proctools import alive, wait_dead

PY = sys.executable
# a child that starts a grandchild `sleep 1000`, prints its pid and its own, then sleeps
FAMILY = ("import subprocess, os, sys, time\n"
          "g = subprocess.Popen(['sleep', '1000'])\n"
          "print('pids', os.getpid(), g.pid, flush=True)\n"
          "time.sleep(1000)\n")
# the same, but the child ignores SIGTERM (only SIGKILL ends it)
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + FAMILY


class Pids:
    """on_line consumer that picks up the 'pids CHILD GRANDCHILD' line."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.seen = threading.Event()

    def __call__(self, line: str) -> None:
        m = re.match(r"pids (\d+) (\d+)", line)
        if m:
            self.pids = [int(m.group(1)), int(m.group(2))]
            self.seen.set()


def spec(tmp_path: Path, code: str, **kw) -> ProcessSpec:
    return ProcessSpec(argv=[PY, "-c", code], log_path=str(tmp_path / "child.log"), **kw)


def test_local_executor_is_an_executor():
    assert isinstance(LocalExecutor(), Executor)


def test_output_goes_to_log_tail_and_on_line(tmp_path):
    lines = []
    out = LocalExecutor().run(spec(tmp_path, "import sys\nprint('one'); print('two', file=sys.stderr)"),
                              on_line=lines.append)
    assert out.exit_code == 0 and not out.timed_out and not out.cancelled
    assert sorted(lines) == ["one", "two"] and sorted(out.log_tail) == ["one", "two"]
    assert sorted((tmp_path / "child.log").read_text().splitlines()) == ["one", "two"]


def test_capture_stdout_keeps_stdout_apart_from_the_log(tmp_path):
    code = "import sys\nprint('{\"a\": 1}'); print('diagnostic', file=sys.stderr); sys.exit(1)"
    out = LocalExecutor().run(spec(tmp_path, code, capture_stdout=True))
    assert out.exit_code == 1
    assert out.stdout.strip() == '{"a": 1}'
    assert (tmp_path / "child.log").read_text().splitlines() == ["diagnostic"]


def test_captured_stdout_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr("conductor.runtime.executor.STDOUT_CAP", 1000)
    out = LocalExecutor().run(spec(tmp_path, "print('x' * 100000)", capture_stdout=True))
    assert out.exit_code == 0 and out.stdout_truncated and len(out.stdout) == 1000


def test_a_missing_program_is_an_outcome_not_an_exception(tmp_path):
    out = LocalExecutor().run(ProcessSpec(argv=["/nonexistent/prog"], log_path=str(tmp_path / "x.log")))
    assert out.exit_code is None and "cannot start" in out.error


def test_env_extra_reaches_the_child(tmp_path):
    out = LocalExecutor().run(spec(tmp_path, "import os; print(os.environ['CONDUCTOR_T'])",
                                   env_extra={"CONDUCTOR_T": "hello"}))
    assert out.log_tail == ["hello"]


def test_lines_are_redacted_before_log_and_on_line(tmp_path):
    secret = "sk-ant-api03-" + "Z" * 40
    red = Redactor(env={"MY_TOKEN": "tok-123456789"})
    lines = []
    out = LocalExecutor(redact=red.redact_text).run(
        spec(tmp_path, f"print('key {secret}'); print('tok tok-123456789')"), on_line=lines.append)
    log = (tmp_path / "child.log").read_text()
    for text in (log, "\n".join(lines), "\n".join(out.log_tail)):
        assert secret not in text and "tok-123456789" not in text and "[REDACTED]" in text


def test_a_raising_on_line_does_not_stop_draining(tmp_path):
    def bad(line):
        raise RuntimeError("consumer bug")

    out = LocalExecutor().run(spec(tmp_path, "for i in range(1000): print(i)"), on_line=bad)
    assert out.exit_code == 0 and out.log_tail[-1] == "999"


def test_timeout_kills_child_and_grandchild(tmp_path):
    pids = Pids()
    t0 = time.monotonic()
    out = LocalExecutor().run(spec(tmp_path, FAMILY, timeout_s=1.0, grace_s=1), on_line=pids)
    assert out.timed_out and pids.seen.is_set()
    assert time.monotonic() - t0 < 5
    assert wait_dead(pids.pids) == []


def test_sigterm_ignoring_child_is_sigkilled_after_grace(tmp_path):
    pids = Pids()
    out = LocalExecutor().run(spec(tmp_path, STUBBORN, timeout_s=1.0, grace_s=0.5), on_line=pids)
    assert out.timed_out and out.exit_code == -signal.SIGKILL
    assert wait_dead(pids.pids) == []


def test_cancel_kills_the_group(tmp_path):
    pids, cancel = Pids(), threading.Event()
    threading.Thread(target=lambda: (pids.seen.wait(10), cancel.set()), daemon=True).start()
    out = LocalExecutor().run(spec(tmp_path, FAMILY, grace_s=1), on_line=pids, cancel=cancel)
    assert out.cancelled and not out.timed_out
    assert wait_dead(pids.pids) == []


def test_terminate_all_stops_a_running_child_from_another_thread(tmp_path):
    ex, pids, result = LocalExecutor(), Pids(), {}
    t = threading.Thread(target=lambda: result.setdefault("out", ex.run(spec(tmp_path, STUBBORN), on_line=pids)))
    t.start()
    assert pids.seen.wait(10)
    assert ex.live_pgids() == [pids.pids[0]]
    ex.terminate_all(grace_s=0.5)
    t.join(10)
    assert result["out"].cancelled
    assert wait_dead(pids.pids) == [] and ex.live_pgids() == []


def test_leftovers_of_a_finished_child_are_stopped(tmp_path):
    # the child exits at once, leaving a background grandchild that still holds the pipe
    code = ("import subprocess, os\n"
            "g = subprocess.Popen(['sleep', '1000'])\n"
            "print('pids', os.getpid(), g.pid, flush=True)\n")
    pids = Pids()
    t0 = time.monotonic()
    out = LocalExecutor().run(spec(tmp_path, code, grace_s=1), on_line=pids)
    assert out.exit_code == 0 and not out.timed_out
    assert time.monotonic() - t0 < 5
    assert wait_dead(pids.pids) == []


def test_shutdown_refuses_new_children(tmp_path):
    ex = LocalExecutor()
    ex.shutdown()
    out = ex.run(spec(tmp_path, "print(1)"))
    assert out.exit_code is None and "shut down" in out.error


def test_spawn_and_stop_a_long_lived_child(tmp_path):
    ex, pids = LocalExecutor(), Pids()
    child = ex.spawn(spec(tmp_path, FAMILY, name="server"), on_line=pids)
    assert isinstance(child, ChildHandle) and child.pgid == child.pid
    assert pids.seen.wait(10) and child.alive()
    assert child.wait(timeout=0.1) is None
    assert ex.live_pgids() == [child.pgid]
    code = child.stop(grace_s=1)
    assert code == -signal.SIGTERM and not child.alive()
    assert wait_dead(pids.pids) == [] and ex.live_pgids() == []


def test_terminate_all_stops_spawned_children(tmp_path):
    ex, pids = LocalExecutor(), Pids()
    child = ex.spawn(spec(tmp_path, STUBBORN), on_line=pids)
    assert pids.seen.wait(10)
    ex.terminate_all(grace_s=0.3)
    assert wait_dead(pids.pids) == []
    assert child.wait(timeout=5) == -signal.SIGKILL


def test_spawned_child_that_exits_is_reaped(tmp_path):
    ex = LocalExecutor()
    child = ex.spawn(spec(tmp_path, "print('bye')"))
    assert child.wait(timeout=10) == 0
    assert child.log_tail == ["bye"] and ex.live_pgids() == []


def test_children_die_with_a_killed_parent(tmp_path):
    """kill -9 of the process that owns the executor: its child still goes (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    owner = ("import sys\n"
             "from conductor.runtime.executor import LocalExecutor, ProcessSpec\n"
             "LocalExecutor().run(ProcessSpec(argv=[sys.executable, '-c', "
             "'import os, time; print(os.getpid(), flush=True); time.sleep(1000)']), "
             "on_line=lambda l: print(l, flush=True))\n")
    # the test's own Popen: it plays the conductor that gets kill -9
    proc = subprocess.Popen([PY, "-c", owner], stdout=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).resolve().parents[2]))
    try:
        child = int(proc.stdout.readline())
        assert alive(child)
        proc.kill()
        proc.wait(5)
        assert wait_dead([child]) == []
    finally:
        proc.kill()


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_only_the_executor_starts_or_signals_processes():
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"^\s*(import subprocess|from subprocess import)|os\.killpg\(|os\.kill\(|os\.system\("
                         r"|os\.spawn|os\.fork\(|os\.exec[lv]|asyncio\.create_subprocess", re.M)
    offenders = []
    for pkg in ("conductor", "gates", "skills"):
        for path in (root / pkg).rglob("*.py"):
            if path == root / "conductor" / "runtime" / "executor.py":
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(root)))
    assert offenders == [], f"only conductor/runtime/executor.py may start or signal processes: {offenders}"
