"""The one place that starts and stops child processes: process groups, logs, timeouts, no orphans.

Every child runs in its own session (its own process group), so stopping it means signalling the
whole group: SIGTERM, a grace period, then SIGKILL. The executor tracks every live group, and
`terminate_all()` (called on Ctrl-C / SIGTERM) stops all of them. Output is written line by line,
redacted, to the child's log file and handed to `on_line` from a reader thread.

    ex = LocalExecutor()
    out = ex.run(ProcessSpec(argv=["echo", "hi"], log_path="x.log"), on_line=print)
    assert out.exit_code == 0 and out.log_tail == ["hi"]

    server = ex.spawn(ProcessSpec(argv=["vllm", "serve", ...], log_path="serve.log", name="vllm"))
    ...
    server.stop()  # SIGTERM the group, wait, SIGKILL what is left
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Callable, Optional, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

STDOUT_CAP = 4 * 1024 * 1024  # bytes of captured stdout kept
LOG_TAIL_LINES = 50
MAX_LINE = 64 * 1024  # a longer line is split (a child printing megabytes without "\n")
POLL_S = 0.02

LineCallback = Callable[[str], None]
Redact = Callable[[str], str]


class ProcessSpec(BaseModel):
    """What to run. The child's environment is os.environ + env_extra (+ PYTHONUNBUFFERED=1); from an
    executor built with scrub_env=True, os.environ without its secrets except those in pass_secrets."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(min_length=1)
    cwd: Optional[str] = None
    env_extra: dict[str, str] = Field(default_factory=dict)
    log_path: Optional[str] = None  # merged output (stderr only when capture_stdout), appended
    timeout_s: Optional[float] = Field(default=None, gt=0)
    capture_stdout: bool = False  # stdout kept apart in ProcessOutcome.stdout (a gate's verdict)
    name: str = ""
    grace_s: float = Field(default=5.0, ge=0)  # between SIGTERM and SIGKILL
    # Linux: the child gets SIGTERM if the thread that started it dies (even by kill -9); turn it
    # off for a child that must outlive the thread that spawns it
    die_with_parent: bool = True
    # secret-named variables this child may keep (scrub_env executors drop every other one)
    pass_secrets: list[str] = Field(default_factory=list)


class ProcessOutcome(BaseModel):
    """How a run ended. exit_code is None only when the process never started (see `error`);
    negative when a signal ended it (-9: SIGKILL)."""

    model_config = ConfigDict(extra="forbid")

    exit_code: Optional[int]
    duration_s: float
    timed_out: bool = False
    cancelled: bool = False  # the cancel event was set, or terminate_all() stopped it
    stdout: str = ""
    stdout_truncated: bool = False
    log_tail: list[str] = Field(default_factory=list)
    error: Optional[str] = None  # why it could not start (argv[0] not found, cwd missing, ...)


@runtime_checkable
class Executor(Protocol):
    """Runs child processes. `LocalExecutor` today; a cluster scheduler could implement it later."""

    def run(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None,
            cancel: Optional[threading.Event] = None) -> ProcessOutcome:
        """Run to completion (or timeout / cancel); never raises for a failing child."""

    def spawn(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None) -> "ChildHandle":
        """Start a long-lived child (a server) and return at once."""

    def terminate_all(self, grace_s: Optional[float] = None) -> None:
        """Stop every live child group (signal handler path)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def group_alive(pgid: int) -> bool:
    """True while some process of the group is still running (zombies, which only wait to be
    reaped by their new parent, do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _has_running_member(pgid)


def _has_running_member(pgid: int) -> bool:
    if not os.path.isdir("/proc"):
        return True  # no /proc: trust killpg
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid and fields[0] != b"Z":  # fields: state, ppid, pgrp, ...
            return True
    return False


def _running(proc: subprocess.Popen) -> bool:
    """The leader has not exited (poll reaps it) or some member of its group remains."""
    return proc.poll() is None or group_alive(proc.pid)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the child's group, wait up to grace_s for the whole group, then SIGKILL it."""
    pgid = proc.pid  # start_new_session: the child leads its own group
    if not _running(proc):
        return  # already gone (its pgid may even belong to someone else by now)
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _running(proc):
            break
        time.sleep(POLL_S)
    else:
        _signal_group(pgid, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # unkillable (D state): nothing more we can do here
        pass


class _Output:
    """Reads the child's pipes on threads: log file + tail + on_line; stdout capture (capped)."""

    def __init__(self, log_path: Optional[str], on_line: Optional[LineCallback], redact: Optional[Redact]):
        self.tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._on_line = on_line
        self._redact = redact
        self._log: Optional[IO[str]] = None
        if log_path:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "a", encoding="utf-8", buffering=1)
        self._stdout = bytearray()
        self.stdout_truncated = False
        self.callback_errors = 0
        self._threads: list[threading.Thread] = []

    def start(self, proc: subprocess.Popen, capture_stdout: bool) -> None:
        self._thread(self._read_lines, proc.stderr if capture_stdout else proc.stdout)
        if capture_stdout:
            self._thread(self._read_capture, proc.stdout)

    def _thread(self, target: Callable[[IO[bytes]], None], pipe: Optional[IO[bytes]]) -> None:
        t = threading.Thread(target=target, args=(pipe,), daemon=True, name="executor-reader")
        t.start()
        self._threads.append(t)

    def _read_lines(self, pipe: IO[bytes]) -> None:
        with pipe:
            for raw in iter(lambda: pipe.readline(MAX_LINE), b""):
                self._line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    def _line(self, line: str) -> None:
        if self._redact is not None:
            line = self._redact(line)
        if self._log is not None:
            try:
                self._log.write(line + "\n")
            except ValueError:  # closed by finish() while an escaped process still writes
                pass
        self.tail.append(line)
        if self._on_line is not None:
            try:
                self._on_line(line)
            except Exception:  # a broken consumer must not stop the draining of the pipe
                self.callback_errors += 1

    def _read_capture(self, pipe: IO[bytes]) -> None:
        with pipe:
            for chunk in iter(lambda: pipe.read1(65536), b""):
                room = STDOUT_CAP - len(self._stdout)
                if len(chunk) > room:
                    self.stdout_truncated = True
                self._stdout += chunk[:max(room, 0)]

    def finish(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._log is not None:
            self._log.close()

    @property
    def stdout(self) -> str:
        return self._stdout.decode("utf-8", errors="replace")


class ChildHandle:
    """A long-lived child started by `spawn` (a vLLM server). Its group is stopped by `stop`,
    or by the executor's `terminate_all`."""

    def __init__(self, proc: subprocess.Popen, output: _Output, executor: "LocalExecutor", spec: ProcessSpec):
        self._proc = proc
        self._output = output
        self._executor = executor
        self.spec = spec
        self.pid = proc.pid
        self.pgid = proc.pid
        self.name = spec.name

    def alive(self) -> bool:
        return self.poll() is None

    def poll(self) -> Optional[int]:
        code = self._proc.poll()
        if code is not None and not group_alive(self.pgid):
            self._executor._forget(self.pgid)  # gone for good: its pgid may be reused
        return code

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """The exit code, or None if it is still running after `timeout` seconds."""
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._executor._forget(self.pgid)
        self._output.finish()
        return code

    def stop(self, grace_s: Optional[float] = None) -> Optional[int]:
        """Stop the whole group (SIGTERM, grace, SIGKILL); returns the leader's exit code."""
        stop_group(self._proc, self.spec.grace_s if grace_s is None else grace_s)
        self._executor._forget(self.pgid)
        self._output.finish()
        return self._proc.returncode

    @property
    def log_tail(self) -> list[str]:
        return list(self._output.tail)

    def __enter__(self) -> "ChildHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> Optional[Callable[[], None]]:
    """A preexec_fn asking Linux to SIGTERM the child when its parent dies (even by kill -9).

    The signal is tied to the *thread* that started the child: start long-lived children from a
    thread that outlives them."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


_PREEXEC = _die_with_parent()


class _Live:
    """A running group the executor tracks."""

    def __init__(self, proc: subprocess.Popen, grace_s: float):
        self.proc = proc
        self.grace_s = grace_s
        self.terminated = False  # stopped by terminate_all


class LocalExecutor:
    """Children on this machine, each in its own process group. Thread-safe.

    `redact` is applied to every output line before it reaches the log file or on_line. With
    `scrub_env`, a child never gets the value of a secret-named variable it was not given
    (ProcessSpec.pass_secrets; conductor.redact.child_env)."""

    def __init__(self, redact: Optional[Redact] = None, scrub_env: bool = False):
        self._redact = redact
        self._scrub_env = scrub_env
        self._live: dict[int, _Live] = {}
        self._lock = threading.RLock()  # re-entrant: terminate_all may run in a signal handler
        self.closed = False

    def run(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None,
            cancel: Optional[threading.Event] = None) -> ProcessOutcome:
        start = time.monotonic()
        output = _Output(spec.log_path, on_line, self._redact)
        try:
            live = self._start(spec, output)
        except (OSError, RuntimeError) as exc:
            output.finish()
            return ProcessOutcome(exit_code=None, duration_s=time.monotonic() - start,
                                  error=f"cannot start {spec.argv[0]!r}: {getattr(exc, 'strerror', None) or exc}")
        timed_out, cancelled = self._wait(live.proc, spec, cancel, start)
        if timed_out or cancelled or group_alive(live.proc.pid):  # leftovers of a finished child too
            stop_group(live.proc, spec.grace_s)
        self._forget(live.proc.pid)
        output.finish()
        return ProcessOutcome(
            exit_code=live.proc.returncode, duration_s=time.monotonic() - start, timed_out=timed_out,
            cancelled=cancelled or live.terminated, stdout=output.stdout,
            stdout_truncated=output.stdout_truncated, log_tail=list(output.tail))

    def spawn(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None) -> ChildHandle:
        """Start a long-lived child; raises OSError when it cannot start. Stop it with
        `handle.stop()`; `terminate_all()` stops it too."""
        output = _Output(spec.log_path, on_line, self._redact)
        try:
            live = self._start(spec, output)
        except BaseException:
            output.finish()
            raise
        return ChildHandle(live.proc, output, self, spec)

    def terminate_all(self, grace_s: Optional[float] = None) -> None:
        """SIGTERM every live group, wait (one shared grace period), SIGKILL what is left."""
        with self._lock:
            lives = [l for l in self._live.values() if _running(l.proc)]  # never signal a reused pgid
            for live in lives:
                live.terminated = True
                _signal_group(live.proc.pid, signal.SIGTERM)
        grace = max((l.grace_s for l in lives), default=0.0) if grace_s is None else grace_s
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_running(l.proc) for l in lives):
            time.sleep(POLL_S)
        for live in lives:
            if _running(live.proc):
                _signal_group(live.proc.pid, signal.SIGKILL)

    def shutdown(self, grace_s: Optional[float] = None) -> None:
        """terminate_all(), then refuse to start anything new (the run is ending)."""
        with self._lock:
            self.closed = True
        self.terminate_all(grace_s)

    def live_pgids(self) -> list[int]:
        with self._lock:
            return list(self._live)

    def _start(self, spec: ProcessSpec, output: _Output) -> _Live:
        from conductor.redact import child_env

        base = child_env(os.environ, spec.pass_secrets) if self._scrub_env else os.environ
        env = {**base, "PYTHONUNBUFFERED": "1", **spec.env_extra}
        with self._lock:
            if self.closed:
                raise RuntimeError("the executor is shut down")
            proc = subprocess.Popen(
                spec.argv, cwd=spec.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if spec.capture_stdout else subprocess.STDOUT,
                start_new_session=True, preexec_fn=_PREEXEC if spec.die_with_parent else None)
            live = self._live[proc.pid] = _Live(proc, spec.grace_s)
        output.start(proc, spec.capture_stdout)
        return live

    @staticmethod
    def _wait(proc: subprocess.Popen, spec: ProcessSpec, cancel: Optional[threading.Event],
              start: float) -> tuple[bool, bool]:
        """(timed_out, cancelled), or (False, False) once the child exits by itself."""
        deadline = None if spec.timeout_s is None else start + spec.timeout_s
        while True:
            try:
                proc.wait(timeout=POLL_S)
                return False, False
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                return False, True
            if deadline is not None and time.monotonic() >= deadline:
                return True, False

    def _forget(self, pgid: int) -> None:
        with self._lock:
            self._live.pop(pgid, None)


def exit_cleanly_on_signals(executor: LocalExecutor, code: int = 143) -> None:
    """For a skill process that spawns children: on SIGTERM/SIGINT stop them all, then exit.

    The conductor SIGTERMs a skill's group and SIGKILLs it after a grace period; a skill that
    started a server in its own group must stop that server inside the grace period."""

    def handler(signum: int, frame: object) -> None:
        executor.shutdown(grace_s=2.0)
        raise SystemExit(code)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
