// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test objects: programs whose stack is too deep on purpose.  `too_deep`
 * needs more than the verifier's 512 bytes in one call chain and must be
 * refused; `over_budget` loads but is over the project's 384-byte budget.
 * The record maps come along (posix_record.bpf.h) so that the tracer can
 * configure this object in place of a real one and see it refused.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "posix_record.bpf.h"

#define FRAME_BYTES 208
#define DEEP_FRAME_BYTES 320

/* Fill a frame the compiler cannot leave out. */
#define FILL(buf, n) \
	for (int i = 0; i < (n); i += 8) \
		(buf)[i] = i

static __noinline int leaf(volatile char *p)
{
	volatile char buf[FRAME_BYTES];

	FILL(buf, FRAME_BYTES);
	return buf[p[0] & 7];
}

static __noinline int deep_leaf(volatile char *p)
{
	volatile char buf[DEEP_FRAME_BYTES];

	FILL(buf, DEEP_FRAME_BYTES);
	return buf[p[0] & 7];
}

SEC("tp_btf/sys_enter")
int BPF_PROG(too_deep, struct pt_regs *regs, long id)
{
	volatile char buf[DEEP_FRAME_BYTES];

	FILL(buf, DEEP_FRAME_BYTES);
	return deep_leaf(buf);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(over_budget, struct pt_regs *regs, long id)
{
	volatile char buf[FRAME_BYTES];

	FILL(buf, FRAME_BYTES);
	return leaf(buf);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
