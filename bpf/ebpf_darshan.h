/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the BPF programs and user space: every struct that
 * crosses a map or the ring buffer is declared here, and nowhere else.
 * src/ebpf_darshan/bpf_layout.py mirrors these structs as numpy dtypes and a
 * test checks the two agree byte for byte.
 */
#ifndef EBPF_DARSHAN_H
#define EBPF_DARSHAN_H

/* Darshan's POSIX module (format version 4) has 69 integer counters.  The
 * kernel keeps them at the same indices so user space copies them as is. */
#define POSIX_NUM_COUNTERS 69

/* Darshan keeps its top-4 access sizes and strides from a table of the first
 * 32 distinct values seen per record; we keep the same table. */
#define VALUE_TABLE_SLOTS 32

/* Longest user path copied at open (PATH_MAX) and the room for a directory
 * walked one dentry at a time, leaf first, components NUL separated. */
#define PATH_BUF_LEN 4096
#define WALK_BUF_LEN 4096
#define WALK_MAX_DEPTH 48
#define NAME_COPY_MAX 256

/* An exec event carries the new program's environment (MPI ranks and job
 * ids are read from it), up to this many bytes: a power of two, so the
 * kernel can index it by masking. */
#define ENV_COPY_MAX 16384

/* Deepest cgroup below the one a recording is scoped to. */
#define MAX_CGROUP_DEPTH 32

/* parent_proc of a process that entered a scoped recording by itself (its
 * exec or its move into the cgroup), not by a traced parent's fork. */
#define NO_PARENT 0xffffffff

/* Indices of the Darshan POSIX counters the kernel updates. */
enum posix_counter {
	POSIX_OPENS = 0,
	POSIX_FILENOS = 1,
	POSIX_DUPS = 2,
	POSIX_READS = 3,
	POSIX_WRITES = 4,
	POSIX_SEEKS = 5,
	POSIX_STATS = 6,
	POSIX_MMAPS = 7,
	POSIX_FSYNCS = 8,
	POSIX_FDSYNCS = 9,
	POSIX_MODE = 13,
	POSIX_BYTES_READ = 14,
	POSIX_BYTES_WRITTEN = 15,
	POSIX_MAX_BYTE_READ = 16,
	POSIX_MAX_BYTE_WRITTEN = 17,
	POSIX_CONSEC_READS = 18,
	POSIX_CONSEC_WRITES = 19,
	POSIX_SEQ_READS = 20,
	POSIX_SEQ_WRITES = 21,
	POSIX_RW_SWITCHES = 22,
	POSIX_MEM_NOT_ALIGNED = 23,
	POSIX_MEM_ALIGNMENT = 24,
	POSIX_FILE_NOT_ALIGNED = 25,
	POSIX_FILE_ALIGNMENT = 26,
	POSIX_MAX_READ_TIME_SIZE = 27,
	POSIX_MAX_WRITE_TIME_SIZE = 28,
	POSIX_SIZE_READ_0_100 = 29,
	POSIX_SIZE_WRITE_0_100 = 39,
};

/* Timing fields of a record, in nanoseconds, at the index of the Darshan
 * float counter they become.  Timestamps are absolute bpf_ktime_get_ns()
 * values (0 = never) that user space turns into seconds since job start. */
enum posix_time {
	T_OPEN_START = 0,
	T_READ_START = 1,
	T_WRITE_START = 2,
	T_CLOSE_START = 3,
	T_OPEN_END = 4,
	T_READ_END = 5,
	T_WRITE_END = 6,
	T_CLOSE_END = 7,
	T_READ_TIME = 8,
	T_WRITE_TIME = 9,
	T_META_TIME = 10,
	T_MAX_READ_TIME = 11,
	T_MAX_WRITE_TIME = 12,
	T_NUM_TIMES = 13,
};

enum io_type {
	IO_NONE = 0,
	IO_READ = 1,
	IO_WRITE = 2,
};

/* Set by user space on a record whose name turned out to be excluded. */
#define RECORD_EXCLUDED 1

/* One traced file in one traced process. */
struct file_key {
	__u32 proc;  /* traced-process index, assigned at fork, never reused */
	__u32 dev;   /* kernel dev_t of the inode's super block */
	__u64 ino;
};

struct value_slot {
	__s64 value;
	__s64 count;
};

#ifdef __bpf__
#define RECORD_LOCK struct bpf_spin_lock
#else
#define RECORD_LOCK struct { __u32 val; }
#endif

struct posix_record {
	RECORD_LOCK lock;
	__u32 flags;
	__s64 counters[POSIX_NUM_COUNTERS];
	__s64 times[T_NUM_TIMES];
	/* Darshan's per-record state, needed to derive SEQ, CONSEC, strides,
	 * RW switches and the no-overlap timers. */
	__s64 last_byte_read;
	__s64 last_byte_written;
	__u64 last_read_end;
	__u64 last_write_end;
	__u64 last_meta_end;
	__u64 last_io_type;
	struct value_slot access[VALUE_TABLE_SLOTS];
	struct value_slot stride[VALUE_TABLE_SLOTS];
};

/* Per-thread state kept in task-local storage.  A thread has it exactly
 * when it belongs to a traced process, so its presence is the filter. */
struct task_state {
	__u32 proc;
	__u32 nr;          /* syscall in flight */
	__u64 start_ns;    /* when it entered */
	struct file_key closing;  /* resolved at close entry: the fd is gone at exit */
};

enum event_kind {
	EV_OPEN = 1,        /* a record was created by an open-like call: path as given */
	EV_STAT = 2,        /* ... by a path-based stat */
	EV_FILE = 3,        /* ... by I/O on an fd never seen opened: path from the kernel */
	EV_RENAME_SRC = 4,  /* first half of a rename: the old path */
	EV_RENAME_DST = 5,  /* second half: the new path */
	EV_FORK = 6,
	EV_EXEC = 7,
	EV_EXIT = 8,
};

/* Header of every ring-buffer event.  Path events append the path the
 * application gave (path_len bytes with its NUL) and then the walked
 * directory (walk_len bytes): the directory the path is relative to, or the
 * whole file path for EV_FILE.  EV_EXEC appends the program's file name
 * (path_len) and then its environment (walk_len bytes, NUL separated;
 * walk_truncated if it was longer than ENV_COPY_MAX). */
struct event {
	__u32 kind;
	__u32 proc;
	struct file_key key;
	__u64 start_ns;
	__u64 end_ns;
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 parent_proc;  /* EV_FORK; NO_PARENT if the process entered the scope */
	__u16 path_len;
	__u16 walk_len;
	__u8 walk_truncated;
	__u8 record_dropped;  /* the records map was full: this file is not counted */
	__u8 pad[6];
};

#define EVENT_MAX_LEN (sizeof(struct event) + PATH_BUF_LEN + WALK_BUF_LEN)

/* Loss and fill accounting, one u64 slot each in the `health` array. */
enum health_slot {
	H_RECORDS_DROPPED = 0,   /* records map full: a file's counters were lost */
	H_EVENTS_DROPPED = 1,    /* ring buffer full: a name or process event was lost */
	H_PROCS_DROPPED = 2,     /* task storage could not be created for a new task */
	H_NUM_SLOTS = 3,
};

#endif /* EBPF_DARSHAN_H */
