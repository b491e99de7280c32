// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process lifecycle: which tasks are traced.  A new task inherits tracing
 * from its parent at fork; a new process (not a thread) gets a fresh
 * traced-process index and a fork event.  Exec (with the environment, for
 * MPI ranks) and process exit are reported so user space can tell what ran,
 * as which rank, and when it ended.  A scoped recording also lets processes
 * in by their cgroup or environment (scope.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "ebpf_darshan.h"
#include "shared_maps.bpf.h"
#include "scope.bpf.h"
#include "process_hold.bpf.h"

/* Traced-process indices below proc_base are user space's to give: 0 to a
 * launched command, 0.. to the processes a scoped recording finds running. */
const volatile __u32 proc_base = 1;
__u32 procs_numbered = 0;

/* Exec events carry the environment, which does not fit the shared scratch. */
#define EXEC_EVENT_LEN (sizeof(struct event) + PATH_BUF_LEN + ENV_COPY_MAX)

struct exec_scratch {
	char buf[EXEC_EVENT_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_space SEC(".maps");

static __always_inline __u32 new_proc_index(void)
{
	return proc_base + __sync_fetch_and_add(&procs_numbered, 1);
}

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

/* EV_FORK with the facts a daemon groups processes into jobs by; the
 * process's heatmap clock, if it has its own, is the event's start_ns. */
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
	heatmap_new_process(proc, parent_proc, o->parent_leads_session, e->start_ns);
	emit_event(e, sizeof(*e) + sizeof(*o));
}

/* Set by a scope recording (record --cgroup/--jobid-env): the job, and
 * its heatmaps' clock, start when its first process enters. */
const volatile bool clock_at_entry = false;

/* Start tracing task as a new traced process (a traced parent's child, or
 * a process that enters by itself: parent_proc NO_PARENT). */
static __always_inline struct task_state *new_traced_process(struct task_struct *task,
							     __u32 parent_proc,
							     struct task_struct *parent,
							     __u32 flags)
{
	struct task_state *st = bpf_task_storage_get(&task_states, task, 0,
						     BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!st) {
		health_inc(H_PROCS_DROPPED);
		return 0;
	}
	st->proc = new_proc_index();
	st->flags = flags;
	if (parent_proc == NO_PARENT && clock_at_entry)
		heatmap_start_clock();
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
			new_traced_process(child, NO_PARENT, parent, 0);
		return 0;
	}
	if (new_process) {
		new_traced_process(child, pst->proc, parent, pst->flags);
		return 0;
	}
	cst = bpf_task_storage_get(&task_states, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cst) {
		health_inc(H_PROCS_DROPPED);
		return 0;
	}
	cst->proc = pst->proc;
	cst->flags = pst->flags;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct task_state *st = traced_task(task);
	struct exec_scratch *s;
	struct event *e;
	__u32 zero = 0;
	__u64 env_start, env_len, len;
	char *env;
	long n;

	/* Untraced processes that may start being traced here: a scope's
	 * (record --cgroup/--jobid-env), and for the daemon any process that
	 * became a traced user's by setuid and exec (a login shell, a batch
	 * job's first step); exec has left it a single thread. */
	if (!st && !scope_enters_at_exec() && !traced_by_uid(task))
		return 0;
	s = bpf_map_lookup_elem(&exec_space, &zero);
	if (!s)
		return 0;
	e = (struct event *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	/* One byte short of PATH_BUF_LEN, so the length masks to itself. */
	n = bpf_probe_read_kernel_str(s->buf + sizeof(*e), PATH_BUF_LEN - 1,
				      BPF_CORE_READ(bprm, filename));
	if (n < 0)
		n = 0;
	/* The new program's environment is on its fresh stack, already in
	 * memory: execve copied it there before this tracepoint. */
	env = s->buf + sizeof(*e) + (n & (PATH_BUF_LEN - 1));
	env_start = BPF_CORE_READ(task, mm, env_start);
	env_len = BPF_CORE_READ(task, mm, env_end) - env_start;
	if (env_len > ENV_COPY_MAX) {
		env_len = ENV_COPY_MAX;
		e->walk_truncated = 1;
	}
	if (bpf_probe_read_user(env, env_len, (const void *)env_start))
		env_len = 0;
	if (!st) {
		if (!traced_by_uid(task) && !task_cgroup_in_scope(task) &&
		    !env_in_scope(env, env_len))
			return 0;
		st = new_traced_process(task, NO_PARENT, 0, 0);
		if (!st)
			return 0;
	}
	/* A new image: no stream of the old one survives exec. */
	st->flags &= ~TASK_JOINED;
	fill_task(e, EV_EXEC, st->proc, task);
	e->path_len = n;
	e->walk_len = env_len;
	len = sizeof(*e) + (n & (PATH_BUF_LEN - 1)) + env_len;
	/* emit_held() stops at the shared scratch's length, which an exec
	 * event with its environment outgrows: the same, at full length. */
	if (hold_at_exec) {
		e->held = 1;
		bpf_send_signal(SIGSTOP);
	}
	if (bpf_ringbuf_output(&events, e, len, hold_at_exec ? BPF_RB_FORCE_WAKEUP : 0)) {
		health_inc(H_EVENTS_DROPPED);
		if (hold_at_exec)
			bpf_send_signal(SIGCONT);
	}
	return 0;
}

/* A process moved into the scope's cgroup (cgroup.procs written) joins it;
 * user space then gives storage to its other threads. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(on_cgroup_attach, struct cgroup *dst, const char *path,
	     struct task_struct *task, bool threadgroup)
{
	if (!scope_cgroup_id || traced_task(task))
		return 0;
	if (!on_default_hierarchy(dst) || !cgroup_in_scope(dst))
		return 0;
	new_traced_process(task, NO_PARENT, 0, TASK_JOINED);
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
