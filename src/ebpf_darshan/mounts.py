"""Mount tables of the traced processes, in the form Darshan's job header
wants.  A process in another mount namespace (a container) has its own."""

from __future__ import annotations

import os
import subprocess

# File system types Darshan leaves out of the job's mount table.
SKIPPED_TYPES = frozenset({"tmpfs", "proc", "sysfs", "devpts", "binfmt_misc", "fusectl",
                           "debugfs", "securityfs", "nfsd", "none", "rpc_pipefs",
                           "hugetlbfs", "cgroup", "cgroup2", "tracefs", "bpf", "mqueue",
                           "pstore", "configfs", "autofs"})
MAX_MOUNTS = 64
MAX_ENTRY_LEN = 256


def _unescape(field: str) -> str:
    """/proc/*/mounts escapes blanks as octal (\\040)."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mount_table(pid: int) -> list[tuple[str, str]]:
    """The table of a live process's mount namespace."""
    with open(f"/proc/{pid}/mounts", encoding="utf-8", errors="replace") as f:
        return parse_mounts(f.read())


def parse_mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, fs type) pairs as Darshan records them: non-NFS first,
    then NFS; duplicates and pseudo file systems dropped."""
    rows = [line.split() for line in text.splitlines()]
    entries: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for nfs_pass in (False, True):
        for row in rows:
            if len(row) < 3:
                continue
            point, fstype = _unescape(row[1]), row[2]
            if fstype in SKIPPED_TYPES or fstype.startswith("nfs") != nfs_pass:
                continue
            if any(c.isspace() for c in point) or len(point) + len(fstype) + 2 >= MAX_ENTRY_LEN:
                continue
            if (point, fstype) in seen or len(entries) >= MAX_MOUNTS:
                continue
            seen.add((point, fstype))
            entries.append((point, fstype))
    return entries or [("/", "rootfs")]


class Namespaces:
    """The mount namespaces the traced processes ran in.  Each is held open
    from the first time one of its processes is seen, so that its table can
    be read at the end, after the mounts the job made and after its
    processes are gone."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._pids: set[int] = set()

    def note(self, pid: int) -> None:
        """Hold pid's namespace, if it is new.  A process already gone
        leaves nothing to hold."""
        if pid in self._pids:
            return
        self._pids.add(pid)
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
            if ns not in self._held:
                self._held[ns] = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            pass

    def tables(self) -> list[list[tuple[str, str]]]:
        """Each held namespace's table as it is now (read from inside it)."""
        out = []
        for fd in self._held.values():
            done = subprocess.run(["nsenter", f"--mount=/proc/self/fd/{fd}", "cat",
                                   "/proc/self/mounts"], pass_fds=(fd,), capture_output=True,
                                  text=True, errors="replace")
            if done.returncode == 0:
                out.append(parse_mounts(done.stdout))
        return out

    def close(self) -> None:
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()


def merge_tables(first: list[tuple[str, str]],
                 others: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The first table, then the mount points only the others have."""
    merged = list(first)
    points = {point for point, _ in merged}
    for table in others:
        for point, fstype in table:
            if point not in points and len(merged) < MAX_MOUNTS:
                points.add(point)
                merged.append((point, fstype))
    return merged
