/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Darshan's DXT traces: one io_segment per read or write, sent to their own
 * ring buffer so a busy trace never crowds out names and process events.
 * Any module's program may emit segments (the module id travels in each);
 * user space drains them in C into one array (csrc/shim.c).
 */
#ifndef DXT_BPF_H
#define DXT_BPF_H

#include "shared_maps.bpf.h"

/* `record --dxt`: set before load, so with tracing off the verifier drops
 * every segment the trace alone would emit. */
const volatile bool dxt_enabled = false;

/* Default size; user space sets it before load. */
#define SEGMENTS_RINGBUF_BYTES (PENDING_RINGBUF_MB_DEFAULT * RINGBUF_MB)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SEGMENTS_RINGBUF_BYTES);
} segments SEC(".maps");

/* BTF keeps only the types something in the object refers to, and a
 * segment is only ever a ring buffer reservation: this constant keeps
 * struct io_segment in the BTF, where tests/test_bpf_layout.py checks
 * bpf_layout.io_segment against it. */
const struct io_segment io_segment_layout __attribute__((used)) = {};

/* Segments do not wake user space one by one (it drains every poll
 * interval anyway), only once the ring is a quarter full. */
static __always_inline __u64 segment_wakeup(void)
{
	__u64 used = bpf_ringbuf_query(&segments, BPF_RB_AVAIL_DATA);

	return used > bpf_ringbuf_query(&segments, BPF_RB_RING_SIZE) / 4 ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Send one segment; a full ring is counted against what it carried. */
static __always_inline void emit_segment(const struct file_key *key, __u16 module, bool write,
					 __u8 flags, __s64 offset, __s64 length,
					 __u64 t1, __u64 t2)
{
	struct io_segment *s = bpf_ringbuf_reserve(&segments, sizeof(*s), 0);

	if (!s) {
		if (flags & SEG_TRACE)
			health_inc(H_SEGMENTS_DROPPED);
		if (flags & SEG_HEATMAP_PENDING)
			health_inc(H_HEATMAP_DROPPED);
		return;
	}
	s->key = *key;
	s->offset = offset;
	s->length = length;
	s->start_ns = t1;
	s->end_ns = t2;
	s->tid = (__u32)bpf_get_current_pid_tgid();
	s->module = module;
	s->op = write ? IO_WRITE : IO_READ;
	s->flags = flags;
	bpf_ringbuf_submit(s, segment_wakeup());
}

#endif /* DXT_BPF_H */
