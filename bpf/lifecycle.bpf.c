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

/* Index of the next traced process; user space gives index 0 to the
 * command it launches. */
__u32 next_proc = 1;

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

/* Set by a node-wide recorder (the daemon): a new process of a user with
 * at least this uid is traced from its fork or exec even when nothing
 * traced started it.  0 (the default) leaves the choice to user space.  */
const volatile __u32 trace_uid_min = 0;

static __always_inline bool leads_session(struct task_struct *task)
{
	return task->signal->pids[PIDTYPE_SID] == task->group_leader->thread_pid;
}

static __always_inline bool traced_by_uid(struct task_struct *task)
{
	return trace_uid_min && task->real_cred->uid.val >= trace_uid_min;
}

/* EV_FORK with the facts a daemon groups processes into jobs by. */
static __always_inline void emit_fork(__u32 proc, __u32 parent_proc, struct task_struct *task,
				      struct task_struct *parent)
{
	struct event *e = scratch_event();
	struct proc_origin *o;

	if (!e)
		return;
	fill_task(e, EV_FORK, proc, task);
	e->parent_proc = parent_proc;
	o = (struct proc_origin *)(e + 1);
	o->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	o->uid = task->real_cred->uid.val;
	o->parent_leads_session = parent && leads_session(parent);
	emit_event(e, sizeof(*e) + sizeof(*o));
}

/* Start tracing task as a new traced process. */
static __always_inline struct task_state *new_traced_process(struct task_struct *task,
							     __u32 parent_proc,
							     struct task_struct *parent)
{
	struct task_state *st = bpf_task_storage_get(&task_states, task, 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!st) {
		health_inc(H_PROCS_DROPPED);
		return 0;
	}
	st->proc = __sync_fetch_and_add(&next_proc, 1);
	emit_fork(st->proc, parent_proc, task, parent);
	return st;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct task_state *pst = traced_task(parent);
	struct task_state *cst;
	bool new_process = BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid);

	if (!pst) {
		/* A lone thread of an untraced process is not traced. */
		if (new_process && traced_by_uid(child))
			new_traced_process(child, PROC_NONE, parent);
		return 0;
	}
	if (new_process) {
		new_traced_process(child, pst->proc, parent);
		return 0;
	}
	cst = bpf_task_storage_get(&task_states, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cst) {
		health_inc(H_PROCS_DROPPED);
		return 0;
	}
	cst->proc = pst->proc;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct task_state *st = traced_task(task);
	struct event *e;
	long n;

	/* A process that became a traced user's by setuid and exec (a login
	 * shell, a batch job's first step) starts its own tracing here; exec
	 * has left it a single thread. */
	if (!st && traced_by_uid(task))
		st = new_traced_process(task, PROC_NONE, 0);
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
