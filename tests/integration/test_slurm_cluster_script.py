"""scripts/slurm_cluster.py, the test cluster's own script: idempotent start, status that tells the
truth, and repair of a cluster one of whose daemons died (stopped here by its recorded PID)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests import slurm_cluster as cluster_fixture
from tests.proctools import wait_dead

slurm_cluster = cluster_fixture.slurm_cluster
cluster = cluster_fixture.cluster

pytestmark = [pytest.mark.integration, pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]


def test_start_on_a_running_cluster_changes_nothing():
    before = json.loads(cluster("status").stdout)
    again = cluster("start")
    assert again.returncode == 0, again.stderr
    after = json.loads(again.stdout)
    assert after["daemons"] == before["daemons"] and after["ports"] == before["ports"] and after["running"]


def test_a_dead_daemon_is_reported_and_start_brings_it_back(slurm_cluster):
    pid = slurm_cluster["daemons"]["slurmd"]
    others = {d: p for d, p in slurm_cluster["daemons"].items() if d != "slurmd"}
    os.kill(pid, signal.SIGTERM)
    assert wait_dead([pid], 20) == []
    down = cluster("status")
    assert down.returncode == 1 and json.loads(down.stdout)["daemons"]["slurmd"] is None
    up = cluster("start")
    assert up.returncode == 0, up.stderr
    now = json.loads(up.stdout)
    assert now["running"] and now["daemons"]["slurmd"] not in (None, pid)
    assert {d: p for d, p in now["daemons"].items() if d != "slurmd"} == others  # the rest untouched
    assert now["ports"] == slurm_cluster["ports"]  # same configuration: the running daemons still agree
    slurm_cluster["daemons"] = now["daemons"]
    ok = subprocess.run(["srun", "-n1", "hostname"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr


def test_help_and_usage_errors_are_one_sentence(slurm_cluster):
    script = [sys.executable, str(cluster_fixture.SCRIPT)]
    helped = subprocess.run([*script, "--help"], capture_output=True, text=True, check=True).stdout
    assert "start" in helped and "SLURM_CONF" in helped and "--cpus" in helped
    bad = subprocess.run([*script, "restart"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "Traceback" not in bad.stderr
    env = subprocess.run([*script, "env"], capture_output=True, text=True)
    assert env.returncode == 0 and env.stdout.strip() == f"export SLURM_CONF={slurm_cluster['slurm_conf']}"
