"""The only module that touches the compiled libbpf shim (ebpf_darshan._shim).

Everything above it sees BpfObject, EventStream and numpy arrays.
"""

from __future__ import annotations

import mmap
import os
import re
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from . import verifier_log
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
        self.log = _libbpf_log()

    def describe(self) -> str:
        """The line to show a user."""
        return str(self)


class VerifierRejection(BpfError):
    """The kernel's verifier refused a program of an object."""

    def __init__(self, message: str, errno: int, program: str, reason: str, verifier_log: str):
        super().__init__(message, errno)
        self.program = program
        self.reason = reason
        self.verifier_log = verifier_log

    def describe(self) -> str:
        """The line to show a user, naming the file that now holds the
        whole log (written only for a refusal that is shown: the fallbacks
        tried quietly leave nothing behind)."""
        return f"{self} (full log: {_save_log(self.program, self.verifier_log)})"


def _libbpf_log() -> str:
    log: bytes = ffi.string(lib.edb_libbpf_log())
    return log.decode(errors="replace")


def _text(c_string: object) -> str:
    """A C string (cffi `char *`) the shim returned; "" for NULL."""
    if c_string == ffi.NULL:
        return ""
    text: bytes = ffi.string(c_string)
    return text.decode(errors="replace")


# Calls between a program's functions read back at most (a program has a
# handful of subprograms; each call site is one pair).
MAX_CALL_EDGES = 4096
# libbpf's line for a program it could not load.
FAILED_PROGRAM = re.compile(r"prog '([^']+)': (?:failed to load|BPF program load failed)")


def _check(rc: int) -> int:
    if rc < 0:
        raise BpfError(ffi.string(lib.edb_last_error()).decode(errors="replace"), -rc)
    return rc


# Where the BPF objects are loaded from instead of the package's own copy:
# objects built by another compiler, or test objects put in place of ours.
OBJECTS_DIR_VARIABLE = "EBPF_DARSHAN_BPF_DIR"


def object_path(name: str) -> Path:
    """Path of a BPF object shipped inside the package (or in
    $EBPF_DARSHAN_BPF_DIR)."""
    elsewhere = os.environ.get(OBJECTS_DIR_VARIABLE)
    if elsewhere:
        return Path(elsewhere) / name
    return Path(str(resources.files("ebpf_darshan") / "bpf" / name))


class BpfObject:
    """One CO-RE BPF object: open, configure, load, attach."""

    def __init__(self, name: str, path: Path | None = None):
        path = path or object_path(name)
        if not path.exists():
            raise BpfError(f"BPF object {name} is missing from the installation")
        self._obj = lib.edb_open(str(path).encode())
        if self._obj == ffi.NULL:
            _check(-1)
        self.name = name

    def programs(self) -> list[str]:
        return [_text(lib.edb_prog_name(self._obj, i))
                for i in range(lib.edb_prog_count(self._obj))]

    def has_const(self, name: str) -> bool:
        return bool(lib.edb_has_const(self._obj, name.encode()))

    def tracepoint_missing(self, prog_name: str) -> bool:
        """A tp_btf program whose tracepoint this kernel does not have."""
        return bool(_check(lib.edb_prog_tracepoint_missing(self._obj, prog_name.encode())))

    def set_autoattach(self, prog_name: str, on: bool) -> None:
        """Loaded but not attached (a tail call's target), before load."""
        _check(lib.edb_set_autoattach(self._obj, prog_name.encode(), int(on)))

    def verifier_stats(self, prog_name: str) -> verifier_log.VerifierStats:
        """What the verifier said of a program at the last load."""
        return verifier_log.parse(_text(lib.edb_prog_log(self._obj, prog_name.encode())))

    def combined_stack(self, prog_name: str) -> int | None:
        """The deepest call chain's stack of a loaded program, as the
        verifier adds it up; the sum of its frames where the kernel shows
        no translated code."""
        stats = self.verifier_stats(prog_name)
        edges = ffi.new("unsigned int[]", 2 * MAX_CALL_EDGES)
        n = lib.edb_prog_calls(self._obj, prog_name.encode(), edges, MAX_CALL_EDGES)
        if n < 0:
            return stats.stack
        calls = [(int(edges[2 * i]), int(edges[2 * i + 1])) for i in range(n)]
        return verifier_log.combined_stack(stats.frames, calls)

    def prog_fd(self, prog_name: str) -> int:
        return _check(lib.edb_prog_fd(self._obj, prog_name.encode()))

    def set_const(self, name: str, value: np.generic | np.ndarray) -> None:
        data = np.asarray(value).tobytes()
        _check(lib.edb_set_const(self._obj, name.encode(), data, len(data)))

    def resize_map(self, map_name: str, max_entries: int) -> None:
        _check(lib.edb_resize_map(self._obj, map_name.encode(), max_entries))

    def share_map(self, map_name: str, owner: BpfObject) -> None:
        """Use owner's copy of map_name instead of our own."""
        _check(lib.edb_share_map(self._obj, map_name.encode(), owner.map_fd(map_name)))

    def set_autoload(self, prog_name: str, on: bool) -> None:
        """Leave a program out of load and attach (before load)."""
        _check(lib.edb_set_autoload(self._obj, prog_name.encode(), int(on)))

    def load(self) -> None:
        rc = lib.edb_load(self._obj)
        if rc < 0:
            raise self._load_error(-rc)

    def _load_error(self, errno: int) -> BpfError:
        """One line for a failed load: the program the verifier refused and
        its reason (the whole log goes to a file), or what libbpf said."""
        log = _libbpf_log()
        failed = FAILED_PROGRAM.findall(log)
        stats = self.verifier_stats(failed[-1]) if failed else None
        if stats is None or stats.reason is None:
            # libbpf ends with a line that only names the object; the one
            # before says what was wrong (a kernel function or type missing)
            warnings = [line.removeprefix("libbpf: ") for line in log.splitlines()
                        if line.strip() and "failed to load object" not in line]
            detail = warnings[-1] if warnings else _text(lib.edb_last_error())
            return BpfError(f"{self.name}: cannot load: {detail}", errno)
        program = failed[-1]
        verifier_log = _text(lib.edb_prog_log(self._obj, program.encode())) + "\n" + log
        return VerifierRejection(f"{self.name}: the kernel's verifier rejected program "
                                 f"{program}: {stats.reason}", errno, program, stats.reason,
                                 f"{self.name}\n{verifier_log}")

    def attach(self) -> None:
        _check(lib.edb_attach(self._obj))

    def map_fd(self, map_name: str) -> int:
        return _check(lib.edb_map_fd(self._obj, map_name.encode()))

    def use_uprobe_multi(self) -> None:
        """Before load: its uprobe programs are attached with attach_uprobes."""
        _check(lib.edb_use_uprobe_multi(self._obj))

    def attach_uprobes(self, program: str, pid: int, path: str, offsets: list[int],
                       cookies: list[int], *, retprobe: bool = False) -> UprobeLink:
        """Run `program` when process pid reaches the functions at file
        offsets `offsets` of the library at path (at their return, with
        retprobe); bpf_get_attach_cookie() gives it the matching cookie.
        Only pid's address space is probed; pid 0: every process's."""
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


def _save_log(program: str, text: str) -> str:
    """Keep a verifier log in a file of its own (never a predictable name:
    this runs as root in a shared /tmp)."""
    fd, path = tempfile.mkstemp(prefix=f"ebpf-darshan-verifier-{program}-", suffix=".log")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


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
