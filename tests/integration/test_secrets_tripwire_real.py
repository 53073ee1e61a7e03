"""Item 19 with the real skills: `conductor run` as a user runs it (a child process, real preflight,
modelopt quantize, serve, closeout), secrets planted in the release file and the environment, then
every byte of the run folder, stdout and stderr searched for them (as is, URL- and base64-encoded).

Two runs at tiny limits: one whose task name and model path hold a secret (it stops at preflight:
the skills receive the secret redacted, so they cannot find the model, and the run says so), and one
that quantizes the embedded model for real and stops at serve (serve.skip), through the real
closeout's report.md and report.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.embedded_release import OFFLINE, REPO, embedded_checkpoint
from tests.unit.test_secrets_tripwire import ENV_SECRETS, FILE_KEY, leaks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


def _run(tmp: Path, release: str) -> tuple[Path, subprocess.CompletedProcess]:
    (tmp / "release.yaml").write_text(release)
    ws = tmp / "ws"
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    proc = subprocess.run([sys.executable, "-m", "conductor.cli", "run", "--headless", "--json", "--release",
                           str(tmp / "release.yaml"), "--workspace", str(ws)],
                          cwd=REPO, env={**env, **OFFLINE, **ENV_SECRETS}, capture_output=True, text=True,
                          timeout=1700)
    return ws, proc


def _leaks(ws: Path, proc: subprocess.CompletedProcess) -> list[str]:
    found = leaks(proc.stdout.encode(), "stdout") + leaks(proc.stderr.encode(), "stderr")
    for p in ws.rglob("*"):
        found += leaks(str(p.relative_to(ws)).encode(), "file name")
        if p.is_file() and not p.is_symlink():
            found += leaks(p.read_bytes(), str(p.relative_to(ws)))
    return found


def test_a_secret_task_name_and_model_path_never_reach_the_record(tmp_path):
    token = ENV_SECRETS["TASK_TOKEN"]
    base = embedded_checkpoint()
    model = tmp_path / f"models-{token}"
    model.mkdir()
    (model / "smollm2").symlink_to(base)
    ws, proc = _run(tmp_path, f"api_key: {FILE_KEY}\nmodel: {model / 'smollm2'}\n"
                              f"tasks: [conductor_facts_mc, {token}]\nprovider: autopilot\n")
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["type"] == "run_finished" and proc.returncode == result["exit_code"] != 0, proc.stderr[-2000:]
    assert (ws / "stages" / "preflight" / "attempt-1" / "context.json").is_file()
    assert (ws / "report.md").is_file() and (ws / "decision.json").is_file()
    assert _leaks(ws, proc) == []
    assert "value of a secret in model, tasks" in proc.stderr


def test_a_real_quantization_leaks_no_secret(tmp_path):
    embedded_checkpoint()
    ws, proc = _run(tmp_path, f"api_key: {FILE_KEY}\nmodel: embedded:smollm2-135m-instruct\n"
                              "tasks: [conductor_facts_mc]\ncalib_size: 4\neval: {limit: 2}\nserve: {skip: true}\n"
                              "provider: autopilot\n")
    assert proc.returncode == 12, proc.stderr[-3000:]  # INFEASIBLE at serve: no server on purpose
    for path in ("seals/preflight.json", "seals/quantize.json", "report.md", "report.json", "config.json",
                 "stages/preflight/attempt-1/context.json", "stages/quantize/attempt-1/input.json",
                 "stages/serve/attempt-1/context.json", "stages/serve/attempt-1/skill.log"):
        assert (ws / path).is_file(), path
    assert _leaks(ws, proc) == []
