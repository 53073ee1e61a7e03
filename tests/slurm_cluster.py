"""The real SLURM cluster the SLURM executor's integration tests run on.

`slurm_cluster` (session scope) starts it with scripts/slurm_cluster.py when it is not running,
exports SLURM_CONF, and stops it at the end of the session if it started it (a cluster someone
started before the tests is left running). Without the packages or root it skips, except in CI
(CI=true), where .ci/run installs them and a missing cluster is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "slurm_cluster.py"
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "sacct", "munged", "slurmdbd", "mariadbd")


def cluster(action: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), action, "--json"], capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def _unavailable() -> str | None:
    missing = [p for p in PROGRAMS if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        return f"SLURM is not installed here (missing {missing}); .ci/run installs it"
    if os.geteuid() != 0:
        return "the test SLURM cluster needs root"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, Any]]:
    why = _unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    st = cluster("status")
    started = st.returncode != 0
    if started:
        up = cluster("start")
        assert up.returncode == 0, f"the test SLURM cluster did not start: {up.stderr[-2000:]}"
        st = cluster("status")
    info = json.loads(st.stdout)
    assert info["running"], f"the test SLURM cluster is not healthy: {info}"
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = info["slurm_conf"]
    try:
        yield info
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        if started:
            cluster("stop")
