"""Runs a gate's `python -m` entry point inside this process, answering as a child process would.

Replay re-decides every gate on its recorded facts; starting an interpreter for each costs far more
than the decision. `InProcessGates` is an Executor for those re-decisions only: it runs
`[python, "-m", MODULE, *args]` with runpy (the same entry point, argv, facts file and verdict on
stdout), turns SystemExit / an uncaught exception into the exit code Python would give, and returns
a ProcessOutcome, so `gate_runner.judge` trusts or fails it closed exactly as it does a child's. Live
runs keep their gates in separate processes (DESIGN: gates are separate processes).

    run = regate_on_facts("compare", facts, executor=InProcessGates(), workspace=ws, out_dir=d,
                          timeout_s=60)

What a process would isolate and this cannot: a gate that kills its interpreter (os._exit, a
signal) ends the replay; one that overruns its timeout is reported timed out (GATE_ERROR) but its
thread runs on (a thread cannot be killed) holding the lock, so the next in-process gate waits for
it (and times out too if it never ends). The module must be importable here (env_extra is not applied),
and relative paths resolve
against this process's working directory, not spec.cwd (replay passes absolute paths).
"""

from __future__ import annotations

import io
import runpy
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Optional

from conductor.runtime.executor import LOG_TAIL_LINES, STDOUT_CAP, LineCallback, ProcessOutcome, ProcessSpec

POLL_S = 0.005
_RUN_LOCK = threading.Lock()  # sys.argv and sys.modules["__main__"] are the process's: one gate at a time
_STREAMS_LOCK = threading.Lock()


class _Routed:
    """sys.stdout / sys.stderr while gates run: a gate thread's writes go to its own buffer, every
    other thread's to the stream that was there before."""

    def __init__(self, fallback: Any):
        self.fallback = fallback
        self.sinks: dict[int, io.StringIO] = {}

    def _target(self) -> Any:
        return self.sinks.get(threading.get_ident(), self.fallback)

    def write(self, text: str) -> int:
        target = self._target()
        return len(text) if target is None else target.write(text)  # None: no console (as print does)

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def _route(out: io.StringIO, err: io.StringIO) -> None:
    """Route this thread's stdout / stderr into out / err (installing the routers on first use)."""
    with _STREAMS_LOCK:
        for attr, sink in (("stdout", out), ("stderr", err)):
            stream = getattr(sys, attr)
            if not isinstance(stream, _Routed):
                stream = _Routed(stream)
                setattr(sys, attr, stream)
            stream.sinks[threading.get_ident()] = sink


def _unroute() -> None:
    """Stop routing this thread; put the original streams back once no gate thread is left."""
    with _STREAMS_LOCK:
        for attr in ("stdout", "stderr"):
            stream = getattr(sys, attr)
            if isinstance(stream, _Routed):
                stream.sinks.pop(threading.get_ident(), None)
                if not stream.sinks:
                    setattr(sys, attr, stream.fallback)


def _exit_code(code: Any, err: io.StringIO) -> int:
    """What the interpreter exits with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code % 256
    print(code, file=err)
    return 1


class _GateCall:
    """One `python -m MODULE ARGS` on a worker thread; exit_code stays None until it ends."""

    def __init__(self, module: str, args: list[str]):
        self.module, self.args = module, args
        self.out, self.err = io.StringIO(), io.StringIO()
        self.exit_code: Optional[int] = None
        self.done = threading.Event()

    def __call__(self) -> None:
        _route(self.out, self.err)
        try:
            with _RUN_LOCK:
                self.exit_code = self._run()
        finally:
            _unroute()
            self.done.set()

    def _run(self) -> int:
        saved = sys.argv
        sys.argv = [self.module, *self.args]  # runpy sets argv[0] to the module's file, as -m does
        try:
            runpy.run_module(self.module, run_name="__main__", alter_sys=True)
            return 0
        except SystemExit as exc:
            return _exit_code(exc.code, self.err)
        except BaseException:  # an uncaught exception: the traceback on stderr, exit 1
            traceback.print_exc(file=self.err)
            return 1
        finally:
            sys.argv = saved


def module_call(argv: list[str]) -> Optional[tuple[str, list[str]]]:
    """(module, args) of `python -m MODULE ARGS...`, else None."""
    if len(argv) >= 3 and argv[1] == "-m" and argv[2]:
        return argv[2], list(argv[3:])
    return None


class InProcessGates:
    """An Executor for replay's gate re-decisions: `python -m` gates run in this process."""

    mode = "in-process"

    def run(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None,
            cancel: Optional[threading.Event] = None) -> ProcessOutcome:
        start = time.monotonic()
        call_of = module_call(spec.argv)
        if call_of is None:
            return ProcessOutcome(exit_code=None, duration_s=0.0,
                                  error=f"only `python -m MODULE` runs in-process, not {spec.argv[:3]!r}")
        call = _GateCall(*call_of)
        threading.Thread(target=call, name=spec.name or f"gate:{call.module}", daemon=True).start()
        timed_out, cancelled = _wait(call, spec.timeout_s, cancel, start)
        return _outcome(call, spec, on_line, time.monotonic() - start, timed_out, cancelled)

    def spawn(self, spec: ProcessSpec, on_line: Optional[LineCallback] = None) -> Any:
        raise NotImplementedError("in-process gates run to completion; nothing long-lived is spawned here")

    def terminate_all(self, grace_s: Optional[float] = None) -> None:
        """Nothing to signal: a gate thread cannot be stopped (its timeout already failed it closed)."""

    def shutdown(self, grace_s: Optional[float] = None) -> None:
        self.terminate_all(grace_s)


def _wait(call: _GateCall, timeout_s: Optional[float], cancel: Optional[threading.Event],
          start: float) -> tuple[bool, bool]:
    """(timed_out, cancelled), or (False, False) once the gate ends by itself."""
    deadline = None if timeout_s is None else start + timeout_s
    while not call.done.wait(POLL_S if cancel is not None or deadline is not None else None):
        if cancel is not None and cancel.is_set():
            return False, True
        if deadline is not None and time.monotonic() >= deadline:
            return True, False
    return False, False


def _outcome(call: _GateCall, spec: ProcessSpec, on_line: Optional[LineCallback], duration_s: float,
             timed_out: bool, cancelled: bool) -> ProcessOutcome:
    stdout = call.out.getvalue() if call.done.is_set() else ""
    lines = (call.err.getvalue() if call.done.is_set() else "").splitlines()
    if spec.log_path:
        Path(spec.log_path).parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "a", encoding="utf-8") as log:
            log.writelines(line + "\n" for line in lines)
    for line in lines:
        try:
            if on_line is not None:
                on_line(line)
        except Exception:  # a broken consumer changes nothing about the gate (as in LocalExecutor)
            pass
    data = stdout.encode("utf-8", errors="replace")
    return ProcessOutcome(exit_code=call.exit_code, duration_s=duration_s, timed_out=timed_out, cancelled=cancelled,
                          stdout=data[:STDOUT_CAP].decode("utf-8", errors="replace"),
                          stdout_truncated=len(data) > STDOUT_CAP, log_tail=lines[-LOG_TAIL_LINES:])
