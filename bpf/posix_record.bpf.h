/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * POSIX records and Darshan's counting rules, shared by every program of
 * the POSIX module (posix*.bpf.c).  Each object declares the record maps;
 * user space loads posix.bpf.o first and hands its maps to the others, so
 * all of them count into one set of records.
 */
#ifndef POSIX_RECORD_BPF_H
#define POSIX_RECORD_BPF_H

#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "file_events.bpf.h"
#include "darshan_timing.bpf.h"
#include "darshan_tables.bpf.h"

#define MAX_ERRNO 4095
#define LUSTRE_SUPER_MAGIC 0x0BD00BD0
#define LUSTRE_FILE_ALIGNMENT (1 << 20)

/* How many iovecs of a vector call are checked for memory alignment. */
#define IOV_CHECK_MAX 16

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

/* Counters every POSIX object draws numbers from: a global variable would
 * be one per object, and the objects share the records. */
enum record_serial {
	SERIAL_NEXT_SLOT = 0,  /* slots are handed out in order... */
	SERIAL_RETIRED = 1,    /* ...and RETIRED_DEV keys numbered */
	SERIAL_COUNT = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SERIAL_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} record_serials SEC(".maps");

/* A long-running recorder gives back the slots of processes that have
 * ended (zeroed, their index entries gone) through free_slots, which new
 * records take first; a one-job recording never does, and finds the queue
 * empty. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_RECORDS_DEFAULT);
	__type(value, __u32);
} free_slots SEC(".maps");

/* Totals of what Darshan has no counter for (enum extra_slot). */
static __always_inline void extra_add(__u32 slot, __u64 v)
{
	__u64 *x = bpf_map_lookup_elem(&extras, &slot);

	if (x)
		__sync_fetch_and_add(x, v);
}

/* The next number of a serial; ~0 if the map cannot be read. */
static __always_inline __u64 next_serial(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&record_serials, &which);

	return v ? __sync_fetch_and_add(v, 1) : ~0ULL;
}

/* A record lock is a word taken with compare-and-swap rather than a
 * bpf_spin_lock, which disables interrupts and costs as much again as
 * all the counting.  Critical sections are a few dozen instructions, so
 * a waiter spins at most this many times before giving up on the call
 * (counted in health as H_CALLS_BUSY). */
#define LOCK_SPINS 4096

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

/* Where get_record found or made a record. */
struct record_place {
	__u32 slot;
	bool created;  /* the caller sends its name */
	bool dropped;  /* the maps are full: the file is not counted */
};

/* Find the record, or make it. */
static __always_inline struct posix_record *
get_record(struct file_key *key, struct file *f, __s64 blksize, struct record_place *at)
{
	__u32 *found = bpf_map_lookup_elem(&record_index, key);
	struct posix_record *r;
	__u32 slot;

	if (found) {
		at->slot = *found;
		return slot_record(*found);
	}
	if (bpf_map_pop_elem(&free_slots, &slot))
		slot = next_serial(SERIAL_NEXT_SLOT);
	r = slot_record(slot);
	if (!r)
		goto full;
	/* Filled in before the slot is published in the index. */
	r->counters[POSIX_MEM_ALIGNMENT] = mem_alignment;
	r->counters[POSIX_FILE_ALIGNMENT] = f ? fs_alignment(f) : blksize;
	r->generation = f ? FILE_READ(f, f_inode, i_generation) : 0;
	if (bpf_map_update_elem(&record_index, key, &slot, BPF_NOEXIST) == 0) {
		at->created = true;
		at->slot = slot;
		return r;
	}
	/* Another thread of the process made it first (its slot wins; ours
	 * goes back to the free slots), or the index is full. */
	bpf_map_push_elem(&free_slots, &slot, 0);
	found = bpf_map_lookup_elem(&record_index, key);
	if (found) {
		at->slot = *found;
		return slot_record(*found);
	}
full:
	health_inc(H_RECORDS_DROPPED);
	at->dropped = true;
	return 0;
}

/* The record of key, if there is one. */
static __always_inline struct posix_record *find_record(struct file_key *key)
{
	__u32 *slot = bpf_map_lookup_elem(&record_index, key);

	return slot ? slot_record(*slot) : 0;
}

/* The counted record (not excluded) of a regular file, made and named
 * from the kernel's dentries on first sight. */
static __always_inline struct posix_record *file_record(struct file *f, __u32 proc,
							struct file_key *key,
							struct record_place *at)
{
	struct posix_record *r;

	if (!f || !file_key_of(f, proc, key))
		return 0;
	r = get_record(key, f, 0, at);
	if (at->created)
		emit_file_event(key, f);
	return r;
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

/* The record of the file behind fd, created (and named) on first sight;
 * NULL for files that are not counted. */
static __always_inline struct posix_record *
fd_record(struct task_state *st, long fd, struct file **filep)
{
	struct file *f = fd_file(fd);
	struct file_key key = {};
	struct record_place at = {};
	struct posix_record *r;

	if (!f || !file_key_of(f, st->proc, &key))
		return 0;
	if (key.ino == st->last_ino && key.dev == st->last_dev &&
	    (r = slot_record(st->last_slot)) && !r->retired) {
		/* the file this thread used last */
	} else {
		r = file_record(f, st->proc, &key, &at);
		if (r)
			remember(st, &key, at.slot);
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

/* A thread's call as the exit dispatcher hands it to the program of its
 * slot: the thread's state, with the call's start and end. */
static __always_inline struct task_state *handed_call(__u64 *t1, __u64 *t2)
{
	struct task_state *st = traced_task(bpf_get_current_task_btf());

	if (!st || !st->start_ns)
		return 0;
	*t1 = st->start_ns;
	*t2 = st->end_ns;
	st->start_ns = 0;
	return st;
}

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

struct access {
	bool write;
	bool mem_unaligned;
	bool file_unaligned;
	int bucket;
	__s64 offset;
	__s64 bytes;
	__u64 t1, t2;
};

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

/* The parts of struct statx that identify a file, read field by field:
 * the whole struct would take 256 bytes of a 512-byte stack. */
struct statx_id {
	__u32 blksize;
	__u32 mode;
	__u64 ino;
	__u32 dev_major;
	__u32 dev_minor;
};

#define MINORBITS 20

static __always_inline void read_statx_id(const struct statx *user, struct statx_id *id)
{
	__u16 mode = 0;

	bpf_probe_read_user(&id->blksize, sizeof(id->blksize), &user->stx_blksize);
	bpf_probe_read_user(&mode, sizeof(mode), &user->stx_mode);
	bpf_probe_read_user(&id->ino, sizeof(id->ino), &user->stx_ino);
	bpf_probe_read_user(&id->dev_major, sizeof(id->dev_major), &user->stx_dev_major);
	bpf_probe_read_user(&id->dev_minor, sizeof(id->dev_minor), &user->stx_dev_minor);
	id->mode = mode;
}

static __always_inline __u32 statx_dev(const struct statx_id *id)
{
	return (id->dev_major << MINORBITS) | id->dev_minor;
}

#endif /* POSIX_RECORD_BPF_H */
