"""The only module that touches the compiled libbpf shim (ebpf_darshan._shim).

Everything above it sees BpfObject, EventStream and numpy arrays.
"""

from __future__ import annotations

import mmap
import os
from importlib import resources
from pathlib import Path

import numpy as np

from ._shim import ffi, lib

# Map update flags from <linux/bpf.h>.
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_F_LOCK = 4
# pidfd_open flag (Linux 6.9): a pidfd for one thread rather than a process.
PIDFD_THREAD = os.O_EXCL


class BpfError(RuntimeError):
    """A libbpf or kernel refusal, with a one-line message."""

    def __init__(self, message: str, errno: int = 0):
        super().__init__(message)
        self.errno = errno
        self.log = ffi.string(lib.edb_libbpf_log()).decode(errors="replace")


def _check(rc: int) -> int:
    if rc < 0:
        raise BpfError(ffi.string(lib.edb_last_error()).decode(errors="replace"), -rc)
    return rc


def object_path(name: str) -> Path:
    """Path of a BPF object shipped inside the package."""
    return Path(str(resources.files("ebpf_darshan") / "bpf" / name))


class BpfObject:
    """One CO-RE BPF object: open, configure, load, attach."""

    def __init__(self, name: str):
        path = object_path(name)
        if not path.exists():
            raise BpfError(f"BPF object {name} is missing from the installation")
        self._obj = lib.edb_open(str(path).encode())
        if self._obj == ffi.NULL:
            _check(-1)
        self.name = name

    def set_const(self, name: str, value: np.generic) -> None:
        data = np.asarray(value).tobytes()
        _check(lib.edb_set_const(self._obj, name.encode(), data, len(data)))

    def resize_map(self, map_name: str, max_entries: int) -> None:
        _check(lib.edb_resize_map(self._obj, map_name.encode(), max_entries))

    def share_map(self, map_name: str, owner: "BpfObject") -> None:
        """Use owner's copy of map_name instead of our own."""
        _check(lib.edb_share_map(self._obj, map_name.encode(), owner.map_fd(map_name)))

    def set_autoload(self, prog_name: str, on: bool) -> None:
        """Leave a program out of load and attach (before load)."""
        _check(lib.edb_set_autoload(self._obj, prog_name.encode(), int(on)))

    def load(self) -> None:
        _check(lib.edb_load(self._obj))

    def attach(self) -> None:
        _check(lib.edb_attach(self._obj))

    def map_fd(self, map_name: str) -> int:
        return _check(lib.edb_map_fd(self._obj, map_name.encode()))

    def use_uprobe_multi(self) -> None:
        """Before load: its uprobe programs are attached with attach_uprobes."""
        _check(lib.edb_use_uprobe_multi(self._obj))

    def attach_uprobes(self, program: str, pid: int, path: str, offsets: list[int],
                       cookies: list[int], *, retprobe: bool = False) -> "UprobeLink":
        """Run `program` when process pid reaches the functions at file
        offsets `offsets` of the library at path (at their return, with
        retprobe); bpf_get_attach_cookie() gives it the matching cookie.
        Only pid's address space is probed."""
        c_offsets = ffi.new("unsigned long[]", offsets)
        c_cookies = ffi.new("unsigned long long[]", cookies)
        fd = _check(lib.edb_attach_uprobes(self._obj, program.encode(), pid, path.encode(),
                                           c_offsets, c_cookies, len(offsets), int(retprobe)))
        return UprobeLink(fd)

    def close(self) -> None:
        if self._obj != ffi.NULL:
            lib.edb_close(self._obj)
            self._obj = ffi.NULL


class UprobeLink:
    """Attached uprobes (one BPF link); close() detaches them."""

    def __init__(self, fd: int):
        self._fd = fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def function_offsets(path: str, names: list[str]) -> dict[str, int]:
    """File offsets of the functions defined in the ELF file at path (the
    names it does not define are left out)."""
    c_names = [ffi.new("char[]", n.encode()) for n in names]
    offsets = ffi.new("unsigned long[]", len(names))
    _check(lib.edb_elf_func_offsets(path.encode(), ffi.new("const char *[]", c_names),
                                    len(names), offsets))
    return {n: int(offsets[i]) for i, n in enumerate(names) if offsets[i]}


def map_update(fd: int, key: np.ndarray, value: np.ndarray, flags: int = BPF_ANY) -> None:
    _check(lib.edb_map_update(fd, ffi.from_buffer(key), ffi.from_buffer(value), flags))


def map_lookup(fd: int, key: np.ndarray, value_dtype: np.dtype, flags: int = 0) -> np.ndarray:
    value = np.zeros(1, dtype=value_dtype)
    _check(lib.edb_map_lookup(fd, ffi.from_buffer(key), ffi.from_buffer(value), flags))
    return value


def map_delete(fd: int, keys: np.ndarray) -> None:
    """Delete every key of the array from a hash map."""
    _check(lib.edb_map_delete_batch(fd, ffi.from_buffer(keys), len(keys)))


def queue_push(fd: int, values: np.ndarray) -> None:
    """Push every value of the array onto a queue map."""
    _check(lib.edb_queue_push(fd, ffi.from_buffer(values), values.dtype.itemsize, len(values)))


def map_dump(fd: int, key_dtype: np.dtype, value_dtype: np.dtype, capacity: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """All entries of a hash map, read in batches into numpy arrays."""
    keys = np.zeros(capacity, dtype=key_dtype)
    values = np.zeros(capacity, dtype=value_dtype)
    n = _check(lib.edb_map_dump(fd, ffi.from_buffer(keys), key_dtype.itemsize,
                                ffi.from_buffer(values), value_dtype.itemsize, capacity))
    return keys[:n], values[:n]


class MappedArray:
    """A BPF_F_MMAPABLE array map seen in place as a numpy array."""

    def __init__(self, fd: int, dtype: np.dtype, entries: int):
        length = -(-dtype.itemsize * entries // mmap.PAGESIZE) * mmap.PAGESIZE
        self._mm = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.array = np.frombuffer(self._mm, dtype=dtype, count=entries)

    def close(self) -> None:
        del self.array  # the mapping cannot close while a view of it is alive
        self._mm.close()


class EventStream:
    """The ring buffer, drained by the shim into one byte buffer per poll."""

    def __init__(self, map_fd: int):
        self._ev = lib.edb_events_new(map_fd)
        if self._ev == ffi.NULL:
            _check(-1)

    def poll(self, timeout_ms: int) -> list[bytes]:
        """Events that arrived within timeout_ms (all pending ones)."""
        n = _check(lib.edb_events_poll(self._ev, timeout_ms))
        if n == 0:
            return []
        raw = bytes(ffi.buffer(lib.edb_events_data(self._ev), n))
        lib.edb_events_clear(self._ev)
        out = []
        pos = 0
        while pos < n:
            size = int.from_bytes(raw[pos:pos + 4], "little")
            out.append(raw[pos + 8:pos + 8 + size])
            pos += 8 + ((size + 7) & ~7)
        return out

    def add_segments(self, map_fd: int, max_segments: int) -> None:
        """Also drain a ring of fixed-size segments, keeping max_segments."""
        _check(lib.edb_events_add_segments(self._ev, map_fd, max_segments))

    def segments(self, dtype: np.dtype) -> tuple[np.ndarray, int, int]:
        """A copy of the segments kept so far, and how many trace segments
        and pending-heatmap segments arrived beyond the bound."""
        info = ffi.new("struct edb_segments_info *")
        lib.edb_segments_info(self._ev, info)
        if info.count == 0:
            kept = np.zeros(0, dtype=dtype)
        else:
            kept = np.frombuffer(ffi.buffer(info.data, info.count * dtype.itemsize),
                                 dtype=dtype).copy()
        return kept, int(info.over_limit_trace), int(info.over_limit_pending)

    def take_segments(self, dtype: np.dtype) -> tuple[np.ndarray, int, int]:
        """segments(), and they are forgotten: the next call starts afresh."""
        out = self.segments(dtype)
        lib.edb_segments_clear(self._ev)
        return out

    def close(self) -> None:
        if self._ev != ffi.NULL:
            lib.edb_events_free(self._ev)
            self._ev = ffi.NULL


def task_key(pid: int, thread: bool = False) -> np.ndarray:
    """Key of a task-storage map: a pidfd for the process, or for the one
    thread `pid` names (caller closes it)."""
    return np.array([os.pidfd_open(pid, PIDFD_THREAD if thread else 0)], dtype=np.int32)
