/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Holding a traced process: the current task's process is sent SIGSTOP and
 * an event marked `held`; user space does what must happen before the
 * process runs on (attach library probes, read /proc/PID/environ) and sends
 * SIGCONT.  The stop is queued before the event is visible, so a SIGCONT can
 * never come first; if the event cannot be queued the stop is cancelled
 * (SIGCONT discards a pending SIGSTOP), so no process is left stopped.
 */
#ifndef PROCESS_HOLD_BPF_H
#define PROCESS_HOLD_BPF_H

#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"

#define SIGCONT 18
#define SIGSTOP 19

static __always_inline void emit_held(struct event *e, __u64 len)
{
	e->held = 1;
	bpf_send_signal(SIGSTOP);
	if (len > SCRATCH_LEN)
		len = SCRATCH_LEN;
	/* someone is waiting: wake the reader now */
	if (bpf_ringbuf_output(&events, e, len, BPF_RB_FORCE_WAKEUP)) {
		health_inc(H_EVENTS_DROPPED);
		bpf_send_signal(SIGCONT);
	}
}

#endif /* PROCESS_HOLD_BPF_H */
