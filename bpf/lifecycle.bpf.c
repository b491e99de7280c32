// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process lifecycle: which tasks are traced.  A new task inherits tracing
 * from its parent at fork; a new process (not a thread) gets a fresh
 * traced-process index and a fork event.  Exec and process exit are
 * reported so user space can tell what ran and when it ended.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "process_hold.bpf.h"

/* Index of the next traced process; user space gives index 0 to the
 * command it launches. */
__u32 next_proc = 1;

/* Stop each traced process right after exec until user space has looked at
 * it (set by user space when something needs that moment). */
const volatile bool hold_at_exec = false;

static __always_inline void fill_task(struct event *e, __u32 kind, __u32 proc,
				      struct task_struct *task)
{
	e->kind = kind;
	e->proc = proc;
	e->pid = BPF_CORE_READ(task, tgid);
	e->tid = BPF_CORE_READ(task, pid);
	e->start_ns = bpf_ktime_get_ns();
	e->end_ns = e->start_ns;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_state *pst = traced_task(parent);
	struct task_state *cst;
	struct event *e;
	bool new_process;

	if (!pst)
		return 0;
	cst = bpf_task_storage_get(&task_states, child, 0,
				   BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cst) {
		health_inc(H_PROCS_DROPPED);
		return 0;
	}
	new_process = BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid);
	if (!new_process) {
		cst->proc = pst->proc;
		return 0;
	}
	cst->proc = __sync_fetch_and_add(&next_proc, 1);
	e = scratch_event();
	if (!e)
		return 0;
	fill_task(e, EV_FORK, cst->proc, child);
	e->parent_proc = pst->proc;
	emit_event(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct task_state *st = traced_task(task);
	struct event *e;
	long n;

	if (!st)
		return 0;
	e = scratch_event();
	if (!e)
		return 0;
	fill_task(e, EV_EXEC, st->proc, task);
	n = bpf_probe_read_kernel_str((char *)(e + 1), PATH_BUF_LEN,
				      BPF_CORE_READ(bprm, filename));
	if (n < 0)
		n = 0;
	e->path_len = n;
	if (hold_at_exec)
		emit_held(e, sizeof(*e) + n);
	else
		emit_event(e, sizeof(*e) + n);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	struct task_state *st = traced_task(task);
	struct event *e;

	/* Only the last thread of a process ends the process. */
	if (!st || BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	e = scratch_event();
	if (!e)
		return 0;
	fill_task(e, EV_EXIT, st->proc, task);
	emit_event(e, sizeof(*e));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
