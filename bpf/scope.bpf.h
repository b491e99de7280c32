/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which untraced processes belong to a scoped recording (`record --cgroup`,
 * `--jobid-env`): a process enters the scope when it execs inside the
 * cgroup or with NAME=VALUE in its environment, or when it is moved into the
 * cgroup.  Processes already in the scope when recording starts are found
 * by user space; children of traced processes inherit tracing at fork.
 */
#ifndef SCOPE_BPF_H
#define SCOPE_BPF_H

#include "ebpf_darshan.h"

/* Set by user space before load; zero/empty switches a criterion off and
 * lets the verifier drop its code. */
const volatile __u64 scope_cgroup_id = 0;  /* cgroup v2 id (its directory's inode) */
const volatile __u32 scope_env_len = 0;    /* strlen(scope_env) */
const volatile char scope_env[SCOPE_ENV_MAX] = {};  /* "NAME=VALUE" */

static __always_inline bool scope_enters_at_exec(void)
{
	return scope_cgroup_id || scope_env_len;
}

/* cgroup v2 ids are unique only within the default hierarchy; v1
 * hierarchies (still mounted on hybrid systems) number their own. */
static __always_inline bool on_default_hierarchy(struct cgroup *cgrp)
{
	struct task_struct *current = bpf_get_current_task_btf();

	return BPF_CORE_READ(cgrp, root) == BPF_CORE_READ(current, cgroups, dfl_cgrp, root);
}

/* Is cgrp the scope's cgroup or below it? */
static __always_inline bool cgroup_in_scope(struct cgroup *cgrp)
{
	struct cgroup_subsys_state *parent;
	int depth;

	for (depth = 0; depth < MAX_CGROUP_DEPTH && cgrp; depth++) {
		if (BPF_CORE_READ(cgrp, kn, id) == scope_cgroup_id)
			return true;
		parent = BPF_CORE_READ(cgrp, self.parent);
		if (!parent)
			return false;
		cgrp = container_of(parent, struct cgroup, self);
	}
	return false;
}

static __always_inline bool task_cgroup_in_scope(struct task_struct *task)
{
	return scope_cgroup_id && cgroup_in_scope(BPF_CORE_READ(task, cgroups, dfl_cgrp));
}

/* Matching NAME=VALUE against an environment one byte at a time (bpf_loop:
 * an environment is too long for an unrolled loop).  `matched` is how much
 * of the pattern the current entry has matched so far, -1 once it cannot. */
struct env_match {
	const char *env;
	int matched;
	bool found;
};

static long match_env_byte(__u32 i, struct env_match *m)
{
	char c;

	if (bpf_probe_read_kernel(&c, 1, m->env + (i & (ENV_COPY_MAX - 1))))
		return 1;
	if (c == 0) {
		if (m->matched == (int)scope_env_len) {
			m->found = true;
			return 1;
		}
		m->matched = 0;
		return 0;
	}
	if (m->matched >= 0 && m->matched < (int)scope_env_len &&
	    c == scope_env[m->matched & (SCOPE_ENV_MAX - 1)])
		m->matched++;
	else
		m->matched = -1;
	return 0;
}

static __always_inline bool env_in_scope(const char *env, __u32 len)
{
	struct env_match m = { .env = env };

	if (!scope_env_len)
		return false;
	bpf_loop(len, match_env_byte, &m, 0);
	return m.found;
}

#endif /* SCOPE_BPF_H */
