#!/usr/bin/env python3
"""A real single-node SLURM cluster on this machine, for trying the SLURM executor and for its tests.

    sudo python3 scripts/slurm_cluster.py start     # idempotent; prints: export SLURM_CONF=...
    python3 scripts/slurm_cluster.py status         # exit 0 when every daemon answers
    sudo python3 scripts/slurm_cluster.py stop      # cancels the cluster's jobs, stops the daemons by PID

Needs root and Debian's packages: slurmctld slurmd slurm-client munge slurmdbd mariadb-server
(`apt-get install -y ...`; no systemd needed). Everything lives in one folder (default
/tmp/conductor-slurm, or --dir, or $CONDUCTOR_SLURM_DIR): configuration, state, spool, logs, the
MariaDB data, the pid files and cluster.json (ports, pids). Ports are chosen free at each fresh start.

Daemons start in the order munged, mariadbd, slurmdbd, (wait for sacctmgr), cluster + account,
slurmctld, slurmd; they stop in the reverse order by their recorded PIDs (never by name). munged
runs on its default socket (/run/munge/munge.socket.2: sacctmgr ignores another), so there is one
such cluster per machine; a munged that this script did not start is used and left running.

The node declares --cpus (default 8) on a machine that may have fewer cores
(SlurmdParameters=config_overrides), so that several small jobs run at once; memory is not
enforced by cgroups (proctrack/linuxproc, task/none) but by slurmstepd's accounting poll
(JobAcctGatherParams=OverMemoryKill), so a job over its --mem ends OUT_OF_MEMORY.
Only the standard library: runs with the system python3.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

DEFAULT_DIR = "/tmp/conductor-slurm"
MUNGE_SOCKET = "/run/munge/munge.socket.2"
CLUSTER = "conductor"
ACCOUNT = "conductor"
PARTITION = "debug"
URGENT = "urgent"
PACKAGES = ("slurmctld", "slurmd", "sbatch", "munged", "slurmdbd", "mariadbd", "mariadb-install-db")
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")  # start order; stop is the reverse
CALL_TIMEOUT_S = 10.0  # every client call is bounded: a call to a half-started daemon can hang


class ClusterError(Exception):
    """A sentence for the person running the script."""


def say(msg: str) -> None:
    print(f"[slurm-cluster] {msg}", file=sys.stderr, flush=True)


class Layout:
    """Every path of one cluster, under one folder."""

    def __init__(self, root: Path):
        self.root = root
        self.etc, self.log, self.run = root / "etc", root / "log", root / "run"
        self.state, self.spool, self.db = root / "state", root / "spool", root / "mysql"
        self.slurm_conf, self.dbd_conf = self.etc / "slurm.conf", self.etc / "slurmdbd.conf"
        self.munge_key = self.etc / "munge.key"
        self.db_socket = self.run / "mysqld.sock"
        self.record = root / "cluster.json"

    def pid_file(self, daemon: str) -> Path:
        return self.run / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.log / f"{daemon}.log"

    def make(self) -> None:
        for d in (self.etc, self.log, self.run, self.state, self.spool / "slurmd", self.db):
            d.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.slurm_conf)}


# ----------------------------------------------------------------------------- processes


def read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: Optional[int], exe_hint: str = "") -> bool:
    """Running, not a zombie, and (when a hint is given) its command line names that program:
    a recycled PID that now belongs to something else is not our daemon."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return exe_hint in cmd if exe_hint else True


def daemon_pid(lay: Layout, daemon: str) -> Optional[int]:
    pid = read_pid(lay.pid_file(daemon))
    return pid if pid_alive(pid, daemon) else None


def stop_pid(pid: int, name: str, timeout_s: float = 20.0) -> None:
    """SIGTERM, wait, SIGKILL: this one process, found by its recorded PID."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    say(f"{name} (pid {pid}) ignored SIGTERM for {timeout_s:.0f}s: SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def call(argv: list[str], lay: Layout, timeout_s: float = CALL_TIMEOUT_S, check: bool = False) -> tuple[int, str]:
    """Run a client command with SLURM_CONF set and a timeout; (exit code, output). 124: timed out."""
    try:
        p = subprocess.run(argv, env=lay.env(), capture_output=True, text=True, timeout=timeout_s,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]} did not answer within {timeout_s:.0f}s"
    except FileNotFoundError:
        return 127, f"{argv[0]} is not installed"
    out = (p.stdout + p.stderr).strip()
    if check and p.returncode != 0:
        raise ClusterError(f"{' '.join(argv[:3])} failed ({p.returncode}): {out[-400:]}")
    return p.returncode, out


def wait_until(what: str, probe, timeout_s: float, log: Optional[Path] = None) -> float:
    """Poll `probe()` until it is true; the seconds it took. Raises with the log's tail on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if probe():
            return time.monotonic() - t0
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    raise ClusterError(f"{what} did not come up within {timeout_s:.0f}s" + (f"; its log ends: {tail}" if tail else ""))


def free_ports(n: int) -> list[int]:
    """n distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(int(s.getsockname()[1]))
    finally:
        for s in socks:
            s.close()
    return ports


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# ----------------------------------------------------------------------------- configuration


def slurm_conf(lay: Layout, ports: dict[str, int], node: str, cpus: int, memory_mb: int) -> str:
    d = lay.root
    return f"""# written by scripts/slurm_cluster.py: a single-node test cluster; do not edit by hand
ClusterName={CLUSTER}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports['slurmctld']}
SlurmdPort={ports['slurmd']}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/slurmd
SlurmctldPidFile={lay.pid_file('slurmctld')}
SlurmdPidFile={lay.pid_file('slurmd')}
SlurmctldLogFile={lay.log_file('slurmctld')}
SlurmdLogFile={lay.log_file('slurmd')}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,batch_sched_delay=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports['slurmdbd']}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
SlurmctldDebug=info
SlurmdDebug=info
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP PriorityTier=1
# a job here preempts (cancels) debug jobs it needs room from: how PREEMPTED is tested
PartitionName={URGENT} Nodes={node} MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
"""


def dbd_conf(lay: Layout, ports: dict[str, int], password: str) -> str:
    return f"""# written by scripts/slurm_cluster.py (mode 600: it holds the private database's password)
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort={ports['slurmdbd']}
SlurmUser=root
PidFile={lay.pid_file('slurmdbd')}
LogFile={lay.log_file('slurmdbd')}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mariadb']}
StorageUser=slurm
StoragePass={password}
StorageLoc=slurm_acct_db
"""


def write_private(path: Path, text: str) -> None:
    """Written with mode 600 from the start (slurmdbd refuses a readable slurmdbd.conf)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def write_configs(lay: Layout, cpus: int, memory_mb: int) -> dict:
    """Fresh ports and configuration files; the database password is kept across restarts."""
    old = load_record(lay)
    password = old.get("db_password") or secrets.token_hex(16)
    ports = dict(zip(("slurmctld", "slurmd", "slurmdbd", "mariadb"), free_ports(4), strict=True))
    node = socket.gethostname().split(".")[0]
    lay.slurm_conf.write_text(slurm_conf(lay, ports, node, cpus, memory_mb))
    write_private(lay.dbd_conf, dbd_conf(lay, ports, password))
    record = {"dir": str(lay.root), "node": node, "cpus": cpus, "memory_mb": memory_mb, "ports": ports,
              "partition": PARTITION, "urgent_partition": URGENT, "account": ACCOUNT, "cluster": CLUSTER,
              "slurm_conf": str(lay.slurm_conf), "db_password": password, "munged_external": False}
    save_record(lay, record)
    return record


def load_record(lay: Layout) -> dict:
    try:
        return json.loads(lay.record.read_text())
    except (OSError, ValueError):
        return {}


def save_record(lay: Layout, record: dict) -> None:
    tmp = lay.record.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1)
    os.replace(tmp, lay.record)


# ----------------------------------------------------------------------------- start


def munge_works(lay: Layout) -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=5, stdin=subprocess.DEVNULL)
        back = subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return cred.returncode == 0 and back.returncode == 0


def start_munged(lay: Layout, rec: dict) -> None:
    if daemon_pid(lay, "munged"):
        return
    if munge_works(lay):  # a munged this script did not start: use it, never stop it
        rec["munged_external"] = True
        say(f"using the munged already serving {MUNGE_SOCKET} (not started here, will not be stopped here)")
        return
    Path(MUNGE_SOCKET).parent.mkdir(parents=True, exist_ok=True)
    if not lay.munge_key.exists():
        fd = os.open(lay.munge_key, os.O_WRONLY | os.O_CREAT, 0o400)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(1024))
    call(["munged", "--force", f"--key-file={lay.munge_key}", f"--pid-file={lay.pid_file('munged')}",
          f"--log-file={lay.log_file('munged')}", f"--seed-file={lay.run / 'munged.seed'}"], lay, check=True)
    rec["munged_external"] = False
    wait_until("munged", lambda: munge_works(lay), 20, lay.log_file("munged"))


def mysql(lay: Layout, sql: str) -> tuple[int, str]:
    return call(["mariadb", "--no-defaults", f"--socket={lay.db_socket}", "-u", "root", "-e", sql], lay)


def start_mariadb(lay: Layout, rec: dict) -> None:
    if daemon_pid(lay, "mariadbd"):
        return
    if not (lay.db / "mysql").is_dir():
        call(["mariadb-install-db", "--no-defaults", f"--datadir={lay.db}", "--user=root",
              "--auth-root-authentication-method=socket", "--skip-test-db"], lay, timeout_s=120, check=True)
    log = open(lay.log_file("mariadbd"), "ab")
    subprocess.Popen(
        ["mariadbd", "--no-defaults", f"--datadir={lay.db}", f"--socket={lay.db_socket}",
         f"--port={rec['ports']['mariadb']}", "--bind-address=127.0.0.1", f"--pid-file={lay.pid_file('mariadbd')}",
         "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=64M"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    log.close()
    wait_until("mariadbd", lambda: mysql(lay, "SELECT 1")[0] == 0, 60, lay.log_file("mariadbd"))
    pw = rec["db_password"]
    users = ("'slurm'@'localhost'", "'slurm'@'127.0.0.1'")  # TCP from 127.0.0.1 may resolve to either
    sql = ["DROP USER IF EXISTS ''@'localhost'", f"DROP USER IF EXISTS ''@'{rec['node']}'"]
    for u in users:
        sql += [f"CREATE USER IF NOT EXISTS {u} IDENTIFIED BY '{pw}'", f"ALTER USER {u} IDENTIFIED BY '{pw}'",
                f"GRANT ALL ON slurm_acct_db.* TO {u}"]
    code, out = mysql(lay, "; ".join(sql) + "; FLUSH PRIVILEGES")
    if code != 0:
        raise ClusterError(f"could not create the accounting database user: {out[-300:]}")


def sacctmgr(lay: Layout, *args: str) -> tuple[int, str]:
    return call(["sacctmgr", "-i", "-n", *args], lay, timeout_s=8)


def start_slurmdbd(lay: Layout, rec: dict) -> None:
    if not daemon_pid(lay, "slurmdbd"):
        call(["slurmdbd"], lay, check=True)
        wait_until("slurmdbd (sacctmgr answering)", lambda: sacctmgr(lay, "list", "cluster")[0] == 0, 60,
                   lay.log_file("slurmdbd"))
    if CLUSTER not in sacctmgr(lay, "list", "cluster", "format=cluster")[1].split():
        sacctmgr(lay, "add", "cluster", CLUSTER)
    if ACCOUNT not in sacctmgr(lay, "list", "account", "format=account")[1].split():
        sacctmgr(lay, "add", "account", ACCOUNT, f"Cluster={CLUSTER}", "Description=conductor tests",
                 "Organization=conductor")
        sacctmgr(lay, "add", "user", "root", f"Account={ACCOUNT}", f"Cluster={CLUSTER}")


def node_state(lay: Layout) -> str:
    code, out = call(["sinfo", "-h", "-N", "-o", "%T"], lay, timeout_s=5)
    return out.strip().splitlines()[0] if code == 0 and out.strip() else ""


def start_slurm(lay: Layout, rec: dict) -> None:
    if not daemon_pid(lay, "slurmctld"):
        call(["slurmctld", "-i"], lay, check=True)
        wait_until("slurmctld", lambda: "UP" in call(["scontrol", "ping"], lay, timeout_s=5)[1], 60,
                   lay.log_file("slurmctld"))
    if not daemon_pid(lay, "slurmd"):
        call(["slurmd", "-N", rec["node"]], lay, check=True)
    ready = ("idle", "mixed", "allocated", "completing")
    try:
        wait_until("the node", lambda: node_state(lay).rstrip("*~#") in ready, 30, lay.log_file("slurmd"))
    except ClusterError:  # down after an unclean stop: bring it back once
        call(["scontrol", "update", f"nodename={rec['node']}", "state=resume"], lay)
        wait_until("the node", lambda: node_state(lay).rstrip("*~#") in ready, 30, lay.log_file("slurmd"))


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise ClusterError("start and stop need root (the daemons run as root on this test cluster)")
    missing = [p for p in PACKAGES if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        raise ClusterError(f"missing programs {missing}: apt-get install -y slurmctld slurmd slurm-client munge "
                           "slurmdbd mariadb-server")


def start(lay: Layout, cpus: int, memory_mb: int) -> dict:
    check_prerequisites()
    lay.make()
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    ours = [d for d in DAEMONS[1:] if daemon_pid(lay, d)]
    rec = load_record(lay) if ours else write_configs(lay, cpus, memory_mb)
    if ours and len(ours) < len(DAEMONS) - 1:
        say(f"already running: {', '.join(ours)}; starting what is missing with the same configuration")
    t0 = time.monotonic()
    for step in (start_munged, start_mariadb, start_slurmdbd, start_slurm):
        t = time.monotonic()
        step(lay, rec)
        save_record(lay, rec)
        say(f"{step.__name__.removeprefix('start_')} ready ({time.monotonic() - t:.1f}s)")
    rec["started_s"] = round(time.monotonic() - t0, 1)
    rec["pids"] = {d: daemon_pid(lay, d) for d in DAEMONS}
    save_record(lay, rec)
    return rec


# ----------------------------------------------------------------------------- stop / status


def cancel_jobs(lay: Layout, timeout_s: float = 30.0) -> None:
    """scancel every job the cluster still knows, and wait until none is left (their processes
    belong to slurmstepd, which outlives slurmd)."""
    code, out = call(["squeue", "-h", "-o", "%i"], lay, timeout_s=5)
    ids = out.split() if code == 0 else []
    if not ids:
        return
    say(f"cancelling {len(ids)} job(s): {' '.join(ids)}")
    call(["scancel", *ids], lay)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code, out = call(["squeue", "-h", "-t", "all", "-o", "%T"], lay, timeout_s=5)
        if code != 0 or not [s for s in out.split() if s in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING")]:
            return
        time.sleep(0.5)
    say(f"some jobs were still ending after {timeout_s:.0f}s")


def stop(lay: Layout) -> list[str]:
    """Stop the daemons this script started, by their recorded PIDs, last started first."""
    if os.geteuid() != 0:
        raise ClusterError("stop needs root")
    rec = load_record(lay)
    if daemon_pid(lay, "slurmctld") and daemon_pid(lay, "slurmd"):
        cancel_jobs(lay)
    stopped = []
    for d in reversed(DAEMONS):
        if d == "munged" and rec.get("munged_external"):
            continue
        pid = daemon_pid(lay, d)
        if pid:
            stop_pid(pid, d)
            stopped.append(f"{d} ({pid})")
    return stopped


def status(lay: Layout) -> dict:
    rec = load_record(lay)
    daemons = {d: daemon_pid(lay, d) for d in DAEMONS}
    if rec.get("munged_external"):
        daemons["munged"] = "external" if munge_works(lay) else None
    up = bool(rec) and all(daemons.values())
    node = node_state(lay) if up else ""
    return {"running": up and bool(node) and not node.startswith(("down", "drain")), "node_state": node,
            "daemons": daemons, "slurm_conf": rec.get("slurm_conf"), "ports": rec.get("ports"),
            "node": rec.get("node"), "partition": rec.get("partition"), "urgent_partition": rec.get("urgent_partition"),
            "account": rec.get("account"), "cpus": rec.get("cpus"),
            "memory_mb": rec.get("memory_mb"), "dir": str(lay.root)}


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="slurm_cluster.py", description=__doc__.split("\n\n")[0],
        epilog="Then: export SLURM_CONF=<dir>/etc/slurm.conf (start prints it) and use sbatch, squeue, sacct.")
    p.add_argument("action", choices=("start", "stop", "status", "env"),
                   help="start (idempotent), stop (by recorded PIDs), status (exit 0 when up), env (print the export)")
    p.add_argument("--dir", default=os.environ.get("CONDUCTOR_SLURM_DIR", DEFAULT_DIR),
                   help=f"the cluster's folder (default $CONDUCTOR_SLURM_DIR or {DEFAULT_DIR})")
    p.add_argument("--cpus", type=int, default=8, help="CPUs the node declares (default 8, more than the cores: "
                   "small jobs share them)")
    p.add_argument("--memory-mb", type=int, default=8192, help="memory the node declares (default 8192)")
    p.add_argument("--json", action="store_true", help="status/start: print the record as JSON on stdout")
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    a = parse_args(argv)
    lay = Layout(Path(a.dir).resolve())
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    try:
        if a.action == "start":
            rec = start(lay, a.cpus, a.memory_mb)
            say(f"cluster up in {rec['started_s']}s: node {rec['node']} ({rec['cpus']} CPUs, {rec['memory_mb']} MB), "
                f"partition {rec['partition']}, account {rec['account']}")
            print(json.dumps(status(lay)) if a.json else f"export SLURM_CONF={lay.slurm_conf}")
            return 0
        if a.action == "stop":
            stopped = stop(lay)
            say(f"stopped: {', '.join(stopped)}" if stopped else "nothing of this cluster was running")
            return 0
        st = status(lay)
        if a.action == "env":
            print(f"export SLURM_CONF={lay.slurm_conf}")
            return 0 if st["running"] else 1
        if a.json:
            print(json.dumps(st))
        else:
            for d, pid in st["daemons"].items():
                print(f"{d:10} {pid or 'not running'}")
            print(f"node       {st['node_state'] or '-'}\nSLURM_CONF {st['slurm_conf'] or '-'}")
        return 0 if st["running"] else 1
    except ClusterError as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
