"""A single-node Slurm on the test machine, from Debian's packages (slurm-wlm, munge), for tests/test_cluster.py.

Started and stopped by the test: munged (if it is not running already), slurmctld and slurmd, with a
configuration for this one machine: no accounting database (jobs are followed with squeue, so finished
jobs stay listed for an hour: MinJobAge), no cgroups (proctrack/linuxproc, task/none), memory and cores
as consumable resources. The configuration goes to /etc/slurm/slurm.conf because the executor plugin's job
step clears SLURM_CONF before its nested srun; a slurm.conf that is not ours is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by nngeom tests/slurm_cluster.py"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")


def missing() -> str | None:
    """Why a single-node Slurm cannot be started here, or ``None``."""
    absent = [b for b in BINARIES if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()]
    if absent:
        return (
            f"Slurm is not installed ({', '.join(absent)} missing): apt-get install slurm-wlm munge (make cluster-deps)"
        )
    if os.geteuid() != 0:
        return "starting slurmctld, slurmd and munged needs root"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} exists and is not ours: this machine has its own Slurm; not touching it"
    return None


def _config(state: Path) -> str:
    host = socket.gethostname().split(".")[0]
    mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 2048  # leave the OS 2 GB
    return f"""{MARKER}
ClusterName=nngeom-test
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
ReturnToService=2
NodeName={host} CPUs={os.cpu_count()} RealMemory={mem_mb} State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _sbin(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@contextlib.contextmanager
def single_node_slurm(state: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """Run slurmctld and slurmd (and munged if needed) for the duration of the ``with`` block."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    state = Path(state)
    for sub in ("ctld", "d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    started_munge = False
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", _sbin("munged")], check=True)
        started_munge = True
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(_config(state))
    try:
        subprocess.run([_sbin("slurmctld")], check=True)
        subprocess.run([_sbin("slurmd")], check=True)
        deadline = time.monotonic() + timeout_s
        while True:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True).stdout.strip()
            if out in ("idle", "mix", "alloc"):
                break
            if time.monotonic() > deadline:
                log = (state / "slurmctld.log").read_text()[-2000:] if (state / "slurmctld.log").exists() else ""
                raise RuntimeError(f"the Slurm node did not come up (sinfo: {out!r}); slurmctld.log:\n{log}")
            time.sleep(1)
        yield
    finally:
        for pidfile in ("slurmd.pid", "slurmctld.pid"):
            with contextlib.suppress(OSError, ValueError):
                os.kill(int((state / pidfile).read_text().strip()), 15)
        time.sleep(2)
        SLURM_CONF.unlink(missing_ok=True)
        if started_munge:
            subprocess.run(["pkill", "-x", "munged"], check=False)
