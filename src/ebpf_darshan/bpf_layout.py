"""numpy dtypes mirroring bpf/ebpf_darshan.h, defined once.

tests/test_bpf_layout.py checks them against the BTF of the built objects.
"""

from __future__ import annotations

import numpy as np

# Default sizes (bpf/ebpf_darshan.h): every map is sized from these.
MAX_RECORDS_DEFAULT = 16384
EVENTS_RINGBUF_MB_DEFAULT = 4
PENDING_RINGBUF_MB_DEFAULT = 1
HEATMAP_PROCS_DEFAULT = 256
PROC_HEATMAPS_DEFAULT = 65536
RINGBUF_MB = 1024 * 1024

POSIX_NUM_COUNTERS = 69
VALUE_TABLE_SLOTS = 32
T_NUM_TIMES = 13
RECORD_EXCLUDED = 1
ENV_COPY_MAX = 16384
NO_PARENT = 0xFFFFFFFF
RECORD_NAMED = 2
NAMED_RECORDS_MAX = 16384
PROBED_LIBRARIES_MAX = 256
TASK_JOINED = 1
RETIRED_DEV = 0xFFFFFFF9

# enum posix_time: eight timestamps (T_OPEN_START..T_CLOSE_END), then
# durations (T_READ_TIME..T_MAX_WRITE_TIME)
TIMESTAMPS = slice(0, 8)
DURATIONS = slice(8, 13)

# enum event_kind
EV_OPEN, EV_STAT, EV_FILE, EV_RENAME_SRC, EV_RENAME_DST, EV_FORK, EV_EXEC, EV_EXIT, \
    EV_UNLINK, EV_LIB_MAP, EV_FORKED, EV_RETIRE = range(1, 13)

# enum exit_slot: where the exit dispatcher hands a call over
EXIT_OPEN, EXIT_META, EXIT_COPY, EXIT_MMAP = range(4)
EXIT_SLOTS = 4

# enum layer_id
LAYER_POSIX, LAYER_STDIO, LAYER_MPIIO, LAYER_HDF5 = range(4)

HOLD_PREFIXES = 4
HOLD_PREFIX_LEN = 16
HOLD_SKIP_COMMS = 8
COMM_LEN = 16

# enum io_type
IO_NONE, IO_READ, IO_WRITE = 0, 1, 2

# enum extra_slot, in order: the log's metadata keys for them
EXTRA_KEYS = ("extra_sendfile_calls", "extra_copy_file_range_calls", "extra_splice_calls",
              "extra_fallocate_calls", "extra_fallocate_bytes", "extra_ftruncate_calls")

# enum health_slot
H_RECORDS_DROPPED, H_EVENTS_DROPPED, H_PROCS_DROPPED, H_CALLS_BUSY = 0, 1, 2, 3
H_LAYER_RECORDS_DROPPED, H_SEGMENTS_DROPPED, H_HEATMAP_DROPPED = 4, 5, 6
H_NUM_SLOTS = 7

# enum segment_flag, Darshan module ids of segments
SEG_TRACE, SEG_HEATMAP_PENDING = 1, 2
DARSHAN_POSIX_MOD, DARSHAN_MPIIO_MOD, DARSHAN_STDIO_MOD = 1, 2, 9

# enum heatmap_api and the row layout of struct heatmap_row
HEATMAP_POSIX, HEATMAP_STDIO, HEATMAP_MPIIO = 0, 1, 2
HEATMAP_APIS = 3
HEATMAP_BIN_NS = 100_000_000
HEATMAP_BINS = 200
HEATMAP_LEVELS = 15
HEATMAP_ROW_BINS = HEATMAP_BINS + HEATMAP_LEVELS * (HEATMAP_BINS // 2)

proc_origin = np.dtype([("cgroup_id", "<u8"), ("uid", "<u4"), ("parent_leads_session", "<u4")])

file_key = np.dtype([("proc", "<u4"), ("dev", "<u4"), ("ino", "<u8")])
# A library's own handle of a traced process: an MPI_File, an HDF5 hid_t.
mpiio_handle_key = np.dtype([("proc", "<u4"), ("pad", "<u4"), ("handle", "<u8")])
h5_id_key = np.dtype([("proc", "<u4"), ("pad", "<u4"), ("hid", "<i8")])
h5_object = np.dtype([("serial", "<u8"), ("file_serial", "<u8"), ("kind", "<u4"),
                      ("pad", "<u4")])

value_slot = np.dtype([("value", "<i8"), ("count", "<i8")])

posix_record = np.dtype([
    ("busy", "<u4"),
    ("flags", "<u4"),
    ("generation", "<u4"),
    ("retired", "<u4"),
    ("counters", "<i8", (POSIX_NUM_COUNTERS,)),
    ("times", "<i8", (T_NUM_TIMES,)),
    ("last_byte_read", "<i8"),
    ("last_byte_written", "<i8"),
    ("last_read_end", "<u8"),
    ("last_write_end", "<u8"),
    ("last_meta_end", "<u8"),
    ("last_io_type", "<u8"),
    ("mmap_read_bytes", "<u8"),
    ("mmap_dirtied_bytes", "<u8"),
    ("access", value_slot, (VALUE_TABLE_SLOTS,)),
    ("stride", value_slot, (VALUE_TABLE_SLOTS,)),
])

task_state = np.dtype([
    ("proc", "<u4"),
    ("nr", "<u4"),
    ("start_ns", "<u8"),
    ("end_ns", "<u8"),
    ("closing", file_key),
    ("last_dev", "<u4"),
    ("last_slot", "<u4"),
    ("last_ino", "<u8"),
    ("stdio_depth", "<u4"),
    ("flags", "<u4"),
    ("stdio_sp", "<u8"),
])

event = np.dtype([
    ("kind", "<u4"),
    ("proc", "<u4"),
    ("key", file_key),
    ("start_ns", "<u8"),
    ("end_ns", "<u8"),
    ("pid", "<u4"),
    ("tid", "<u4"),
    ("parent_proc", "<u4"),
    ("path_len", "<u2"),
    ("walk_len", "<u2"),
    ("walk_truncated", "u1"),
    ("record_dropped", "u1"),
    ("held", "u1"),
    ("layer", "u1"),
    ("pad", "u1", (4,)),
])

# bpf/stdio_layer.h
STDIO_KERNEL_COUNTERS = 10
ST_NUM_TIMES = 11
# enum stdio_time: three timers (META, WRITE, READ), then eight timestamps
STDIO_DURATIONS = slice(0, 3)
STDIO_TIMESTAMPS = slice(3, 11)
STD_STREAM_DEV = 0xFFFFFFFF
# enum stdio_op
(SIO_INSIDE, SIO_OPEN, SIO_REOPEN, SIO_FDOPEN, SIO_CLOSE, SIO_FLUSH, SIO_WRITE_ITEMS,
 SIO_WRITE_CHAR, SIO_WRITE_WORD, SIO_WRITE_STRING, SIO_WRITE_FORMAT, SIO_READ_ITEMS,
 SIO_READ_CHAR, SIO_READ_WORD, SIO_READ_STRING, SIO_READ_FORMAT, SIO_READ_DELIM, SIO_SEEK,
 SIO_REWIND) = range(19)

stdio_record = np.dtype([
    ("flags", "<u4"),
    ("pad", "<u4"),
    ("counters", "<i8", (STDIO_KERNEL_COUNTERS,)),
    ("times", "<i8", (ST_NUM_TIMES,)),
    ("offset", "<i8"),
    ("last_read_end", "<u8"),
    ("last_write_end", "<u8"),
    ("last_meta_end", "<u8"),
])

# bpf/mpiio_layer.h
MPIIO_KERNEL_COUNTERS = 39
MPIIO_DEV = 0xFFFFFFFD
# enum mpiio_op, cookie flags and enum mpi_abi
MIO_OPEN, MIO_CLOSE, MIO_SYNC, MIO_SET_VIEW, MIO_RESIZE, MIO_READ, MIO_WRITE = range(1, 8)
MIO_AT = 1 << 16
MIO_LARGE_COUNT = 1 << 17
MIO_COUNTER_SHIFT = 8
MIO_ABI_SHIFT = 24
ABI_OPENMPI, ABI_MPICH = 1, 2

mpiio_record = np.dtype([
    ("flags", "<u4"),
    ("first_io_type", "<u4"),
    ("counters", "<i8", (MPIIO_KERNEL_COUNTERS,)),
    ("times", "<i8", (T_NUM_TIMES,)),
    ("last_read_end", "<u8"),
    ("last_write_end", "<u8"),
    ("last_meta_end", "<u8"),
    ("last_io_type", "<u8"),
    ("open_ns", "<u8"),
    ("unknown_sizes", "<i8"),
    ("access", value_slot, (VALUE_TABLE_SLOTS,)),
])

# bpf/hdf5_layer.h
(H5_FILE_CREATE, H5_FILE_OPEN, H5_FILE_FLUSH, H5_FILE_CLOSE, H5_GROUP_OPEN, H5_DSET_OPEN,
 H5_OBJECT_OPEN, H5_DSET_READ, H5_DSET_WRITE, H5_DSET_FLUSH, H5_OBJECT_CLOSE, H5_SPACE_CREATE,
 H5_PLIST_CREATE, H5_PLIST_COPY, H5_SET_CHUNK, H5_SET_LAYOUT, H5_ID_RELEASE) = range(1, 18)
H5_DEPRECATED = 1 << 8
H5_PARALLEL_LIB = 1 << 9
H5_CREATE = 1 << 10
H5D_MAX_DIMS = 5
H5F_DEV, H5G_DEV, H5D_DEV = 0xFFFFFFFC, 0xFFFFFFFB, 0xFFFFFFFA
H5_LOC_SHIFT = 32
H5_SERIAL_MASK = 0xFFFFFFFF
H5F_NUM_TIMES = 5

h5f_record = np.dtype([
    ("opens", "<i8"),
    ("flushes", "<i8"),
    ("use_mpiio", "<i8"),
    ("times", "<i8", (H5F_NUM_TIMES,)),
    ("last_meta_end", "<u8"),
    ("open_ns", "<u8"),
])

h5_shape = np.dtype([
    ("ndims", "<i8"),
    ("npoints", "<i8"),
    ("chunk", "<i8", (H5D_MAX_DIMS,)),
])

h5d_record = np.dtype([
    ("flags", "<u4"),
    ("first_io_type", "<u4"),
    ("opens", "<i8"),
    ("reads", "<i8"),
    ("writes", "<i8"),
    ("flushes", "<i8"),
    ("rw_switches", "<i8"),
    ("use_deprecated", "<i8"),
    ("use_mpiio_collective", "<i8"),
    ("times", "<i8", (T_NUM_TIMES,)),
    ("last_read_end", "<u8"),
    ("last_write_end", "<u8"),
    ("last_meta_end", "<u8"),
    ("last_io_type", "<u8"),
    ("open_ns", "<u8"),
    ("file_serial", "<u8"),
    ("shape", h5_shape),
])

io_segment = np.dtype([
    ("key", file_key),
    ("offset", "<i8"),
    ("length", "<i8"),
    ("start_ns", "<u8"),
    ("end_ns", "<u8"),
    ("tid", "<u4"),
    ("module", "<u2"),
    ("op", "u1"),
    ("flags", "u1"),
])

heatmap_bin = np.dtype([("read", "<u8"), ("write", "<u8")])

heatmap_row = np.dtype([("hint", "<u8"), ("bins", heatmap_bin, (HEATMAP_ROW_BINS,))])

NO_HEATMAP_ROW = 0xFFFFFFFF
proc_heatmap = np.dtype([("origin", "<u8"), ("row", "<u4"), ("pad", "<u4")])
