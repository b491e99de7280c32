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

/* Set by user space before load; zero switches a criterion off and lets
 * the verifier drop its code. */
const volatile __u64 scope_cgroup_id = 0;  /* cgroup v2 id (its directory's inode) */
const volatile __u64 scope_env_hash = 0;   /* FNV-1a of "NAME=VALUE" */

static __always_inline bool scope_enters_at_exec(void)
{
	return scope_cgroup_id || scope_env_hash;
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

/* NAME=VALUE is matched by hashing each environment entry, one byte per
 * bpf_loop step (an environment is too long for an unrolled loop).  A hash,
 * not a byte compare against the pattern: the verifier would have to follow
 * every position in the pattern separately, and gives up on long ones.  Two
 * different entries share a 64-bit FNV-1a hash with negligible odds. */
#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

struct env_match {
	const char *env;
	__u64 hash;
	bool found;
};

static long hash_env_byte(__u32 i, struct env_match *m)
{
	unsigned char c;

	if (bpf_probe_read_kernel(&c, 1, m->env + (i & (ENV_COPY_MAX - 1))))
		return 1;
	if (c == 0) {
		if (m->hash == scope_env_hash) {
			m->found = true;
			return 1;
		}
		m->hash = FNV64_OFFSET;
		return 0;
	}
	m->hash = (m->hash ^ c) * FNV64_PRIME;
	return 0;
}

static __always_inline bool env_in_scope(const char *env, __u32 len)
{
	struct env_match m = { .env = env, .hash = FNV64_OFFSET };

	if (!scope_env_hash)
		return false;
	bpf_loop(len, hash_env_byte, &m, 0);
	return m.found;
}

#endif /* SCOPE_BPF_H */
