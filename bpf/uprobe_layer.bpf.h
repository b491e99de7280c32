/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the uprobe library layers (stdio.bpf.c, mpiio.bpf.c, hdf5.bpf.c)
 * share: which of a thread's calls of the library is the one to count,
 * and how a record too big for the BPF stack is created.
 */
#ifndef UPROBE_LAYER_BPF_H
#define UPROBE_LAYER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"

/*
 * Call depth.  A library calls its own probed functions (getline calls
 * getdelim, MPI_File_write_all may call MPI_File_write): as with Darshan,
 * whose wrappers see only the application's call, only the outermost one
 * counts.  Each layer keeps per thread how many probed calls are in
 * flight, which the entry program counts up and the return program down;
 * the call that took it from 0 is the one counted, when it comes back to 0.
 *
 * A return can go unseen: a longjmp out of the call (from a signal handler,
 * or from a callback the library runs: an MPI error handler, an HDF5 error
 * stack's, a custom stream's write function), or probes attached while a
 * call was in flight.  The depth would never come back to 0, and every
 * later call of the thread would look nested.  So the outermost call's
 * entry keeps the user stack pointer: a later entry with the stack above
 * it cannot be inside that call, which is over.  Not one at the same
 * height: a function that tail-calls another probed one enters it there
 * (glibc's getline jumps to getdelim), and both returns are seen.  A call
 * made from the very frame a lost call was made from is therefore taken
 * as nested; the depth recovers at the next call from a shallower frame.
 *
 * The depth and the stack pointer are two fields of the layer's per-thread
 * state, zero when the thread starts: stdio's in task_state
 * (stdio_depth, stdio_sp), which posix.bpf.c reads to leave the system
 * calls of stdio to it; MPI-IO's and HDF5's in their own call record.
 */

/* Entering a probed function: whether this is the thread's outermost call
 * of the library. */
static __always_inline bool call_depth_enter(__u32 *depth, __u64 *outer_sp,
					     const struct pt_regs *ctx)
{
	__u64 sp = PT_REGS_SP(ctx);

	/* a depth left over from a call whose return went unseen */
	if (*depth && sp > *outer_sp)
		*depth = 0;
	if ((*depth)++)
		return false;
	*outer_sp = sp;
	return true;
}

/* Returning from one: whether the outermost call is the one returning. */
static __always_inline bool call_depth_exit(__u32 *depth)
{
	return *depth && !--*depth;
}

/* The layer's record of the outermost call in flight on the thread (task
 * storage `calls`), created zero at the thread's first call that needs
 * one. */
static __always_inline void *thread_call(void *calls, struct task_struct *task)
{
	return bpf_task_storage_get(calls, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/*
 * Zero records.  A layer's records are larger than the BPF stack allows a
 * program to build one in, so a new record is inserted as a copy of an
 * all-zero one: the single value of an array map (zero when created) that
 * nothing writes.  One such map per record type, declared with
 * ZERO_RECORD(name, record type).
 */
#define ZERO_RECORD(name, record_type)                  \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_ARRAY);       \
		__uint(max_entries, 1);                 \
		__type(key, __u32);                     \
		__type(value, record_type);             \
	} name SEC(".maps")

/* The record at key in records, inserted as a copy of zero (the
 * ZERO_RECORD of records' value type) if it is not there; *created (when
 * asked for) says whether this call inserted it.  A records map that is
 * full drops the record, and says so in the health counters. */
static __always_inline void *new_record(void *records, const void *key, void *zero,
					bool *created)
{
	__u32 index = 0;
	void *tmpl = bpf_map_lookup_elem(zero, &index);
	void *r;
	long err;

	if (!tmpl)
		return 0;
	err = bpf_map_update_elem(records, key, tmpl, BPF_NOEXIST);
	r = bpf_map_lookup_elem(records, key);
	if (!r)
		health_inc(H_LAYER_RECORDS_DROPPED);
	else if (!err && created)
		*created = true;
	return r;
}

#endif /* UPROBE_LAYER_BPF_H */
