/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps that every BPF object of ebpf-darshan uses.  Each object declares
 * them; user space loads lifecycle.bpf.o first and hands its map fds to the
 * other objects (bpf_map__reuse_fd), so all of them see one copy.
 */
#ifndef SHARED_MAPS_BPF_H
#define SHARED_MAPS_BPF_H

#include "ebpf_darshan.h"

/* Default ring buffer size; user space may resize it before load. */
#define EVENTS_RINGBUF_BYTES (EVENTS_RINGBUF_MB_DEFAULT * RINGBUF_MB)

/* Present exactly for the threads of traced processes. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RINGBUF_BYTES);
} events SEC(".maps");

/* Library files whose probes are attached for every process that maps
 * them (a node's recorder: see library_hold.bpf.h), keyed by file key with
 * proc 0.  Mapping one of these needs no hold. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBED_LIBRARIES_MAX);
	__type(key, struct file_key);
	__type(value, __u8);
} probed_libraries SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, H_NUM_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} health SEC(".maps");

/* Events are assembled here, then copied to the ring buffer at their real
 * length: a reservation would have to be the worst case every time. */
#define SCRATCH_LEN (sizeof(struct event) + PATH_BUF_LEN + WALK_BUF_LEN + NAME_COPY_MAX)

struct scratch {
	char buf[SCRATCH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_space SEC(".maps");

static __always_inline void health_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&health, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct task_state *traced_task(struct task_struct *task)
{
	/* Most tasks have no BPF task storage at all, and a plain load says
	 * so: the untraced majority skips the helper call. */
	if (!task->bpf_storage)
		return 0;
	return bpf_task_storage_get(&task_states, task, 0, 0);
}

static __always_inline struct event *scratch_event(void)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);

	if (!s)
		return 0;
	__builtin_memset(s->buf, 0, sizeof(struct event));
	return (struct event *)s->buf;
}

/* Copy an assembled event to the ring buffer; a full ring is counted. */
static __always_inline void emit_event(struct event *e, __u64 len)
{
	if (len > SCRATCH_LEN)
		len = SCRATCH_LEN;
	if (bpf_ringbuf_output(&events, e, len, 0))
		health_inc(H_EVENTS_DROPPED);
}

/* Every object shares the heatmaps and the DXT segments ring too: any
 * module's programs may add to them. */
#include "heatmap.bpf.h"
#include "dxt.bpf.h"

#endif /* SHARED_MAPS_BPF_H */
