/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Paths from the kernel's dentries.  bpf_d_path is refused in tp_btf
 * programs and assembling a whole path byte by byte runs into the
 * verifier's limits, so we copy one component per step, leaf first, and let
 * user space reverse them.  The walk stops at the task's own root, so a
 * process in a container gets the path it sees.
 */
#ifndef PATH_WALK_BPF_H
#define PATH_WALK_BPF_H

#include "ebpf_darshan.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((void *)(ptr) - bpf_core_field_offset(type, member)))
#endif

struct walk_state {
	struct dentry *dentry;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 off;
	bool done;
};

/* The walk's state lives here rather than on the stack: a name event's
 * call chain (program, event builder, loop step) must leave the programs
 * that send names well inside the verifier's 512-byte stack.  bpf_loop
 * takes only a stack pointer for its callback, so the step gets both
 * pointers on the stack: the state, and where the names go (a map value
 * cannot hold a pointer the verifier would still know as one). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_state);
} walk_states SEC(".maps");

/* One step up the tree; bpf_loop verifies this body once, where an
 * unrolled or bounded loop would be verified once per path length. */
struct walk_ref {
	struct walk_state *w;
	char *dst;
};

static long walk_step(__u32 i, struct walk_ref *ref)
{
	struct walk_state *w = ref->w;
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	long n;

	if (dentry == w->root_dentry && &mnt->mnt == w->root_mnt)
		goto done;
	if (dentry == mnt_root || dentry == parent) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		/* the top of the mount tree outside our root: done */
		if (up == mnt)
			goto done;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	if (w->off > WALK_BUF_LEN - NAME_COPY_MAX)
		return 1;
	n = bpf_probe_read_kernel_str(ref->dst + (w->off & (WALK_BUF_LEN - 1)), NAME_COPY_MAX,
				      BPF_CORE_READ(dentry, d_name.name));
	if (n <= 0)
		return 1;
	w->off += n;
	w->dentry = parent;
	return 0;
done:
	w->done = true;
	return 1;
}

/* Write the components of `path` into dst (room: WALK_BUF_LEN + NAME_COPY_MAX
 * bytes), each with its NUL, leaf first.  Returns the bytes written. */
static __always_inline __u32 walk_path(char *dst, const struct path *path, __u8 *truncated)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 zero = 0;
	struct walk_state *w = bpf_map_lookup_elem(&walk_states, &zero);
	struct walk_ref ref = { .w = w, .dst = dst };

	if (!w) {
		*truncated = 1;
		return 0;
	}
	w->dentry = BPF_CORE_READ(path, dentry);
	w->mnt = container_of(BPF_CORE_READ(path, mnt), struct mount, mnt);
	w->root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	w->root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	w->off = 0;
	w->done = false;
	bpf_loop(WALK_MAX_DEPTH, walk_step, &ref, 0);
	if (!w->done)
		*truncated = 1;
	return w->off;
}

#endif /* PATH_WALK_BPF_H */
