"""Job-level facts of a recording: job id, user, log file name."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

from .darshan import record_id

# Batch systems' job-id variables, in the order we look for them.
JOBID_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "COBALT_JOBID", "LSB_JOBID", "FLUX_JOB_ID")


def job_id(environ: dict[str, str], fallback: int) -> int:
    """The batch system's job id as Darshan reads it (a leading integer),
    else fallback."""
    for var in JOBID_VARIABLES:
        match = re.match(r"\s*(\d+)", environ.get(var, ""))
        if match:
            return int(match.group(1))
    return fallback


def invoking_user() -> tuple[int, int, str]:
    """uid, gid and name of the person who ran us (through sudo, if so)."""
    uid = int(os.environ.get("SUDO_UID", os.getuid()))
    gid = int(os.environ.get("SUDO_GID", os.getgid()))
    name = os.environ.get("SUDO_USER") or os.environ.get("LOGNAME") or str(uid)
    return uid, gid, name


def default_log_name(user: str, exe: str, jobid: int, pid: int, start_epoch_ns: int) -> str:
    """Darshan's log file name for a finished log."""
    start = time.localtime(start_epoch_ns // 1_000_000_000)
    secs = start.tm_hour * 3600 + start.tm_min * 60 + start.tm_sec
    logmod = record_id(f"{socket.gethostname()}{time.time_ns() // 1000}")
    return (f"{user}_{Path(exe).name}_id{jobid}-{pid}_{start.tm_mon}-{start.tm_mday}-"
            f"{secs}-{logmod}_1.darshan")
