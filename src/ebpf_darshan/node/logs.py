"""Writing a job's log where Darshan would: LOGDIR/YEAR/MONTH/DAY/ with
Darshan's file name, owned by the job's user, mode 0400, optionally with
the file names replaced by their hashes."""

from __future__ import annotations

import hashlib
import os
import pwd
import time
from dataclasses import replace
from pathlib import Path

from ..darshan import Log, write_log
from ..job import default_log_name
from ..log_builder import POSIX_PARTIAL_BIT

LOG_MODE = 0o400
DIR_MODE = 0o755


def obfuscated(name: str) -> str:
    """A name's stand-in: the same name always gives the same stand-in, so
    files can still be told apart and followed across jobs.  Short names
    can be guessed by hashing candidates; the hash hides, it does not
    encrypt."""
    return "obfuscated-" + hashlib.sha256(name.encode(errors="surrogateescape")).hexdigest()[:16]


def obfuscate_log(log: Log) -> Log:
    """The log with its record names and command line hashed."""
    job = replace(log.job, exe=obfuscated(log.job.exe))
    return replace(log, job=job, names={k: obfuscated(v) for k, v in log.names.items()})


def mark_partial(log: Log, reason: str) -> None:
    log.partial_flag |= POSIX_PARTIAL_BIT
    log.job.metadata["partial"] = reason


def user_of(uid: int) -> tuple[str, int]:
    """Name and primary group of uid (the uid itself when it has no entry)."""
    try:
        entry = pwd.getpwuid(uid)
        return entry.pw_name, entry.pw_gid
    except KeyError:
        return str(uid), uid


def job_log_path(log_dir: Path, uid: int, exe: str, jobid: int, pid: int,
                 start_epoch_ns: int) -> Path:
    start = time.localtime(start_epoch_ns // 1_000_000_000)
    day = log_dir / str(start.tm_year) / str(start.tm_mon) / str(start.tm_mday)
    return day / default_log_name(user_of(uid)[0], exe, jobid, pid, start_epoch_ns)


def write_job_log(path: Path, log: Log, uid: int) -> None:
    """Atomically, then handed to the job's user: only they (and root) read it."""
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    write_log(path, log, mode=LOG_MODE)
    os.chown(path, uid, user_of(uid)[1])
