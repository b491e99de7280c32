/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Darshan's timing rules (format spec 3.1), shared by every module: the
 * no-overlap cumulative timers and the earliest-start/latest-end stamps.
 */
#ifndef DARSHAN_TIMING_BPF_H
#define DARSHAN_TIMING_BPF_H

/* Darshan's no-overlap timer: concurrent calls are counted once. */
static __always_inline void timer_add(__s64 *timer, __u64 *last_end, __u64 t1, __u64 t2)
{
	if (t1 > *last_end)
		*timer += t2 - t1;
	else
		*timer += t2 - *last_end;
	if (t2 > *last_end)
		*last_end = t2;
}

/* Earliest start, latest end. */
static __always_inline void stamp_span(__s64 *start, __s64 *end, __u64 t1, __u64 t2)
{
	if (*start == 0 || *start > t1)
		*start = t1;
	*end = t2;
}

#endif /* DARSHAN_TIMING_BPF_H */
