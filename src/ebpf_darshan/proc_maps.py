"""The files a process really maps, from /proc/PID/maps: the library copy a
process uses may be Debian's, one bundled in a Python wheel
(h5py.libs/libhdf5-*.so) or one under a user prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass

DELETED = " (deleted)"


@dataclass(frozen=True)
class MappedFile:
    path: str   # as the process sees it (its own root)
    dev: int    # kernel dev_t (major << 20 | minor), as the BPF file keys have it
    ino: int

    @property
    def basename(self) -> str:
        return os.path.basename(self.path)

    def path_from(self, pid: int) -> str:
        """A path to the same file from our mount namespace."""
        return f"/proc/{pid}/root{self.path}"


def _kernel_dev(field: str) -> int:
    major, minor = (int(x, 16) for x in field.split(":"))
    return (major << 20) | minor


def parse_maps(text: str) -> list[MappedFile]:
    """Distinct files mapped executable ('x' in the permissions), in order."""
    seen: dict[tuple[int, int], MappedFile] = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or "x" not in parts[1] or not parts[5].startswith("/"):
            continue
        path, ino = parts[5], int(parts[4])
        if path.endswith(DELETED) or ino == 0:
            continue
        f = MappedFile(path, _kernel_dev(parts[3]), ino)
        seen.setdefault((f.dev, f.ino), f)
    return list(seen.values())


def mapped_executables(pid: int) -> list[MappedFile]:
    """The files pid maps executable; [] if it is gone."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return parse_maps(f.read())
    except (FileNotFoundError, ProcessLookupError):
        return []
