/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Darshan's HEATMAP module kept in the kernel: bytes read and written per
 * time bin, per (traced process, API).  Any program that sees a completed
 * read or write calls heatmap_or_pending() with its API (POSIX syscalls,
 * STDIO or MPI-IO uprobes).  Adds are atomic and lock-free; the row layout
 * that makes that possible is described with struct heatmap_row in
 * ebpf_darshan.h.
 *
 * Darshan keeps no heatmap bytes of excluded files (/etc, /proc, ...), and
 * only user space knows names: until it has accepted a record's name, the
 * record's bytes go to user space as pending segments instead.
 */
#ifndef HEATMAP_BPF_H
#define HEATMAP_BPF_H

#include "shared_maps.bpf.h"

/* Processes with a heatmap row, by traced-process index; user space sizes
 * the map (rows = processes * HEATMAP_APIS). */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HEATMAP_PROCS_DEFAULT * HEATMAP_APIS);
	__type(key, __u32);
	__type(value, struct heatmap_row);
} heatmaps SEC(".maps");

/* [0]: the job's start, in bpf_ktime_get_ns() time, written by user space
 * just before the command is released or processes already running are
 * adopted, or by the kernel when a scope's first process enters (see
 * clock_at_entry in lifecycle.bpf.c).  Bins count from there.  Zero: no
 * heatmaps yet.  The node daemon's processes have their own clocks
 * instead (heatmap_own_clocks). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} job_clock SEC(".maps");

/* Set by the node daemon, whose jobs each start at their own time: a
 * process's heatmap counts from its job's start as the kernel can tell it
 * (its own fork or exec, or its parent's clock when the parent does not
 * lead a session: the rule node/jobs.py groups jobs by), kept in
 * proc_heatmaps, and job_clock is not used.  Rows are lent from
 * free_heatmap_rows at a process's first counted byte; user space gives
 * them back once the process has ended. */
const volatile bool heatmap_own_clocks = false;


struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROC_HEATMAPS_DEFAULT);
	__type(key, __u32);
	__type(value, struct proc_heatmap);
} proc_heatmaps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, HEATMAP_PROCS_DEFAULT);
	__type(value, __u32);
} free_heatmap_rows SEC(".maps");

/* Library-layer records (STDIO, MPI-IO; keys in their own key spaces)
 * whose names user space has accepted.  POSIX records keep the same fact
 * in their RECORD_NAMED flag.  A record missing here (map full, or named
 * too late) only costs user space the binning of its segments. */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NAMED_RECORDS_MAX);
	__type(key, struct file_key);
	__type(value, __u8);
} named_records SEC(".maps");

/* The job starts now, unless it has already started. */
static __always_inline void heatmap_start_clock(void)
{
	__u32 zero = 0;
	__u64 *origin = bpf_map_lookup_elem(&job_clock, &zero);

	if (origin)
		__sync_val_compare_and_swap(origin, 0, bpf_ktime_get_ns());
}

/* A new traced process's clock (heatmap_own_clocks only): now, unless
 * its parent's job is its own too (see heatmap_own_clocks). */
static __always_inline void heatmap_new_process(__u32 proc, __u32 parent_proc,
						bool parent_leads_session, __u64 now)
{
	struct proc_heatmap ph = { .origin = now, .row = NO_HEATMAP_ROW };
	struct proc_heatmap *parent;

	if (!heatmap_own_clocks)
		return;
	if (parent_proc != NO_PARENT && !parent_leads_session) {
		parent = bpf_map_lookup_elem(&proc_heatmaps, &parent_proc);
		if (parent)
			ph.origin = parent->origin;
	}
	/* A full map leaves the process without a heatmap: its bytes are
	 * counted as lost when they come (heatmap_add). */
	bpf_map_update_elem(&proc_heatmaps, &proc, &ph, BPF_NOEXIST);
}

/* A traced process's heatmap rows: user space numbers the processes it
 * adopts from 0, the kernel those it lets in from heatmap_proc_base (see
 * proc_base in lifecycle.bpf.c); the kernel's get rows from
 * heatmap_kernel_row on.  A command's recording: both 1, row = index. */
const volatile __u32 heatmap_proc_base = 1;
const volatile __u32 heatmap_kernel_row = 1;

static __always_inline __u32 heatmap_row_of(__u32 proc)
{
	return proc < heatmap_proc_base ? proc : proc - heatmap_proc_base + heatmap_kernel_row;
}

/* The job's start, or 0 when there are no heatmaps. */
static __always_inline __u64 heatmap_origin(void)
{
	__u32 zero = 0;
	__u64 *origin = bpf_map_lookup_elem(&job_clock, &zero);

	return origin ? *origin : 0;
}

/* Off when a kernel refuses an object with its heatmap code in: user
 * space then loads it without (and says so in the log). */
const volatile bool heatmap_enabled = true;

/* Whether read and write bytes are binned at all. */
static __always_inline bool heatmaps_on(void)
{
	return heatmap_enabled && (heatmap_own_clocks || heatmap_origin());
}

/* The row of (proc, api) and the clock it counts from, NULL if there is
 * none.  Own clocks: a process's first counted byte takes a free row;
 * of two threads racing for it, one gives its row back. */
static __always_inline struct heatmap_row *heatmap_row_clock(__u32 api, __u32 proc,
							     __u64 *origin)
{
	struct proc_heatmap *ph;
	__u32 row, taken, row_id;

	if (!heatmap_own_clocks) {
		*origin = heatmap_origin();
		row_id = heatmap_row_of(proc) * HEATMAP_APIS + api;
		return bpf_map_lookup_elem(&heatmaps, &row_id);
	}
	ph = bpf_map_lookup_elem(&proc_heatmaps, &proc);
	if (!ph)
		return 0;
	*origin = ph->origin;
	row = ph->row;
	if (row == NO_HEATMAP_ROW) {
		if (bpf_map_pop_elem(&free_heatmap_rows, &row))
			return 0;
		taken = __sync_val_compare_and_swap(&ph->row, NO_HEATMAP_ROW, row);
		if (taken != NO_HEATMAP_ROW) {
			bpf_map_push_elem(&free_heatmap_rows, &row, 0);
			row = taken;
		}
	}
	row_id = row * HEATMAP_APIS + api;
	return bpf_map_lookup_elem(&heatmaps, &row_id);
}

/* floor(log2(v)) for v > 0, in six steps. */
static __always_inline __u32 log2_floor(__u64 v)
{
	__u32 n = 0;

	if (v >> 32) { n += 32; v >>= 32; }
	if (v >> 16) { n += 16; v >>= 16; }
	if (v >> 8) { n += 8; v >>= 8; }
	if (v >> 4) { n += 4; v >>= 4; }
	if (v >> 2) { n += 2; v >>= 2; }
	if (v >> 1) n += 1;
	return n;
}

/* A row bin and its edges, in units of the initial 0.1 s width. */
struct heatmap_place {
	__u32 bin;
	__u64 start, end;
};

/* Where time t (ns since job start) falls; bin is HEATMAP_ROW_BINS when t
 * is past the last level. */
static __always_inline void heatmap_locate(__u64 t, struct heatmap_place *p)
{
	__u64 tenths = t / HEATMAP_BIN_NS;
	__u32 level;

	if (tenths < HEATMAP_BINS) {
		p->bin = tenths;
		p->start = tenths;
		p->end = tenths + 1;
		return;
	}
	level = log2_floor(tenths / (HEATMAP_BINS / 2));
	if (level > HEATMAP_LEVELS) {
		p->bin = HEATMAP_ROW_BINS;
		return;
	}
	p->bin = HEATMAP_BINS + (level - 1) * (HEATMAP_BINS / 2) +
		 (tenths >> level) - HEATMAP_BINS / 2;
	p->start = (tenths >> level) << level;
	p->end = p->start + (1ULL << level);
}

#define HINT_TIME_MASK ((1ULL << HEATMAP_HINT_TIME_BITS) - 1)
#define HINT_START_SHIFT HEATMAP_HINT_BIN_BITS
#define HINT_END_SHIFT (HEATMAP_HINT_BIN_BITS + HEATMAP_HINT_TIME_BITS)

static __always_inline __u64 heatmap_hint(const struct heatmap_place *p)
{
	return p->bin | p->start << HINT_START_SHIFT | p->end << HINT_END_SHIFT;
}

/* The hinted bin, if [t1, t2] lies inside it; else HEATMAP_ROW_BINS. */
static __always_inline __u32 heatmap_hinted_bin(__u64 hint, __u64 t1, __u64 t2)
{
	__u64 start = (hint >> HINT_START_SHIFT) & HINT_TIME_MASK;
	__u64 end = (hint >> HINT_END_SHIFT) & HINT_TIME_MASK;

	if (hint && t1 >= start * HEATMAP_BIN_NS && t2 < end * HEATMAP_BIN_NS)
		return hint & ((1U << HEATMAP_HINT_BIN_BITS) - 1);
	return HEATMAP_ROW_BINS;
}

/* Where row bin b ends, in ns since job start. */
static __always_inline __u64 heatmap_bin_end(__u32 b)
{
	__u32 level, k;

	if (b < HEATMAP_BINS)
		return (b + 1) * HEATMAP_BIN_NS;
	level = (b - HEATMAP_BINS) / (HEATMAP_BINS / 2) + 1;
	k = (b - HEATMAP_BINS) % (HEATMAP_BINS / 2);
	return ((__u64)(HEATMAP_BINS / 2 + k + 1) << level) * HEATMAP_BIN_NS;
}

/* Keeps index i below n where the verifier can see it, whatever code the
 * compiler makes around a plain `if`: clang may test one register and
 * index with a 32-bit copy of it, whose bound older verifiers (6.1) do not
 * know, and clang 19 lays the same code out so that 6.18's does not
 * either.  Here the test and the index are one 64-bit register.  Callers
 * check i first; this never changes it. */
#define BOUND_INDEX(i, n) \
	asm volatile("if %[idx] < %[max] goto +1; %[idx] = 0" : [idx] "+r"(i) : [max] "i"(n))

static __always_inline void heatmap_bin_add(struct heatmap_row *row, __u32 b, bool write,
					    __u64 bytes)
{
	__u64 i = b;

	if (i >= HEATMAP_ROW_BINS)
		return;
	BOUND_INDEX(i, HEATMAP_ROW_BINS);
	if (write)
		__sync_fetch_and_add(&row->bins[i].write, bytes);
	else
		__sync_fetch_and_add(&row->bins[i].read, bytes);
}

/* An operation that spans bins, spread as Darshan spreads it: in
 * proportion to the time spent in each bin.  Each bin gets the difference
 * of a floored cumulative share, so the shares add up to the bytes exactly.
 * src/ebpf_darshan/heatmap.py does the same for operations it bins itself. */
struct heatmap_spread {
	struct heatmap_row *row;
	__u64 t1, bytes, span, done;
	__u32 first, last, shift;
	bool write;
};

static long heatmap_spread_step(__u32 i, struct heatmap_spread *s)
{
	__u32 b = s->first + i;
	__u64 upto, q, r, x;

	if (b > s->last)
		return 1;
	if (b == s->last) {
		upto = s->bytes;
	} else {
		/* bytes * x / span without overflow: x <= span < 2^32 */
		x = (heatmap_bin_end(b) - s->t1) >> s->shift;
		q = s->bytes / s->span;
		r = s->bytes % s->span;
		upto = q * x + r * x / s->span;
	}
	heatmap_bin_add(s->row, b, s->write, upto - s->done);
	s->done = upto;
	return 0;
}

/* Count a completed operation of `bytes` bytes that ran from t1 to t2
 * (bpf_ktime_get_ns()) in the heatmap of (proc, api). */
static __always_inline void heatmap_add(__u32 api, __u32 proc, bool write, __u64 bytes,
					__u64 t1, __u64 t2)
{
	struct heatmap_place first = {}, last = {};
	struct heatmap_row *row;
	__u64 origin = 0;
	__u32 b1;

	if (!bytes || !heatmaps_on())
		return;
	row = heatmap_row_clock(api, proc, &origin);
	if (!row) {
		health_inc(H_HEATMAP_DROPPED);
		return;
	}
	t1 = t1 > origin ? t1 - origin : 0;
	t2 = t2 > origin ? t2 - origin : 0;
	b1 = heatmap_hinted_bin(row->hint, t1, t2);
	if (b1 < HEATMAP_ROW_BINS) {
		heatmap_bin_add(row, b1, write, bytes);
		return;
	}
	heatmap_locate(t1, &first);
	heatmap_locate(t2, &last);
	if (last.bin >= HEATMAP_ROW_BINS) {
		health_inc(H_HEATMAP_DROPPED);
		return;
	}
	if (first.bin == last.bin) {
		row->hint = heatmap_hint(&first);
		heatmap_bin_add(row, first.bin, write, bytes);
		return;
	}
	struct heatmap_spread s = {
		.row = row, .t1 = t1, .bytes = bytes, .span = t2 - t1,
		.first = first.bin, .last = last.bin, .write = write,
	};
	if (s.span >> 32) {
		s.shift = log2_floor(s.span) - 31;
		s.span >>= s.shift;
	}
	bpf_loop(HEATMAP_ROW_BINS, heatmap_spread_step, &s, 0);
}

/* A completed operation's way into the heatmap of (proc, api): added now
 * if its record is named, else the SEG_HEATMAP_PENDING flag (returned) for
 * the segment that takes it to user space; 0 when nothing is owed. */
static __always_inline __u8 heatmap_or_pending(__u32 api, __u32 proc, bool named, bool write,
					       __u64 bytes, __u64 t1, __u64 t2)
{
	if (named) {
		heatmap_add(api, proc, write, bytes, t1, t2);
		return 0;
	}
	return bytes && heatmaps_on() ? SEG_HEATMAP_PENDING : 0;
}

/* Whether a library layer's record is named (see named_records). */
static __always_inline bool layer_record_named(const struct file_key *key)
{
	return bpf_map_lookup_elem(&named_records, key) != 0;
}

#endif /* HEATMAP_BPF_H */
