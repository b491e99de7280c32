"""Which Slurm job a process belongs to: by its cgroup (Slurm puts every
step of job N under a `job_N` directory) or by SLURM_JOB_ID in its
environment."""

from __future__ import annotations

import os
import re
import time

CGROUP_ROOT = "/sys/fs/cgroup"
JOB_CGROUP = re.compile(r"/job_(\d+)(?:/|$)")
JOB_ENV = re.compile(rb"(?:^|\0)SLURM_JOB_ID=(\d+)")
# A cgroup id we cannot place rescans the tree, at most this often.
RESCAN_S = 1.0


class SlurmJobs:
    def __init__(self, root: str = CGROUP_ROOT):
        self._root = root
        self._paths: dict[int, str] = {}
        self._scanned = 0.0

    def _scan(self) -> None:
        """cgroup2 ids are the inode numbers of the cgroup directories."""
        self._scanned = time.monotonic()
        for directory, _, _ in os.walk(self._root):
            try:
                self._paths[os.stat(directory).st_ino] = directory[len(self._root):] or "/"
            except OSError:
                continue

    def cgroup_path(self, cgroup_id: int) -> str | None:
        if cgroup_id not in self._paths and time.monotonic() - self._scanned > RESCAN_S:
            self._scan()
        return self._paths.get(cgroup_id)

    def job_of(self, cgroup_id: int, pid: int) -> int | None:
        """The Slurm job id, or None.  A process already gone is judged by
        its cgroup alone."""
        match = JOB_CGROUP.search(self.cgroup_path(cgroup_id) or "")
        if match:
            return int(match.group(1))
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                in_env = JOB_ENV.search(f.read())
        except OSError:
            return None
        return int(in_env.group(1)) if in_env else None
