"""numpy dtypes mirroring bpf/ebpf_darshan.h, defined once.

tests/test_bpf_layout.py checks them against the BTF of the built objects.
"""

from __future__ import annotations

import numpy as np

POSIX_NUM_COUNTERS = 69
VALUE_TABLE_SLOTS = 32
T_NUM_TIMES = 13
RECORD_EXCLUDED = 1
ENV_COPY_MAX = 16384
NO_PARENT = 0xFFFFFFFF

# enum posix_time: eight timestamps (T_OPEN_START..T_CLOSE_END), then
# durations (T_READ_TIME..T_MAX_WRITE_TIME)
TIMESTAMPS = slice(0, 8)
DURATIONS = slice(8, 13)

# enum event_kind
EV_OPEN, EV_STAT, EV_FILE, EV_RENAME_SRC, EV_RENAME_DST, EV_FORK, EV_EXEC, EV_EXIT = range(1, 9)

# enum health_slot
H_RECORDS_DROPPED, H_EVENTS_DROPPED, H_PROCS_DROPPED = 0, 1, 2
H_NUM_SLOTS = 3

file_key = np.dtype([("proc", "<u4"), ("dev", "<u4"), ("ino", "<u8")])

value_slot = np.dtype([("value", "<i8"), ("count", "<i8")])

posix_record = np.dtype([
    ("lock", "<u4"),
    ("flags", "<u4"),
    ("counters", "<i8", (POSIX_NUM_COUNTERS,)),
    ("times", "<i8", (T_NUM_TIMES,)),
    ("last_byte_read", "<i8"),
    ("last_byte_written", "<i8"),
    ("last_read_end", "<u8"),
    ("last_write_end", "<u8"),
    ("last_meta_end", "<u8"),
    ("last_io_type", "<u8"),
    ("access", value_slot, (VALUE_TABLE_SLOTS,)),
    ("stride", value_slot, (VALUE_TABLE_SLOTS,)),
])

task_state = np.dtype([
    ("proc", "<u4"),
    ("nr", "<u4"),
    ("start_ns", "<u8"),
    ("closing", file_key),
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
    ("pad", "u1", (6,)),
])
