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

/* Default sizes, set here once: user space sizes every map before load
 * (src/ebpf_darshan/bpf_layout.py mirrors these, checked by a test), and
 * the maps are declared with them. */
#define MAX_RECORDS_DEFAULT 16384             /* POSIX records: (process, file) pairs */
#define EVENTS_RINGBUF_MB_DEFAULT 4           /* names and process events */
#define PENDING_RINGBUF_MB_DEFAULT 1          /* segments without DXT: pending heatmap bytes */
#define HEATMAP_PROCS_DEFAULT 256             /* processes with heatmap rows */
#define PROC_HEATMAPS_DEFAULT 65536           /* the daemon's per-process heatmap clocks */
#define RINGBUF_MB (1024 * 1024)

/* Deepest cgroup below the one a recording is scoped to. */
#define MAX_CGROUP_DEPTH 32

/* parent_proc of a process that entered a recording by itself (its exec
 * or its move into a scope's cgroup, or the daemon's uid rule), not by a
 * traced parent's fork. */
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
/* Set by user space once it has accepted the record's name: only then does
 * its I/O go into the kernel's heatmap (see posix_timeline). */
#define RECORD_NAMED 2

/* A file system gives a freed inode number to the next file it makes (ext4
 * does, at once), so a process that deletes a file and creates another may
 * meet its old record's key again.  The inode's generation tells them
 * apart: the old record is then moved to a key of its own, with this dev
 * (below the library layers' 0xfffffffa..) and a serial for ino, and an
 * EV_RETIRE says so. */
#define RETIRED_DEV 0xfffffff9U

/* Identifies a traced file in a traced process. */
struct file_key {
	__u32 proc;  /* traced-process index, assigned at fork, never reused */
	__u32 dev;   /* kernel dev_t of the inode's super block */
	__u64 ino;
};

struct value_slot {
	__s64 value;
	__s64 count;
};

/* The counters of one traced file in one traced process.  Records live in
 * an array and are found through an index from file_key to slot. */
struct posix_record {
	__u32 busy;   /* a lock word taken with compare-and-swap; see posix.bpf.c */
	__u32 flags;
	__u32 generation;  /* the inode's i_generation; 0 if made by a stat */
	__u32 retired;     /* moved to a RETIRED_DEV key: thread caches skip it */
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
	/* Bytes moved through file mappings, which Darshan cannot see: pages
	 * faulted in (fault-around windows whole) and pages dirtied outside
	 * any watched system call.  Added without the lock. */
	__u64 mmap_read_bytes;
	__u64 mmap_dirtied_bytes;
	struct value_slot access[VALUE_TABLE_SLOTS];
	struct value_slot stride[VALUE_TABLE_SLOTS];
};

/* Per-thread state kept in task-local storage.  A thread has it exactly
 * when it belongs to a traced process, so its presence is the filter. */
/* What a traced task is besides its process (task_state.flags). */
enum task_flag {
	/* Its process joined a recording mid-life (adopted at attach, or moved
	 * into a scope's cgroup): streams it opened before may be in use, and
	 * the library layers adopt them at their first call.  Inherited at
	 * fork, the file tables being inherited too; cleared by exec. */
	TASK_JOINED = 1,
};

struct task_state {
	__u32 proc;
	__u32 nr;          /* syscall in flight */
	__u64 start_ns;    /* when it entered */
	__u64 end_ns;      /* when it left: set by the exit dispatcher for the
			    * program it hands the call to (see exit_slot) */
	struct file_key closing;  /* resolved at close entry: the fd is gone at exit */
	/* The record this thread used last: repeated I/O on one file skips
	 * the index lookup.  Records never move, so the entry never goes stale. */
	__u32 last_dev;
	__u32 last_slot;
	__u64 last_ino;    /* 0: nothing cached */
	/* Set while the thread is inside a stdio call (uprobes of
	 * stdio.bpf.c): the system calls stdio makes are not POSIX calls of
	 * the application, as in Darshan. */
	__u32 stdio_depth;
	__u32 flags;       /* enum task_flag */
	/* User stack pointer at the outermost stdio call's entry: the stack
	 * above it means that call is over even if its return went unseen
	 * (a probe attached mid-call, a longjmp). */
	__u64 stdio_sp;
};

/* The system call exit is handled by a small dispatcher (posix.bpf.c) that
 * counts reads and writes itself and hands every other call it watches to
 * one program per concern, by tail call through the exit_calls program
 * array.  Each program lives in its own object; user space puts those that
 * loaded at their slot, and a call whose slot is empty goes uncounted. */
enum exit_slot {
	EXIT_OPEN = 0,   /* posix_open.bpf.o: open, creat, close, dup */
	EXIT_META = 1,   /* posix_meta.bpf.o: seek, sync, stat, rename, unlink, resize */
	EXIT_COPY = 2,   /* posix_copy.bpf.o: sendfile, copy_file_range, splice */
	EXIT_MMAP = 3,   /* posix_mmap.bpf.o: mmap */
	EXIT_SLOTS = 4,
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
	EV_UNLINK = 9,      /* a path was unlinked (no Darshan counter: a job total) */
	EV_LIB_MAP = 10,    /* a library of interest was mapped executable (held) */
	EV_FORKED = 11,     /* a new process, in its own context after fork (held) */
	EV_RETIRE = 12,     /* key's record (a deleted file's) moved to the file_key that follows */
};

/* Which module sent a name event (struct event.layer). */
enum layer_id {
	LAYER_POSIX = 0,
	LAYER_STDIO = 1,
	LAYER_MPIIO = 2,
	LAYER_HDF5 = 3,
};

/* Libraries whose executable mapping holds a process: up to this many
 * basename prefixes ("libc.so", "libhdf5", ...), set by user space. */
#define HOLD_PREFIXES 4
#define HOLD_PREFIX_LEN 16

/* MPI launchers are never held, by their command name (comm): mpirun
 * forwards the SIGCONT that ends a hold to its ranks (and says so on the
 * terminal), and a launcher's own records are left out of the log. */
#define HOLD_SKIP_COMMS 8
#define COMM_LEN 16

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
	__u8 held;       /* the process is stopped until user space sends SIGCONT */
	__u8 layer;      /* enum layer_id of a name event */
	__u8 pad[4];
};

#define EVENT_MAX_LEN (sizeof(struct event) + PATH_BUF_LEN + WALK_BUF_LEN)

/* Follows the header of every EV_FORK: what a node-wide recorder needs to
 * put the new process in a job, read while the process surely exists. */
struct proc_origin {
	__u64 cgroup_id;      /* its cgroup (v2): a batch job's cgroup holds all its steps */
	__u32 uid;
	__u32 parent_leads_session;  /* the parent is its session's leader (a login shell) */
};

/* What Darshan has no counter for, totalled over the recording (one u64
 * slot each in the `extras` array), reported as log metadata. */
enum extra_slot {
	X_SENDFILE_CALLS = 0,      /* also counted as a read and a write in POSIX */
	X_COPY_FILE_RANGE_CALLS,   /* likewise */
	X_SPLICE_CALLS,            /* likewise, on the file side */
	X_FALLOCATE_CALLS,
	X_FALLOCATE_BYTES,
	X_FTRUNCATE_CALLS,
	X_NUM_SLOTS,
};

/* Loss and fill accounting, one u64 slot each in the `health` array. */
/* Library-layer records whose names user space accepted (heatmap.bpf.h). */
#define NAMED_RECORDS_MAX 16384
/* Library files probed for every process at once (shared_maps.bpf.h). */
#define PROBED_LIBRARIES_MAX 256

enum health_slot {
	H_RECORDS_DROPPED = 0,   /* records map full: a file's counters were lost */
	H_EVENTS_DROPPED = 1,    /* ring buffer full: a name or process event was lost */
	H_PROCS_DROPPED = 2,     /* task storage could not be created for a new task */
	H_CALLS_BUSY = 3,        /* a record stayed locked too long: one call not counted */
	H_LAYER_RECORDS_DROPPED = 4,  /* a library layer's records map was full */
	H_SEGMENTS_DROPPED = 5,  /* segments ring full: a DXT segment was lost */
	H_HEATMAP_DROPPED = 6,   /* an operation's bytes could not be put in a heatmap */
	H_NUM_SLOTS = 7,
};

/*
 * Timelines: DXT segments and heatmaps.
 *
 * One io_segment per traced read or write goes to the `segments` ring
 * buffer when DXT is on; a segment also carries the operations whose record
 * user space has not named yet, so that their bytes reach the heatmap only
 * if the file turns out not to be excluded.
 */
enum segment_flag {
	SEG_TRACE = 1,            /* part of the DXT trace */
	SEG_HEATMAP_PENDING = 2,  /* not in the kernel heatmap: user space bins it */
};

struct io_segment {
	struct file_key key;  /* the record, in the module's own key space */
	__s64 offset;
	__s64 length;
	__u64 start_ns;       /* bpf_ktime_get_ns() */
	__u64 end_ns;
	__u32 tid;
	__u16 module;         /* Darshan module id of the record: 1 POSIX, 2 MPI-IO, 9 STDIO */
	__u8 op;              /* enum io_type */
	__u8 flags;           /* enum segment_flag */
};

/* Darshan module ids of the modules that write segments or heatmaps. */
#define DARSHAN_POSIX_MOD 1
#define DARSHAN_MPIIO_MOD 2
#define DARSHAN_STDIO_MOD 9

/* Heatmaps, one per (process, API), as Darshan 3.4+ keeps them: bins of
 * 0.1 s while the job is young, doubling in width as it ages.  Darshan
 * collapses its 200 bins in place when an operation ends past the last
 * bin; the kernel cannot do that under concurrent lock-free adds, so a row
 * keeps every width it has needed: bins 0..199 are 0.1 s wide and cover
 * [0, 20 s); level j >= 1 holds 100 bins of 0.1 * 2^j s covering
 * [10 * 2^j, 20 * 2^j) s.  Summing these bins into Darshan's final width
 * gives exactly what Darshan's collapses would. */
enum heatmap_api {
	HEATMAP_POSIX = 0,
	HEATMAP_STDIO = 1,
	HEATMAP_MPIIO = 2,
	HEATMAP_APIS = 3,
};

#define HEATMAP_BIN_NS 100000000ULL  /* Darshan's initial 0.1 s bin width */
#define HEATMAP_BINS 200             /* Darshan's bins per heatmap */
#define HEATMAP_LEVELS 15            /* doublings kept: 20 s * 2^15, about 7.6 days */
#define HEATMAP_ROW_BINS (HEATMAP_BINS + HEATMAP_LEVELS * (HEATMAP_BINS / 2))

struct heatmap_bin {
	__u64 read;
	__u64 write;
};

/* The bin an add last went to, packed as HEATMAP_HINT_* say (0: none):
 * the next operation usually falls in it, and then needs no division. */
#define HEATMAP_HINT_BIN_BITS 11
#define HEATMAP_HINT_TIME_BITS 26  /* bin edges in 0.1 s units */

struct heatmap_row {
	__u64 hint;
	struct heatmap_bin bins[HEATMAP_ROW_BINS];
};

/* A node daemon's traced process (see heatmap_own_clocks): the clock its
 * heatmap counts from, its job's start as far as the kernel can tell, and
 * the heatmap row lent to it at its first counted byte. */
#define NO_HEATMAP_ROW 0xffffffff

struct proc_heatmap {
	__u64 origin;  /* bpf_ktime_get_ns() */
	__u32 row;     /* NO_HEATMAP_ROW until it has one */
	__u32 pad;
};

#endif /* EBPF_DARSHAN_H */
