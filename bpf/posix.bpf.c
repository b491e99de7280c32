// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The POSIX module: system calls of traced processes counted per (process,
 * file) with Darshan's rules, entirely in the kernel.  The enter hook only
 * notes the time (and, for close, which file the fd names, since the fd is
 * gone at exit); everything else happens at exit, when the result is known
 * and the arguments are still in the user registers.  Only rare events go
 * to the ring buffer: the name of a new record and the two paths of a rename.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "file_events.bpf.h"
#include "library_hold.bpf.h"
#include "darshan_timing.bpf.h"
#include "darshan_tables.bpf.h"

#ifndef __TARGET_ARCH_x86
#error "syscall numbers below are x86-64's"
#endif

/* x86-64 system call numbers of the calls Darshan's POSIX module covers. */
enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4,
	NR_fstat = 5, NR_lstat = 6, NR_lseek = 8, NR_mmap = 9,
	NR_pread64 = 17, NR_pwrite64 = 18, NR_readv = 19, NR_writev = 20,
	NR_dup = 32, NR_dup2 = 33, NR_sendfile = 40, NR_clone = 56,
	NR_fork = 57, NR_vfork = 58, NR_fcntl = 72, NR_fsync = 74,
	NR_fdatasync = 75, NR_ftruncate = 77, NR_rename = 82, NR_creat = 85,
	NR_unlink = 87, NR_openat = 257, NR_newfstatat = 262, NR_unlinkat = 263,
	NR_renameat = 264, NR_splice = 275, NR_fallocate = 285, NR_dup3 = 292,
	NR_preadv = 295, NR_pwritev = 296, NR_renameat2 = 316,
	NR_copy_file_range = 326, NR_preadv2 = 327, NR_pwritev2 = 328,
	NR_statx = 332, NR_io_uring_enter = 426, NR_clone3 = 435, NR_close_range = 436,
	NR_openat2 = 437,
};

/* Constants from the uapi headers, which vmlinux.h does not carry. */
#define AT_EMPTY_PATH 0x1000
#define AT_REMOVEDIR 0x200
#define O_CREAT 0100
#define O_TMPFILE 020000000
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define MAP_ANONYMOUS 0x20
#define MAX_ERRNO 4095
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define MINORBITS 20
#define LUSTRE_SUPER_MAGIC 0x0BD00BD0
#define LUSTRE_FILE_ALIGNMENT (1 << 20)

/* How many iovecs of a vector call are checked for memory alignment. */
#define IOV_CHECK_MAX 16
#define MAX_RECORDS_DEFAULT 16384
/* close_range() closes are counted for this many fds at most. */
#define CLOSE_RANGE_MAX_FDS 4096

/* Darshan's default POSIX_MEM_ALIGNMENT; user space may change it. */
const volatile __s64 mem_alignment = 8;

/* Records sit in an array so that a thread can remember the slot of the
 * file it used last (task_state.last_*): the index lookup, a hash of the
 * key, is then skipped on repeated I/O.  User space maps the array and
 * reads the counters in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MAX_RECORDS_DEFAULT);
	__type(key, __u32);
	__type(value, struct posix_record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_RECORDS_DEFAULT);
	__type(key, struct file_key);
	__type(value, __u32);
} record_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, X_NUM_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} extras SEC(".maps");

/* Slots are handed out in order.  A long-running recorder gives back the
 * slots of processes that have ended (zeroed, their index entries gone)
 * through free_slots, which new records take first; a one-job recording
 * never does, and finds the queue empty. */
__u32 next_slot = 0;

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_RECORDS_DEFAULT);
	__type(value, __u32);
} free_slots SEC(".maps");

/* A record lock is a word taken with compare-and-swap rather than a
 * bpf_spin_lock, which disables interrupts and costs as much again as
 * all the counting.  Critical sections are a few dozen instructions, so
 * a waiter spins at most this many times before giving up on the call
 * (counted in health as H_CALLS_BUSY). */
#define LOCK_SPINS 4096

enum call_class {
	C_NONE, C_OPEN, C_CLOSE, C_READ, C_WRITE, C_SEEK, C_FSYNC, C_FDSYNC,
	C_STAT_PATH, C_STAT_FD, C_MMAP, C_DUP, C_RENAME, C_CLOSE_RANGE,
	C_TRANSFER, C_FALLOCATE, C_FTRUNCATE, C_UNLINK, C_CLONE,
	C_URING_ENTER,  /* only marks the task as inside a system call */
};

static __always_inline int classify(long nr)
{
	switch (nr) {
	case NR_open: case NR_openat: case NR_openat2: case NR_creat:
		return C_OPEN;
	case NR_close:
		return C_CLOSE;
	case NR_close_range:
		return C_CLOSE_RANGE;
	case NR_read: case NR_pread64: case NR_readv: case NR_preadv:
	case NR_preadv2:
		return C_READ;
	case NR_write: case NR_pwrite64: case NR_writev: case NR_pwritev:
	case NR_pwritev2:
		return C_WRITE;
	case NR_lseek:
		return C_SEEK;
	case NR_fsync:
		return C_FSYNC;
	case NR_fdatasync:
		return C_FDSYNC;
	case NR_stat: case NR_lstat: case NR_newfstatat: case NR_statx:
		return C_STAT_PATH;
	case NR_fstat:
		return C_STAT_FD;
	case NR_mmap:
		return C_MMAP;
	case NR_dup: case NR_dup2: case NR_dup3: case NR_fcntl:
		return C_DUP;
	case NR_rename: case NR_renameat: case NR_renameat2:
		return C_RENAME;
	case NR_sendfile: case NR_copy_file_range: case NR_splice:
		return C_TRANSFER;
	case NR_fallocate:
		return C_FALLOCATE;
	case NR_ftruncate:
		return C_FTRUNCATE;
	case NR_unlink: case NR_unlinkat:
		return C_UNLINK;
	case NR_io_uring_enter:
		return C_URING_ENTER;
	case NR_clone: case NR_fork: case NR_vfork: case NR_clone3:
		return C_CLONE;
	}
	return C_NONE;
}

/* POSIX_FILE_ALIGNMENT as Darshan defines it: the file system block size,
 * except on Lustre where it is the 1 MiB stripe unit. */
static __always_inline __s64 fs_alignment(struct file *f)
{
	struct super_block *sb = BPF_CORE_READ(f, f_inode, i_sb);

	if (BPF_CORE_READ(sb, s_magic) == LUSTRE_SUPER_MAGIC)
		return LUSTRE_FILE_ALIGNMENT;
	return BPF_CORE_READ(sb, s_blocksize);
}

static __always_inline struct posix_record *slot_record(__u32 slot)
{
	return bpf_map_lookup_elem(&records, &slot);
}

/* Find the record, or make it.  *created tells the caller to send a name. */
static __always_inline struct posix_record *
get_record(struct file_key *key, struct file *f, __s64 blksize, bool *created, bool *dropped,
	   __u32 *slotp)
{
	__u32 *found = bpf_map_lookup_elem(&record_index, key);
	struct posix_record *r;
	__u32 slot;

	if (found) {
		*slotp = *found;
		return slot_record(*found);
	}
	if (bpf_map_pop_elem(&free_slots, &slot))
		slot = __sync_fetch_and_add(&next_slot, 1);
	r = slot_record(slot);
	if (!r)
		goto full;
	/* Filled in before the slot is published in the index. */
	r->counters[POSIX_MEM_ALIGNMENT] = mem_alignment;
	r->counters[POSIX_FILE_ALIGNMENT] = f ? fs_alignment(f) : blksize;
	r->generation = f ? FILE_READ(f, f_inode, i_generation) : 0;
	if (bpf_map_update_elem(&record_index, key, &slot, BPF_NOEXIST) == 0) {
		*created = true;
		*slotp = slot;
		return r;
	}
	/* Another thread of the process made it first (its slot wins; ours
	 * goes back to the free slots), or the index is full. */
	bpf_map_push_elem(&free_slots, &slot, 0);
	found = bpf_map_lookup_elem(&record_index, key);
	if (found) {
		*slotp = *found;
		return slot_record(*found);
	}
full:
	health_inc(H_RECORDS_DROPPED);
	*dropped = true;
	return 0;
}

/* The record of key, if there is one. */
static __always_inline struct posix_record *find_record(struct file_key *key)
{
	__u32 *slot = bpf_map_lookup_elem(&record_index, key);

	return slot ? slot_record(*slot) : 0;
}

/* Serials of RETIRED_DEV keys. */
__u64 retired_serial = 0;

/* Whether r, found under f's key, is the record of another file: a deleted
 * one whose inode number f's file system has given again.  Then r moves to
 * a RETIRED_DEV key and the caller makes a new record.  Of two threads
 * opening the new file at once, one moves it.  A stat-made record has no
 * generation yet and takes f's. */
static __always_inline bool retire_if_reused(struct posix_record *r, __u32 slot,
					     struct file_key *key, struct file *f, __u64 t)
{
	__u32 generation = FILE_READ(f, f_inode, i_generation);
	struct file_key moved = { .proc = key->proc, .dev = RETIRED_DEV };
	struct event *e;

	if (r->generation == generation)
		return false;
	if (!r->generation) {
		r->generation = generation;
		return false;
	}
	if (__sync_val_compare_and_swap(&r->retired, 0, 1) != 0)
		return false;
	moved.ino = __sync_fetch_and_add(&retired_serial, 1) + 1;
	if (bpf_map_update_elem(&record_index, &moved, &slot, BPF_NOEXIST)) {
		/* index full: the two files share the record, and that is said */
		r->retired = 0;
		health_inc(H_RECORDS_DROPPED);
		return false;
	}
	bpf_map_delete_elem(&record_index, key);
	e = scratch_event();
	if (e) {
		fill_event(e, EV_RETIRE, key, t, t);
		*(struct file_key *)(e + 1) = moved;
		emit_event(e, sizeof(*e) + sizeof(moved));
	}
	return true;
}

struct lock_wait {
	struct posix_record *r;
	bool taken;
};

static long lock_retry(__u32 i, struct lock_wait *w)
{
	w->taken = __sync_val_compare_and_swap(&w->r->busy, 0, 1) == 0;
	return w->taken;  /* 1 ends the loop */
}

static __always_inline bool record_lock(struct posix_record *r)
{
	struct lock_wait w = { .r = r };

	if (__sync_val_compare_and_swap(&r->busy, 0, 1) == 0)
		return true;
	bpf_loop(LOCK_SPINS, lock_retry, &w, 0);
	if (!w.taken)
		health_inc(H_CALLS_BUSY);
	return w.taken;
}

static __always_inline void record_unlock(struct posix_record *r)
{
	__sync_lock_test_and_set(&r->busy, 0);
}

static __always_inline void remember(struct task_state *st, struct file_key *key, __u32 slot)
{
	st->last_dev = key->dev;
	st->last_ino = key->ino;
	st->last_slot = slot;
}

/* The record of the file behind fd, created (and named) on first sight. */
static __always_inline struct posix_record *
fd_record(struct task_state *st, long fd, struct file **filep)
{
	struct file *f = fd_file(fd);
	struct file_key key = {};
	struct posix_record *r;
	bool created = false, dropped = false;
	__u32 slot = 0;

	if (!f || !file_key_of(f, st->proc, &key))
		return 0;
	if (key.ino == st->last_ino && key.dev == st->last_dev &&
	    (r = slot_record(st->last_slot)) && !r->retired) {
		/* the file this thread used last */
	} else {
		r = get_record(&key, f, 0, &created, &dropped, &slot);
		if (created)
			emit_file_event(&key, f);
		if (r)
			remember(st, &key, slot);
	}
	if (!r || (r->flags & RECORD_EXCLUDED))
		return 0;
	*filep = f;
	return r;
}

static __always_inline void stamp(struct posix_record *r, int start, int end,
				  __u64 t1, __u64 t2)
{
	stamp_span(&r->times[start], &r->times[end], t1, t2);
}

struct access {
	bool write;
	__s64 offset;
	__s64 bytes;
	int bucket;
	bool mem_unaligned;
	bool file_unaligned;
	__u64 t1, t2;
};

/* Alignments are powers of two in practice: a mask then saves a division
 * on every call. */
static __always_inline bool unaligned_to(__u64 value, __s64 align)
{
	if (align <= 0)
		return false;
	if ((align & (align - 1)) == 0)
		return value & (align - 1);
	return value % (__u64)align;
}

/* One read or write, with every rule of Darshan's POSIX module.  Runs under
 * the record's lock, so no helper calls in here. */
static __always_inline void count_access(struct posix_record *r, struct access *a)
{
	__s64 *last = a->write ? &r->last_byte_written : &r->last_byte_read;
	__s64 off = a->offset, n = a->bytes, stride = 0;
	int ops = a->write ? POSIX_WRITES : POSIX_READS;
	int bytes = a->write ? POSIX_BYTES_WRITTEN : POSIX_BYTES_READ;
	int max_byte = a->write ? POSIX_MAX_BYTE_WRITTEN : POSIX_MAX_BYTE_READ;
	int consec = a->write ? POSIX_CONSEC_WRITES : POSIX_CONSEC_READS;
	int seq = a->write ? POSIX_SEQ_WRITES : POSIX_SEQ_READS;
	int hist = a->write ? POSIX_SIZE_WRITE_0_100 : POSIX_SIZE_READ_0_100;
	__u64 type = a->write ? IO_WRITE : IO_READ;
	__u64 took = a->t2 - a->t1;

	if (off > *last)
		r->counters[seq]++;
	if (off == *last + 1)
		r->counters[consec]++;
	if (off > 0 && off > *last && *last != 0)
		stride = off - *last - 1;
	*last = off + n - 1;
	if (off + n - 1 > r->counters[max_byte])
		r->counters[max_byte] = off + n - 1;
	r->counters[ops]++;
	r->counters[bytes] += n;
	if (a->bucket >= 0 && a->bucket < SIZE_BUCKETS)
		r->counters[hist + a->bucket]++;
	table_count(r->access, n);
	table_count(r->stride, stride);
	if (a->mem_unaligned)
		r->counters[POSIX_MEM_NOT_ALIGNED]++;
	if (a->file_unaligned)
		r->counters[POSIX_FILE_NOT_ALIGNED]++;
	if (r->last_io_type != IO_NONE && r->last_io_type != type)
		r->counters[POSIX_RW_SWITCHES]++;
	r->last_io_type = type;
	if (a->write) {
		stamp(r, T_WRITE_START, T_WRITE_END, a->t1, a->t2);
		if (took > r->times[T_MAX_WRITE_TIME]) {
			r->times[T_MAX_WRITE_TIME] = took;
			r->counters[POSIX_MAX_WRITE_TIME_SIZE] = n;
		}
		timer_add(&r->times[T_WRITE_TIME], &r->last_write_end, a->t1, a->t2);
	} else {
		stamp(r, T_READ_START, T_READ_END, a->t1, a->t2);
		if (took > r->times[T_MAX_READ_TIME]) {
			r->times[T_MAX_READ_TIME] = took;
			r->counters[POSIX_MAX_READ_TIME_SIZE] = n;
		}
		timer_add(&r->times[T_READ_TIME], &r->last_read_end, a->t1, a->t2);
	}
}

static __always_inline bool misaligned(__u64 addr)
{
	return unaligned_to(addr, mem_alignment);
}

/* Darshan counts a vector call as unaligned when any buffer is. */
static __always_inline bool iov_misaligned(const struct iovec *iov, long cnt)
{
	for (int i = 0; i < IOV_CHECK_MAX && i < cnt; i++) {
		void *base = 0;

		bpf_probe_read_user(&base, sizeof(base), &iov[i].iov_base);
		if (misaligned((__u64)base))
			return true;
	}
	return false;
}

/* The access's place on the timelines: the heatmap and, with DXT on, a
 * trace segment.  Until user space has accepted the record's name (set
 * RECORD_NAMED) its bytes go to user space as pending segments, so a file
 * that turns out to be excluded leaves nothing in the heatmap. */
static __always_inline void posix_timeline(struct posix_record *r, struct file *f,
					   __u32 proc, const struct access *a)
{
	struct file_key key = {};
	__u8 flags = (dxt_enabled ? SEG_TRACE : 0) |
		     heatmap_or_pending(HEATMAP_POSIX, proc, r->flags & RECORD_NAMED, a->write,
					a->bytes, a->t1, a->t2);

	if (!flags || !file_key_of(f, proc, &key))
		return;
	emit_segment(&key, DARSHAN_POSIX_MOD, a->write, flags, a->offset, a->bytes,
		     a->t1, a->t2);
}

/* Count one access of the file f under the record's lock. */
static __always_inline void count_io(struct posix_record *r, struct file *f, __u32 proc,
				     struct access *a)
{
	a->bucket = size_bucket(a->bytes);
	a->file_unaligned = unaligned_to(a->offset, r->counters[POSIX_FILE_ALIGNMENT]);
	if (!record_lock(r))
		return;
	count_access(r, a);
	record_unlock(r);
	posix_timeline(r, f, proc, a);
}

static __always_inline void on_rw(struct pt_regs *regs, long nr, bool write,
				  struct task_state *st, long ret, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r = fd_record(st, PT_REGS_PARM1_SYSCALL(regs), &f);
	__u64 buf = PT_REGS_PARM2_SYSCALL(regs);
	__s64 pos = PT_REGS_PARM4_SYSCALL(regs);
	struct access a = { .write = write, .bytes = ret, .t1 = t1, .t2 = t2 };

	if (!r)
		return;
	switch (nr) {
	case NR_pread64: case NR_pwrite64:
		a.offset = pos;
		a.mem_unaligned = misaligned(buf);
		break;
	case NR_preadv: case NR_pwritev: case NR_preadv2: case NR_pwritev2:
		/* preadv2 with offset -1 uses (and moves) the file position */
		a.offset = pos == -1 ? FILE_READ(f, f_pos) - ret : pos;
		a.mem_unaligned = iov_misaligned((const struct iovec *)buf,
						 PT_REGS_PARM3_SYSCALL(regs));
		break;
	case NR_readv: case NR_writev:
		a.offset = FILE_READ(f, f_pos) - ret;
		a.mem_unaligned = iov_misaligned((const struct iovec *)buf,
						 PT_REGS_PARM3_SYSCALL(regs));
		break;
	default:
		/* The position after the call, less what moved: right for
		 * O_APPEND and for fds shared across threads and forks. */
		a.offset = FILE_READ(f, f_pos) - ret;
		a.mem_unaligned = misaligned(buf);
	}
	count_io(r, f, st->proc, &a);
}

/* sendfile, copy_file_range and splice move bytes between two fds inside
 * the kernel: a read of the source and a write of the destination, each at
 * the offset passed by pointer (which the call advances) or else at the
 * file position.  No user buffer, so no memory alignment to check. */
static __always_inline void transfer_side(struct task_state *st, long fd, __s64 *uoff,
					  bool write, long ret, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r = fd_record(st, fd, &f);
	struct access a = { .write = write, .bytes = ret, .t1 = t1, .t2 = t2 };
	__s64 end;

	if (!r)
		return;
	/* Two separate loads: merged into one, they would mix a stack and a
	 * kernel pointer, which the verifier refuses. */
	end = FILE_READ(f, f_pos);
	if (uoff)
		bpf_probe_read_user(&end, sizeof(end), uoff);
	a.offset = end - ret;
	count_io(r, f, st->proc, &a);
}

static __always_inline void extra_add(__u32 slot, __u64 v)
{
	__u64 *x = bpf_map_lookup_elem(&extras, &slot);

	if (x)
		__sync_fetch_and_add(x, v);
}

static __always_inline void on_transfer(struct pt_regs *regs, long nr, struct task_state *st,
					long ret, __u64 t1, __u64 t2)
{
	if (nr == NR_sendfile) {  /* (out_fd, in_fd, *offset, count) */
		transfer_side(st, PT_REGS_PARM2_SYSCALL(regs),
			      (__s64 *)PT_REGS_PARM3_SYSCALL(regs), false, ret, t1, t2);
		transfer_side(st, PT_REGS_PARM1_SYSCALL(regs), 0, true, ret, t1, t2);
		extra_add(X_SENDFILE_CALLS, 1);
		return;
	}
	/* copy_file_range and splice: (fd_in, *off_in, fd_out, *off_out, ...) */
	transfer_side(st, PT_REGS_PARM1_SYSCALL(regs),
		      (__s64 *)PT_REGS_PARM2_SYSCALL(regs), false, ret, t1, t2);
	transfer_side(st, PT_REGS_PARM3_SYSCALL(regs),
		      (__s64 *)PT_REGS_PARM4_SYSCALL(regs), true, ret, t1, t2);
	extra_add(nr == NR_splice ? X_SPLICE_CALLS : X_COPY_FILE_RANGE_CALLS, 1);
}

/* fallocate and ftruncate of traced files: Darshan has no counter. */
static __always_inline void on_resize(struct pt_regs *regs, long nr, struct task_state *st)
{
	struct file *f = 0;

	if (!fd_record(st, PT_REGS_PARM1_SYSCALL(regs), &f))
		return;
	if (nr == NR_ftruncate) {
		extra_add(X_FTRUNCATE_CALLS, 1);
		return;
	}
	extra_add(X_FALLOCATE_CALLS, 1);
	extra_add(X_FALLOCATE_BYTES, PT_REGS_PARM4_SYSCALL(regs));
}

/* Open-like calls, dups, seeks and stats: counters plus META time. */
struct meta_op {
	int counter;
	int also;        /* a second counter (dups are opens too), or -1 */
	bool opening;    /* stamps OPEN times */
	bool by_path;    /* a path-based open resets the sequence state */
	__s64 mode;      /* POSIX_MODE to record, 0 for none */
};

static __always_inline void count_meta(struct posix_record *r, const struct meta_op *m,
				       __u64 t1, __u64 t2)
{
	if (!record_lock(r))
		return;
	if (m->counter >= 0 && m->counter < POSIX_NUM_COUNTERS)
		r->counters[m->counter]++;
	if (m->also >= 0 && m->also < POSIX_NUM_COUNTERS)
		r->counters[m->also]++;
	if (m->opening)
		stamp(r, T_OPEN_START, T_OPEN_END, t1, t2);
	if (m->by_path) {
		r->last_byte_read = 0;
		r->last_byte_written = 0;
	}
	if (m->mode)
		r->counters[POSIX_MODE] = m->mode;
	timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
	record_unlock(r);
}

static const struct meta_op stat_op = { .counter = POSIX_STATS, .also = -1 };
static const struct meta_op seek_op = { .counter = POSIX_SEEKS, .also = -1 };
static const struct meta_op dup_op = { .counter = POSIX_DUPS, .also = POSIX_OPENS,
				 .opening = true };

static __always_inline void on_open(struct pt_regs *regs, long nr, struct task_state *st,
				    long fd, __u64 t1, __u64 t2)
{
	long dirfd = AT_FDCWD;
	const char *upath;
	__u64 flags, mode;
	struct file *f = fd_file(fd);
	struct file_key key = {};
	struct posix_record *r;
	bool created = false, dropped = false;
	__u32 slot = 0;

	if (!f || !file_key_of(f, st->proc, &key))
		return;
	switch (nr) {
	case NR_open:
		upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		flags = PT_REGS_PARM2_SYSCALL(regs);
		mode = PT_REGS_PARM3_SYSCALL(regs);
		break;
	case NR_creat:
		upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		flags = O_CREAT;
		mode = PT_REGS_PARM2_SYSCALL(regs);
		break;
	case NR_openat:
		dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		flags = PT_REGS_PARM3_SYSCALL(regs);
		mode = PT_REGS_PARM4_SYSCALL(regs);
		break;
	default: {  /* openat2: flags and mode come in a struct open_how */
		struct open_how how = {};

		dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		bpf_probe_read_user(&how, sizeof(how),
				    (void *)PT_REGS_PARM3_SYSCALL(regs));
		flags = how.flags;
		mode = how.mode;
	}
	}
	r = get_record(&key, f, 0, &created, &dropped, &slot);
	if (r && !created && retire_if_reused(r, slot, &key, f, t1))
		r = get_record(&key, f, 0, &created, &dropped, &slot);
	if (created || dropped)
		send_path(EV_OPEN, &key, t1, t2, upath, dirfd, dropped);
	if (!r)
		return;
	remember(st, &key, slot);  /* I/O on a new file follows its open */
	if (r->flags & RECORD_EXCLUDED)
		return;
	struct meta_op m = { .counter = POSIX_OPENS, .also = -1,
			     .opening = true, .by_path = true };
	/* Darshan only sees a mode when the call creates files */
	if (flags & (O_CREAT | O_TMPFILE))
		m.mode = mode;
	count_meta(r, &m, t1, t2);
}

/* The parts of x86-64's struct stat that identify a file. */
struct stat_head {
	__u64 dev;
	__u64 ino;
	__u64 nlink;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 pad;
	__u64 rdev;
	__s64 size;
	__s64 blksize;
};

/* stat() reports the device as new_encode_dev() packs it. */
static __always_inline __u32 decode_dev(__u64 d)
{
	__u32 major = (d >> 8) & 0xfff;
	__u32 minor = (d & 0xff) | ((d >> 12) & 0xfff00);

	return (major << MINORBITS) | minor;
}

/* Counters plus META time on the record behind an fd. */
static __always_inline void count_fd_meta(struct task_state *st, long fd,
					  const struct meta_op *m, __u64 t1, __u64 t2)
{
	struct file *f = 0;
	struct posix_record *r = fd_record(st, fd, &f);

	if (r)
		count_meta(r, m, t1, t2);
}

/* fstatat/statx with AT_EMPTY_PATH and "" stat the fd itself (glibc's
 * fstat is made this way). */
static __always_inline bool empty_path_stat(struct task_state *st, long fd, const char *upath,
					    long flags, __u64 t1, __u64 t2)
{
	char first = 0;

	bpf_probe_read_user(&first, 1, upath);
	if (!(flags & AT_EMPTY_PATH) || first)
		return false;
	count_fd_meta(st, fd, &stat_op, t1, t2);
	return true;
}

static __always_inline void on_stat_path(struct pt_regs *regs, long nr, struct task_state *st,
					 __u64 t1, __u64 t2)
{
	long dirfd = AT_FDCWD;
	const char *upath = (const char *)PT_REGS_PARM2_SYSCALL(regs);
	struct file_key key = { .proc = st->proc };
	struct posix_record *r;
	bool created = false, dropped = false;
	__u32 slot = 0;
	__s64 blksize;
	__u32 mode;

	if (nr == NR_statx) {
		struct statx sx = {};
		long flags = PT_REGS_PARM3_SYSCALL(regs);

		dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
		if (empty_path_stat(st, dirfd, upath, flags, t1, t2))
			return;
		bpf_probe_read_user(&sx, sizeof(sx),
				    (void *)PT_REGS_PARM5_SYSCALL(regs));
		mode = sx.stx_mode;
		key.dev = (sx.stx_dev_major << MINORBITS) | sx.stx_dev_minor;
		key.ino = sx.stx_ino;
		blksize = sx.stx_blksize;
	} else {
		struct stat_head sb = {};
		void *buf;

		if (nr == NR_newfstatat) {
			long flags = PT_REGS_PARM4_SYSCALL(regs);

			dirfd = (int)PT_REGS_PARM1_SYSCALL(regs);
			buf = (void *)PT_REGS_PARM3_SYSCALL(regs);
			if (empty_path_stat(st, dirfd, upath, flags, t1, t2))
				return;
		} else {
			upath = (const char *)PT_REGS_PARM1_SYSCALL(regs);
			buf = (void *)PT_REGS_PARM2_SYSCALL(regs);
		}
		bpf_probe_read_user(&sb, sizeof(sb), buf);
		mode = sb.mode;
		key.dev = decode_dev(sb.dev);
		key.ino = sb.ino;
		blksize = sb.blksize;
	}
	if ((mode & S_IFMT) != S_IFREG)
		return;
	r = get_record(&key, 0, blksize, &created, &dropped, &slot);
	if (created || dropped)
		send_path(EV_STAT, &key, t1, t2, upath, dirfd, dropped);
	if (r && !(r->flags & RECORD_EXCLUDED))
		count_meta(r, &stat_op, t1, t2);
}

static __always_inline void on_rename(struct pt_regs *regs, long nr, __u32 proc,
				      __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = proc };
	long olddir = AT_FDCWD, newdir = AT_FDCWD;
	const char *oldp, *newp;

	if (nr == NR_rename) {
		oldp = (const char *)PT_REGS_PARM1_SYSCALL(regs);
		newp = (const char *)PT_REGS_PARM2_SYSCALL(regs);
	} else {
		olddir = (int)PT_REGS_PARM1_SYSCALL(regs);
		oldp = (const char *)PT_REGS_PARM2_SYSCALL(regs);
		newdir = (int)PT_REGS_PARM3_SYSCALL(regs);
		newp = (const char *)PT_REGS_PARM4_SYSCALL(regs);
	}
	send_path(EV_RENAME_SRC, &key, t1, t2, oldp, olddir, false);
	send_path(EV_RENAME_DST, &key, t1, t2, newp, newdir, false);
}

/* Unlinks go to user space, which alone knows which names are excluded. */
static __always_inline void on_unlink(struct pt_regs *regs, long nr, __u32 proc,
				      __u64 t1, __u64 t2)
{
	struct file_key key = { .proc = proc };

	if (nr == NR_unlink) {
		send_path(EV_UNLINK, &key, t1, t2, (const char *)PT_REGS_PARM1_SYSCALL(regs),
			  AT_FDCWD, false);
		return;
	}
	if (PT_REGS_PARM3_SYSCALL(regs) & AT_REMOVEDIR)
		return;
	send_path(EV_UNLINK, &key, t1, t2, (const char *)PT_REGS_PARM2_SYSCALL(regs),
		  (int)PT_REGS_PARM1_SYSCALL(regs), false);
}

static __always_inline void count_close(struct file_key *key, __u64 t1, __u64 t2)
{
	struct posix_record *r = find_record(key);

	if (!r || (r->flags & RECORD_EXCLUDED) || !record_lock(r))
		return;
	stamp(r, T_CLOSE_START, T_CLOSE_END, t1, t2);
	r->last_byte_read = 0;
	r->last_byte_written = 0;
	timer_add(&r->times[T_META_TIME], &r->last_meta_end, t1, t2);
	record_unlock(r);
}

/* fsync and fdatasync: Darshan counts their time as write time. */
static __always_inline void count_sync(struct posix_record *r, int counter, __u64 t1, __u64 t2)
{
	if (!r || !record_lock(r))
		return;
	r->counters[counter]++;
	timer_add(&r->times[T_WRITE_TIME], &r->last_write_end, t1, t2);
	record_unlock(r);
}

static __always_inline void on_sync(struct task_state *st, long fd, int counter,
				    __u64 t1, __u64 t2)
{
	struct file *f = 0;

	count_sync(fd_record(st, fd, &f), counter, t1, t2);
}

struct close_range_walk {
	__u32 proc;
	__u32 first;
	__u32 last;
	__u64 now;
};

static long close_range_step(__u32 i, struct close_range_walk *w)
{
	struct file_key key = {};
	struct file *f;

	if (w->first + i > w->last)
		return 1;
	f = fd_file(w->first + i);
	if (f && file_key_of(f, w->proc, &key))
		count_close(&key, w->now, w->now);
	return 0;
}

/* close_range() drops many fds at once; each traced file among them gets a
 * close, stamped at entry (the fds are gone by exit). */
static __always_inline void on_close_range(struct pt_regs *regs, __u32 proc)
{
	struct close_range_walk w = {
		.proc = proc,
		.first = PT_REGS_PARM1_SYSCALL(regs),
		.last = PT_REGS_PARM2_SYSCALL(regs),
		.now = bpf_ktime_get_ns(),
	};
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

	if (PT_REGS_PARM3_SYSCALL(regs) & CLOSE_RANGE_CLOEXEC)
		return;
	if (w.last >= fdt->max_fds)
		w.last = fdt->max_fds - 1;
	bpf_loop(CLOSE_RANGE_MAX_FDS, close_range_step, &w, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	int cls = classify(id);
	struct task_state *st;

	if (cls == C_NONE)
		return 0;
	st = traced_task(bpf_get_current_task_btf());
	if (!st)
		return 0;
	/* inside stdio: its system calls are not the application's, unless
	 * the stack says the stdio call is over (its return went unseen) */
	if (st->stdio_depth) {
		if (regs->sp <= st->stdio_sp)
			return 0;
		st->stdio_depth = 0;
	}
	if (cls == C_CLOSE_RANGE) {
		on_close_range(regs, st->proc);
		return 0;
	}
	st->nr = id;
	if (cls == C_CLOSE) {
		struct file *f = fd_file(PT_REGS_PARM1_SYSCALL(regs));

		__builtin_memset(&st->closing, 0, sizeof(st->closing));
		if (f)
			file_key_of(f, st->proc, &st->closing);
	}
	st->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	int cls = classify(nr);
	struct task_state *st;
	struct file *f = 0;
	struct posix_record *r;
	__u64 t1, t2;

	if (cls == C_NONE)
		return 0;
	st = traced_task(bpf_get_current_task_btf());
	if (cls == C_CLONE) {
		if (st && ret == 0)
			hold_forked_process(st->proc);
		return 0;
	}
	if (!st || st->nr != nr || !st->start_ns)
		return 0;
	t2 = bpf_ktime_get_ns();
	t1 = st->start_ns;
	st->start_ns = 0;
	if (cls == C_MMAP) {
		if ((unsigned long)ret >= (unsigned long)-MAX_ERRNO ||
		    (PT_REGS_PARM4_SYSCALL(regs) & MAP_ANONYMOUS))
			return 0;
		hold_library_map(st->proc, PT_REGS_PARM3_SYSCALL(regs), PT_REGS_PARM5_SYSCALL(regs));
		r = fd_record(st, PT_REGS_PARM5_SYSCALL(regs), &f);
		if (r)
			__sync_fetch_and_add(&r->counters[POSIX_MMAPS], 1);
		return 0;
	}
	if (ret < 0)
		return 0;
	switch (cls) {
	case C_OPEN:
		on_open(regs, nr, st, ret, t1, t2);
		break;
	case C_CLOSE:
		count_close(&st->closing, t1, t2);
		break;
	case C_READ:
		on_rw(regs, nr, false, st, ret, t1, t2);
		break;
	case C_WRITE:
		on_rw(regs, nr, true, st, ret, t1, t2);
		break;
	case C_SEEK:
		count_fd_meta(st, PT_REGS_PARM1_SYSCALL(regs), &seek_op, t1, t2);
		break;
	case C_FSYNC:
		on_sync(st, PT_REGS_PARM1_SYSCALL(regs), POSIX_FSYNCS, t1, t2);
		break;
	case C_FDSYNC:
		on_sync(st, PT_REGS_PARM1_SYSCALL(regs), POSIX_FDSYNCS, t1, t2);
		break;
	case C_STAT_PATH:
		on_stat_path(regs, nr, st, t1, t2);
		break;
	case C_STAT_FD:
		count_fd_meta(st, PT_REGS_PARM1_SYSCALL(regs), &stat_op, t1, t2);
		break;
	case C_DUP:
		if (nr == NR_fcntl) {
			long cmd = PT_REGS_PARM2_SYSCALL(regs);

			if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
				break;
		}
		r = fd_record(st, ret, &f);
		if (r)
			count_meta(r, &dup_op, t1, t2);
		break;
	case C_RENAME:
		on_rename(regs, nr, st->proc, t1, t2);
		break;
	case C_TRANSFER:
		on_transfer(regs, nr, st, ret, t1, t2);
		break;
	case C_FALLOCATE:
	case C_FTRUNCATE:
		on_resize(regs, nr, st);
		break;
	case C_UNLINK:
		on_unlink(regs, nr, st->proc, t1, t2);
		break;
	}
	return 0;
}

/*
 * io_uring.  Requests never pass through the read/write syscalls, so they
 * are counted from io_uring's own tracepoints, like their syscall twins:
 * submission notes the time and what only the submitter's context knows
 * (the fd a close names, the alignment of the user buffers); completion
 * counts, with the result, the file and its position at that point.
 */
#define PF_IO_WORKER 0x00000010
#define IORING_FSYNC_DATASYNC 1
#define IO_URING_INFLIGHT_MAX 16384

struct uring_call {
	__u64 start_ns;
	__u32 proc;
	__u8 opcode;
	bool mem_unaligned;
	struct file_key closing;
};

/* Requests between submission and completion.  LRU: a request whose
 * completion we never see (ring torn down) ages out instead of leaking. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, IO_URING_INFLIGHT_MAX);
	__type(key, __u64);
	__type(value, struct uring_call);
} uring_inflight SEC(".maps");

static __always_inline int uring_class(__u8 op)
{
	switch (op) {
	case IORING_OP_READ: case IORING_OP_READV: case IORING_OP_READ_FIXED:
		return C_READ;
	case IORING_OP_WRITE: case IORING_OP_WRITEV: case IORING_OP_WRITE_FIXED:
		return C_WRITE;
	case IORING_OP_FSYNC:
		return C_FSYNC;
	case IORING_OP_OPENAT: case IORING_OP_OPENAT2:
		return C_OPEN;
	case IORING_OP_CLOSE:
		return C_CLOSE;
	case IORING_OP_STATX:
		return C_STAT_PATH;
	}
	return C_NONE;
}

/* The traced process behind a submission: the submitter, or for an
 * SQPOLL ring the process its kernel thread belongs to. */
static __always_inline struct task_state *uring_owner(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_state *st = traced_task(task);

	if (!st && (task->flags & PF_IO_WORKER))
		st = traced_task(task->group_leader);
	return st;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(io_uring_submit, struct io_kiocb *req)
{
	struct uring_call call = {};
	__u64 id = (__u64)req;
	struct task_state *st;
	int cls = uring_class(req->opcode);

	if (cls == C_NONE)
		return 0;
	st = uring_owner();
	if (!st)
		return 0;
	call.proc = st->proc;
	call.opcode = req->opcode;
	if (cls == C_READ || cls == C_WRITE) {
		struct io_rw *rw = typed(&req->cmd, struct io_rw);
		__u64 addr = FILE_READ(rw, addr);

		call.mem_unaligned = req->opcode == IORING_OP_READV || req->opcode == IORING_OP_WRITEV ?
			iov_misaligned((const struct iovec *)addr, FILE_READ(rw, len)) :
			misaligned(addr);
	} else if (cls == C_CLOSE) {
		struct io_close *cl = typed(&req->cmd, struct io_close);
		struct file *f = fd_file(FILE_READ(cl, fd));

		if (f)
			file_key_of(f, call.proc, &call.closing);
	}
	call.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&uring_inflight, &id, &call, BPF_ANY);
	return 0;
}

/* The record of a completed request's file, created (and named from the
 * kernel's dentries) on first sight. */
static __always_inline struct posix_record *uring_record(struct file *f, __u32 proc)
{
	struct file_key key = {};
	struct posix_record *r;
	bool created = false, dropped = false;
	__u32 slot;

	if (!f || !file_key_of(f, proc, &key))
		return 0;
	r = get_record(&key, f, 0, &created, &dropped, &slot);
	if (created)
		emit_file_event(&key, f);
	return r && !(r->flags & RECORD_EXCLUDED) ? r : 0;
}

static __always_inline void uring_stat(struct io_kiocb *req, struct uring_call *call,
				       __u64 t2)
{
	struct io_statx *sx = typed(&req->cmd, struct io_statx);
	struct statx buf = {};
	struct file_key key = { .proc = call->proc };
	struct posix_record *r;

	/* Only files that already have a record: the path is not ours to
	 * read here. */
	bpf_probe_read_user(&buf, sizeof(buf), FILE_READ(sx, buffer));
	key.dev = (buf.stx_dev_major << MINORBITS) | buf.stx_dev_minor;
	key.ino = buf.stx_ino;
	r = find_record(&key);
	if (r && !(r->flags & RECORD_EXCLUDED))
		count_meta(r, &stat_op, call->start_ns, t2);
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(io_uring_done, struct io_ring_ctx *ring, void *raw_req, struct io_uring_cqe *cqe)
{
	__u64 id = (__u64)raw_req;
	struct uring_call *found = bpf_map_lookup_elem(&uring_inflight, &id);
	struct io_kiocb *req = typed(raw_req, struct io_kiocb);
	struct uring_call call;
	__u64 t2;
	long res;

	if (!found)
		return 0;
	call = *found;
	bpf_map_delete_elem(&uring_inflight, &id);
	t2 = bpf_ktime_get_ns();
	res = FILE_READ(cqe, res);
	if (res < 0)
		return 0;
	switch (uring_class(call.opcode)) {
	case C_READ:
	case C_WRITE: {
		struct io_rw *rw = typed(&req->cmd, struct io_rw);
		struct file *f = typed_file(FILE_READ(req, file));
		struct posix_record *r = uring_record(f, call.proc);
		struct access a = {
			.write = uring_class(call.opcode) == C_WRITE,
			.bytes = res,
			/* the request's position has moved past what it did */
			.offset = FILE_READ(rw, kiocb.ki_pos) - res,
			.mem_unaligned = call.mem_unaligned,
			.t1 = call.start_ns,
			.t2 = t2,
		};

		if (r)
			count_io(r, f, call.proc, &a);
		break;
	}
	case C_FSYNC: {
		struct io_sync *sync = typed(&req->cmd, struct io_sync);
		int counter = FILE_READ(sync, flags) & IORING_FSYNC_DATASYNC ?
			POSIX_FDSYNCS : POSIX_FSYNCS;

		count_sync(uring_record(typed_file(FILE_READ(req, file)), call.proc),
			   counter, call.start_ns, t2);
		break;
	}
	case C_OPEN: {
		struct io_open *op = typed(&req->cmd, struct io_open);
		struct posix_record *r;
		struct meta_op m = { .counter = POSIX_OPENS, .also = -1,
				     .opening = true, .by_path = true };

		if (FILE_READ(op, file_slot))  /* into the fixed table: no fd */
			break;
		r = uring_record(fd_file(res), call.proc);
		if (!r)
			break;
		if (FILE_READ(op, how.flags) & (O_CREAT | O_TMPFILE))
			m.mode = FILE_READ(op, how.mode);
		count_meta(r, &m, call.start_ns, t2);
		break;
	}
	case C_CLOSE:
		count_close(&call.closing, call.start_ns, t2);
		break;
	case C_STAT_PATH:
		uring_stat(req, &call, t2);
		break;
	}
	return 0;
}

/*
 * Memory-mapped I/O.  Bytes that move through a file mapping pass through
 * no system call; the page-cache tracepoints see them in the faulting
 * task's context.  Only files that have a record count, and excluded ones
 * are dropped by user space with their record.
 */
#define PAGE_BYTES 4096

static __always_inline struct posix_record *mapping_record(struct address_space *mapping,
							   __u32 proc)
{
	struct inode *inode = mapping ? mapping->host : 0;
	struct file_key key = { .proc = proc };

	if (!inode || (inode->i_mode & S_IFMT) != S_IFREG)
		return 0;
	key.dev = inode->i_sb->s_dev;
	key.ino = inode->i_ino;
	return find_record(&key);
}

static __always_inline void mapped_bytes(struct address_space *mapping, __u64 bytes, bool dirtied)
{
	struct task_state *st = traced_task(bpf_get_current_task_btf());
	struct posix_record *r;

	/* Inside a watched call, or a stdio call's, dirtying is a write's. */
	if (!st || (dirtied && (st->start_ns || st->stdio_depth)))
		return;
	r = mapping_record(mapping, st->proc);
	if (!r)
		return;
	if (dirtied)
		__sync_fetch_and_add(&r->mmap_dirtied_bytes, bytes);
	else
		__sync_fetch_and_add(&r->mmap_read_bytes, bytes);
}

/* A page fault the page cache had to serve page by page. */
SEC("tp_btf/mm_filemap_fault")
int BPF_PROG(mmap_fault, struct address_space *mapping, unsigned long index)
{
	mapped_bytes(mapping, PAGE_BYTES, false);
	return 0;
}

/* Fault-around: a window of cached pages mapped at once. */
SEC("tp_btf/mm_filemap_map_pages")
int BPF_PROG(mmap_fault_around, struct address_space *mapping, unsigned long start,
	     unsigned long end)
{
	if (end >= start)
		mapped_bytes(mapping, (end - start + 1) * PAGE_BYTES, false);
	return 0;
}

/* A clean page became dirty. */
SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(mmap_dirty, struct folio *folio, struct address_space *mapping)
{
	mapped_bytes(mapping, PAGE_BYTES, true);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
