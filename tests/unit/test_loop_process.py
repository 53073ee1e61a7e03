"""The conductor as a process: Ctrl-C / SIGTERM mid-skill, kill -9 then resume, --json output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conductor.transcript.jsonl import read_transcript

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def start(ws: Path, spec: dict, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.fakes.run_main", str(ws), json.dumps(spec), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path_glob: Path, pattern: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(path_glob.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"{pattern} never appeared under {path_glob}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_skill_exits_130_with_no_orphan_and_a_closed_transcript(tmp_path, sig):
    ws = tmp_path / "ws"
    p = start(ws, {"quantize": [{"sleep": 60, "spawn_child": True}]})
    marker = wait_for(ws, "stages/quantize/attempt-1/sleeping")
    skill_pid = int(marker.read_text())
    child_pid = int((marker.parent / "child.pid").read_text())
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert gone(skill_pid) and gone(child_pid), "a skill process outlived the run"
    t = read_transcript(ws / "transcript.jsonl")
    assert not t.torn and t.events[-1].type == "run_finished"
    assert [e.decision for e in t.events if e.type == "decision"] == ["INTERRUPTED"]
    assert not (ws / "decision.json").exists()


def test_kill_9_then_resume_does_not_rerun_finished_stages(tmp_path):
    ws = tmp_path / "ws"
    p = start(ws, {"compare": [{"sleep": 60}]})
    marker = wait_for(ws, "stages/compare/attempt-1/sleeping")
    skill_pid = int(marker.read_text())
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert gone(skill_pid), "the running skill outlived its conductor (kill -9)"
    sealed_at = (ws / "seals/quantize.json").stat().st_mtime_ns
    p2 = start(ws, {"compare": [{}]}, "--resume", "--json")
    out, err = p2.communicate(timeout=40)
    assert p2.returncode == 0, err
    assert (ws / "seals/quantize.json").stat().st_mtime_ns == sealed_at
    assert not (ws / "stages/quantize/attempt-2").exists()
    assert (ws / "stages/compare/attempt-2").exists()
    t = read_transcript(ws / "transcript.jsonl")
    seqs = [e.seq for e in t.events]
    assert seqs == sorted(set(seqs))  # the transcript continues in the same file, seq keeps growing
    starts = [e for e in t.events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1].resumed_from
    started = [e.stage for e in t.events if e.type == "skill_started"]
    assert started.count("quantize") == 1
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    assert lines[-1]["type"] == "run_finished" and lines[-1]["decision"] == "ACCEPT"
    assert lines[-1]["transcript"].endswith("transcript.jsonl")
