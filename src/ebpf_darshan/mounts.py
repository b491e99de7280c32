"""The traced process's mount table, in the form Darshan's job header wants."""

from __future__ import annotations

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
    """(mount point, fs type) pairs as Darshan records them: non-NFS first,
    then NFS; duplicates and pseudo file systems dropped."""
    with open(f"/proc/{pid}/mounts", encoding="utf-8", errors="replace") as f:
        rows = [line.split() for line in f]
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
